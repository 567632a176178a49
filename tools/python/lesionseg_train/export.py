"""Export: best.pt -> safetensors (through lesionseg_ref.export), with the training
recipe and validation scores recorded as metadata."""

import inspect
import os

from .augment import describe as describe_aug
from .checkpoint import load_ckpt
from .folders import folder_desc
from .model import build_model


def do_export(args, data_dirs, pre_dirs, phases, state, nparam, ntr, nva, npre, finished):
    """Writes best.pt's weights to args.export, with metadata on how they were trained.
    (state is unused: the metadata describe best.pt's own state.)"""
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
    recipe = ("%s lr %g wd %g sched %s warmup %g batch %d x %d; loss BCE%s; ema %g; aug %s; "
              "size %d stretched; input minmax255" % (
                  args.opt, args.lr, args.wd, args.sched, args.warmup, args.batch,
                  int(os.environ.get("WORLD_SIZE", "1")),
                  "+%gDice" % args.dice_weight if args.dice else "", args.ema,
                  describe_aug(args), args.size))
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
        "val_split": "%d of the training images%s (seed %d, fraction %g)" % (
            nva, ", whole cameras" if getattr(args, "val_by", "image") == "camera" else "",
            args.seed, args.val_fraction),
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
