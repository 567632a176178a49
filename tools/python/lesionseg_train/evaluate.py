"""Validation Dice on the held-out split, sharded over ranks and summed."""

import torch

from .model import autocast
from .preprocess import minmax255


@torch.no_grad()
def evaluate(model, imgs, masks, idx, dist, batch, amp):
    """Dice at threshold 0 on logits. Returns (pooled, per-image mean, loss)."""
    model.eval()
    dev = dist.device
    mine = idx[dist.rank::dist.world]
    acc = torch.zeros(5, dtype=torch.float64, device=dev)  # inter, psum, tsum, dice_sum, n
    for i in range(0, len(mine), batch):
        j = torch.as_tensor(mine[i:i + batch], device=imgs.device)
        x = minmax255(imgs.index_select(0, j).to(dev).float())
        t = masks.index_select(0, j).to(dev).float()
        with autocast(dev, amp):
            logits = model(x)
        p = (logits.float() > 0).float()
        inter = (p * t).flatten(1).sum(1).double()
        ps = p.flatten(1).sum(1).double()
        ts = t.flatten(1).sum(1).double()
        d = torch.where(ps + ts > 0, 2 * inter / (ps + ts).clamp_min(1), torch.ones_like(ps))
        acc += torch.stack([inter.sum(), ps.sum(), ts.sum(), d.sum(),
                            torch.tensor(float(len(j)), dtype=torch.float64, device=dev)])
    dist.all_sum(acc)
    model.train()
    inter, ps, ts, dsum, n = acc.tolist()
    pooled = 2 * inter / max(1.0, ps + ts)
    return pooled, dsum / max(1.0, n)
