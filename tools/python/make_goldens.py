#!/usr/bin/python3
"""Write golden files for the C core's network tests.

Builds an ``IscfEffFormer`` with seeded random weights (LayerNorm weights and
biases moved away from 1 and 0 so that they are exercised), runs one seeded
synthetic image through it in float32, and writes

    DIR/model.safetensors   the weights (F32, used tensors only), or with
                            --authors-checkpoint DIR/authors.pt instead: the
                            full state dict in the authors' checkpoint format
                            (keys prefixed 'net.', a numpy test_F1_score)
    DIR/io.safetensors      "input" [1, 3, H, W] (already min-max stretched to
                            [0, 255]) and "logits" [1, 1, H, W]

    python3 tools/python/make_goldens.py --config tiny --seed 1 \\
        -o tests/data/tiny
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lesionseg_ref.export import export  # noqa: E402
from lesionseg_ref.model import (IscfEffFormer,  # noqa: E402
                                 preprocess_minmax255)
from lesionseg_ref.safetensors_io import save_file  # noqa: E402

CONFIGS = {
    # name: (dims, layers, default size)
    "tiny": ((16, 32, 48), (1, 2, 1), 64),
    "full": ((128, 320, 512), (2, 2, 2), 224),
}


def parse_config(text: str):
    """'tiny', 'full' or 'D1,D2,D3:L1,L2,L3' -> (dims, layers, size)."""
    if text in CONFIGS:
        return CONFIGS[text]
    try:
        dims, layers = text.split(":")
        dims = tuple(int(v) for v in dims.split(","))
        layers = tuple(int(v) for v in layers.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "--config: expected tiny, full or D1,D2,D3:L1,L2,L3, "
            f"not {text!r}")
    if len(dims) != 3 or len(layers) != 3:
        raise argparse.ArgumentTypeError(
            "--config: three dims and three layers")
    return dims, layers, 224


def random_model(dims, layers, ffn_ratio, iscf_scales, seed) -> IscfEffFormer:
    """A model with seeded weights: PyTorch's default init, then every
    LayerNorm weight 1 + U(-0.3, 0.3) and bias U(-0.2, 0.2), and every zero
    initialised bias U(-0.1, 0.1) (the decoder's Xavier init zeroes them)."""
    torch.manual_seed(seed)
    model = IscfEffFormer(dims, layers, ffn_ratio, iscf_scales).eval()
    gen = torch.Generator().manual_seed(seed + 1)

    def uniform(t, lo, hi):
        return lo + (hi - lo) * torch.rand(t.shape, generator=gen)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(uniform(module.weight, 0.7, 1.3))
                module.bias.copy_(uniform(module.bias, -0.2, 0.2))
            elif getattr(module, "bias", None) is not None and \
                    not module.bias.any():
                module.bias.copy_(uniform(module.bias, -0.1, 0.1))
    return model


def synthetic_image(height: int, width: int, seed: int) -> np.ndarray:
    """A seeded uint8 [H, W, 3] image like a dermoscopy frame: a skin-toned
    gradient, a darker irregular blob, and pixel noise."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    y, x = y / height - 0.5, x / width - 0.5
    skin = np.array([205.0, 150.0, 125.0]) * (1 + 0.2 * rng.uniform(-1, 1, 3))
    image = skin * (1 - 0.3 * (x * x + y * y))[..., None]
    cy, cx = rng.uniform(-0.15, 0.15, 2)
    angle = np.arctan2(y - cy, x - cx)
    radius = 0.25 * (1 + 0.15 * np.sin(3 * angle + rng.uniform(0, 6)))
    inside = np.hypot(y - cy, x - cx) < radius
    lesion = np.array([95.0, 60.0, 45.0]) * (1 + 0.2 * rng.uniform(-1, 1, 3))
    image[inside] = lesion
    image += rng.normal(0, 12, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=parse_config, default="tiny",
                        help="tiny (16,32,48 / 1,2,1 at 64x64), full "
                             "(128,320,512 / 2,2,2 at 224x224) or "
                             "D1,D2,D3:L1,L2,L3")
    parser.add_argument("--ffn-ratio", type=int, default=4)
    parser.add_argument("--iscf-scales", type=int, default=3,
                        choices=(1, 2, 3))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                        help="input height and width, multiples of 32 "
                             "(default: the config's size)")
    parser.add_argument("--authors-checkpoint", action="store_true",
                        help="write DIR/authors.pt (authors' checkpoint "
                             "format) instead of DIR/model.safetensors")
    parser.add_argument("-o", "--output", required=True, metavar="DIR")
    args = parser.parse_args(argv)

    dims, layers, size = args.config
    height, width = args.size or (size, size)
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        parser.error("--size: H and W must be positive multiples of 32")
    torch.set_num_threads(2)
    os.makedirs(args.output, exist_ok=True)

    model = random_model(dims, layers, args.ffn_ratio, args.iscf_scales,
                         args.seed)
    image = synthetic_image(height, width, args.seed)
    x = preprocess_minmax255(image).unsqueeze(0)
    with torch.no_grad():
        logits = model(x)

    if args.authors_checkpoint:
        path = os.path.join(args.output, "authors.pt")
        state = model.state_dict()
        torch.save({"model_weights": type(state)(
                        ("net." + k, v) for k, v in state.items()),
                    "test_F1_score": np.float64(0.875)}, path)
    else:
        path = os.path.join(args.output, "model.safetensors")
        export(model, path, dtype="F32", image_size=min(height, width),
               extra_metadata={"golden_seed": str(args.seed)})
    io_path = os.path.join(args.output, "io.safetensors")
    save_file({"input": x.contiguous(), "logits": logits.contiguous()},
              io_path,
              {"model": os.path.basename(path), "seed": str(args.seed)})
    print(f"{path}, {io_path}: dims={dims} layers={layers} "
          f"iscf_scales={args.iscf_scales} input {height}x{width}, logits in "
          f"[{logits.min().item():.3f}, {logits.max().item():.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
