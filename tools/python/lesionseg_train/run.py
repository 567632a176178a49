"""main(): parse options, load data, build model and optimiser, resume, train, save,
export. The order of the steps that draw random numbers (model init, the min-max
self-check, resume, augmentation generator) is part of reproducibility: keep it."""

import copy
import json
import os
import random
import sys
import time

import numpy as np
import torch

from .augment import Augment, apply_aug_preset
from .budget import BudgetFitter
from .checkpoint import CheckpointWriter, load_ckpt, set_rng_state
from .cli import build_parser
from .clock import T0
from .data import camera_groups, load_folders, split_val, stem
from .distributed import Dist, log
from .ema import EMA
from .export import do_export
from .folders import refuse_test_dirs, split_dirs
from .loop import Trainer
from .model import build_model, freeze_unused
from .preprocess import check_minmax_matches_reference
from .sampling import EpochSampler


def check_args(args, data_dirs, pre_dirs):
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
    for name in ("fade", "fade_prob"):
        if not 0 <= getattr(args, name) <= 1:
            sys.exit("train.py: --%s must be in [0, 1], got %g"
                     % (name.replace("_", "-"), getattr(args, name)))


def seed_and_configure(args, dist, want_cuda):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    # per-rank seeds: ranks draw different augmentations and noise
    random.seed(args.seed + dist.rank)
    np.random.seed(args.seed + dist.rank)
    torch.manual_seed(args.seed + dist.rank)
    if want_cuda:
        torch.backends.cudnn.benchmark = True
        try:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        except Exception:
            pass


def make_phases(args):
    """[[name, epochs, lr]]: optional 'pretrain', then 'finetune' (or 'train' alone).
    Lists, since --fit-budget rewrites the epoch counts in place."""
    phases = []
    if args.pretrain_epochs > 0:
        phases.append(["pretrain", args.pretrain_epochs,
                       args.pretrain_lr if args.pretrain_lr else args.lr])
    phases.append(["finetune" if phases else "train", args.epochs, args.lr])
    return phases


def new_state():
    return {"phase": 0, "epoch": 0, "step_in_epoch": 0, "best": -1.0, "best_epoch": -1,
            "global_step": 0, "history": [], "best_rec": None}


def resume(args, dist, ck, model, opt, ema, state, phases, val_names):
    """Restores model, optimiser, EMA, loop state and RNGs from last.pt (the
    augmentation generator is restored by the caller, once it exists)."""
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    if ema is not None and ck.get("ema"):
        ema.load_state_dict(ck["ema"])
    for k in state:
        if k in ck["state"]:
            state[k] = ck["state"][k]
    if ck.get("val_names") and ck["val_names"] != val_names:
        sys.exit("train.py: the validation split differs from the checkpoint's (different "
                 "--data, --val-fraction, --val-by or --seed?)")
    set_rng_state(ck["rng"][min(dist.rank, len(ck["rng"]) - 1)]
                  if isinstance(ck["rng"], list) else ck["rng"])
    old = ck.get("phases")
    if old and [p[1] for p in old] != [p[1] for p in phases]:
        log(dist, "resume: epochs per phase now %s (checkpoint had %s)" % (
            [p[1] for p in phases], [p[1] for p in old]))
    log(dist, "resumed %s: phase %d epoch %d step %d, best %.4f" % (
        args.resume, state["phase"], state["epoch"], state["step_in_epoch"], state["best"]))


def write_summary(args, finished, state, phases, nparam, val_names):
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"finished": finished, "best": state["best"], "select": args.select,
                   "best_epoch": state["best_epoch"], "best_rec": state.get("best_rec"),
                   "phases": phases, "elapsed_s": round(time.time() - T0, 1),
                   "params": nparam, "val_names": val_names,
                   "args": {k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in vars(args).items()}}, f, indent=1)


def main(argv=None):
    args = build_parser().parse_args(argv)
    apply_aug_preset(args)
    data_dirs, pre_dirs = split_dirs(args.data), split_dirs(args.pretrain)
    check_args(args, data_dirs, pre_dirs)

    want_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    dist = Dist(want_cuda)
    seed_and_configure(args, dist, want_cuda)
    if dist.main:
        os.makedirs(args.out, exist_ok=True)
    # ---- data (decoded before dist.start(): see Dist.start)
    t = time.time()
    names, imgs, masks = load_folders(data_dirs, args.size, args.workers)
    groups = camera_groups(data_dirs, names) if args.val_by == "camera" else None
    tr_idx, va_idx = split_val(names, args.val_fraction, args.seed, groups)
    val_names = [stem(names[i]) for i in va_idx]
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
    freeze_unused(model)
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

    phases = make_phases(args)
    state = new_state()
    ck = None
    if args.resume:
        ck = load_ckpt(args.resume)
        resume(args, dist, ck, model, opt, ema, state, phases, val_names)

    aug = Augment(args, args.seed * 7919 + 17 + dist.rank)
    if ck is not None and ck.get("aug_gen") is not None:
        aug.gen.set_state(ck["aug_gen"])

    train_model = model
    if args.compile and hasattr(torch, "compile"):
        train_model = torch.compile(model)
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(train_model, device_ids=[dev.index] if dev.type == "cuda" else None)

    sampler = EpochSampler(args, dist, phases, tr_idx, len(pre_names), imgs, masks,
                           pre_imgs, pre_masks)

    # (a copy, not a new model: building one would draw from the RNG after a resume)
    ema_eval = copy.deepcopy(model) if ema is not None else None

    def eval_model():
        if ema is None:
            return model
        ema_eval.load_state_dict(ema.shadow)
        return ema_eval

    saver = CheckpointWriter(args, dist, model, opt, ema, aug, state, phases, val_names)
    fitter = BudgetFitter(args, dist, phases, state, sampler.steps_in)
    Trainer(args, dist, model, train_model, opt, ema, aug, phases, state, sampler,
            (imgs, masks), va_idx, saver, fitter, eval_model).run()

    # ---- the end (finished, or stopped by the budget or --run-epochs)
    if dist.main and (saver.best_pending() or saver.last_save[1] != state["global_step"]):
        saver.save(os.path.join(args.out, "last.pt"))
    finished = state["phase"] >= len(phases)
    log(dist, "%s after %.0fs; best val Dice (%s) %.4f at epoch %d" % (
        "finished" if finished else "stopped", time.time() - T0, args.select, state["best"],
        state["best_epoch"]))
    if dist.main and args.export:
        do_export(args, data_dirs, pre_dirs, phases, state, nparam, len(tr_idx), len(va_idx),
                  len(pre_names), finished)
    if dist.main:
        write_summary(args, finished, state, phases, nparam, val_names)
    dist.barrier()
    dist.close()
    return 0
