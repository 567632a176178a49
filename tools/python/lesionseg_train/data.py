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
    """[(stem, image path, mask path)] sorted by image path. An image without its
    mask is an error naming both: training on what is left would quietly change
    the data (and the validation split)."""
    imgs = sorted(glob.glob(os.path.join(folder, "images", "*.jpg")) +
                  glob.glob(os.path.join(folder, "images", "*.png")) +
                  glob.glob(os.path.join(folder, "images", "*.jpeg")))
    pairs, orphans = [], []
    for p in imgs:
        stem = os.path.splitext(os.path.basename(p))[0]
        m = os.path.join(folder, "masks", stem + "_segmentation.png")
        (pairs if os.path.exists(m) else orphans).append((stem, p, m))
    if orphans:
        sys.exit("train.py: %d image(s) in %s without a mask, e.g. %s (expected %s)"
                 % (len(orphans), folder, orphans[0][1], orphans[0][2]))
    if not pairs:
        sys.exit("train.py: no image/mask pairs in %s (expected images/ID.jpg and "
                 "masks/ID_segmentation.png)" % folder)
    return pairs


def _load_pair(job):
    """(image uint8 [S,S,3], mask uint8 [S,S] of 0/1, None), or (None, None, error)
    for a file that cannot be decoded or a mask of another size than its image.
    (Module level, so that a multiprocessing pool can pickle it.)"""
    from PIL import Image
    _, ip, mp, size = job
    try:
        with Image.open(ip) as im, Image.open(mp) as mk:
            if im.size != mk.size:
                return None, None, "%s is %dx%d but its mask %s is %dx%d" % (
                    ip, *im.size, mp, *mk.size)
            a = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR),
                           dtype=np.uint8).copy()
            mk = mk.convert("L").resize((size, size), Image.BILINEAR)
            m = (np.asarray(mk, dtype=np.uint8) >= 128).astype(np.uint8)
    except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
        return None, None, "cannot decode: %s" % e
    return a, m, None


def load_folders(folders, size, workers):
    """Returns (names, images uint8 [N,3,S,S], masks uint8 [N,1,S,S]) on the CPU.
    Names are 'folder/stem', so that two folders may share stems. Files that cannot
    be read stop the run, all of them named."""
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
    errors = [r[2] for r in res if r[2]]
    if errors:
        sys.exit("train.py: %d unreadable image/mask pair(s):\n  %s"
                 % (len(errors), "\n  ".join(errors)))
    imgs = torch.from_numpy(np.stack([r[0] for r in res])).permute(0, 3, 1, 2).contiguous()
    masks = torch.from_numpy(np.stack([r[1] for r in res]))[:, None].contiguous()
    return [j[0] for j in jobs], imgs, masks


def stem(name):
    """'folder/ID' -> 'ID'."""
    return name.split("/", 1)[-1]


def split_val(names, fraction, seed, groups=None):
    """Seeded split by image name (not by folder path or order, nor by world size), so
    that a copy of the folder elsewhere gives the same split. With @groups (one key
    per name, e.g. camera_groups), whole groups are held out, in a seeded order,
    until they hold the fraction's share of the images; a group that would take more
    than 1.5 times that share is passed over (the smallest group, if none fits)."""
    n = len(names)
    if fraction <= 0 or n < 2:
        return list(range(n)), []
    k = max(1, int(round(n * fraction)))
    rng = np.random.RandomState(seed)
    if groups is None:
        order = sorted(range(n), key=lambda i: (stem(names[i]), names[i]))
        perm = [order[i] for i in rng.permutation(n)]
        return sorted(perm[k:]), sorted(perm[:k])
    members = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    keys = sorted(members)
    held = []
    for j in rng.permutation(len(keys)):
        if len(held) >= k:
            break
        if len(held) + len(members[keys[j]]) <= 1.5 * k:
            held += members[keys[j]]
    if not held:
        held = min(members.values(), key=len)
    if len(held) == n:
        sys.exit("train.py: --val-by camera: all %d images come from one camera; "
                 "nothing would be left to train on" % n)
    va = set(held)
    return [i for i in range(n) if i not in va], sorted(va)


def original_sizes(folder):
    """{image id: 'WxH'} from @folder's SOURCES.tsv (columns id, orig_width,
    orig_height): each image's size before ../shared/data shrank it, a fair proxy
    for its camera. A missing file or column is an error naming it."""
    path = os.path.join(folder, "SOURCES.tsv")
    if not os.path.exists(path):
        sys.exit("train.py: --val-by camera needs %s (columns id, orig_width, "
                 "orig_height), as ../shared/data's folders and prepare_train_data.py's "
                 "copies have" % path)
    with open(path) as fh:
        head = fh.readline().rstrip("\n").split("\t")
        try:
            cid, cw, ch = (head.index(c) for c in ("id", "orig_width", "orig_height"))
        except ValueError:
            sys.exit("train.py: %s has no id, orig_width and orig_height columns "
                     "(found %s)" % (path, ", ".join(head)))
        sizes = {}
        for line in fh:
            row = line.rstrip("\n").split("\t")
            if len(row) > max(cid, cw, ch):
                sizes[row[cid]] = "%sx%s" % (row[cw], row[ch])
        return sizes


def camera_groups(folders, names, min_images=5):
    """The camera of each name ('tag/stem', as load_folders makes them), as far as
    the folder's SOURCES.tsv tells it: the original image size, 'tag:WxH'. Sizes
    with fewer than @min_images images (hand-cropped ones, mostly) make one group,
    'tag:other'. An image the file does not list is an error naming it."""
    sizes = {}
    for f in folders:
        tag = os.path.basename(os.path.normpath(f))
        sizes.update((tag + "/" + i, wh) for i, wh in original_sizes(f).items())
    keys = []
    for name in names:
        if name not in sizes:
            sys.exit("train.py: --val-by camera: %s is not listed in %s/SOURCES.tsv"
                     % (stem(name), name.split("/", 1)[0]))
        keys.append(name.split("/", 1)[0] + ":" + sizes[name])
    count = {}
    for key in keys:
        count[key] = count.get(key, 0) + 1
    return [key if count[key] >= min_images else key.split(":", 1)[0] + ":other"
            for key in keys]
