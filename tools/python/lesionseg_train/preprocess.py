"""Network input normalisation: per-image min-max to [0, 255], batched."""

import sys

import torch


def minmax255(x):
    """Per-image min-max stretch to [0,255] over all pixels and channels of each
    image, batched; identical to lesionseg_ref.model.preprocess_minmax255."""
    b = x.shape[0]
    flat = x.reshape(b, -1)
    lo = flat.min(1)[0].view(b, 1, 1, 1)
    hi = flat.max(1)[0].view(b, 1, 1, 1)
    return (x - lo) / (hi - lo).clamp_min(1e-6) * 255.0


def check_minmax_matches_reference():
    """Our batched min-max must equal the reference preprocessing exactly (the C core
    and the exported model assume it).

    Note: this draws from the global torch RNG; main() calls it at a fixed point so
    that runs stay reproducible."""
    try:
        from lesionseg_ref.model import preprocess_minmax255
    except ImportError:
        return
    x = (torch.rand(2, 3, 8, 8) * 200 + 10).round()
    x[1] = 7.0  # flat image: both give zeros
    ref = torch.stack([preprocess_minmax255(x[i].permute(1, 2, 0)) for i in range(2)])
    err = (ref - minmax255(x)).abs().max().item()
    if err > 1e-3:
        sys.exit("train.py: minmax255 differs from lesionseg_ref preprocess_minmax255 (%g)" % err)
