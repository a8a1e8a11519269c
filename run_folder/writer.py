"""RunFolder, the one writer of a run's folder <out>/<step>/, in the spirit of timm's CheckpointSaver.

What must survive a crash or a Ctrl-C is written here: atomic writes, moving an earlier run aside,
the INTERRUPTED marker, the free-space check, snapshots. The file names are run_folder/__init__.py's;
what a checkpoint holds is checkpoint.py's; the run's figures against the report's are summary.py's.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
import time
from typing import Any

import torch
from torch import nn

import atomic
import plotting
from config import Config
from devices import environment
from errors import UserError, ctrl_c_deferred
from early_stopping import EarlyStopping
from experiments import STEPS, Experiment
from optimizers import trainable_parameters
from run_folder import (BEST, CHECKPOINT, COLUMNS, CONFIG, CONFUSION, CONFUSION_FIGURE, CURVES,
                        EXPERIMENT, INTERRUPTED, METRICS, SEEDS_PREFIX, SNAPSHOTS, SUMMARY,
                        snapshot_epochs, snapshot_path)
from run_folder.checkpoint import contents
from run_folder.reader import read_confusion
from summary import epoch_rows, per_class_accuracy, setting_notes

CURVES_SHARE = 0.05  # of a run's time, at most, spent redrawing its curves figure between epochs


# ---------------------------------------------------------------------------------------------
# Atomic files, metrics
# ---------------------------------------------------------------------------------------------

def save_atomic(path: str, state: dict[str, Any]) -> None:
    """Write a torch file atomically (atomic.replacing), flushed to disk, the rename too.

    Killed at any moment, the process leaves either the old checkpoint or the new one, whole.
    """
    with atomic.replacing(path, "wb", sync=True) as f:
        torch.save(state, f)


def write_metrics(path: str, history: list[dict[str, float]]) -> None:
    """metrics.csv: one row per evaluation, the columns the rows have, in COLUMNS' order."""
    columns = [k for k in COLUMNS if any(k in row for row in history)]
    with atomic.replacing(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row.get(k), float) else row.get(k, ""))
                             for k in columns})


# ---------------------------------------------------------------------------------------------
# The run's folder: writable, never overwritten silently, room on its disk; snapshots
# ---------------------------------------------------------------------------------------------

def check_writable(out: str) -> None:
    """Refuse, before any training, an --out folder that cannot be created or written to.

    Nothing is created: a folder still to be made is probed in the nearest one that exists, so
    a command refused later (missing data) leaves no empty --out behind.
    """
    there = os.path.abspath(out)
    while not os.path.exists(there):
        there = os.path.dirname(there)
    try:
        if not os.path.isdir(there):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), there)
        with tempfile.TemporaryFile(dir=there) as f:
            f.write(b"probe")
            f.flush()
    except OSError as e:
        raise UserError(f"--out {out}: cannot write there ({e.strerror or e}); choose a folder you "
                        f"can write to with --out") from None


def set_aside(run_dir: str) -> str | None:
    """Move an earlier run's folder to <run_dir>-<its time>, so that starting again loses nothing.

    The seeds' folders inside a step's folder stay where they are: only the plain run moves.
    """
    done = [os.path.join(run_dir, f) for f in (METRICS, CHECKPOINT)]
    done = [f for f in done if os.path.exists(f)]
    if not done:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(max(os.path.getmtime(f) for f in done)))
    target, n = f"{run_dir}-{stamp}", 1
    while os.path.exists(target):
        target, n = f"{run_dir}-{stamp}-{n}", n + 1
    names = os.listdir(run_dir)
    if not any(name.startswith(SEEDS_PREFIX) for name in names):
        os.rename(run_dir, target)  # one atomic rename, as always without seeds
        return target
    os.makedirs(target)
    for name in names:
        if not name.startswith(SEEDS_PREFIX):
            os.rename(os.path.join(run_dir, name), os.path.join(target, name))
    return target


def check_free_space(run_dir: str, model: nn.Module, existing: int = 0, snapshots: int = 0) -> None:
    """Refuse, before training, a disk without room for the run's checkpoints (and `snapshots` epochs' weights).

    existing: the bytes of the weights files the run replaces (a resumed run's checkpoint, best.pt
    and snapshots); the disk is the one run_dir is (or will be) on.
    """
    # A checkpoint holds the weights and Adam's two moments; while one is written the old one stays.
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    size = 3 * trainable + sum(b.numel() * b.element_size() for b in model.buffers())
    # best.pt holds the weights only: one more copy of them.
    need = 2 * size + trainable - existing + (16 << 20)
    need += snapshots * (size - 2 * trainable)  # weights and buffers, until prune_snapshots
    free = shutil.disk_usage(run_dir if os.path.isdir(run_dir) else os.path.dirname(run_dir) or ".").free
    if free < need:
        raise UserError(f"{run_dir}: {free / 2**20:.0f} MB free on its disk, but this step's "
                        f"checkpoints need about {need / 2**20:.0f} MB (the old one stays while the "
                        f"new one is written); free some space or choose another --out")


def save_snapshot(run_dir: str, epoch: int, model: nn.Module) -> None:
    """The weights after `epoch`, weights only, written atomically."""
    os.makedirs(os.path.join(run_dir, SNAPSHOTS), exist_ok=True)
    save_atomic(snapshot_path(run_dir, epoch), {"epoch": epoch, "model": model.state_dict()})


def prune_snapshots(run_dir: str, best: int) -> list[int]:
    """Delete every snapshot but snapshot_epochs(best); returns the epochs left on disk."""
    folder, keep = os.path.join(run_dir, SNAPSHOTS), snapshot_epochs(best)
    left = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        match = re.fullmatch(r"epoch-(\d+)\.pt", name)
        if match and int(match.group(1)) in keep:
            left.append(int(match.group(1)))
        elif match or name.endswith(".tmp"):  # a .tmp is a write a crash cut short
            os.remove(os.path.join(folder, name))
    return sorted(left)


# ---------------------------------------------------------------------------------------------
# The one writer of a run's folder
# ---------------------------------------------------------------------------------------------

class RunFolder:
    """A run's folder (run_folder.run_dir) and every file the run writes there, in the spirit of
    timm's CheckpointSaver: built once with what it saves, then told each epoch's facts.

    `checkpointed` is the epoch checkpoint.pt holds: the stopping messages say what is kept by it.
    """

    def __init__(self, run_dir: str, exp: Experiment, cfg: Config, model: nn.Module,
                 optimizer: torch.optim.Optimizer, loaders: list[Any], stopper: EarlyStopping,
                 keeps_best: bool) -> None:
        """loaders: the ones with random state (train, then validation), saved in the checkpoint;
        keeps_best: the run has a validation split, and best.pt holds its best epoch's weights."""
        self.dir, self.exp, self.cfg, self.model = run_dir, exp, cfg, model
        self.optimizer, self.loaders, self.stopper, self.keeps_best = optimizer, loaders, stopper, keeps_best
        self.step, self.checkpointed = cfg.step, 0
        self.held: dict[str, Any] | None = None  # a best evaluation within the epoch (hold_best)
        # The curves figure: the epochs saved but not drawn yet, when it was last drawn, in how long.
        self.undrawn: list[dict[str, float]] | None = None
        self.drawn_at, self.draw_seconds = -math.inf, 0.0
        self.checkpoint, self.best = os.path.join(run_dir, CHECKPOINT), os.path.join(run_dir, BEST)

    def start(self, device: torch.device, history: list[dict[str, float]], resumed: bool) -> None:
        """Set an earlier run aside (unless resumed), then write what this run is and how to repeat it.

        Everything that can be refused is checked before the earlier run is moved.
        """
        cfg, model, exp = self.cfg, self.model, self.exp
        self.checkpointed = len(epoch_rows(history))
        try:
            os.makedirs(os.path.dirname(self.dir) or ".", exist_ok=True)
            # A resumed run's own files are already on the disk, and are replaced: the room they
            # take counts (an earlier run's are set aside, and stay).
            existing = sum(os.path.getsize(p) for p in self._weights() if os.path.isfile(p)) \
                if resumed else 0
            check_free_space(self.dir, model, existing, cfg.epochs if cfg.snapshots else 0)
            if not resumed:
                moved = set_aside(self.dir)
                if moved:
                    print(f"{self.dir} held an earlier run: moved it to {moved}")
            os.makedirs(self.dir, exist_ok=True)
            for name in (INTERRUPTED, SUMMARY):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.dir, name))
            self._write_json(CONFIG, {
                "config": dataclasses.asdict(cfg), "parameters": trainable_parameters(model),
                "reported": dataclasses.asdict(exp.reported) if exp.reported else None,
                "environment": environment(device)})
            atomic.write_text(os.path.join(self.dir, EXPERIMENT), exp.source)
            if history:  # an interruption may have left a row for an epoch the checkpoint lacks
                write_metrics(os.path.join(self.dir, METRICS), history)
            if self.keeps_best and not resumed:  # best.pt starts as the starting weights
                save_atomic(self.best, {"epoch": 0, "model": model.state_dict()})
        except OSError as e:
            raise UserError(f"{cfg.step}: cannot write the run's folder {self.dir} "
                            f"({e.strerror or e}); choose another --out") from None

    def hold_best(self, epoch: float) -> None:
        """A new best at an evaluation inside an epoch: its weights, written with the epoch's checkpoint.

        Kept in memory until then, so that best.pt never runs ahead of checkpoint.pt: a run stopped
        within the epoch evaluates it again when resumed.
        """
        self.held = {"epoch": epoch, "model": {k: v.detach().clone()
                                                for k, v in self.model.state_dict().items()}}

    def save_epoch(self, epoch: int, history: list[dict[str, float]], improved: bool) -> None:
        """Everything an epoch leaves: metrics.csv, its figure, best.pt if it (or an evaluation within
        it, hold_best) improved, its snapshot, then checkpoint.pt; a full disk stops the run with the
        last checkpoint kept."""
        cfg, model = self.cfg, self.model
        try:
            write_metrics(os.path.join(self.dir, METRICS), history)
            self.undrawn = list(history)
            if epoch >= cfg.epochs or self.stopper.stopped or self._curves_due():
                self.draw_curves()
            with ctrl_c_deferred():  # the checkpoint and `checkpointed` always agree
                if improved:
                    save_atomic(self.best, {"epoch": epoch, "model": model.state_dict()})
                elif self.held is not None:
                    save_atomic(self.best, self.held)
                self.held = None
                if cfg.snapshots:  # before checkpoint.pt: a resumed run never lacks one
                    save_snapshot(self.dir, epoch, model)
                save_atomic(self.checkpoint, contents(cfg, epoch, model, self.optimizer, history,
                                                      self.loaders, self.stopper))
                self.checkpointed = epoch
        except OSError as e:  # atomic.replacing names the file; the previous one is whole
            raise UserError(f"{cfg.step}: could not write {e.filename or self.dir} "
                            f"({e.strerror or e}); {self.kept()}; free some space first") from None

    def _curves_due(self) -> bool:
        """Whether to redraw the curves now: at most CURVES_SHARE of the run's time goes to them (a
        fast epoch on a GPU is a few seconds, and drawing takes about half a second on a CPU)."""
        return time.monotonic() - self.drawn_at >= self.draw_seconds * (1 / CURVES_SHARE - 1)

    def draw_curves(self) -> None:
        """loss_accuracy.png of the epochs saved so far, if some are not drawn yet."""
        if self.undrawn is None:
            return
        start = time.monotonic()
        plotting.plot_loss_accuracy(self.undrawn, self.cfg.step, os.path.join(self.dir, CURVES),
                                    best_epoch=self.stopper.best_epoch if self.keeps_best else None,
                                    footnote=self._footnote(self.undrawn, self.stopper.stopped))
        self.undrawn = None
        self.drawn_at = time.monotonic()
        self.draw_seconds = self.drawn_at - start

    def _weights(self) -> list[str]:
        """The run's weights files: checkpoint.pt, best.pt, the snapshots."""
        folder = os.path.join(self.dir, SNAPSHOTS)
        return [self.checkpoint, self.best, *(os.path.join(folder, n) for n in (
            os.listdir(folder) if os.path.isdir(folder) else ()))]

    def _footnote(self, history: list[dict[str, float]], stopped: bool, loss: bool = True) -> str:
        """A figure's footnote as results.py gives it (figures/notes.py), from what the run knows so
        far; loss: the figure plots a loss, which the report may have scaled."""
        report = STEPS.get(self.cfg.step)
        notes = setting_notes(self.cfg, self.exp.config, history, {"stopped_early": stopped})
        return plotting.footnote_for({self.cfg.step: notes},
                                     loss=report.loss_note if report and loss else "")

    def kept(self) -> str:
        """What a stopped run leaves: the phrase every stopping message ends with."""
        return (f"the checkpoint of epoch {self.checkpointed} is kept and --resume continues from it"
                if self.checkpointed else "no epoch had finished, so nothing was saved")

    def mark_interrupted(self, epoch: int, how: str = "interrupted") -> str:
        """Leave INTERRUPTED.txt in the run's folder; returns the one-line message, worded from what
        is saved (`checkpointed`): after the last epoch, only the run's end was left to do."""
        when = (f"after its last epoch, {self.checkpointed}, before its end (the kept weights on the "
                f"test set, summary.json)" if self.checkpointed >= self.cfg.epochs
                else f"during epoch {epoch}")
        message = f"{self.step}: {how} {when}; {self.kept()}"
        with contextlib.suppress(OSError):  # a full disk must not hide the interruption itself
            with atomic.replacing(os.path.join(self.dir, INTERRUPTED)) as f:
                f.write(f"{message}\n(at {time.strftime('%Y-%m-%d %H:%M:%S')}; add --resume to the "
                        f"command that started it)\n")
        return message

    def finish(self, end: dict[str, Any], history: list[dict[str, float]], best: int,
               confusion: list[list[int]], classes: list[str]) -> dict[str, Any]:
        """The run ended: keep only the snapshots the t-SNE shows, write the kept weights' confusion
        matrix (confusion.csv, its figure) and summary.json; returns what summary.json holds: `end`
        with the snapshots kept and each class's accuracy."""
        cfg = self.cfg
        end = {**end, **({"snapshots": prune_snapshots(self.dir, best)} if cfg.snapshots else {}),
               "per_class_accuracy": per_class_accuracy(confusion, classes)}
        write_confusion(os.path.join(self.dir, CONFUSION), confusion, classes)
        self._write_json(SUMMARY, end)
        draw_confusion(self.dir, cfg.step, cfg.keep, end,
                       self._footnote(history, end.get("stopped_early", False), loss=False))
        return end

    def _write_json(self, name: str, content: dict[str, Any]) -> None:
        with atomic.replacing(os.path.join(self.dir, name)) as f:
            json.dump(content, f, indent=2)


# ---------------------------------------------------------------------------------------------
# The confusion matrix of the kept weights on the test set
# ---------------------------------------------------------------------------------------------

def write_confusion(path: str, matrix: list[list[int]], classes: list[str]) -> None:
    """confusion.csv: a header of the predicted classes, then a row per true class with its counts."""
    with atomic.replacing(path, newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *classes])
        writer.writerows([name, *row] for name, row in zip(classes, matrix))


def draw_confusion(run_dir: str, step: str, keep: str, end: dict[str, Any],
                   footnote: str = "") -> list[str]:
    """confusion.png from the run's confusion.csv, titled with the weights it is of; [] without one."""
    found = read_confusion(run_dir)
    if found is None:
        return []
    weights = (f"the best epoch's weights (epoch {end['best_epoch']})"
               if keep == "best" and "best_epoch" in end else "the last epoch's weights")
    path = os.path.join(run_dir, CONFUSION_FIGURE)
    plotting.plot_confusion(found[1], found[0], f"{step}\n{weights} on the test set", path,
                            footnote=footnote)
    return [path]
