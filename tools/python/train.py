#!/usr/bin/env python3
"""Train the lesion-segmentation transformer (IscfEffFormer) on ISIC-layout folders.

A folder holds images/ID.jpg and masks/ID_segmentation.png (mask 0/255), as made by
`lesionseg synth` or as in ../shared/data/isic2017-train. The whole dataset is loaded
once, resized (stretched) to --size x --size, into uint8 tensors on the training
device; augmentation runs there in batch (one affine_grid/grid_sample per batch).

Default = the paper's recipe: Adam 1e-4, BCE on logits, per-image min-max to [0,255]
(exactly preprocess_minmax255), no augmentation. Options add what helps on small
data; see `--help` and tools/python/README.md ("Training").

The validation split is cut from the --data folders (seeded, stored in the
checkpoint); the best checkpoint is selected on it. Paths containing 'isic-test'
are refused: that folder is for final evaluation only.

Runs unchanged under `torchrun --nproc_per_node=N` (DistributedDataParallel).
Works with torch 1.13 and 2.x.

This file is only the entry point; the trainer is the package lesionseg_train/ next
to it (one module per job, listed in its __init__.py).
"""

import os
import sys

# lesionseg_ref and lesionseg_train live next to this file; make them importable when
# train.py is run from anywhere (as gpu_train.sh and torchrun do)
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# (imports torch first, then starts the --time-budget clock, as before the split)
from lesionseg_train.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
