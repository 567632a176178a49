"""The train.py command line: every option, its default and its help text."""

import argparse
import os

# the first paragraph of train.py's docstring, shown by --help
DESCRIPTION = ("Train the lesion-segmentation transformer (IscfEffFormer) on ISIC-layout "
               "folders.")


def parse_ints(s):
    """'8,16, 24' -> (8, 16, 24)."""
    return tuple(int(v) for v in str(s).replace(" ", "").split(",") if v)


def build_parser():
    p = argparse.ArgumentParser(description=DESCRIPTION,
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
    g.add_argument("--val-by", choices=["image", "camera"], default="image",
                   help="hold out images at random, or whole cameras (original image "
                   "sizes, from each --data folder's SOURCES.tsv): a camera never trained "
                   "on, as the test set's are")
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
    g.add_argument("--fade", type=float, default=0.0, help="max fraction of a lesion's "
                   "contrast to the skin taken away (0-1; 0 = off): faint lesions")
    g.add_argument("--fade-prob", type=float, default=0.5, help="share of images faded "
                   "when --fade is on")
    g.add_argument("--pad", choices=["skin", "reflection", "zeros", "border"], default="skin",
                   help="what zooming out shows beyond the image: skin (the image "
                   "reflected with its lesion painted out), or grid_sample's modes")
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
