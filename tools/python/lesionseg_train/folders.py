"""Folder lists from the command line, and the guard that keeps isic-test out."""

import os
import sys

# The held-out test set: used for final evaluation only, never for training,
# tuning or checkpoint selection.
FORBIDDEN = "isic-test"


def split_dirs(s):
    """'a, b,' -> ['a', 'b']."""
    if not s:
        return []
    out = []
    for part in s.split(","):
        part = part.strip()
        if part:
            out.append(part)
    return out


def refuse_test_dirs(dirs):
    for d in dirs:
        if FORBIDDEN in os.path.abspath(d).lower():
            sys.exit("train.py: refusing to train on %r: folders named '%s' are for final "
                     "evaluation only (never train, tune or select checkpoints on them)."
                     % (d, FORBIDDEN))


def folder_desc(dirs):
    """Short description for metadata: the folders' base names."""
    return ",".join(os.path.basename(os.path.normpath(d)) for d in dirs)
