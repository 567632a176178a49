"""The validation sets of tools/python/make_val_sets.py: val-large zooms in on
the lesion at the image's aspect ratio and keeps all of it."""

import unittest

import numpy as np

from make_val_sets import zoom_in


def image_with_box(h, w, y0, y1, x0, x1):
    """An RGB skin image whose lesion mask (0/255) is the box [y0,y1) x [x0,x1)."""
    img = np.full((h, w, 3), 200, np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[y0:y1, x0:x1] = 255
    img[mask > 0] = (80, 50, 40)
    return img, mask


def area(mask_image):
    return float((np.asarray(mask_image) > 127).mean())


class ZoomIn(unittest.TestCase):
    def test_small_lesion_fills_the_image(self):
        img, mask = image_with_box(120, 160, 50, 70, 60, 90)   # 20 x 30 of 120 x 160
        zimg, zmask = zoom_in(img, mask, 0.1)
        self.assertEqual(zimg.size, (160, 120))
        self.assertEqual(zmask.size, (160, 120))
        # the box is 30 x 20, grown to 36 x 24, widened to the image's 4:3:
        # 36 x 27, so the lesion covers about (30 * 20) / (36 * 27) of it
        self.assertAlmostEqual(area(zmask), 600 / (36 * 27), delta=0.05)
        self.assertGreater(area(zmask), 10 * area(mask))
        # image and mask stay aligned: the lesion's pixels are dark
        dark = np.asarray(zimg)[..., 0] < 140
        self.assertGreater((dark == (np.asarray(zmask) > 127)).mean(), 0.97)

    def test_lesion_at_the_border_stays_whole(self):
        img, mask = image_with_box(120, 160, 0, 30, 120, 160)  # the top-right corner
        _, zmask = zoom_in(img, mask, 0.1)
        m = np.asarray(zmask) > 127
        self.assertTrue(m[0, -1])                               # still at the corner
        # the crop is clipped to the image, not shifted off the lesion: all of
        # it is still there, about (40 * 30) / (48 * 36) of the image
        self.assertAlmostEqual(m.mean(), 1200 / (48 * 36), delta=0.05)

    def test_large_lesion_keeps_the_whole_image(self):
        img, mask = image_with_box(120, 160, 5, 115, 5, 155)
        zimg, zmask = zoom_in(img, mask, 0.1)
        np.testing.assert_array_equal(np.asarray(zmask), mask)
        np.testing.assert_array_equal(np.asarray(zimg), img)

    def test_no_lesion_is_left_alone(self):
        img = np.full((40, 60, 3), 190, np.uint8)
        mask = np.zeros((40, 60), np.uint8)
        zimg, zmask = zoom_in(img, mask, 0.1)
        np.testing.assert_array_equal(np.asarray(zimg), img)
        np.testing.assert_array_equal(np.asarray(zmask), mask)


if __name__ == "__main__":
    unittest.main()
