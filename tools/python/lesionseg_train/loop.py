"""The training loop: phases (pretrain, finetune) of epochs of steps, validation after
each epoch, checkpoints, and the time budget.

All loop state that a resume needs lives in `state` (saved in last.pt); the rest here
(timings, first-fit bookkeeping) is per run."""

import json
import math
import os
import time

import torch

from .clock import T0, budget_left
from .evaluate import evaluate
from .losses import loss_fn
from .model import autocast
from .preprocess import minmax255
from .progress import Progress
from .distributed import log
from .schedule import lr_at


class Trainer:
    def __init__(self, args, dist, model, train_model, opt, ema, aug, phases, state,
                 sampler, val_data, va_idx, saver, fitter, eval_model):
        self.args, self.dist = args, dist
        self.model, self.train_model, self.opt, self.ema, self.aug = (
            model, train_model, opt, ema, aug)
        self.phases, self.state = phases, state
        self.sampler, self.saver, self.fitter = sampler, saver, fitter
        self.imgs, self.masks = val_data  # the --data tensors; va_idx indexes them
        self.va_idx = va_idx
        self.eval_model = eval_model  # () -> the model to validate (EMA weights when used)
        self.first_fit = True  # a first --fit-budget solve a few steps into this run
        self.t_warm = 0.0
        self.sec_per_step = None
        self.run_epochs = 0
        self.lr = None

    def run(self):
        args, dist, state, phases = self.args, self.dist, self.state, self.phases
        dev = dist.device
        log_path = os.path.join(args.out, "log.jsonl")
        stop = False
        while state["phase"] < len(phases) and not stop:
            ph = state["phase"]
            pname, pepochs, plr = phases[ph]
            if state["epoch"] >= pepochs:
                state["phase"] += 1
                state["epoch"] = 0
                state["step_in_epoch"] = 0
                continue
            ep = state["epoch"]
            start = state["step_in_epoch"]
            t_ep = time.time()
            stop, s, nsteps, pepochs, seen, loss_avg = self._train_epoch(ph, ep, pepochs)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t_train = time.time() - t_ep
            if start >= nsteps:
                s = start - 1
            if stop and state["step_in_epoch"] < nsteps:
                log(dist, "time budget: stopping in %s epoch %d at step %d/%d" % (
                    pname, ep + 1, state["step_in_epoch"], nsteps))
                break
            # ---- validate
            te = time.time()
            pooled = mean = float("nan")
            if self.va_idx and ((ep + 1) % args.val_every == 0 or ep + 1 == pepochs):
                pooled, mean = evaluate(self.eval_model(), self.imgs, self.masks, self.va_idx,
                                        dist, max(8, args.batch * 2), args.amp)
            t_eval = time.time() - te
            state["epoch"] += 1
            state["step_in_epoch"] = 0
            ips = seen * dist.world / max(1e-9, t_train)
            rec = {"phase": pname, "epoch": ep + 1, "epochs": pepochs, "loss": loss_avg,
                   "val_dice_pooled": pooled, "val_dice_mean": mean, "lr": self.lr,
                   "epoch_s": round(t_train + t_eval, 2), "img_per_s": round(ips, 1),
                   "elapsed_s": round(time.time() - T0, 1)}
            is_best = self._record(rec, mean if args.select == "mean" else pooled)
            log(dist, "%s epoch %d/%d: loss %.4f  val Dice pooled %.4f mean %.4f%s  %.1fs "
                "(%.0f img/s)  elapsed %.0fs" % (pname, ep + 1, pepochs, rec["loss"], pooled,
                                                 mean, "  *best*" if is_best else "",
                                                 t_train + t_eval, ips, time.time() - T0))
            if dist.main:
                with open(log_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if is_best:
                self.saver.remember_best()
            if time.time() - self.saver.last_save[0] >= args.save_interval:
                self.saver.save(os.path.join(args.out, "last.pt"))
            if s + 1 - start > 0 and self._budget_after_epoch(ph, t_train, s + 1 - start, t_eval):
                stop = True
            self.run_epochs += 1
            if args.run_epochs and self.run_epochs >= args.run_epochs:
                stop = True
            stop = dist.broadcast_flag(stop)

    def _train_epoch(self, ph, ep, pepochs):
        """Train the (rest of the) epoch from state['step_in_epoch']. Returns (stop, last
        step index, steps in the epoch, planned epochs of the phase (--fit-budget may
        change it mid-epoch), images seen, mean sampled loss)."""
        args, dist, state = self.args, self.dist, self.state
        dev = dist.device
        pname, _, plr = self.phases[ph]
        idx = self.sampler.indices(ph, ep)
        nsteps = math.ceil(len(idx) / args.batch)
        total_steps = pepochs * nsteps
        prog = Progress(nsteps, "%s %d/%d" % (pname, ep + 1, pepochs), dist.main)
        seen, loss_sum, loss_n = 0, 0.0, 0
        self.model.train()
        start = state["step_in_epoch"]
        stop = False
        s = None
        for s in range(start, nsteps):
            if budget_left(args) < args.reserve:
                stop = True
            if dist.broadcast_flag(stop):
                stop = True
                break
            lr = lr_at(args, plr, ep * nsteps + s, total_steps)
            self.lr = lr
            for g in self.opt.param_groups:
                g["lr"] = lr
            x, y = self.sampler.fetch(idx[s * args.batch:(s + 1) * args.batch])
            x, y = self.aug(x, y)
            x = minmax255(x)
            with autocast(dev, args.amp):
                logits = self.train_model(x)
            loss = loss_fn(logits, y, args)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), args.clip)
            self.opt.step()
            if self.ema is not None:
                self.ema.update(self.model)
            state["global_step"] += 1
            state["step_in_epoch"] = s + 1
            seen += x.shape[0]
            # .item() syncs the device: only every 10th loss is read
            if s % 10 == 0 or s == nsteps - 1:
                loss_sum += loss.item()
                loss_n += 1
            prog.update(s + 1, "loss %.4f lr %.2e" % (loss_sum / max(1, loss_n), lr))
            # a first fit after a few warm steps of the first epoch of this run
            if self.first_fit and s - start in (3, 13):
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                if s - start == 3:
                    self.t_warm = time.time()
                else:
                    self.first_fit = False
                    self.fitter.fit((time.time() - self.t_warm) / 10 * 1.05, 2.0, True)
                    pepochs = self.phases[ph][1]
                    total_steps = pepochs * nsteps
        return stop, s, nsteps, pepochs, seen, loss_sum / max(1, loss_n)

    def _record(self, rec, score):
        """Append the epoch to the history; True when it is the new best (or, without a
        validation split, always: best.pt then follows the last epoch)."""
        state = self.state
        state["history"].append(rec)
        if not math.isnan(score) and score > state["best"]:
            state["best"], state["best_epoch"] = score, len(state["history"])
            state["best_rec"] = rec
            return True
        if not self.va_idx:
            state["best_epoch"] = len(state["history"])
            state["best_rec"] = rec
            return True
        return False

    def _budget_after_epoch(self, ph, t_train, steps_done, t_eval):
        """Re-fit the plan to the measured speed; True if the run should stop because
        the next epoch would not fit (plain --time-budget only)."""
        args, state, phases = self.args, self.state, self.phases
        sps = t_train / steps_done
        # smoothed over epochs; the first epoch of a run includes warm-up (cudnn
        # autotuning, allocation), so the second replaces it
        if self.sec_per_step is None or self.run_epochs == 1:
            self.sec_per_step = sps
        else:
            self.sec_per_step = 0.7 * self.sec_per_step + 0.3 * sps
        sps = self.sec_per_step
        self.fitter.fit(sps * 1.05, t_eval, False)
        nxt = ph if state["epoch"] < phases[ph][1] else ph + 1
        if nxt < len(phases):
            need = self.sampler.steps_in(nxt) * sps * 1.1 + t_eval
            if (args.time_budget > 0 and not args.fit_budget
                    and need > budget_left(args) - args.reserve):
                # no partial epochs when plain --time-budget: stop at an epoch boundary
                log(self.dist, "time budget: next epoch (~%.0fs) would not fit; stopping" % need)
                return True
        return False
