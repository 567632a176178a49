"""Training loss: BCE on logits, plus per-image soft Dice with --dice."""

import torch
import torch.nn.functional as F


def dice_loss(logits, target, eps=1.0):
    p = torch.sigmoid(logits.float()).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def loss_fn(logits, target, args):
    loss = F.binary_cross_entropy_with_logits(logits.float(), target)
    if args.dice:
        loss = loss + args.dice_weight * dice_loss(logits, target)
    return loss
