#!/usr/bin/python3
"""What an unseen camera costs a model, beyond unseen images: an experiment on
the training folder alone (the test set is never read).

    bench/camera_shift.py [--data ../shared/data/isic2017-train] \
        [--cameras 3072x2304,2048x1536] [--seeds 0,1] [--epochs 30] -o OUT

For each camera C (an original image size in SOURCES.tsv) and seed: C's images
are shuffled into halves C1 and C2, and R is as many images of other cameras
as C2. Two small models are trained with the same recipe and number of images:
  U  on everything but C and R              (C never seen)
  S  on everything but C2, R and as many other images as C1   (C1 seen)
and both are evaluated on C2 and on R with our C engine (`lesionseg eval`).
S - U on C2 is what seeing the camera is worth; S - U on R is the noise of
retraining on a different set of the same size; the difference of the two is
the camera's share. Small models (--dims) at --size, so that a run takes
minutes on a CPU; the figures are for comparing, not for shipping.
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "python"))
from lesionseg_train.data import original_sizes  # noqa: E402


def link_folder(src, dst, ids):
    """An ISIC-layout folder of symbolic links to @ids of @src."""
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(dst, sub))
    for i in ids:
        os.symlink(os.path.abspath(os.path.join(src, "images", i + ".jpg")),
                   os.path.join(dst, "images", i + ".jpg"))
        os.symlink(os.path.abspath(os.path.join(src, "masks", i + "_segmentation.png")),
                   os.path.join(dst, "masks", i + "_segmentation.png"))


def train(a, folder, out, seed):
    cmd = [sys.executable, os.path.join(ROOT, "tools", "python", "train.py"),
           "--data", folder, "--val-fraction", "0", "--dims", a.dims, "--layers", "1,1,1",
           "--size", str(a.size), "--epochs", str(a.epochs), "--batch", "16", "--aug",
           "--dice", "--opt", "adamw", "--wd", "0.05", "--lr", "2e-3", "--sched", "cosine",
           "--warmup", "0.05", "--ema", "0.998", "--seed", str(seed), "--workers", "2",
           "--out", out, "--export", os.path.join(out, "model.safetensors")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, "model.safetensors")


def evaluate(a, model, folder):
    out = subprocess.run([a.lesionseg, "eval", "--model", model, folder], check=True,
                         capture_output=True, text=True).stdout
    get = lambda key: float(re.search(r"^%s: ([0-9.]+)" % re.escape(key), out, re.M).group(1))
    return get("Dice (mean per image)"), get("DSC (pooled)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "isic2017-train"))
    p.add_argument("--cameras", default="3072x2304,2048x1536")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--dims", default="16,32,64")
    p.add_argument("--lesionseg", default=os.path.join(ROOT, "build", "tools", "lesionseg"))
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    if "isic-test" in os.path.abspath(a.data):
        sys.exit("camera_shift.py: %s is the test folder" % a.data)
    sizes = original_sizes(a.data)
    ids = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(a.data, "images")))
    print("camera seed | U on C2 | S on C2 | U on R | S on R | (mean Dice / pooled DSC)")
    for cam in a.cameras.split(","):
        cam_ids = [i for i in ids if sizes.get(i) == cam]
        others = [i for i in ids if sizes.get(i) != cam]
        if len(cam_ids) < 10:
            sys.exit("camera_shift.py: %d images of %s; at least 10 needed" % (len(cam_ids), cam))
        for seed in (int(s) for s in a.seeds.split(",")):
            rng = random.Random(seed)
            c = cam_ids[:]
            rng.shuffle(c)
            o = others[:]
            rng.shuffle(o)
            c1, c2 = c[:len(c) // 2], c[len(c) // 2:]
            r, x = o[:len(c2)], o[len(c2):len(c2) + len(c1)]
            base = os.path.join(a.out, "%s-seed%d" % (cam, seed))
            shutil.rmtree(base, ignore_errors=True)
            held = set(c) | set(r)
            link_folder(a.data, os.path.join(base, "train-u"), [i for i in ids if i not in held])
            held = set(c2) | set(r) | set(x)
            link_folder(a.data, os.path.join(base, "train-s"), [i for i in ids if i not in held])
            link_folder(a.data, os.path.join(base, "c2"), c2)
            link_folder(a.data, os.path.join(base, "r"), r)
            res = {}
            for run in ("u", "s"):
                model = train(a, os.path.join(base, "train-" + run), os.path.join(base, run), seed)
                for ev in ("c2", "r"):
                    res[run, ev] = evaluate(a, model, os.path.join(base, ev))
            print("%s %d | %s | %s | %s | %s" % (
                cam, seed, *("%.4f / %.4f" % res[k]
                             for k in (("u", "c2"), ("s", "c2"), ("u", "r"), ("s", "r")))),
                flush=True)


if __name__ == "__main__":
    main()
