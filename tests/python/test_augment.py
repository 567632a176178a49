"""Training augmentation (tools/python/lesionseg_train/augment.py): zooming out
shows skin beyond the image, never a mirrored copy of the lesion."""

import argparse
import unittest

import torch

from lesionseg_train.augment import Augment, paint_out_lesions

SKIN = torch.tensor([200.0, 160.0, 150.0])
LESION = torch.tensor([80.0, 50.0, 40.0])


def disc_image(h=96, w=128, radius=20, seed=1):
    """Noisy skin with one dark disc in the middle: ([1,3,H,W] floats, [1,1,H,W] mask)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    mask = (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) <= radius ** 2).float()[None, None]
    img = SKIN.view(1, 3, 1, 1) + mask * (LESION - SKIN).view(1, 3, 1, 1)
    img = (img + torch.randn(img.shape, generator=g) * 4).clamp(0, 255)
    return img, mask


def regions(mask):
    """Number of 4-connected foreground regions of a [H,W] 0/1 tensor."""
    m = mask.bool().tolist()
    h, w = len(m), len(m[0])
    seen = [[False] * w for _ in range(h)]
    n = 0
    for y0 in range(h):
        for x0 in range(w):
            if not m[y0][x0] or seen[y0][x0]:
                continue
            n += 1
            stack = [(y0, x0)]
            seen[y0][x0] = True
            while stack:
                y, x = stack.pop()
                for v, u in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= v < h and 0 <= u < w and m[v][u] and not seen[v][u]:
                        seen[v][u] = True
                        stack.append((v, u))
    return n


def zoom_out_args(zoom, pad):
    return argparse.Namespace(flip=False, rot90=False, rot=0.0, zoom_min=zoom, zoom_max=zoom,
                              aspect=0.0, shift=0.0, color=0.0, fade=0.0, fade_prob=0.5,
                              pad=pad)


class PaintOutLesions(unittest.TestCase):
    def test_lesion_becomes_skin_and_skin_stays(self):
        img, mask = disc_image()
        out = paint_out_lesions(img, mask)
        inside = mask[0, 0].bool()
        lesion_now = out[0][:, inside].mean(1)
        self.assertLess((lesion_now - SKIN).abs().max().item(), 12.0,
                        "painted-out lesion %s, skin %s" % (lesion_now.tolist(), SKIN.tolist()))
        # far from the lesion (beyond its halo) nothing changes
        far = torch.ones_like(inside)
        far[20:76, 36:92] = False
        self.assertTrue(torch.equal(out[0][:, far], img[0][:, far]))

    def test_lesion_everywhere_gives_its_mean(self):
        img = torch.full((1, 3, 32, 32), 90.0)
        out = paint_out_lesions(img, torch.ones(1, 1, 32, 32))
        self.assertTrue(torch.isfinite(out).all())
        self.assertLess((out - 90.0).abs().max().item(), 1e-3)


class ZoomOut(unittest.TestCase):
    def zoom(self, pad):
        img, mask = disc_image()
        x, y = Augment(zoom_out_args(0.5, pad), 0)(img.round().byte(), mask.byte())
        return x, y, mask

    def test_skin_padding_keeps_one_lesion_a_quarter_of_its_area(self):
        x, y, mask = self.zoom("skin")
        self.assertEqual(regions(y[0, 0]), 1)
        ratio = y.sum().item() / mask.sum().item()
        self.assertAlmostEqual(ratio, 0.25, delta=0.04)
        # outside the zoomed-out image (its middle half) only skin: nothing dark
        ring = torch.ones(96, 128, dtype=torch.bool)
        ring[24:72, 32:96] = False
        self.assertEqual(y[0, 0][ring].sum().item(), 0)
        self.assertGreater(x[0].mean(0)[ring].min().item(), 120.0)

    def test_reflection_padding_mirrors_the_lesion(self):
        # the reason for --pad skin: reflection shows copies of the lesion
        _, y, _ = self.zoom("reflection")
        self.assertGreater(regions(y[0, 0]), 1)


if __name__ == "__main__":
    unittest.main()
