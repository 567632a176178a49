"""Exponential moving average of the weights (--ema); validation, best.pt and the
export use the averaged weights."""

import torch


class EMA:
    def __init__(self, model, decay):
        self.decay = decay
        self.n = 0
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model):
        self.n += 1
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        fs, fv = [], []
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if v.dtype.is_floating_point:
                fs.append(s)
                fv.append(v.detach().float())
            else:
                s.copy_(v)
        if hasattr(torch, "_foreach_mul_"):  # one kernel per op, not one per tensor
            torch._foreach_mul_(fs, d)
            torch._foreach_add_(fs, fv, alpha=1 - d)
        else:
            for s, v in zip(fs, fv):
                s.mul_(d).add_(v, alpha=1 - d)

    def state_dict(self):
        return {"decay": self.decay, "n": self.n, "shadow": self.shadow}

    def load_state_dict(self, sd):
        self.decay, self.n = sd["decay"], sd["n"]
        for k, v in sd["shadow"].items():
            self.shadow[k].copy_(v)
