"""The --time-budget clock.

It starts when this module is first imported; train.py imports it right after
torch, which is where the single-file trainer started it, so budgets behave as
before."""

import time

T0 = time.time()


def elapsed():
    return time.time() - T0


def budget_left(args):
    """Seconds left of --time-budget (infinite without one)."""
    return args.time_budget - (time.time() - T0) if args.time_budget > 0 else float("inf")
