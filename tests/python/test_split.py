"""The validation split (tools/python/lesionseg_train/data.py): by image, the
same split as every earlier session's; by camera, whole cameras held out."""

import os
import random
import shutil
import tempfile
import unittest

from lesionseg_train.data import camera_groups, split_val

NAMES = ["f/ISIC_%03d" % i for i in range(20)]


def write_sources(folder, rows):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "SOURCES.tsv"), "w") as f:
        f.write("id\torig_width\torig_height\twidth\theight\n")
        for name, w, h in rows:
            f.write("%s\t%d\t%d\t512\t384\n" % (name, w, h))


class ByImage(unittest.TestCase):
    def test_the_split_of_earlier_sessions(self):
        # pinned: the bundled models were chosen on this split
        self.assertEqual(split_val(NAMES, 0.25, 0)[1], [1, 8, 10, 18, 19])
        self.assertEqual(split_val(NAMES, 0.25, 1)[1], [2, 3, 6, 10, 16])

    def test_order_of_the_names_does_not_matter(self):
        shuffled = NAMES[:]
        random.Random(3).shuffle(shuffled)
        _, va = split_val(shuffled, 0.25, 0)
        self.assertEqual(sorted(shuffled[i] for i in va),
                         [NAMES[i] for i in split_val(NAMES, 0.25, 0)[1]])


class ByCamera(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ls-split-")
        self.folder = os.path.join(self.dir, "f")
        # cameras: 8 images of A, 6 of B, 4 of C, 2 of D (pooled with E's 1)
        sizes = [(1000, 750)] * 8 + [(2000, 1500)] * 6 + [(900, 800)] * 4 \
            + [(640, 480)] * 2 + [(3000, 2000)]
        self.names = ["f/ISIC_%03d" % i for i in range(len(sizes))]
        write_sources(self.folder, [(n.split("/")[1], w, h)
                                    for n, (w, h) in zip(self.names, sizes)])

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_groups_are_original_sizes_and_rare_ones_pool(self):
        groups = camera_groups([self.folder], self.names, min_images=3)
        self.assertEqual(groups[:8], ["f:1000x750"] * 8)
        self.assertEqual(groups[14:18], ["f:900x800"] * 4)
        self.assertEqual(groups[18:], ["f:other"] * 3)

    def test_whole_cameras_are_held_out(self):
        groups = camera_groups([self.folder], self.names, min_images=3)
        for seed in range(6):
            tr, va = split_val(self.names, 0.25, seed, groups)
            self.assertEqual(sorted(tr + va), list(range(len(self.names))))
            held = {groups[i] for i in va}
            self.assertFalse(held & {groups[i] for i in tr}, "a camera on both sides")
            # at least the fraction's share (5 of 21), at most 1.5 times it
            self.assertGreaterEqual(len(va), 5)
            self.assertLessEqual(len(va), 7.5)
        # seeded: the same again
        self.assertEqual(split_val(self.names, 0.25, 2, groups),
                         split_val(self.names, 0.25, 2, groups))

    def test_a_missing_file_or_image_is_named(self):
        with self.assertRaises(SystemExit) as e:
            camera_groups([os.path.join(self.dir, "nowhere")], ["nowhere/x"])
        self.assertIn("SOURCES.tsv", str(e.exception.code))
        with self.assertRaises(SystemExit) as e:
            camera_groups([self.folder], self.names + ["f/ISIC_999"])
        self.assertIn("ISIC_999", str(e.exception.code))

    def test_one_camera_leaves_nothing_to_train_on(self):
        with self.assertRaises(SystemExit):
            split_val(self.names[:8], 0.25, 0, ["f:1000x750"] * 8)


if __name__ == "__main__":
    unittest.main()
