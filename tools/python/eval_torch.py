#!/usr/bin/python3
"""PyTorch counterpart of `lesionseg eval`: the same metrics from the reference model.

    /usr/bin/python3 tools/python/eval_torch.py --model M.safetensors DATASET_DIR \
        [--csv FILE] [--threads 2] [--threshold 0.5] [--limit N] [--decoder auto|gdk|pil]

Loads a lesionseg safetensors file into ``IscfEffFormer`` (config from the
file's ``__metadata__``), runs it over every image of a folder in the ISIC
layout (``images/ID.jpg`` + ``masks/ID_segmentation.png``) or PH2's, and prints
the `name: value` lines of ``lesionseg eval`` (tools/cmd-eval.c), with
``--csv`` rows in the same format.  Everything around the network mirrors the
C engine, so that a difference in the numbers is a difference in the network:

* decoding: GdkPixbuf through PyGObject, the library the CLI uses (falls back
  to PIL, which decodes the same JPEGs with the same libjpeg settings); masks
  are the first channel > 127;
* resize to the network size (core/frame.c), per axis: area average when
  shrinking or keeping the size (exact overlap weights, rounded to float32),
  bilinear with align_corners=False when enlarging; then the per-image
  min-max stretch over the resized image, ``(x - lo) * (255 / (hi - lo))`` in
  float32, all zeros when hi - lo <= 1e-3;
* logits -> sigmoid (float32) -> ``ls_mask_from_prob`` (core/mask.c): bilinear
  upsampling to the image size, align_corners=False, with C's float32 weights
  and order of operations, then p >= threshold.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lesionseg_ref.model import IscfEffFormer, is_unused_tensor  # noqa: E402
from lesionseg_ref.safetensors_io import load_file_with_metadata  # noqa: E402

ISIC_JACCARD_THRESHOLD = 0.65
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


# ---- data set listing (tools/dataset.c) -----------------------------------

def list_dataset(root):
    """[(name, image_path, mask_path)] sorted by name (strcmp order)."""
    images = os.path.join(root, "images")
    items = []
    if os.path.isdir(images):
        for f in os.listdir(images):
            if not f.lower().endswith(_IMAGE_EXTS):
                continue
            name = f[:f.rindex(".")]
            mask = os.path.join(root, "masks", name + "_segmentation.png")
            if not os.path.isfile(mask):
                raise SystemExit(f"{os.path.join(images, f)}: no mask {mask} "
                                 "for this image")
            items.append((name, os.path.join(images, f), mask))
    else:  # PH2: IMDxxx.bmp and IMDxxx_lesion.bmp at any depth
        imgs, masks = {}, {}
        for dirpath, _, files in os.walk(root):
            if dirpath[len(root):].count(os.sep) >= 8:
                continue
            for f in files:
                if not f.startswith("IMD"):
                    continue
                if f.endswith("_lesion.bmp"):
                    masks[f[:-len("_lesion.bmp")]] = os.path.join(dirpath, f)
                elif f.endswith(".bmp") and "_" not in f:
                    imgs[f[:-4]] = os.path.join(dirpath, f)
        for name, path in imgs.items():
            if name not in masks:
                raise SystemExit(f"{path}: no {name}_lesion.bmp for this image")
            items.append((name, path, masks[name]))
    if not items:
        raise SystemExit(f"{root}: no images")
    items.sort(key=lambda it: it[0].encode("utf-8"))
    return items


# ---- decoding (tools/image-io.c) --------------------------------------------

def _gdk_loader():
    try:
        import gi
        gi.require_version("GdkPixbuf", "2.0")
        from gi.repository import GdkPixbuf
    except (ImportError, ValueError):
        return None

    def load(path):
        pb = GdkPixbuf.Pixbuf.new_from_file(path)
        if pb.get_bits_per_sample() != 8 or \
                pb.get_colorspace() != GdkPixbuf.Colorspace.RGB:
            raise SystemExit(f"{path}: only 8-bit RGB images are supported")
        w, h, stride = pb.get_width(), pb.get_height(), pb.get_rowstride()
        bpp = 4 if pb.get_has_alpha() else 3
        raw = np.frombuffer(pb.read_pixel_bytes().get_data(), dtype=np.uint8)
        rows = np.stack([raw[y * stride:y * stride + w * bpp]
                         for y in range(h)])
        return rows.reshape(h, w, bpp)[:, :, :3].copy()
    return load


def _pil_loader():
    from PIL import Image

    def load(path):
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    return load


def make_loader(kind):
    if kind in ("auto", "gdk"):
        load = _gdk_loader()
        if load:
            return load, "gdk-pixbuf"
        if kind == "gdk":
            raise SystemExit("--decoder gdk: PyGObject with GdkPixbuf 2.0 "
                             "is not available")
    return _pil_loader(), "PIL"


# ---- frame -> tensor (core/frame.c) ------------------------------------------

def resize_matrix(n, m):
    """[m, n] float32 weights of one axis, as taps_init() in core/frame.c."""
    w = np.zeros((m, n), dtype=np.float32)
    if n >= m:  # area average; overlaps in units of 1/m, weight overlap / n
        for i in range(m):
            lo, hi = i * n, i * n + n
            for j in range(lo // m, (hi - 1) // m + 1):
                a, b = max(lo, j * m), min(hi, (j + 1) * m)
                w[i, j] = np.float32((b - a) * (1.0 / n))
    else:  # bilinear, pixel centres aligned, clamped
        scale = n / m
        for i in range(m):
            s = max((i + 0.5) * scale - 0.5, 0.0)
            i0 = int(s)
            frac = s - i0
            if i0 >= n - 1 or frac == 0:
                w[i, min(i0, n - 1)] = 1.0
            else:
                w[i, i0] = np.float32(1.0 - frac)
                w[i, i0 + 1] = np.float32(frac)
    return w


def image_to_tensor(rgb, width, height):
    """uint8 [H, W, 3] -> float32 [3, height, width], minmax255 (frame.c)."""
    h, w, _ = rgb.shape
    wy = resize_matrix(h, height).astype(np.float64)
    wx = resize_matrix(w, width).astype(np.float64)
    x = rgb.astype(np.float64)
    # vertical, then horizontal; float64 sums, float32 result (C sums in
    # float32: the two agree to a few ulps)
    out = (wy @ x.reshape(h, w * 3)).reshape(height, w, 3)
    out = np.matmul(wx, out).astype(np.float32)        # [height, width, 3]
    out = np.ascontiguousarray(out.transpose(2, 0, 1))
    lo, hi = out.min(), out.max()
    if not (hi - lo > np.float32(1e-3)):
        return np.zeros_like(out)
    scale = np.float32(255.0) / (hi - lo)
    return (out - lo) * scale


# ---- probabilities -> mask (core/mask.c) --------------------------------------

def _lerp(n, m):
    i = np.arange(m, dtype=np.float64)
    s = np.maximum((i + 0.5) * (n / m) - 0.5, 0.0)
    a = s.astype(np.int64)
    edge = a >= n - 1
    i0 = np.where(edge, n - 1, a)
    i1 = np.where(edge, n - 1, a + 1)
    l = np.where(edge, 0.0, s - a).astype(np.float32)
    return i0, i1, np.float32(1.0) - l, l


def mask_from_prob(prob, mw, mh, threshold):
    """bool [mh, mw]: bilinear (align_corners=False) p >= threshold."""
    ph, pw = prob.shape
    prob = prob.astype(np.float32)
    x0, x1, wx0, wx1 = _lerp(pw, mw)
    y0, y1, wy0, wy1 = _lerp(ph, mh)
    rows = wx0 * prob[:, x0] + wx1 * prob[:, x1]            # [ph, mw] float32
    v = wy0[:, None] * rows[y0] + wy1[:, None] * rows[y1]   # [mh, mw] float32
    return v >= np.float32(threshold)


# ---- metrics (tools/eval-metrics.c) -------------------------------------------

def _ratio(num, den, if_empty=1.0):
    return num / den if den else if_empty


def dice(c):
    return _ratio(2 * c[0], 2 * c[0] + c[1] + c[2])


def jaccard(c):
    return _ratio(c[0], c[0] + c[1] + c[2])


def sensitivity(c):
    return _ratio(c[0], c[0] + c[2])


def specificity(c):
    return _ratio(c[3], c[3] + c[1])


def accuracy(c):
    return _ratio(c[0] + c[3], sum(c))


def confusion(pred, truth):
    """(tp, fp, fn, tn) as Python ints."""
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred & ~truth))
    fn = int(np.count_nonzero(~pred & truth))
    return tp, fp, fn, pred.size - tp - fp - fn


# ---- model --------------------------------------------------------------------

def load_model(path):
    tensors, meta = load_file_with_metadata(path)
    if meta.get("input_norm", "minmax255") != "minmax255":
        raise SystemExit(f"{path}: input_norm {meta['input_norm']} "
                         "is not supported")
    ints = lambda key, default: tuple(int(v) for v in  # noqa: E731
                                      meta.get(key, default).split(","))
    model = IscfEffFormer(dims=ints("dims", "128,320,512"),
                          layers=ints("layers", "2,2,2"),
                          ffn_ratio=int(meta.get("ffn_ratio", "4")),
                          iscf_scales=int(meta.get("iscf_scales", "3")),
                          num_classes=1)
    state = {k: v.to(torch.float32) for k, v in tensors.items()}
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not is_unused_tensor(k)]
    if missing or result.unexpected_keys:
        raise SystemExit(f"{path}: missing {missing}, unexpected "
                         f"{result.unexpected_keys}")
    model.eval()
    size = int(meta.get("image_size", "224"))
    return model, size, meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset", metavar="DATASET_DIR")
    p.add_argument("--model", "-m", required=True)
    p.add_argument("--csv", help="per-image rows to this CSV file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--threshold", "-t", type=float, default=0.5)
    p.add_argument("--limit", type=int, default=0, help="only the first N images")
    p.add_argument("--size", type=int, default=0,
                   help="network input size (default: the model's image_size)")
    p.add_argument("--decoder", choices=("auto", "gdk", "pil"), default="auto")
    args = p.parse_args(argv)
    if not 0 <= args.threshold <= 1:
        p.error("--threshold must be in [0, 1]")

    torch.set_num_threads(max(1, args.threads))
    items = list_dataset(args.dataset)
    if args.limit:
        items = items[:args.limit]
    model, size, _ = load_model(args.model)
    if args.size:
        size = args.size
    load, decoder = make_loader(args.decoder)

    csv = open(args.csv, "w", buffering=1) if args.csv else None
    if csv:
        csv.write("image,dice,jaccard,sensitivity,specificity,accuracy,"
                  "truth_fraction\n")
    pooled = [0, 0, 0, 0]
    sum_dice = sum_jac = sum_tjac = 0.0
    below = 0
    network_s = 0.0
    start = time.monotonic()
    for k, (name, image_path, mask_path) in enumerate(items):
        rgb = load(image_path)
        truth = load(mask_path)[:, :, 0] > 127
        h, w, _ = rgb.shape
        if truth.shape != (h, w):
            raise SystemExit(f"{mask_path} is {truth.shape[1]}x{truth.shape[0]}"
                             f" but its image {image_path} is {w}x{h}")
        t0 = time.monotonic()
        x = torch.from_numpy(image_to_tensor(rgb, size, size)).unsqueeze(0)
        with torch.no_grad():
            prob = torch.sigmoid(model(x))[0, 0].numpy()
        network_s += time.monotonic() - t0
        pred = mask_from_prob(prob, w, h, args.threshold)
        c = confusion(pred, truth)
        for i in range(4):
            pooled[i] += c[i]
        j = jaccard(c)
        sum_dice += dice(c)
        sum_jac += j
        if j >= ISIC_JACCARD_THRESHOLD:
            sum_tjac += j
        else:
            below += 1
        if csv:
            csv.write(f"{name},{dice(c):.5f},{j:.5f},{sensitivity(c):.5f},"
                      f"{specificity(c):.5f},{accuracy(c):.5f},"
                      f"{(c[0] + c[2]) / (w * h):.5f}\n")
        if sys.stderr.isatty():
            print(f"\r{k + 1}/{len(items)}", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if csv:
        csv.close()
    seconds = time.monotonic() - start
    n = len(items)
    print(f"images: {n}")
    print(f"backend: pytorch {torch.__version__} (cpu, float32; "
          f"decoder {decoder})")
    print(f"DSC (pooled): {dice(pooled):.4f}")
    print(f"SE (pooled): {sensitivity(pooled):.4f}")
    print(f"SP (pooled): {specificity(pooled):.4f}")
    print(f"ACC (pooled): {accuracy(pooled):.4f}")
    print(f"Dice (mean per image): {sum_dice / n:.4f}")
    print(f"Jaccard (mean per image): {sum_jac / n:.4f}")
    print(f"Jaccard (ISIC thresholded at {ISIC_JACCARD_THRESHOLD:.2f}): "
          f"{sum_tjac / n:.4f}")
    print(f"images below {ISIC_JACCARD_THRESHOLD:.2f} Jaccard: {below}")
    print(f"network: {network_s * 1000 / n:.1f} ms per image")
    print(f"throughput: {n / seconds:.1f} images/s (with image decoding)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
