"""Checkpoints: last.pt (everything needed to resume exactly), best.pt (the weights
that validated best, light), their loading, and the RNG states they carry."""

import copy
import os
import random
import time

import numpy as np
import torch


def rng_state():
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
          "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st):
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(st["cuda"])
        except Exception:
            pass


def load_ckpt(path):
    """torch >= 2.6 loads weights_only by default; our checkpoints hold RNG states too."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13
        return torch.load(path, map_location="cpu")


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class CheckpointWriter:
    """Writes last.pt (and best.pt when a new best is pending) from rank 0.

    The best weights are copied to the CPU when an epoch validates best, but only
    written with the next save, so that --save-interval also spaces best.pt writes."""

    def __init__(self, args, dist, model, opt, ema, aug, state, phases, val_names):
        self.args, self.dist = args, dist
        self.model, self.opt, self.ema, self.aug = model, opt, ema, aug
        self.state, self.phases, self.val_names = state, phases, val_names
        self.best_mem = {}  # the best weights so far, on the CPU
        # time and global step of the last save (or of the start of this run)
        self.last_save = [time.time(), state["global_step"]]

    def remember_best(self):
        ema = self.ema
        src = ema.shadow if ema is not None else self.model.state_dict()
        self.best_mem["model"] = {k: v.detach().to("cpu", copy=True) for k, v in src.items()}
        self.best_mem["state"] = copy.deepcopy(self.state)
        self.best_mem["dirty"] = True

    def best_pending(self):
        return bool(self.best_mem.get("dirty"))

    def save(self, path):
        if not self.dist.main:
            return
        args, ema, best_mem = self.args, self.ema, self.best_mem
        ck = {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
              "ema": ema.state_dict() if ema else None,
              "ema_model": dict(ema.shadow) if ema else None,
              "state": self.state, "phases": self.phases, "args": vars(args),
              "val_names": list(self.val_names), "rng": rng_state(),
              "aug_gen": self.aug.gen.get_state(), "time": time.time()}
        if best_mem.get("dirty"):
            # best.pt: the weights that validated best (EMA when used), light
            atomic_save({"model": best_mem["model"], "state": best_mem["state"],
                         "args": vars(args)}, os.path.join(args.out, "best.pt"))
            best_mem["dirty"] = False
        atomic_save(ck, path)
        self.last_save[:] = [time.time(), self.state["global_step"]]
