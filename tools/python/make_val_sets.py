#!/usr/bin/python3
"""Write train.py's validation split as data sets `lesionseg eval` reads.

    make_val_sets.py --data .train-data/real [--val-fraction 0.1] [--seed 0] \
        [--zoom 0.5] [--fade 0.5] -o OUT

OUT/val/ holds the images train.py holds out of --data (same fraction and seed,
so the same names) in the ISIC layout, and two harder copies:
- OUT/val-zoom/: zoomed out by --zoom (padded to 1/zoom of the size with the
  image reflected and its lesion painted out, then shrunk back), so that each
  lesion covers zoom^2 of its area;
- OUT/val-fade/: each lesion --fade of the way to the skin's mean colour
  (train.py's --fade augmentation, lesionseg_train.augment.fade_lesions).
The test set's lesions are small (median area 0.06, training 0.28) and faint;
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
from lesionseg_train.data import list_pairs, split_val  # noqa: E402


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


def fade(x, y, amount):
    """The lesion @amount of the way to the skin colour, as train.py's --fade."""
    return Image.fromarray(as_uint8(fade_lesions(x, y, torch.tensor([amount]))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the training folder train.py got")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zoom", type=float, default=0.5, help="(0, 1): linear scale of the content")
    p.add_argument("--fade", type=float, default=0.5, help="(0, 1]: share of the lesion's "
                   "contrast to the skin taken away")
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    if "isic-test" in os.path.abspath(a.data):
        sys.exit("make_val_sets.py: %s is the test folder; validation comes from training data"
                 % a.data)
    if not 0 < a.zoom < 1:
        sys.exit("make_val_sets.py: --zoom must be in (0, 1), got %g" % a.zoom)
    if not 0 < a.fade <= 1:
        sys.exit("make_val_sets.py: --fade must be in (0, 1], got %g" % a.fade)
    pairs = list_pairs(a.data)
    if not pairs:
        sys.exit("make_val_sets.py: no image/mask pairs under %s" % a.data)
    # names as train.py's load_folders makes them, so that the split is its split
    tag = os.path.basename(os.path.normpath(a.data))
    _, va = split_val([tag + "/" + stem for stem, _, _ in pairs], a.val_fraction, a.seed)
    for sub in ("val", "val-zoom", "val-fade"):
        for kind in ("images", "masks"):
            os.makedirs(os.path.join(a.out, sub, kind), exist_ok=True)
    areas = []
    for i in va:
        stem, img_path, mask_path = pairs[i]
        img = np.asarray(Image.open(img_path).convert("RGB"))
        mask = np.asarray(Image.open(mask_path).convert("L"))
        areas.append(float((mask > 127).mean()))
        x, y = as_batch(img, mask)
        zimg, zmask = zoom_out(img, mask, x, y, a.zoom)
        for sub, im, m in (("val", Image.fromarray(img), Image.fromarray(mask)),
                           ("val-zoom", zimg, zmask),
                           ("val-fade", fade(x, y, a.fade), Image.fromarray(mask))):
            im.save(os.path.join(a.out, sub, "images", stem + ".jpg"), quality=95)
            m.save(os.path.join(a.out, sub, "masks", stem + "_segmentation.png"))
    print("%d validation images to %s/val, val-zoom and val-fade; median lesion area %.3f, "
          "zoomed %.3f" % (len(va), a.out, float(np.median(areas)),
                           float(np.median(areas)) * a.zoom ** 2))


if __name__ == "__main__":
    main()
