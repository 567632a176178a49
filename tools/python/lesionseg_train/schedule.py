"""Learning-rate schedule, per phase: linear warm-up, then constant or cosine."""

import math


def lr_at(args, phase_lr, step, total):
    """Linear warm-up then cosine to lr*min_lr_ratio (or constant)."""
    warm = int(args.warmup * total) if args.warmup < 1 else int(args.warmup)
    if warm > 0 and step < warm:
        return phase_lr * (step + 1) / warm
    if args.sched == "const":
        return phase_lr
    prog = min(1.0, (step - warm) / max(1, total - warm))
    lo = phase_lr * args.min_lr_ratio
    return lo + (phase_lr - lo) * 0.5 * (1 + math.cos(math.pi * prog))
