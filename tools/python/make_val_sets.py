#!/usr/bin/python3
"""Write train.py's validation split as data sets `lesionseg eval` reads.

    make_val_sets.py --data .train-data/real [--val-fraction 0.1] [--seed 0] \
        [--val-by image|camera] [--zoom 0.5] [--fade 0.5] [--margin 0.1] -o OUT

OUT/val/ holds the images train.py holds out of --data (same fraction, seed and
--val-by, so the same names) in the ISIC layout, and three harder copies:
- OUT/val-zoom/: zoomed out by --zoom (padded to 1/zoom of the size with the
  image reflected and its lesion painted out, then shrunk back), so that each
  lesion covers zoom^2 of its area;
- OUT/val-fade/: each lesion --fade of the way to the skin's mean colour
  (train.py's --fade augmentation, lesionseg_train.augment.fade_lesions);
- OUT/val-large/: zoomed in on the lesion (its bounding box grown by --margin
  of its size a side, widened to the image's aspect ratio, clipped to the
  image, then scaled back to the image's size), so that lesions fill most of
  the image and many touch its border.
The test set's lesions are small (median area 0.06, training 0.28) and faint,
but it holds large ones too (up to 0.92), and a pooled DSC is mostly theirs;
these sets ask how much each costs a model without looking at the test set:
folders named 'isic-test' are refused.
"""

import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lesionseg_train.augment import fade_lesions, paint_out_lesions  # noqa: E402
from lesionseg_train.data import camera_groups, list_pairs, split_val  # noqa: E402


def as_batch(img, mask):
    """HWC uint8 image and HW mask -> the [1,3,H,W] floats and [1,1,H,W] 0/1
    mask that train.py's augmentations take."""
    return (torch.tensor(img).permute(2, 0, 1)[None].float(),
            torch.tensor(mask > 127)[None, None].float())


def as_uint8(x):
    """[1,3,H,W] floats in [0,255] -> HWC uint8"""
    return x[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def zoom_out(img, mask, x, y, zoom):
    """Pad to 1/zoom of the size, then shrink back: the content (and the lesion)
    covers zoom^2 of the area. The padding is the image reflected with its lesion
    painted out (train.py's --pad skin), so that no mirrored copy of the lesion
    appears; the mask is padded with background. (x, y): as_batch (img, mask)."""
    h, w = mask.shape
    ph, pw = round(h * (1 / zoom - 1) / 2), round(w * (1 / zoom - 1) / 2)
    big = np.pad(as_uint8(paint_out_lesions(x, y)), ((ph, ph), (pw, pw), (0, 0)), mode="reflect")
    big[ph:ph + h, pw:pw + w] = img
    big_mask = np.pad(mask, ((ph, ph), (pw, pw)))
    return (Image.fromarray(big).resize((w, h), Image.BILINEAR),
            Image.fromarray(big_mask).resize((w, h), Image.NEAREST))


def zoom_in(img, mask, margin):
    """The lesion's bounding box grown by @margin of its size on each side and
    widened (or heightened) to the image's aspect ratio, clipped to the image,
    scaled back to the image's size. An image without lesion stays whole."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask > 127)
    if len(xs) == 0:
        return Image.fromarray(img), Image.fromarray(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bw, bh = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
    bw, bh = max(bw, bh * w / h), max(bh, bw * h / w)       # the image's aspect
    bw, bh = min(int(round(bw)), w), min(int(round(bh)), h)
    left = min(max(int(round((x0 + x1 - bw) / 2)), 0), w - bw)
    top = min(max(int(round((y0 + y1 - bh) / 2)), 0), h - bh)
    box = (left, top, left + bw, top + bh)
    return (Image.fromarray(img).crop(box).resize((w, h), Image.BILINEAR),
            Image.fromarray(mask).crop(box).resize((w, h), Image.NEAREST))


def fade(x, y, amount):
    """The lesion @amount of the way to the skin colour, as train.py's --fade."""
    return Image.fromarray(as_uint8(fade_lesions(x, y, torch.tensor([amount]))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the training folder train.py got")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-by", choices=["image", "camera"], default="image",
                   help="as train.py's --val-by")
    p.add_argument("--zoom", type=float, default=0.5, help="(0, 1): linear scale of the content")
    p.add_argument("--fade", type=float, default=0.5, help="(0, 1]: share of the lesion's "
                   "contrast to the skin taken away")
    p.add_argument("--margin", type=float, default=0.1, help=">= 0: val-large's border "
                   "around the lesion, a share of its size")
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    if "isic-test" in os.path.abspath(a.data):
        sys.exit("make_val_sets.py: %s is the test folder; validation comes from training data"
                 % a.data)
    if not 0 < a.zoom < 1:
        sys.exit("make_val_sets.py: --zoom must be in (0, 1), got %g" % a.zoom)
    if not 0 < a.fade <= 1:
        sys.exit("make_val_sets.py: --fade must be in (0, 1], got %g" % a.fade)
    if a.margin < 0:
        sys.exit("make_val_sets.py: --margin must be >= 0, got %g" % a.margin)
    pairs = list_pairs(a.data)
    if not pairs:
        sys.exit("make_val_sets.py: no image/mask pairs under %s" % a.data)
    # names as train.py's load_folders makes them, so that the split is its split
    tag = os.path.basename(os.path.normpath(a.data))
    names = [tag + "/" + stem for stem, _, _ in pairs]
    groups = camera_groups([a.data], names) if a.val_by == "camera" else None
    _, va = split_val(names, a.val_fraction, a.seed, groups)
    sets = ("val", "val-zoom", "val-fade", "val-large")
    for sub in sets:
        for kind in ("images", "masks"):
            os.makedirs(os.path.join(a.out, sub, kind), exist_ok=True)
    areas = {sub: [] for sub in sets}
    for i in va:
        stem, img_path, mask_path = pairs[i]
        img = np.asarray(Image.open(img_path).convert("RGB"))
        mask = np.asarray(Image.open(mask_path).convert("L"))
        x, y = as_batch(img, mask)
        zimg, zmask = zoom_out(img, mask, x, y, a.zoom)
        limg, lmask = zoom_in(img, mask, a.margin)
        for sub, im, m in (("val", Image.fromarray(img), Image.fromarray(mask)),
                           ("val-zoom", zimg, zmask),
                           ("val-fade", fade(x, y, a.fade), Image.fromarray(mask)),
                           ("val-large", limg, lmask)):
            areas[sub].append(float((np.asarray(m) > 127).mean()))
            im.save(os.path.join(a.out, sub, "images", stem + ".jpg"), quality=95)
            m.save(os.path.join(a.out, sub, "masks", stem + "_segmentation.png"))
    print("%d validation images to %s/{%s}; median lesion area %s" % (
        len(va), a.out, ",".join(sets),
        ", ".join("%s %.3f" % (sub, float(np.median(areas[sub]))) for sub in sets)))


if __name__ == "__main__":
    main()
