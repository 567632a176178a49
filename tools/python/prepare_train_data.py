#!/usr/bin/env python3
"""Build the training-data folder that travels with the repo to the GPU machine.

    prepare_train_data.py [--real DIR] [--synth DIR[,DIR...]] [--out .train-data]

writes OUT/real/ (the real training images, long side shrunk to --long-side with
Lanczos, masks box-filtered then thresholded at 128, as ../shared/data did, and
the folder's SOURCES.tsv, whose original sizes train.py --val-by camera reads) and
OUT/synth/ (the synthetic folders, shrunk the same way when larger, names prefixed
by their folder so that several can be merged), both in the ISIC layout, and prints
the size in MB. The whole carried tree must stay under ~50 MB: --max-synth and
--quality trade synthetic images for size. Folders named 'isic-test' are refused.
"""

import argparse
import glob
import os
import shutil
import sys

from PIL import Image


def pairs(folder):
    out = []
    for p in sorted(glob.glob(os.path.join(folder, "images", "*"))):
        stem, ext = os.path.splitext(os.path.basename(p))
        if ext.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        m = os.path.join(folder, "masks", stem + "_segmentation.png")
        if os.path.exists(m):
            out.append((stem, p, m))
    return out


def shrink(size, long_side):
    w, h = size
    s = long_side / max(w, h)
    if s >= 1:
        return None
    return max(1, round(w * s)), max(1, round(h * s))


def convert(src_img, src_mask, dst_img, dst_mask, long_side, quality, force_reencode):
    with Image.open(src_img) as im:
        new = shrink(im.size, long_side)
        if new is None and not force_reencode and src_img.lower().endswith((".jpg", ".jpeg")):
            shutil.copyfile(src_img, dst_img)
            size = im.size
        else:
            im = im.convert("RGB")
            if new is not None:
                im = im.resize(new, Image.LANCZOS)
            im.save(dst_img, quality=quality)
            size = im.size
    with Image.open(src_mask) as mk:
        mk = mk.convert("L")
        if mk.size != size:
            mk = mk.resize(size, Image.BOX)
        mk = mk.point(lambda v: 255 if v >= 128 else 0)
        mk.save(dst_mask, optimize=True)


def folder_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", default="/work/shared/data/isic2017-train")
    ap.add_argument("--synth", default="", help="synthetic folder(s), comma separated")
    ap.add_argument("--out", default=".train-data")
    ap.add_argument("--long-side", type=int, default=256)
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality of re-encoded images")
    ap.add_argument("--max-synth", type=int, default=0, help="at most this many synthetic "
                    "images in all (0: all)")
    ap.add_argument("--max-mb", type=float, default=45.0, help="fail above this size")
    args = ap.parse_args()

    synth = [d for d in args.synth.split(",") if d.strip()]
    for d in [args.real] + synth:
        if "isic-test" in os.path.abspath(d).lower():
            sys.exit("prepare_train_data.py: refusing %r: 'isic-test' is for final "
                     "evaluation only" % d)
        if not os.path.isdir(d):
            sys.exit("prepare_train_data.py: no such folder: %s" % d)

    for sub in ("real", "synth"):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        for leaf in ("images", "masks"):
            os.makedirs(os.path.join(args.out, sub, leaf))

    n_real = 0
    for stem, ip, mp in pairs(args.real):
        convert(ip, mp, os.path.join(args.out, "real", "images", stem + ".jpg"),
                os.path.join(args.out, "real", "masks", stem + "_segmentation.png"),
                args.long_side, 95, False)
        n_real += 1

    # the original sizes, for train.py --val-by camera
    sources = os.path.join(args.real, "SOURCES.tsv")
    if os.path.exists(sources):
        shutil.copyfile(sources, os.path.join(args.out, "real", "SOURCES.tsv"))

    n_synth = 0
    per = None
    if synth and args.max_synth:
        per = -(-args.max_synth // len(synth))
    for d in synth:
        tag = os.path.basename(os.path.normpath(d))
        for k, (stem, ip, mp) in enumerate(pairs(d)):
            if per is not None and k >= per:
                break
            if args.max_synth and n_synth >= args.max_synth:
                break
            name = "%s-%s" % (tag, stem) if len(synth) > 1 else stem
            convert(ip, mp, os.path.join(args.out, "synth", "images", name + ".jpg"),
                    os.path.join(args.out, "synth", "masks", name + "_segmentation.png"),
                    args.long_side, args.quality, False)
            n_synth += 1
    if not n_synth:
        shutil.rmtree(os.path.join(args.out, "synth"))

    with open(os.path.join(args.out, "README.txt"), "w") as f:
        f.write("Training data carried to the GPU machine (made by "
                "tools/python/prepare_train_data.py).\nreal/: %d pairs from %s, long side "
                "%d.\nsynth/: %d pairs from %s.\nNot part of the product; do not commit.\n"
                % (n_real, args.real, args.long_side, n_synth, ",".join(synth) or "-"))
    mb = folder_mb(args.out)
    print("%s: real %d pairs (%.1f MB), synth %d pairs (%.1f MB), total %.1f MB" % (
        args.out, n_real, folder_mb(os.path.join(args.out, "real")), n_synth,
        folder_mb(os.path.join(args.out, "synth")) if n_synth else 0.0, mb))
    if mb > args.max_mb:
        sys.exit("prepare_train_data.py: %.1f MB is over --max-mb %.0f; use --max-synth or "
                 "a lower --quality" % (mb, args.max_mb))


if __name__ == "__main__":
    main()
