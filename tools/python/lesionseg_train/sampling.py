"""Which samples each epoch trains on, each rank's shard of them, and fetching a batch.

A sample is (source, index): source 0 = the --data training split, 1 = the
--pretrain folders."""

import math

import numpy as np
import torch


class EpochSampler:
    def __init__(self, args, dist, phases, tr_idx, n_pre, imgs, masks, pre_imgs, pre_masks):
        self.args, self.dist, self.phases = args, dist, phases
        self.tr_idx, self.n_pre = tr_idx, n_pre
        self.imgs, self.masks = imgs, masks
        self.pre_imgs, self.pre_masks = pre_imgs, pre_masks

    def indices(self, ph, ep):
        """Global sample list for one epoch: (source, index) with source 0 = --data,
        1 = --pretrain; the same on every rank, then sharded."""
        args, dist, tr_idx = self.args, self.dist, self.tr_idx
        # seeded by (seed, phase, epoch) alone, so that a resumed run sees the same order
        rng = np.random.RandomState((args.seed * 1000003 + ph * 10007 + ep) % (2 ** 31))
        if self.phases[ph][0] == "pretrain":
            src = [(1, i) for i in range(self.n_pre)]
        else:
            src = [(0, i) for i in tr_idx]
            if args.mix > 0:
                # k such that pre-training samples are a fraction --mix of the epoch
                k = int(round(len(tr_idx) * args.mix / (1 - args.mix)))
                src += [(1, int(i)) for i in rng.choice(self.n_pre, size=k,
                                                         replace=k > self.n_pre)]
        order = rng.permutation(len(src))
        per = len(src) // (args.batch * dist.world) * args.batch  # full batches only
        if per == 0:
            per = max(1, len(src) // dist.world)
        return [src[order[i]] for i in range(dist.rank * per, (dist.rank + 1) * per)]

    def steps_in(self, ph):
        """Optimiser steps per epoch of phase ph (on this rank)."""
        n = len(self.indices(ph, 0))
        return max(1, math.ceil(n / self.args.batch))

    def fetch(self, batch_ids):
        """uint8 images and masks of these samples, on the training device."""
        dev = self.dist.device
        out_x, out_y = [], []
        for s in (0, 1):
            ids = [i for (src, i) in batch_ids if src == s]
            if not ids:
                continue
            j = torch.as_tensor(ids, device=self.imgs.device)
            I, M = (self.imgs, self.masks) if s == 0 else (self.pre_imgs, self.pre_masks)
            out_x.append(I.index_select(0, j))
            out_y.append(M.index_select(0, j))
        return torch.cat(out_x).to(dev, non_blocking=True), torch.cat(out_y).to(dev, non_blocking=True)
