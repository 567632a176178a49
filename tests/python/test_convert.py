"""The reference model against the committed goldens, and convert.py on the
authors' checkpoint format, good and bad (tools/python)."""

import os
import shutil
import tempfile
import unittest

import torch

from lesionseg_ref.safetensors_io import load_file, load_file_with_metadata
from tool_runner import TEST_DATA, run_python_tool

TINY = os.path.join(TEST_DATA, "tiny")


class Evil:
    """Unpickling this runs a shell command: what a hostile checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


class Checkpoints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ls-convert-")
        run_python_tool("make_goldens.py", "--config", "tiny", "--seed", "1",
                        "--authors-checkpoint", "-o", cls.dir)
        cls.authors = os.path.join(cls.dir, "authors.pt")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def convert(self, checkpoint, *args, expect_rc=0):
        out = os.path.join(self.dir, "out.safetensors")
        if os.path.exists(out):
            os.remove(out)
        _, err = run_python_tool("convert.py", checkpoint, "-o", out, *args,
                                 expect_rc=expect_rc)
        return out, err

    def save_authors_format(self, state, name, **save_options):
        path = os.path.join(self.dir, name)
        torch.save({"model_weights": {"net." + k: v for k, v in state.items()},
                    "test_F1_score": 0.5}, path, **save_options)
        return path

    def authors_state(self):
        weights = torch.load(self.authors)["model_weights"]
        return {k[len("net."):]: v for k, v in weights.items()}

    def test_reference_model_reproduces_the_committed_goldens(self):
        # The C core's network tests compare against tests/data/tiny; this
        # keeps lesionseg_ref (which convert, train and eval_torch share)
        # the model those goldens came from.
        fresh = os.path.join(self.dir, "fresh")
        run_python_tool("make_goldens.py", "--config", "tiny", "--seed", "1",
                        "-o", fresh)
        for name in ("model.safetensors", "io.safetensors"):
            want = load_file(os.path.join(TINY, name))
            got = load_file(os.path.join(fresh, name))
            self.assertEqual(sorted(got), sorted(want), name)
            for k in want:
                torch.testing.assert_close(got[k], want[k], rtol=0, atol=1e-5,
                                           msg="%s: %s" % (name, k))

    def test_authors_checkpoint_gives_the_golden_weights(self):
        out, _ = self.convert(self.authors)
        got, meta = load_file_with_metadata(out)
        want = load_file(os.path.join(TINY, "model.safetensors"))
        self.assertEqual(sorted(got), sorted(want))
        for k in want:
            self.assertTrue(torch.equal(got[k], want[k]), k)
        self.assertEqual((meta["dims"], meta["layers"], meta["iscf_scales"]),
                         ("16,32,48", "1,2,1", "3"))
        self.assertEqual(meta["test_f1_score"], "0.875")

    def test_f16_output_rounds_each_weight(self):
        out, _ = self.convert(self.authors, "--dtype", "F16")
        got = load_file(out)
        want = load_file(os.path.join(TINY, "model.safetensors"))
        for k in want:
            self.assertEqual(got[k].dtype, torch.float16, k)
            self.assertTrue(torch.equal(got[k], want[k].half()), k)

    def test_legacy_checkpoint_gives_the_same_weights(self):
        # torch.save before PyTorch 1.6 wrote a plain pickle, not a zip
        path = self.save_authors_format(self.authors_state(), "legacy.pt",
                                        _use_new_zipfile_serialization=False)
        out, _ = self.convert(path)
        got = load_file(out)
        want = load_file(os.path.join(TINY, "model.safetensors"))
        for k in want:
            self.assertTrue(torch.equal(got[k], want[k]), k)

    def test_hostile_pickle_is_refused_without_running_it(self):
        marker = os.path.join(self.dir, "pwned")
        path = os.path.join(self.dir, "hostile.pt")
        torch.save({"model_weights": {"net.x": Evil(marker)}}, path)
        _, err = self.convert(path, expect_rc=1)
        self.assertIn("refusing to unpickle", err)
        self.assertIn("system", err)
        self.assertIn("--trust", err)
        self.assertFalse(os.path.exists(marker), "the pickle's code ran")

    def test_missing_and_misshapen_tensors_are_named(self):
        state = self.authors_state()
        del state["decoder_0.last_layer.bias"]
        name = "backbone.block2.1.mlp1.fc2.weight"
        state[name] = state[name][:, :-1]
        path = self.save_authors_format(state, "broken.pt")
        out, err = self.convert(path, expect_rc=1)
        self.assertIn("missing (1): decoder_0.last_layer.bias", err)
        self.assertIn("wrong shape (1): %s [32, 127] (expected [32, 128])"
                      % name, err)
        self.assertFalse(os.path.exists(out))

    def test_truncated_checkpoints_are_named(self):
        legacy = self.save_authors_format(self.authors_state(), "legacy-cut.pt",
                                          _use_new_zipfile_serialization=False)
        for path, message in ((self.authors, "a damaged or truncated zip"),
                              (legacy, "truncated: the file ends inside")):
            with open(path, "rb") as f:
                data = f.read()
            cut = path + ".cut"
            with open(cut, "wb") as f:
                f.write(data[:len(data) - 100])
            _, err = self.convert(cut, expect_rc=1)
            self.assertIn("%s: %s" % (cut, message), err)

    def test_not_a_checkpoint(self):
        path = os.path.join(self.dir, "notes.txt")
        with open(path, "w") as f:
            f.write("not a checkpoint\n")
        _, err = self.convert(path, expect_rc=1)
        self.assertIn("%s: not a PyTorch checkpoint" % path, err)
        self.assertNotIn("--trust", err)

    def test_a_state_dict_of_another_network(self):
        path = os.path.join(self.dir, "other.pt")
        torch.save({"conv.weight": torch.zeros(4, 3, 3, 3)}, path)
        _, err = self.convert(path, expect_rc=1)
        self.assertIn("no tensor 'backbone.patch_embed1.proj.weight'", err)
        self.assertIn("conv.weight", err)


if __name__ == "__main__":
    unittest.main()
