"""train.py end to end on a few synthetic images: it learns, stages and
resumes as documented, exports a model file that the C engine runs with the
PyTorch reference's numbers, and refuses the test folder (tools/python)."""

import csv
import json
import os
import shutil
import tempfile
import unittest

import torch
from PIL import Image

from lesionseg_ref.safetensors_io import read_metadata
from tool_runner import run, run_python_tool

CLI = os.environ.get("LS_CLI")
if not CLI:
    raise SystemExit("test_train.py: LS_CLI must name the lesionseg CLI "
                     "(meson test sets it)")

# A tiny network at 64x64, one thread, one decoding process: seconds a run.
TINY = ["--dims", "16,32,48", "--layers", "1,2,1", "--size", "64",
        "--batch", "4", "--threads", "1", "--workers", "1"]


def read_log(run_dir):
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        return [json.loads(line) for line in f]


def per_image_dice(csv_path):
    with open(csv_path) as f:
        return {row["image"]: float(row["dice"]) for row in csv.DictReader(f)}


def pooled_dsc(eval_stdout):
    for line in eval_stdout.splitlines():
        if line.startswith("DSC (pooled): "):
            return float(line.split(": ")[1])
    raise AssertionError("no 'DSC (pooled)' line in:\n" + eval_stdout)


class Training(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ls-train-")
        cls.real = os.path.join(cls.dir, "real")
        cls.synth = os.path.join(cls.dir, "synth")
        # two disjoint seed ranges: one stands for the real folder
        run([CLI, "synth", "--count", "24", "--seed", "100",
             "--size", "96x72", cls.real])
        run([CLI, "synth", "--count", "16", "--seed", "500",
             "--size", "96x72", cls.synth])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def train(self, out, *args, expect_rc=0):
        return run_python_tool("train.py", "--data", self.real, *TINY,
                               "--out", os.path.join(self.dir, out), *args,
                               expect_rc=expect_rc)

    def test_learns_in_stages_and_the_c_engine_agrees(self):
        model = os.path.join(self.dir, "staged.safetensors")
        self.train("staged", "--pretrain", self.synth, "--pretrain-epochs",
                   "3", "--mix", "0.25", "--epochs", "9", "--opt", "adamw",
                   "--lr", "3e-3", "--sched", "cosine", "--warmup", "0.1",
                   "--dice", "--aug", "--ema", "0.9", "--val-fraction", "0.25",
                   "--export", model, "--export-dtype", "F32")
        log = read_log(os.path.join(self.dir, "staged"))
        self.assertEqual([r["phase"] for r in log],
                         ["pretrain"] * 3 + ["finetune"] * 9)
        # BCE + Dice starts near 1.7 on a new network; learning halves it
        self.assertLess(log[-1]["loss"], 0.6 * log[0]["loss"],
                        [r["loss"] for r in log])
        finetune = [r for r in log if r["phase"] == "finetune"]
        best = max(finetune, key=lambda r: r["val_dice_mean"])

        with open(os.path.join(self.dir, "staged", "summary.json")) as f:
            summary = json.load(f)
        self.assertTrue(summary["finished"])
        self.assertEqual(summary["best"], best["val_dice_mean"])
        self.assertEqual(len(summary["val_names"]), 6)
        meta = read_metadata(model)
        self.assertEqual((meta["dims"], meta["layers"], meta["image_size"]),
                         ("16,32,48", "1,2,1", "64"))
        self.assertAlmostEqual(float(meta["val_dice"]), best["val_dice_mean"],
                               places=4)
        self.assertEqual(meta["training_finished"], "true")
        self.assertIn("real", meta["trained_on"])

        # The parity: our C engine and the PyTorch reference on the
        # same exported weights, per image and pooled, within 0.002.
        c_csv = os.path.join(self.dir, "c.csv")
        torch_csv = os.path.join(self.dir, "torch.csv")
        c_out, _ = run([CLI, "eval", "-m", model, "--backend", "cpu",
                        "--csv", c_csv, self.real])
        torch_out, _ = run_python_tool("eval_torch.py", "--model", model,
                                       "--threads", "1", "--csv", torch_csv,
                                       self.real)
        self.assertGreater(pooled_dsc(c_out), 0.5, c_out)
        self.assertAlmostEqual(pooled_dsc(c_out), pooled_dsc(torch_out),
                               delta=0.002)
        c_dice, torch_dice = per_image_dice(c_csv), per_image_dice(torch_csv)
        self.assertEqual(sorted(c_dice), sorted(torch_dice))
        self.assertEqual(len(c_dice), 24)
        for name in c_dice:
            self.assertAlmostEqual(c_dice[name], torch_dice[name], delta=0.002,
                                   msg=name)

    def test_resume_continues_bit_identically(self):
        recipe = ["--epochs", "3", "--opt", "adamw", "--lr", "2e-3",
                  "--aug", "--dice", "--ema", "0.9"]
        self.train("whole", *recipe)
        self.train("parts", *recipe, "--run-epochs", "1")
        self.assertEqual(len(read_log(os.path.join(self.dir, "parts"))), 1)
        self.train("parts", *recipe,
                   "--resume", os.path.join(self.dir, "parts", "last.pt"))
        whole = torch.load(os.path.join(self.dir, "whole", "last.pt"))
        parts = torch.load(os.path.join(self.dir, "parts", "last.pt"))
        for key in ("model", "ema_model"):
            for name, tensor in whole[key].items():
                self.assertTrue(torch.equal(tensor, parts[key][name]),
                                "%s %s" % (key, name))
        self.assertEqual(
            [r["loss"] for r in read_log(os.path.join(self.dir, "whole"))],
            [r["loss"] for r in read_log(os.path.join(self.dir, "parts"))])

    def test_unreadable_pairs_are_named(self):
        bad = os.path.join(self.dir, "bad")
        shutil.copytree(self.real, bad)
        images, masks = os.path.join(bad, "images"), os.path.join(bad, "masks")
        names = sorted(os.path.splitext(f)[0] for f in os.listdir(images))
        os.remove(os.path.join(masks, names[0] + "_segmentation.png"))
        _, err = self.train("bad-run", "--data", bad, "--epochs", "1",
                            expect_rc=1)
        self.assertIn("1 image(s) in %s without a mask, e.g. %s" % (
            bad, os.path.join(images, names[0] + ".jpg")), err)
        os.remove(os.path.join(images, names[0] + ".jpg"))
        with open(os.path.join(images, names[1] + ".jpg"), "w") as f:
            f.write("not a JPEG")
        Image.new("L", (48, 36)).save(
            os.path.join(masks, names[2] + "_segmentation.png"))
        _, err = self.train("bad-run", "--data", bad, "--epochs", "1",
                            expect_rc=1)
        self.assertIn("2 unreadable image/mask pair(s)", err)
        self.assertIn("cannot identify image file '%s'"
                      % os.path.join(images, names[1] + ".jpg"), err)
        self.assertIn("is 96x72 but its mask", err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "bad-run",
                                                     "last.pt")))

    def test_the_test_folder_is_refused(self):
        test_folder = os.path.join(self.dir, "isic-test")
        shutil.copytree(self.real, test_folder)
        for option in ("--data", "--pretrain"):
            out = os.path.join(self.dir, "refused" + option)
            args = ["train.py", *TINY, "--out", out, "--epochs", "1"]
            args += (["--data", test_folder] if option == "--data" else
                     ["--data", self.real, "--pretrain", test_folder,
                      "--pretrain-epochs", "1"])
            _, err = run_python_tool(*args, expect_rc=1)
            self.assertIn("refusing to train on", err)
            self.assertIn("isic-test", err)
            self.assertFalse(os.path.exists(out), "a run started")


if __name__ == "__main__":
    unittest.main()
