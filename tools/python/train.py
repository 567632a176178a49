#!/usr/bin/env python3
"""Train the lesion-segmentation transformer (IscfEffFormer) on ISIC-layout folders.

A folder holds images/ID.jpg and masks/ID_segmentation.png (mask 0/255), as made by
`lesionseg synth` or as in ../shared/data/isic2017-train. The whole dataset is loaded
once, resized (stretched) to --size x --size, into uint8 tensors on the training
device; augmentation runs there in batch (one affine_grid/grid_sample per batch).

Default = the paper's recipe: Adam 1e-4, BCE on logits, per-image min-max to [0,255]
(exactly preprocess_minmax255), no augmentation. Options add what helps on small
data; see `--help` and tools/python/README.md ("Training").

The validation split is cut from the --data folders (seeded, stored in the
checkpoint); the best checkpoint is selected on it. Paths containing 'isic-test'
are refused: that folder is for final evaluation only.

Runs unchanged under `torchrun --nproc_per_node=N` (DistributedDataParallel).
Works with torch 1.13 and 2.x.
"""

import argparse
import copy
import glob
import inspect
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

T0 = time.time()  # the --time-budget clock starts when the process starts
FORBIDDEN = "isic-test"


# --------------------------------------------------------------------------- utils

def parse_ints(s):
    return tuple(int(v) for v in str(s).replace(" ", "").split(",") if v)


def split_dirs(s):
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


class Dist:
    """World info; a no-op when WORLD_SIZE is 1 or unset."""

    def __init__(self, want_cuda):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.want_cuda = want_cuda
        self.device = torch.device("cpu")

    def start(self):
        """CUDA and the process group come up after the data is decoded, so that the
        decoding workers are forked from a process without CUDA or NCCL threads."""
        want_cuda = self.want_cuda
        if want_cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        if self.enabled:
            import torch.distributed as dist
            dist.init_process_group(backend="nccl" if want_cuda else "gloo")
            self.dist = dist

    @property
    def main(self):
        return self.rank == 0

    def all_sum(self, t):
        if self.enabled:
            self.dist.all_reduce(t)
        return t

    def broadcast_flag(self, flag):
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([1 if flag else 0], device=self.device)
        self.dist.broadcast(t, 0)
        return bool(t.item())

    def barrier(self):
        if self.enabled:
            self.dist.barrier()

    def close(self):
        if self.enabled:
            self.dist.destroy_process_group()


def log(dist, *a):
    if dist is None or dist.main:
        print(*a, flush=True)


class Progress:
    """Plain progress bar on stderr: redrawn in place on a terminal, a line every
    ~30 s otherwise (so that log files stay readable)."""

    def __init__(self, total, label, enabled=True):
        self.total, self.label, self.enabled = max(1, total), label, enabled
        self.tty = sys.stderr.isatty()
        self.t0 = self.last = time.time()
        self.n = 0

    def update(self, n, extra=""):
        self.n = n
        if not self.enabled:
            return
        now = time.time()
        if self.tty:
            if now - self.last < 0.2 and n < self.total:
                return
        elif now - self.last < 30 and n < self.total:
            return
        self.last = now
        frac = n / self.total
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        el = now - self.t0
        eta = el / frac - el if frac > 0 else 0
        msg = "%s [%s] %d/%d %4.0fs eta %4.0fs %s" % (self.label, bar, n, self.total, el, eta, extra)
        if self.tty:
            sys.stderr.write("\r" + msg[:150].ljust(150))
            if n >= self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------- data

def list_pairs(folder):
    imgs = sorted(glob.glob(os.path.join(folder, "images", "*.jpg")) +
                  glob.glob(os.path.join(folder, "images", "*.png")) +
                  glob.glob(os.path.join(folder, "images", "*.jpeg")))
    pairs = []
    for p in imgs:
        stem = os.path.splitext(os.path.basename(p))[0]
        m = os.path.join(folder, "masks", stem + "_segmentation.png")
        if os.path.exists(m):
            pairs.append((stem, p, m))
    if not pairs:
        sys.exit("train.py: no image/mask pairs in %s (expected images/ID.jpg and "
                 "masks/ID_segmentation.png)" % folder)
    return pairs


def _load_pair(job):
    from PIL import Image
    _, ip, mp, size = job
    with Image.open(ip) as im:
        im = im.convert("RGB").resize((size, size), Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8).copy()
    with Image.open(mp) as mk:
        mk = mk.convert("L").resize((size, size), Image.BILINEAR)
        m = (np.asarray(mk, dtype=np.uint8) >= 128).astype(np.uint8)
    return a, m


def load_folders(folders, size, workers):
    """Returns (names, images uint8 [N,3,S,S], masks uint8 [N,1,S,S]) on the CPU."""
    jobs = []
    for f in folders:
        tag = os.path.basename(os.path.normpath(f))
        for stem, ip, mp in list_pairs(f):
            jobs.append((tag + "/" + stem, ip, mp, size))
    if workers > 1 and len(jobs) > 64:
        import multiprocessing as mp_
        with mp_.get_context("fork").Pool(workers) as pool:
            res = pool.map(_load_pair, jobs, chunksize=16)
    else:
        res = [_load_pair(j) for j in jobs]
    imgs = torch.from_numpy(np.stack([r[0] for r in res])).permute(0, 3, 1, 2).contiguous()
    masks = torch.from_numpy(np.stack([r[1] for r in res]))[:, None].contiguous()
    return [j[0] for j in jobs], imgs, masks


def stem(name):
    return name.split("/", 1)[-1]


def split_val(names, fraction, seed):
    """Seeded split by image name (not by folder path or order, nor by world size), so
    that a copy of the folder elsewhere gives the same split."""
    n = len(names)
    if fraction <= 0 or n < 2:
        return list(range(n)), []
    order = sorted(range(n), key=lambda i: (stem(names[i]), names[i]))
    rng = np.random.RandomState(seed)
    perm = [order[i] for i in rng.permutation(n)]
    k = max(1, int(round(n * fraction)))
    return sorted(perm[k:]), sorted(perm[:k])


# ---------------------------------------------------------------------- preprocess

def minmax255(x):
    """Per-image min-max stretch to [0,255] over all pixels and channels of each
    image, batched; identical to lesionseg_ref.model.preprocess_minmax255."""
    b = x.shape[0]
    flat = x.reshape(b, -1)
    lo = flat.min(1)[0].view(b, 1, 1, 1)
    hi = flat.max(1)[0].view(b, 1, 1, 1)
    return (x - lo) / (hi - lo).clamp_min(1e-6) * 255.0


# -------------------------------------------------------------------- augmentation

class Augment:
    """Batched, on-device augmentation. Geometry: one affine per image (flips,
    90-degree rotations, small rotations, zoom in/out, aspect and shift), applied with
    grid_sample to image and mask together. Colour: per-channel gain, gamma,
    saturation, offset, blur-free noise. Random numbers come from a CPU generator
    (checkpointed) so runs are reproducible on any device."""

    def __init__(self, args, seed):
        self.a = args
        self.gen = torch.Generator()
        self.gen.manual_seed(seed)

    def enabled(self):
        a = self.a
        return (a.flip or a.rot90 or a.rot > 0 or a.zoom_min != 1 or a.zoom_max != 1
                or a.color > 0 or a.shift > 0 or a.aspect > 0)

    def _u(self, n, lo, hi):
        return torch.rand(n, generator=self.gen) * (hi - lo) + lo

    def __call__(self, img_u8, mask_u8):
        a = self.a
        dev = img_u8.device
        x = img_u8.float()
        y = mask_u8.float()
        b = x.shape[0]
        if not self.enabled():
            return x, y
        # ---- geometry
        ang = torch.zeros(b)
        if a.rot90:
            ang += (torch.randint(0, 4, (b,), generator=self.gen).float() * (math.pi / 2))
        if a.rot > 0:
            ang += self._u(b, -a.rot, a.rot) * (math.pi / 180)
        # zoom z > 1 shows a smaller window (zoom in), z < 1 shows more (zoom out)
        lz = self._u(b, math.log(a.zoom_min), math.log(a.zoom_max))
        z = torch.exp(lz)
        asp = torch.exp(self._u(b, -a.aspect, a.aspect)) if a.aspect > 0 else torch.ones(b)
        sx = 1.0 / (z * asp.sqrt())
        sy = 1.0 / (z / asp.sqrt())
        if a.flip:
            sx = sx * (torch.randint(0, 2, (b,), generator=self.gen).float() * 2 - 1)
            sy = sy * (torch.randint(0, 2, (b,), generator=self.gen).float() * 2 - 1)
        # shift in output-normalised units; allow more when zoomed out
        # (more when zoomed out; not so much that reflected copies of the lesion,
        # which padding_mode='reflection' makes, come into the middle)
        sh = a.shift * torch.clamp(1.0 / z, min=1.0)
        tx = self._u(b, -1, 1) * sh
        ty = self._u(b, -1, 1) * sh
        c, s = torch.cos(ang), torch.sin(ang)
        theta = torch.stack([torch.stack([c * sx, -s * sy, tx], 1),
                             torch.stack([s * sx, c * sy, ty], 1)], 1).to(dev)
        ident = (ang.abs().sum() == 0 and (sx.abs() - 1).abs().sum() == 0
                 and (sy.abs() - 1).abs().sum() == 0 and tx.abs().sum() == 0
                 and ty.abs().sum() == 0)
        if not ident:
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            xy = torch.cat([x, y], 1)
            xy = F.grid_sample(xy, grid, mode="bilinear", padding_mode=a.pad,
                               align_corners=False)
            x, y = xy[:, :3], (xy[:, 3:] >= 0.5).float()
        # ---- colour (on [0,255] floats, before the per-image min-max)
        if a.color > 0:
            k = a.color
            # (min-max afterwards amplifies casts: keep per-channel changes modest)
            gain = torch.exp(self._u(b * 3, -0.1 * k, 0.1 * k)).view(b, 3, 1, 1).to(dev)
            gamma = torch.exp(self._u(b, -0.3 * k, 0.3 * k)).view(b, 1, 1, 1).to(dev)
            sat = torch.exp(self._u(b, -0.3 * k, 0.3 * k)).view(b, 1, 1, 1).to(dev)
            off = self._u(b * 3, -8 * k, 8 * k).view(b, 3, 1, 1).to(dev)
            noise = self._u(b, 0, 5 * k).view(b, 1, 1, 1).to(dev)
            x = (x / 255.0).clamp(0, 1).pow(gamma) * 255.0
            lum = x.mean(1, keepdim=True)
            x = lum + (x - lum) * sat
            x = x * gain + off
            x = x + torch.randn(x.shape, device=dev) * noise
            x = x.clamp(0, 255)
        return x, y


# ------------------------------------------------------------------------- losses

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


# ----------------------------------------------------------------------------- EMA

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


# ------------------------------------------------------------------------ schedule

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


# -------------------------------------------------------------------------- model

def build_model(args):
    from lesionseg_ref.model import IscfEffFormer
    return IscfEffFormer(dims=args.dims, layers=args.layers, ffn_ratio=args.ffn_ratio,
                         iscf_scales=args.iscf_scales, num_classes=1)


def check_minmax_matches_reference():
    """Our batched min-max must equal the reference preprocessing exactly."""
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


class autocast:
    def __init__(self, dev, amp):
        self.on = amp and dev.type == "cuda"
        self.ctx = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if self.on else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *e):
        if self.ctx is not None:
            return self.ctx.__exit__(*e)
        return False


# ---------------------------------------------------------------------------- main

def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--data", required=True, help="training folder(s), comma separated; the "
                   "validation split is cut from these")
    g.add_argument("--pretrain", default="", help="pre-training folder(s), comma separated "
                   "(e.g. synthetic); trained for --pretrain-epochs before --data")
    g.add_argument("--pretrain-epochs", type=int, default=0)
    g.add_argument("--mix", type=float, default=0.0, help="during the --data phase, this "
                   "fraction of each epoch's samples is drawn from the --pretrain folders")
    g.add_argument("--val-fraction", type=float, default=0.1)
    g.add_argument("--size", type=int, default=224, help="images stretched to size x size")
    g.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="processes decoding images at start-up")
    g.add_argument("--data-on-cpu", action="store_true", help="keep the uint8 dataset in host "
                   "memory even when training on CUDA")
    g = p.add_argument_group("model")
    g.add_argument("--dims", type=parse_ints, default=(128, 320, 512))
    g.add_argument("--layers", type=parse_ints, default=(2, 2, 2))
    g.add_argument("--ffn-ratio", type=int, default=4)
    g.add_argument("--iscf-scales", type=int, default=3)
    g = p.add_argument_group("optimisation (defaults = the paper's recipe)")
    g.add_argument("--epochs", type=int, default=100, help="epochs on --data")
    g.add_argument("--batch", type=int, default=8, help="per process")
    g.add_argument("--opt", choices=["adam", "adamw"], default="adam")
    g.add_argument("--lr", type=float, default=1e-4)
    g.add_argument("--pretrain-lr", type=float, default=None, help="default: --lr")
    g.add_argument("--wd", type=float, default=0.0, help="weight decay (AdamW: decoupled)")
    g.add_argument("--sched", choices=["const", "cosine"], default="const")
    g.add_argument("--warmup", type=float, default=0, help="warm-up steps per phase, or a "
                   "fraction of the phase's steps when < 1")
    g.add_argument("--min-lr-ratio", type=float, default=0.01)
    g.add_argument("--dice", action="store_true", help="loss = BCE + dice_weight * soft Dice "
                   "(per image)")
    g.add_argument("--dice-weight", type=float, default=1.0)
    g.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights (e.g. "
                   "0.999); validation, best.pt and export use the EMA weights")
    g.add_argument("--clip", type=float, default=0.0, help="gradient-norm clip (0: off)")
    g.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    g.add_argument("--compile", action="store_true", help="torch.compile (torch 2.x only)")
    g = p.add_argument_group("augmentation (all off by default; --aug turns on a good set)")
    g.add_argument("--aug", action="store_true", help="= --flip --rot90 --rot 20 --zoom-min "
                   "0.6 --zoom-max 1.3 --aspect 0.15 --shift 0.1 --color 1")
    g.add_argument("--flip", action="store_true")
    g.add_argument("--rot90", action="store_true")
    g.add_argument("--rot", type=float, default=0.0, help="max small rotation, degrees")
    g.add_argument("--zoom-min", type=float, default=1.0, help="< 1 zooms out (smaller lesions)")
    g.add_argument("--zoom-max", type=float, default=1.0, help="> 1 zooms in (crop)")
    g.add_argument("--aspect", type=float, default=0.0, help="log aspect-ratio jitter")
    g.add_argument("--shift", type=float, default=0.0, help="max shift, fraction of half-size")
    g.add_argument("--color", type=float, default=0.0, help="colour jitter strength (1 = "
                   "gain +-10%% per channel, gamma 0.74-1.35, saturation 0.74-1.35, offsets "
                   "+-8, noise sigma <= 5)")
    g.add_argument("--pad", choices=["reflection", "zeros", "border"], default="reflection")
    g = p.add_argument_group("run")
    g.add_argument("--out", default="runs/train", help="last.pt, best.pt, log.jsonl")
    g.add_argument("--resume", default="", help="checkpoint to resume (e.g. OUT/last.pt)")
    g.add_argument("--init", default="", help="checkpoint whose model weights start the run "
                   "(nothing else restored)")
    g.add_argument("--time-budget", type=float, default=0, help="seconds from start: stop "
                   "cleanly (checkpoint saved, export done) before this")
    g.add_argument("--fit-budget", action="store_true", help="shrink the planned epochs (both "
                   "phases, same ratio) so that the schedule ends within --time-budget")
    g.add_argument("--reserve", type=float, default=20, help="seconds kept for the final "
                   "save/export when a --time-budget is set")
    g.add_argument("--save-interval", type=float, default=0, help="seconds between saves of "
                   "last.pt/best.pt (0: every epoch); always saved at the end or a stop")
    g.add_argument("--run-epochs", type=int, default=0, help="stop (checkpointed) after this "
                   "many epochs in this run; continue later with --resume")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", help="auto, cpu or cuda")
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    g.add_argument("--select", choices=["mean", "pooled"], default="mean",
                   help="validation Dice that picks best.pt: per-image mean or pooled")
    g.add_argument("--val-every", type=int, default=1)
    g.add_argument("--export", default="", help="write best weights to this safetensors")
    g.add_argument("--export-dtype", choices=["F16", "F32", "BF16"], default="F16")
    g.add_argument("--name", default="", help="model name for the export metadata")
    return p


def apply_aug_preset(args):
    if args.aug:
        args.flip = args.rot90 = True
        if args.rot == 0:
            args.rot = 20.0
        if args.zoom_min == 1.0 and args.zoom_max == 1.0:
            args.zoom_min, args.zoom_max = 0.6, 1.3
        if args.aspect == 0:
            args.aspect = 0.15
        if args.shift == 0:
            args.shift = 0.1
        if args.color == 0:
            args.color = 1.0


def rng_state():
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
          "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st):
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(st["cuda"])
        except Exception:
            pass


def load_ckpt(path):
    """torch >= 2.6 loads weights_only by default; our checkpoints hold RNG states too."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13
        return torch.load(path, map_location="cpu")


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main(argv=None):
    args = build_parser().parse_args(argv)
    apply_aug_preset(args)
    data_dirs, pre_dirs = split_dirs(args.data), split_dirs(args.pretrain)
    refuse_test_dirs(data_dirs + pre_dirs)
    for d in data_dirs + pre_dirs:
        if not os.path.isdir(d):
            sys.exit("train.py: no such folder: %s" % d)
    if args.size % 32:
        sys.exit("train.py: --size must be a multiple of 32 (the C core's constraint)")
    if args.pretrain_epochs > 0 and not pre_dirs:
        sys.exit("train.py: --pretrain-epochs needs --pretrain DIR")
    if args.mix > 0 and not pre_dirs:
        sys.exit("train.py: --mix needs --pretrain DIR")

    want_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    dist = Dist(want_cuda)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    seed = args.seed
    random.seed(seed + dist.rank)
    np.random.seed(seed + dist.rank)
    torch.manual_seed(seed + dist.rank)
    if want_cuda:
        torch.backends.cudnn.benchmark = True
        try:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        except Exception:
            pass
    if dist.main:
        os.makedirs(args.out, exist_ok=True)
    # ---- data
    t = time.time()
    names, imgs, masks = load_folders(data_dirs, args.size, args.workers)
    tr_idx, va_idx = split_val(names, args.val_fraction, seed)
    pre_names, pre_imgs, pre_masks = [], None, None
    if pre_dirs:
        pre_names, pre_imgs, pre_masks = load_folders(pre_dirs, args.size, args.workers)
    dist.start()
    dev = dist.device
    log(dist, "train.py: torch %s, device %s%s, world %d" % (
        torch.__version__, dev, (" (" + torch.cuda.get_device_name(dev) + ")")
        if dev.type == "cuda" else "", dist.world))
    store = torch.device("cpu") if args.data_on_cpu else dev
    imgs, masks = imgs.to(store), masks.to(store)
    if pre_imgs is not None:
        pre_imgs, pre_masks = pre_imgs.to(store), pre_masks.to(store)
    log(dist, "data: %d images from %s (train %d, val %d), %d pre-training images from %s; "
        "loaded at %dx%d in %.1fs" % (len(names), ",".join(data_dirs), len(tr_idx), len(va_idx),
                                      len(pre_names), ",".join(pre_dirs) or "-", args.size,
                                      args.size, time.time() - t))
    if not va_idx:
        log(dist, "warning: no validation split; best.pt follows the last epoch")

    # ---- model, optimiser
    model = build_model(args).to(dev)
    check_minmax_matches_reference()
    try:  # tensors the forward pass never reads get no gradient: freeze them (DDP needs it)
        from lesionseg_ref.model import is_unused_tensor
        for n_, p_ in model.named_parameters():
            if is_unused_tensor(n_):
                p_.requires_grad_(False)
    except ImportError:
        pass
    nparam = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(dist, "model: dims %s layers %s, %.2f M parameters" % (
        ",".join(map(str, args.dims)), ",".join(map(str, args.layers)), nparam / 1e6))
    if args.init:
        sd = load_ckpt(args.init)
        model.load_state_dict(sd.get("ema_model") or sd.get("model") or sd)
    Opt = torch.optim.AdamW if args.opt == "adamw" else torch.optim.Adam
    opt = Opt([p_ for p_ in model.parameters() if p_.requires_grad], lr=args.lr,
              weight_decay=args.wd)
    ema = EMA(model, args.ema) if args.ema > 0 else None

    phases = []  # (name, epochs, lr)
    if args.pretrain_epochs > 0:
        phases.append(["pretrain", args.pretrain_epochs,
                       args.pretrain_lr if args.pretrain_lr else args.lr])
    phases.append(["finetune" if phases else "train", args.epochs, args.lr])

    state = {"phase": 0, "epoch": 0, "step_in_epoch": 0, "best": -1.0, "best_epoch": -1,
             "global_step": 0, "history": [], "best_rec": None}
    if args.resume:
        ck = load_ckpt(args.resume)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        if ema is not None and ck.get("ema"):
            ema.load_state_dict(ck["ema"])
        for k in state:
            if k in ck["state"]:
                state[k] = ck["state"][k]
        if ck.get("val_names") and ck["val_names"] != [stem(names[i]) for i in va_idx]:
            sys.exit("train.py: the validation split differs from the checkpoint's (different "
                     "--data, --val-fraction or --seed?)")
        if ck.get("aug_gen") is not None:
            pass  # restored below, after Augment exists
        set_rng_state(ck["rng"][min(dist.rank, len(ck["rng"]) - 1)]
                      if isinstance(ck["rng"], list) else ck["rng"])
        old = ck.get("phases")
        if old and [p[1] for p in old] != [p[1] for p in phases]:
            log(dist, "resume: epochs per phase now %s (checkpoint had %s)" % (
                [p[1] for p in phases], [p[1] for p in old]))
        log(dist, "resumed %s: phase %d epoch %d step %d, best %.4f" % (
            args.resume, state["phase"], state["epoch"], state["step_in_epoch"], state["best"]))

    aug = Augment(args, seed * 7919 + 17 + dist.rank)
    if args.resume and ck.get("aug_gen") is not None:
        aug.gen.set_state(ck["aug_gen"])

    train_model = model
    if args.compile and hasattr(torch, "compile"):
        train_model = torch.compile(model)
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(train_model, device_ids=[dev.index] if dev.type == "cuda" else None)

    def epoch_indices(ph, ep):
        """Global sample list for one epoch: (source, index) with source 0 = --data,
        1 = --pretrain; the same on every rank, then sharded."""
        rng = np.random.RandomState((seed * 1000003 + ph * 10007 + ep) % (2 ** 31))
        if phases[ph][0] == "pretrain":
            src = [(1, i) for i in range(len(pre_names))]
        else:
            src = [(0, i) for i in tr_idx]
            if args.mix > 0:
                k = int(round(len(tr_idx) * args.mix / (1 - args.mix)))
                src += [(1, int(i)) for i in rng.choice(len(pre_names), size=k,
                                                         replace=k > len(pre_names))]
        order = rng.permutation(len(src))
        per = len(src) // (args.batch * dist.world) * args.batch  # full batches only
        if per == 0:
            per = max(1, len(src) // dist.world)
        return [src[order[i]] for i in range(dist.rank * per, (dist.rank + 1) * per)]

    def steps_in(ph):
        n = len(epoch_indices(ph, 0))
        return max(1, math.ceil(n / args.batch))

    def fetch(batch_ids):
        out_x, out_y = [], []
        for s in (0, 1):
            ids = [i for (src, i) in batch_ids if src == s]
            if not ids:
                continue
            j = torch.as_tensor(ids, device=imgs.device)
            I, M = (imgs, masks) if s == 0 else (pre_imgs, pre_masks)
            out_x.append(I.index_select(0, j))
            out_y.append(M.index_select(0, j))
        return torch.cat(out_x).to(dev, non_blocking=True), torch.cat(out_y).to(dev, non_blocking=True)

    def budget_left():
        return args.time_budget - (time.time() - T0) if args.time_budget > 0 else float("inf")

    # (a copy, not a new model: building one would draw from the RNG after a resume)
    ema_eval = copy.deepcopy(model) if ema is not None else None

    def eval_model():
        if ema is None:
            return model
        ema_eval.load_state_dict(ema.shadow)
        return ema_eval

    best_mem = {}  # the best weights so far, on the CPU, written with the next save

    def remember_best():
        src = ema.shadow if ema is not None else model.state_dict()
        best_mem["model"] = {k: v.detach().to("cpu", copy=True) for k, v in src.items()}
        best_mem["state"] = copy.deepcopy(state)
        best_mem["dirty"] = True

    def checkpoint(path):
        if not dist.main:
            return
        ck = {"model": model.state_dict(), "opt": opt.state_dict(),
              "ema": ema.state_dict() if ema else None,
              "ema_model": dict(ema.shadow) if ema else None,
              "state": state, "phases": phases, "args": vars(args),
              "val_names": [stem(names[i]) for i in va_idx], "rng": rng_state(),
              "aug_gen": aug.gen.get_state(), "time": time.time()}
        if best_mem.get("dirty"):
            # best.pt: the weights that validated best (EMA when used), light
            atomic_save({"model": best_mem["model"], "state": best_mem["state"],
                         "args": vars(args)}, os.path.join(args.out, "best.pt"))
            best_mem["dirty"] = False
        atomic_save(ck, path)
        last_save[:] = [time.time(), state["global_step"]]

    last_save = [time.time(), state["global_step"]]

    # ---- time fitting: every phase gets round(k * planned epochs), one k <= 1 for all,
    # the largest whose remaining work fits the time left (re-solved after each epoch, so
    # k follows the measured speed up or down; the ratio between phases is kept)
    planned = [p[1] for p in phases]
    fit_k = [1.0]

    def fit_to_budget(sec_per_step, eval_sec, mid_epoch):
        if not (args.fit_budget and args.time_budget > 0):
            return
        if dist.main:
            _fit(sec_per_step, eval_sec, mid_epoch)
        if dist.enabled:  # every rank follows rank 0's plan
            t = torch.tensor([p[1] for p in phases], dtype=torch.long, device=dev)
            dist.dist.broadcast(t, 0)
            for ph, e in enumerate(t.tolist()):
                phases[ph][1] = e

    def _fit(sec_per_step, eval_sec, mid_epoch):
        left = budget_left() - args.reserve
        cost = [steps_in(ph) * sec_per_step + eval_sec / max(1, args.val_every)
                for ph in range(len(phases))]

        def plan(k):
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
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                if need(plan(mid)) <= left:
                    lo = mid
                else:
                    hi = mid
        old = [p[1] for p in phases]
        # hysteresis: shrink whenever the current plan does not fit, grow only by > 4%
        if need(old) <= left and lo <= fit_k[0] * 1.04:
            return
        fit_k[0] = lo
        new = plan(lo)
        for ph in range(len(phases)):
            phases[ph][1] = new[ph]
        if new != old:
            log(dist, "fit-budget: %.4fs/step, %.1fs/validation, %.0fs left -> epochs per "
                "phase %s -> %s (%.2f of the plan %s)" % (sec_per_step, eval_sec, left, old, new,
                                                           lo, planned))

    log_path = os.path.join(args.out, "log.jsonl")
    stop = False
    first_fit = True
    run_epochs = 0
    t_warm = 0.0
    sec_per_step = None
    while state["phase"] < len(phases) and not stop:
        ph = state["phase"]
        pname, pepochs, plr = phases[ph]
        if state["epoch"] >= pepochs:
            state["phase"] += 1
            state["epoch"] = 0
            state["step_in_epoch"] = 0
            continue
        ep = state["epoch"]
        idx = epoch_indices(ph, ep)
        nsteps = math.ceil(len(idx) / args.batch)
        total_steps = pepochs * nsteps
        prog = Progress(nsteps, "%s %d/%d" % (pname, ep + 1, pepochs), dist.main)
        t_ep = time.time()
        seen, loss_sum, loss_n = 0, 0.0, 0
        model.train()
        start = state["step_in_epoch"]
        for s in range(start, nsteps):
            if budget_left() < args.reserve:
                stop = True
            if dist.broadcast_flag(stop):
                stop = True
                break
            lr = lr_at(args, plr, ep * nsteps + s, total_steps)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = fetch(idx[s * args.batch:(s + 1) * args.batch])
            x, y = aug(x, y)
            x = minmax255(x)
            with autocast(dev, args.amp):
                logits = train_model(x)
            loss = loss_fn(logits, y, args)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            if ema is not None:
                ema.update(model)
            state["global_step"] += 1
            state["step_in_epoch"] = s + 1
            seen += x.shape[0]
            if s % 10 == 0 or s == nsteps - 1:
                loss_sum += loss.item()
                loss_n += 1
            prog.update(s + 1, "loss %.4f lr %.2e" % (loss_sum / max(1, loss_n), lr))
            # a first fit after a few warm steps of the first epoch of this run
            if first_fit and s - start in (3, 13):
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                if s - start == 3:
                    t_warm = time.time()
                else:
                    first_fit = False
                    fit_to_budget((time.time() - t_warm) / 10 * 1.05, 2.0, True)
                    pepochs = phases[ph][1]
                    total_steps = pepochs * nsteps
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t_train = time.time() - t_ep
        if start >= nsteps:
            s = start - 1
        if stop and state["step_in_epoch"] < nsteps:
            log(dist, "time budget: stopping in %s epoch %d at step %d/%d" % (
                pname, ep + 1, state["step_in_epoch"], nsteps))
            break
        # ---- validate
        te = time.time()
        pooled = mean = float("nan")
        if va_idx and ((ep + 1) % args.val_every == 0 or ep + 1 == pepochs):
            pooled, mean = evaluate(eval_model(), imgs, masks, va_idx, dist,
                                    max(8, args.batch * 2), args.amp)
        t_eval = time.time() - te
        score = mean if args.select == "mean" else pooled
        state["epoch"] += 1
        state["step_in_epoch"] = 0
        ips = seen * dist.world / max(1e-9, t_train)
        rec = {"phase": pname, "epoch": ep + 1, "epochs": pepochs, "loss": loss_sum / max(1, loss_n),
               "val_dice_pooled": pooled, "val_dice_mean": mean, "lr": lr,
               "epoch_s": round(t_train + t_eval, 2), "img_per_s": round(ips, 1),
               "elapsed_s": round(time.time() - T0, 1)}
        state["history"].append(rec)
        is_best = False
        if not math.isnan(score) and score > state["best"]:
            state["best"], state["best_epoch"] = score, len(state["history"])
            state["best_rec"] = rec
            is_best = True
        elif not va_idx:
            state["best_epoch"] = len(state["history"])
            state["best_rec"] = rec
            is_best = True
        log(dist, "%s epoch %d/%d: loss %.4f  val Dice pooled %.4f mean %.4f%s  %.1fs (%.0f img/s)"
            "  elapsed %.0fs" % (pname, ep + 1, pepochs, rec["loss"], pooled, mean,
                                 "  *best*" if is_best else "", t_train + t_eval, ips,
                                 time.time() - T0))
        if dist.main:
            with open(log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if is_best:
            remember_best()
        if time.time() - last_save[0] >= args.save_interval:
            checkpoint(os.path.join(args.out, "last.pt"))
        # ---- budget: re-fit, or stop if the next epoch would not fit
        if s + 1 - start > 0:
            sps = t_train / (s + 1 - start)
            # smoothed over epochs; the first epoch of a run includes warm-up (cudnn
            # autotuning, allocation), so the second replaces it
            if sec_per_step is None or run_epochs == 1:
                sec_per_step = sps
            else:
                sec_per_step = 0.7 * sec_per_step + 0.3 * sps
            sps = sec_per_step
            fit_to_budget(sps * 1.05, t_eval, False)
            nxt = ph if state["epoch"] < phases[ph][1] else ph + 1
            if nxt < len(phases):
                need = steps_in(nxt) * sps * 1.1 + t_eval
                if args.time_budget > 0 and not args.fit_budget and need > budget_left() - args.reserve:
                    # no partial epochs when plain --time-budget: stop at an epoch boundary
                    log(dist, "time budget: next epoch (~%.0fs) would not fit; stopping" % need)
                    stop = True
        run_epochs += 1
        if args.run_epochs and run_epochs >= args.run_epochs:
            stop = True
        stop = dist.broadcast_flag(stop)

    if dist.main and (best_mem.get("dirty") or last_save[1] != state["global_step"]):
        checkpoint(os.path.join(args.out, "last.pt"))
    finished = state["phase"] >= len(phases)
    log(dist, "%s after %.0fs; best val Dice (%s) %.4f at epoch %d" % (
        "finished" if finished else "stopped", time.time() - T0, args.select, state["best"],
        state["best_epoch"]))
    if dist.main and args.export:
        do_export(args, data_dirs, pre_dirs, phases, state, nparam, len(tr_idx), len(va_idx),
                  len(pre_names), finished)
    if dist.main:
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump({"finished": finished, "best": state["best"], "select": args.select,
                       "best_epoch": state["best_epoch"], "best_rec": state.get("best_rec"),
                       "phases": phases, "elapsed_s": round(time.time() - T0, 1),
                       "params": nparam, "val_names": [stem(names[i]) for i in va_idx],
                       "args": {k: (list(v) if isinstance(v, tuple) else v)
                                                  for k, v in vars(args).items()}}, f, indent=1)
    dist.barrier()
    dist.close()
    return 0


def do_export(args, data_dirs, pre_dirs, phases, state, nparam, ntr, nva, npre, finished):
    from lesionseg_ref.export import export
    best = os.path.join(args.out, "best.pt")
    if not os.path.exists(best):
        print("export: no best.pt (no epoch completed); nothing exported", flush=True)
        return
    bk = load_ckpt(best)
    model = build_model(args)
    model.load_state_dict(bk["model"])
    model.eval()
    rec = bk["state"].get("best_rec") or {}

    def folder_desc(dirs):
        return ",".join(os.path.basename(os.path.normpath(d)) for d in dirs)

    recipe = ("%s lr %g wd %g sched %s warmup %g batch %d x %d; loss BCE%s; ema %g; aug %s; "
              "size %d stretched; input minmax255" % (
                  args.opt, args.lr, args.wd, args.sched, args.warmup, args.batch,
                  int(os.environ.get("WORLD_SIZE", "1")),
                  "+%gDice" % args.dice_weight if args.dice else "", args.ema,
                  ("flip %d rot90 %d rot %g zoom %g-%g aspect %g shift %g color %g pad %s" % (
                      args.flip, args.rot90, args.rot, args.zoom_min, args.zoom_max, args.aspect,
                      args.shift, args.color, args.pad)) if Augment(args, 0).enabled() else "none",
                  args.size))
    trained = "%s (%d train images, %d held out for validation)" % (folder_desc(data_dirs), ntr, nva)
    if pre_dirs:
        trained = "pre-trained on %s (%d images, %d epochs%s), then %s" % (
            folder_desc(pre_dirs), npre, phases[0][1] if phases[0][0] == "pretrain" else 0,
            "" if not args.mix else ", mixed %.0f%% into fine-tuning" % (100 * args.mix), trained)
    meta = {
        "trained_on": trained,
        "epochs": str(sum(1 for _ in bk["state"]["history"])),
        "epochs_planned": ",".join("%s:%d" % (p[0], p[1]) for p in phases),
        "best_epoch": str(bk["state"].get("best_epoch")),
        "val_dice": "%.4f" % rec.get("val_dice_mean", float("nan")),
        "val_dice_pooled": "%.4f" % rec.get("val_dice_pooled", float("nan")),
        "val_split": "%d of the training images (seed %d, fraction %g)" % (nva, args.seed,
                                                                           args.val_fraction),
        "recipe": recipe,
        "train_size": str(args.size),
        "params": str(nparam),
        "training_finished": "true" if finished else "false (stopped by time budget)",
    }
    if args.name:
        meta["name"] = args.name
    sig = inspect.signature(export).parameters
    kw = {}
    if "dtype" in sig:
        kw["dtype"] = args.export_dtype
    for key in ("metadata", "extra_metadata", "meta"):
        if key in sig:
            kw[key] = meta
            break
    else:
        print("export: export() takes no metadata argument; recipe not recorded", flush=True)
    if "image_size" in sig:
        kw["image_size"] = args.size
    os.makedirs(os.path.dirname(os.path.abspath(args.export)), exist_ok=True)
    export(model, args.export, **kw)
    print("exported %s (%s) from best.pt (epoch %s, val Dice mean %s pooled %s)" % (
        args.export, args.export_dtype, meta["best_epoch"], meta["val_dice"],
        meta["val_dice_pooled"]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
