"""The shared train/eval loop: `run` trains one experiment and leaves everything in <out>/<step>/.

`run` reads as a table of contents: loaders (augment/loaders.py), model and optimizer, the run's
folder, the epochs (`fit`, and beside it the faults that stop it: non-finite values, out of memory,
Ctrl-C), and the end (`finish`: the best weights on the test set, snapshots, the summary).
`train_one_epoch` and `evaluate` are the two inner loops. Longer than ~300 lines and still one
concept: the loop, and what stops it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn
from tqdm import tqdm

import capture
import compare
import run_folder
from augment.loaders import Loaders, make_loaders
from config import Config, check_config
from devices import (autocast, nondeterministic_error, precision_text, prepare_model,
                     resolve_device, resolve_precision, set_determinism, set_float32_math, to_device,
                     uses_channels_last)
from early_stopping import EarlyStopping
from errors import (Interrupted, Terminated, TrainingError, UserError, ctrl_c_deferred, exit_at_once,
                    exit_code, on_sigint)
from experiments import Experiment, build_model, check_model_fits, report_of
from optimizers import make_optimizer, trainable_parameters
from run_folder.checkpoint import load_weights, read_for_resume, restore
from run_folder.writer import RunFolder
from summary import (DEFAULT_COLUMNS, Later, compare_line, epoch_line, epoch_rows,
                     evaluation_line, setting_notes, summarize, time_left)


class Tally:
    """Sums over the batches trained so far in an epoch, kept on the device and read once."""

    def __init__(self, device: torch.device) -> None:
        # Reading the sums every batch would wait for the GPU each time.
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self.seen = self.batches = 0

    def result(self) -> dict[str, float | int]:
        """Mean loss, accuracy (%) and the first non-finite batch (-1: none), in one read."""
        return {"loss": self.loss.item() / self.seen, "accuracy": 100 * self.correct.item() / self.seen,
                "first_bad_batch": int(self.first_bad.item())}


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    device: torch.device, desc: str, tally: Tally | None = None,
                    batches: int | None = None, precision: str = "fp32",
                    step: capture.Step | None = None) -> dict[str, float | int]:
    """Train on every batch of loader; returns mean loss, accuracy (%) and the first non-finite batch.

    precision bf16 runs the forward pass and the loss under bf16 autocast; the weights, their
    gradients, the optimizer's state and the sums stay float32.

    With a tally, its sums go on from the batches an earlier call of the same epoch trained (the
    part of an epoch before an evaluation) and the result covers them all; `batches` is then how
    many this part has. step: the run's training step (capture.make_step); None: eager.
    """
    step = step or (lambda x, y: capture.train_step(model, optimizer, x, y, device, precision))
    model.train()
    tally = tally or Tally(device)
    channels_last, shown = uses_channels_last(model), time.monotonic()
    bar = tqdm(loader, total=batches or len(loader), desc=desc, leave=False, unit="batch",
               disable=None)
    for x, y in bar:
        x, y = to_device(x, y, device, channels_last)
        loss, logits = step(x, y)
        tally.first_bad = torch.where((tally.first_bad < 0) & ~torch.isfinite(loss), tally.batches,
                                      tally.first_bad)
        tally.loss += loss * len(y)
        tally.correct += (logits.argmax(1) == y).sum()
        tally.seen += len(y)
        tally.batches += 1
        if not bar.disable and time.monotonic() - shown > 1:  # one sync a second, for the bar only
            bar.set_postfix(loss=f"{tally.loss.item() / tally.seen:.4f}")
            shown = time.monotonic()
    return tally.result()


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device,
             precision: str = "fp32") -> dict[str, Any]:
    """Mean loss (in float32) and accuracy (%) over a whole loader, in eval mode, and its confusion
    matrix.

    "confusion" (classes x classes, [true, predicted]) stays on the device: only a run's end
    reads it, so an epoch's evaluations still read the device once each, for loss and accuracy.
    """
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    counts: torch.Tensor | None = None
    seen, channels_last = 0, uses_channels_last(model)
    for x, y in loader:
        x, y = to_device(x, y, device, channels_last)
        with autocast(device, precision):
            logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        predicted = logits.argmax(1)
        correct += (predicted == y).sum()
        k = logits.shape[1]
        if counts is None:
            counts = torch.zeros(k * k, dtype=torch.long, device=device)
        # The bincount of true * k + predicted, as index_add_: torch.bincount reads its input's
        # min and max back to the host to size its output, a sync per batch on CUDA.
        counts.index_add_(0, y * k + predicted, torch.ones_like(y))
        seen += len(y)
    return {"loss": loss_sum.item() / seen, "accuracy": 100 * correct.item() / seen,
            "confusion": counts.view(k, k) if counts is not None else None}


# ---------------------------------------------------------------------------------------------
# One run, top to bottom
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prepared:
    """One run, checked and ready to train: made once per run (prepare), before any run trains."""

    exp: Experiment
    cfg: Config  # checked; precision as it computes ("auto" resolved on its device)
    device: torch.device
    seeded: bool = False  # one of --seeds: its folder is <out>/<step>/seed-<seed>/
    checkpoint: dict[str, Any] | None = None  # what --resume goes on from (cfg.resume)
    capture_text: str = ""  # whether it captures its step as a CUDA graph, and why (capture.decide)
    later: Later = Later()  # the runs the command trains after this one, estimated at its pace

    @property
    def dir(self) -> str:
        """The run's folder."""
        return run_folder.run_dir(self.cfg.out, self.cfg.step, self.cfg.seed if self.seeded else None)


def prepare(exp: Experiment, cfg: Config, seeded: bool = False) -> Prepared:
    """Check a run's config, resolve its device, precision and step capture, read its checkpoint
    (--resume): every refusal of a run, before anything is written."""
    check_config(cfg)
    device = resolve_device(cfg.device)
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))  # as used
    captured, capture_text = capture.decide(cfg.capture, cfg.optimizer, cfg.compile, cfg.batch_size,
                                            cfg.image_size, device)
    cfg = dataclasses.replace(cfg, capture="on" if captured else "off")  # as used, in config.json
    ready = Prepared(exp, cfg, device, seeded, capture_text=capture_text)
    return dataclasses.replace(ready, checkpoint=read_for_resume(ready.dir, cfg)) if cfg.resume \
        else ready


@dataclass
class Loop:
    """What the epochs work on: a run's model, optimizer, loaders, early stopping, history, folder
    and device, built once by `run`."""

    cfg: Config
    model: nn.Module  # holds the weights that are saved
    step_model: nn.Module  # computes: the model, compiled with --compile
    optimizer: torch.optim.Optimizer
    loaders: Loaders
    stopper: EarlyStopping
    history: list[dict[str, float]]  # metrics.csv's rows so far
    folder: RunFolder
    device: torch.device
    step: capture.Step | None = None  # trains on a batch (capture.make_step); None: eager
    later: Later = Later()  # the runs after this one (Prepared.later)


def run(task: Prepared) -> dict[str, Any]:
    """Train one prepared run; returns its figures (summarize), device and folder."""
    exp, cfg, device, ckpt, seeded = task.exp, task.cfg, task.device, task.checkpoint, task.seeded
    set_float32_math(device)  # IEEE fp32 on CUDA (no TF32), recorded in config.json's environment
    set_determinism(cfg.deterministic, device)  # before CUDA's first use: cuBLAS reads it then
    torch.manual_seed(cfg.seed)

    loaders = make_loaders(exp, cfg, device)
    model = prepare_model(build_model(exp, cfg), device)
    try:
        check_model_fits(model, exp, cfg, loaders.classes, device)
    except RuntimeError as e:
        no_deterministic_kernel(cfg, device, e, "before training", "nothing was written")
        raise
    optimizer = make_optimizer(model, cfg, device)
    # Compiled or not, `model` holds the weights: its state_dict has no compiler prefix.
    step_model = torch.compile(model) if cfg.compile else model
    history: list[dict[str, float]] = []
    stopper = EarlyStopping(cfg.early_stopping, cfg.monitor, cfg.patience, cfg.min_delta)
    if ckpt is not None:
        stopper, history = restore(ckpt, os.path.join(task.dir, run_folder.CHECKPOINT), exp,
                                   cfg, model, optimizer, loaders.random)
    step = capture.make_step(step_model, optimizer, device, cfg.precision,
                             cfg.capture == "on")  # after restore

    folder = RunFolder(task.dir, exp, cfg, model, optimizer, loaders.random, stopper,
                       keeps_best=loaders.val is not None)
    folder.start(device, history, resumed=ckpt is not None)
    split = f", {loaders.val_images} validation ({cfg.val_split})" if loaders.val is not None else ""
    name = f"{cfg.step} (seed {cfg.seed})" if seeded else cfg.step
    print(f"{name}: {trainable_parameters(model):,} parameters on {device} in "
          f"{precision_text(cfg.precision, device)}{', deterministic' if cfg.deterministic else ''}, "
          f"{loaders.train_images} "
          f"training{split} and {loaders.test_images} test images of {cfg.dataset}; {cfg.optimizer} "
          f"lr {cfg.lr:g}; train data {loaders.train.description}"
          + (f"; {task.capture_text}" if task.capture_text else "")
          + (f"; resuming after epoch {len(epoch_rows(history))}" if history else ""))

    loop = Loop(cfg, model, step_model, optimizer, loaders, stopper, history, folder, device, step,
                task.later)
    fit(loop)
    return finish(exp, loop)


def fit(loop: Loop) -> None:
    """The epochs: train, evaluate, record, checkpoint; until cfg.epochs or early stopping."""
    cfg, loaders, stopper, history, folder = (loop.cfg, loop.loaders, loop.stopper, loop.history,
                                              loop.folder)
    pauses = _pauses(cfg.eval_every, len(loaders.train))
    epoch = folder.checkpointed
    with epoch_faults(cfg, folder, loop.device, lambda: max(epoch, folder.checkpointed + 1)):
        if cfg.eval_at_start and not history:
            _record_evaluation(loop, 0)
        for epoch in range(folder.checkpointed + 1, cfg.epochs + 1):
            if stopper.stopped:
                break
            start = time.perf_counter()
            for group in loop.optimizer.param_groups:  # the decay is a function of the epoch: resumable
                group["lr"] = cfg.lr * cfg.lr_decay ** (epoch - 1)
            desc = f"{cfg.step} {epoch}/{cfg.epochs}"
            if pauses:
                train = _train_with_evaluations(loop, desc, epoch, pauses)
            else:
                train = train_one_epoch(loop.step_model, loaders.train, loop.optimizer, loop.device,
                                        desc, precision=cfg.precision, step=loop.step)
            check_training(cfg, epoch, train, loop.model, folder)
            row = {"epoch": epoch, "train_loss": train["loss"], "train_accuracy": train["accuracy"],
                   **_evaluations(loop, ("val", "test", "train_eval")),
                   "seconds": time.perf_counter() - start}
            check_evaluations(cfg, epoch, row, folder)
            history.append(row)
            # A rule that stopped within the epoch takes no more values: the epoch is finished only
            # so that the checkpoint holds whole epochs.
            improved = loaders.val is not None and stopper.update(epoch, row[cfg.monitor])
            left = time_left(history, epoch if stopper.stopped else cfg.epochs,
                             cfg.early_stopping != "off", loop.later)
            # Announced once saved, and a Ctrl-C held over both: what the console says and what is
            # kept agree (a Ctrl-C while the figure was drawn lost the epoch just printed).
            with ctrl_c_deferred():
                folder.save_epoch(epoch, history, improved)
                print(epoch_line(cfg.step, cfg.epochs, row, improved, left), flush=True)
            if stopper.stopped:
                print(f"{cfg.step}: early stopping after epoch {epoch}: no improvement of "
                      f"{cfg.monitor} for {stopper.counter} "
                      f"{'epochs' if len(history) == len(epoch_rows(history)) else 'evaluations'}; "
                      f"the best was epoch {stopper.best_epoch}")


# ---------------------------------------------------------------------------------------------
# The faults that stop a run between checkpoints
# ---------------------------------------------------------------------------------------------

def check_training(cfg: Config, epoch: int, train: dict[str, Any], model: nn.Module,
                   folder: RunFolder) -> None:
    """Stop at a non-finite training loss or weights, before anything of the epoch is saved."""
    if train["first_bad_batch"] >= 0:
        raise TrainingError(
            f"{cfg.step}: the training loss became {train['loss']} at epoch {epoch}, batch "
            f"{train['first_bad_batch'] + 1}; stopped, {folder.kept()}; try a lower --lr")
    if not _all_finite(model):  # a step can break the weights after its loss was read
        raise TrainingError(
            f"{cfg.step}: the weights became non-finite at epoch {epoch} (after the training "
            f"loss of each batch was read); stopped, {folder.kept()}; try a lower --lr")


def check_evaluations(cfg: Config, epoch: float, row: dict[str, float], folder: RunFolder) -> None:
    """Stop at a non-finite evaluation: checkpoint.pt and best.pt never hold such an epoch."""
    bad = [f"{k.replace('_', ' ')} {row[k]}" for k in ("val_loss", "test_loss")
           if k in row and not math.isfinite(row[k])]
    if bad:
        raise TrainingError(f"{cfg.step}: the {' and '.join(bad)} at epoch {epoch}; stopped, "
                            f"{folder.kept()}; try a lower --lr")


@contextlib.contextmanager
def epoch_faults(cfg: Config, folder: RunFolder, device: torch.device,
                 epoch: Callable[[], int]) -> Iterator[None]:
    """Ctrl-C, running out of memory and (--deterministic) an op without a deterministic kernel,
    during the epochs, as one sentence; epoch() is the current one. However the epochs end, the
    curves figure shows every epoch saved (RunFolder draws it only now and then)."""
    try:
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # a full disk must not hide why the run stopped
                folder.draw_curves()
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM taken as one (errors.Terminated)
        # Writing the marker takes a moment; a second Ctrl-C should not have to wait for it.
        previous = on_sigint(exit_at_once)
        try:
            message = folder.mark_interrupted(epoch(), "stopped by SIGTERM"
                                              if isinstance(e, Terminated) else "interrupted")
        finally:
            if previous is not None:
                on_sigint(previous)
        raise Interrupted(message, exit_code(e)) from None
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        gpu = ", or close other programs on the GPU (nvidia-smi lists them)" \
            if device.type == "cuda" else ""
        raise TrainingError(
            f"{cfg.step}: {device.type.upper()} out of memory at batch size {cfg.batch_size} "
            f"(epoch {epoch()}); try --batch-size {max(1, cfg.batch_size // 2)}{gpu}; "
            f"{folder.kept()}") from None
    except RuntimeError as e:
        no_deterministic_kernel(cfg, device, e, f"in epoch {epoch()}", folder.kept())
        raise


def no_deterministic_kernel(cfg: Config, device: torch.device, e: RuntimeError, when: str,
                            kept: str) -> None:
    """--deterministic met an op without a deterministic kernel: say which, in one sentence."""
    message = nondeterministic_error(e, cfg.step, device, when) if cfg.deterministic else None
    if message is not None:
        raise UserError(f"{message}; {kept}") from None


def _all_finite(model: nn.Module) -> bool:
    """Whether every floating-point weight and buffer is finite: one device sync per call."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    return not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def _pauses(eval_every: float, n: int) -> list[int]:
    """The batches of an epoch of n after which to evaluate: 0.5 is the middle one; none for 1."""
    if eval_every * n <= 0.5:  # at least two evaluations per batch: after every batch
        return list(range(1, n))
    return sorted({round(k * eval_every * n) for k in range(1, math.ceil(1 / eval_every))} - {0, n})


def finish(exp: Experiment, loop: Loop) -> dict[str, Any]:
    """The end: the kept weights on the (whole) test set, summary.json, and the line against the report."""
    cfg, model, step_model, loaders, history, folder, device = (
        loop.cfg, loop.model, loop.step_model, loop.loaders, loop.history, loop.folder, loop.device)
    if not epoch_rows(history):
        raise UserError(f"{cfg.step}: nothing to train (--epochs {cfg.epochs})")
    end: dict[str, Any] = {"epochs": len(epoch_rows(history)), "stopped_early": loop.stopper.stopped}
    full_test = loaders.full_test() if loaders.full_test is not None else None
    # The kept weights on the whole test set: its accuracy with test_limit, its confusion matrix.
    kept_test = full_test if full_test is not None else loaders.test
    if cfg.keep == "last" or loaders.val is None:  # the last weights, before best.pt replaces them
        kept = evaluate(step_model, kept_test, device, cfg.precision)
    if loaders.val is not None:
        best = load_weights(model, folder.best, cfg.step)
        test = evaluate(step_model, loaders.test, device, cfg.precision)
        end.update(best_epoch=best["epoch"], best_test_loss=test["loss"],
                   best_test_accuracy=test["accuracy"])
        if cfg.keep == "best":
            kept = test if full_test is None else evaluate(step_model, full_test, device,
                                                           cfg.precision)
    if full_test is not None:
        end["full_test_accuracy"] = kept["accuracy"]
    # Snapshots are of whole epochs: a best within one keeps the epoch it ends.
    end = folder.finish(end, history, math.ceil(end.get("best_epoch") or len(epoch_rows(history))),
                        kept["confusion"].cpu().tolist(), loaders.names)
    summary = summarize(history, end, cfg.keep, cfg.monitor)
    report = report_of(cfg.step)
    notes = setting_notes(cfg, exp.config, history, end)
    columns = report.columns if report else tuple(k for k in DEFAULT_COLUMNS if k in summary)
    comparison = compare.compare(cfg.step, [compare.outcome(cfg, summary, notes)], exp.reported,
                                 columns, report.hardware if report else "")
    print(compare_line(comparison, summary, columns, report))
    return {**summary, "step": cfg.step, "device": str(device), "run_dir": folder.dir}


# ---------------------------------------------------------------------------------------------
# The epoch's parts
# ---------------------------------------------------------------------------------------------

def _evaluations(loop: Loop, splits: tuple[str, ...]) -> dict[str, float]:
    """Loss and accuracy of each split that has a loader, as metrics.csv names them."""
    row = {}
    for split in splits:
        loader = getattr(loop.loaders, split)
        if loader is not None:
            result = evaluate(loop.step_model, loader, loop.device, loop.cfg.precision)
            row.update({f"{split}_loss": result["loss"], f"{split}_accuracy": result["accuracy"]})
    return row


def _record_evaluation(loop: Loop, at: float) -> None:
    """A row of extra evaluations (eval_every, eval_at_start) at a fraction of an epoch, printed.

    Early stopping sees it as it sees an epoch's (the course starter checks every evaluation); a new
    best is held for best.pt until the epoch's checkpoint is written (RunFolder.hold_best).
    """
    cfg, history = loop.cfg, loop.history
    history.append({"epoch": at, **_evaluations(loop, ("train_eval", "val", "test"))})
    check_evaluations(cfg, at, history[-1], loop.folder)
    improved = loop.loaders.val is not None and loop.stopper.update(at, history[-1][cfg.monitor])
    if improved:
        loop.folder.hold_best(at)
    print(evaluation_line(cfg.step, history[-1], improved), flush=True)


def _train_with_evaluations(loop: Loop, desc: str, epoch: int,
                            pauses: list[int]) -> dict[str, float | int]:
    """One epoch trained in parts, with an evaluation after each but the last (report 004's loop)."""
    n, tally, batches = len(loop.loaders.train), Tally(loop.device), iter(loop.loaders.train)
    for stop in [*pauses, n]:
        part = itertools.islice(batches, stop - tally.batches)
        train = train_one_epoch(loop.step_model, part, loop.optimizer, loop.device, desc, tally,
                                stop - tally.batches, loop.cfg.precision, loop.step)
        if stop < n:  # at the nominal fraction (0.5), not the batch share a small subset rounds to (12/25)
            fraction = round(stop / (n * loop.cfg.eval_every)) * loop.cfg.eval_every
            _record_evaluation(loop, round(epoch - 1 + fraction, 4))
    return train
