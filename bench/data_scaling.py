#!/usr/bin/python3
"""How a model's quality on cameras it never saw grows with the number of
training images: a learning curve on the training folder alone (the test set
is never read).

    bench/data_scaling.py [--data ../shared/data/isic2017-train] \
        [--fractions 0.25,0.5,1] [--seeds 0,1] [--epochs 30] -o OUT

For each seed, whole cameras (original image sizes, as train.py --val-by
camera) holding a quarter of the images are set aside; the rest is the pool.
Nested seeded subsets of the pool (each fraction) train small models with the
same recipe and the same number of image-steps (epochs scaled by the pool
over the subset, so that a smaller set is not also trained less), and each is
evaluated on the held-out cameras with our C engine (`lesionseg eval`). The
slope per doubling of the data is what more images of new cameras would be
worth, as far as a small model at --size shows it.
"""

import argparse
import copy
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "python"))
from camera_shift import evaluate, link_folder, train  # noqa: E402
from lesionseg_train.data import camera_groups, split_val  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data",
                                                  "isic2017-train"))
    p.add_argument("--fractions", default="0.25,0.5,1")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--held-out", type=float, default=0.25,
                   help="share of the images whose cameras are set aside")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the whole pool")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--dims", default="16,32,64")
    p.add_argument("--lesionseg", default=os.path.join(HERE, "..", "build", "tools",
                                                       "lesionseg"))
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    if "isic-test" in os.path.abspath(a.data).lower():
        sys.exit("data_scaling.py: %s is the test folder" % a.data)
    ids = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(a.data, "images")))
    tag = os.path.basename(os.path.normpath(a.data))
    groups = camera_groups([a.data], [tag + "/" + i for i in ids])
    fractions = [float(f) for f in a.fractions.split(",")]
    print("seed | held-out images (cameras) | training images | epochs | "
          "mean Dice | pooled DSC", flush=True)
    for seed in (int(s) for s in a.seeds.split(",")):
        pool_idx, held_idx = split_val(ids, a.held_out, seed, groups)
        pool = [ids[i] for i in pool_idx]
        random.Random(seed).shuffle(pool)
        base = os.path.join(a.out, "seed%d" % seed)
        shutil.rmtree(base, ignore_errors=True)
        held = os.path.join(base, "held-out")
        link_folder(a.data, held, [ids[i] for i in held_idx])
        cameras = len({groups[i] for i in held_idx})
        for fraction in fractions:
            subset = pool[:max(1, round(len(pool) * fraction))]
            run = copy.copy(a)
            run.epochs = max(1, round(a.epochs * len(pool) / len(subset)))
            folder = os.path.join(base, "train-%g" % fraction)
            link_folder(a.data, folder, subset)
            model = train(run, folder, os.path.join(base, "run-%g" % fraction), seed)
            dice, dsc = evaluate(a, model, held)
            print("%d | %d (%d) | %d | %d | %.4f | %.4f" % (
                seed, len(held_idx), cameras, len(subset), run.epochs, dice, dsc),
                flush=True)


if __name__ == "__main__":
    main()
