"""Decoding ISIC-layout folders into in-memory uint8 tensors, and the validation split.

A folder holds images/ID.jpg (or .png/.jpeg) and masks/ID_segmentation.png (0/255).
Everything is decoded once at start-up and stretched to size x size, so that training
never touches the disk again."""

import glob
import os
import sys

import numpy as np
import torch


def list_pairs(folder):
    """[(stem, image path, mask path)] sorted by image path; images without a mask
    are skipped."""
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
    # (module level, so that a multiprocessing pool can pickle it)
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
    """Returns (names, images uint8 [N,3,S,S], masks uint8 [N,1,S,S]) on the CPU.
    Names are 'folder/stem', so that two folders may share stems."""
    jobs = []
    for f in folders:
        tag = os.path.basename(os.path.normpath(f))
        for stem, ip, mp in list_pairs(f):
            jobs.append((tag + "/" + stem, ip, mp, size))
    if workers > 1 and len(jobs) > 64:
        import multiprocessing as mp_
        # fork: the caller has not started CUDA or NCCL yet (see Dist.start)
        with mp_.get_context("fork").Pool(workers) as pool:
            res = pool.map(_load_pair, jobs, chunksize=16)
    else:
        res = [_load_pair(j) for j in jobs]
    imgs = torch.from_numpy(np.stack([r[0] for r in res])).permute(0, 3, 1, 2).contiguous()
    masks = torch.from_numpy(np.stack([r[1] for r in res]))[:, None].contiguous()
    return [j[0] for j in jobs], imgs, masks


def stem(name):
    """'folder/ID' -> 'ID'."""
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
