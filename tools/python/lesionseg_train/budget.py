"""--fit-budget: shrink the planned epochs so that the schedule ends inside --time-budget.

Every phase gets round(k * planned epochs), with one k <= 1 for all phases: the
largest whose remaining work fits the time left. It is re-solved after each epoch, so
k follows the measured speed up or down; the ratio between phases is kept, and the
cosine schedule (which reads the phase's epoch count) ends on time."""

import torch

from .clock import budget_left
from .distributed import log


class BudgetFitter:
    def __init__(self, args, dist, phases, state, steps_in):
        self.args, self.dist, self.phases, self.state = args, dist, phases, state
        self.steps_in = steps_in
        self.planned = [p[1] for p in phases]
        self.k = 1.0

    def fit(self, sec_per_step, eval_sec, mid_epoch):
        """Update phases[*][1] in place (on every rank, following rank 0)."""
        args, dist, phases = self.args, self.dist, self.phases
        if not (args.fit_budget and args.time_budget > 0):
            return
        if dist.main:
            self._fit(sec_per_step, eval_sec, mid_epoch)
        if dist.enabled:  # every rank follows rank 0's plan
            t = torch.tensor([p[1] for p in phases], dtype=torch.long, device=dist.device)
            dist.dist.broadcast(t, 0)
            for ph, e in enumerate(t.tolist()):
                phases[ph][1] = e

    def _fit(self, sec_per_step, eval_sec, mid_epoch):
        args, phases, state, planned = self.args, self.phases, self.state, self.planned
        left = budget_left(args) - args.reserve
        cost = [self.steps_in(ph) * sec_per_step + eval_sec / max(1, args.val_every)
                for ph in range(len(phases))]

        def plan(k):
            # finished phases keep their count; the current one keeps what is done
            out = []
            for ph in range(len(phases)):
                if ph < state["phase"]:
                    out.append(phases[ph][1])
                    continue
                done = (state["epoch"] + (1 if mid_epoch else 0)) if ph == state["phase"] else 0
                out.append(max(done, 1 if ph > state["phase"] else 0,
                               int(round(k * planned[ph]))))
            return out

        def need(ep):
            t = 0.0
            for ph in range(state["phase"], len(phases)):
                done = (state["epoch"] + (1 if mid_epoch else 0)) if ph == state["phase"] else 0
                t += max(0, ep[ph] - done) * cost[ph]
            return t

        lo, hi = 0.0, 1.0
        if need(plan(1.0)) <= left:
            lo = 1.0
        else:
            for _ in range(40):  # bisection on k
                mid = 0.5 * (lo + hi)
                if need(plan(mid)) <= left:
                    lo = mid
                else:
                    hi = mid
        old = [p[1] for p in phases]
        # hysteresis: shrink whenever the current plan does not fit, grow only by > 4%
        if need(old) <= left and lo <= self.k * 1.04:
            return
        self.k = lo
        new = plan(lo)
        for ph in range(len(phases)):
            phases[ph][1] = new[ph]
        if new != old:
            log(self.dist, "fit-budget: %.4fs/step, %.1fs/validation, %.0fs left -> epochs per "
                "phase %s -> %s (%.2f of the plan %s)" % (sec_per_step, eval_sec, left, old, new,
                                                           lo, planned))
