"""TensorBoard event files from the runs' metrics.csv: python results.py --tensorboard.

Written after the fact from metrics.csv, not during training: a resumed run is then one continuous
curve (its metrics.csv holds every epoch, whichever process trained it), and the training loop keeps
no writer. torch's own SummaryWriter writes the files; it needs the tensorboard package, an optional
dependency (the tensorboard extra, pyproject.toml), named in one line when it is missing.

    OUT/tensorboard/<step>/            a step's run
    OUT/tensorboard/<step>/seed-<S>/   the run of one of its seeds (--seeds)

View them with `tensorboard --logdir OUT/tensorboard`.
"""
from __future__ import annotations

import glob
import os
import shutil
from typing import Any

from run_folder import reader
from errors import UserError

FOLDER = "tensorboard"  # under OUT/
# TensorBoard's steps are whole numbers; a run with evaluations within an epoch (report 004's
# halves) is written in the first of these fractions of an epoch that places every evaluation.
SCALES = (1, 2, 4, 5, 10, 20, 100)


def writer_class() -> Any:
    """torch's SummaryWriter, or one sentence saying what to install (before anything is written)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch imports it only where the tensorboard package is there
        raise UserError("--tensorboard needs the tensorboard package, which is not installed: pip "
                        "install -e '.[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter


def step_scale(epochs: list[float]) -> int:
    """The steps per epoch that make every evaluation's epoch a whole step (SCALES)."""
    for k in SCALES:
        if all(abs(e * k - round(e * k)) < 1e-6 for e in epochs):
            return k
    return SCALES[-1]  # finer than a hundredth of an epoch: rounded to the nearest hundredth


def tag(column: str) -> str:
    """metrics.csv's column as a TensorBoard tag: val_loss -> loss/val, seconds -> seconds/epoch."""
    if column == "seconds":
        return "seconds/epoch"
    split, _, metric = column.rpartition("_")
    return f"{metric}/{split}"


def write(out: str, steps: list[str], problems: list[str]) -> list[str]:
    """Every run of these steps under out as TensorBoard event files; returns the folders written.

    A folder's earlier event files are replaced, so that writing again never doubles a curve; a run
    that cannot be read is one line in problems.
    """
    summary_writer = writer_class()
    written = []
    for step in steps:
        for run in reader.read_step(out, step, problems):
            logdir = os.path.join(out, FOLDER, os.path.relpath(run.dir, out))
            # Written beside, then moved in: a failure (a full disk) leaves the earlier files whole.
            shutil.rmtree(f"{logdir}.tmp", ignore_errors=True)
            k = step_scale([row["epoch"] for row in run.history])
            with summary_writer(f"{logdir}.tmp") as w:
                if k > 1:
                    w.add_text("steps", f"{step}: {k} steps per epoch (evaluations within epochs); "
                                        f"step {k} is the end of epoch 1")
                for row in run.history:
                    at = round(row["epoch"] * k)
                    for column, value in row.items():
                        if column != "epoch":
                            w.add_scalar(tag(column), value, at)
            for old in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
                os.remove(old)
            os.makedirs(logdir, exist_ok=True)
            for new in os.listdir(f"{logdir}.tmp"):
                os.replace(os.path.join(f"{logdir}.tmp", new), os.path.join(logdir, new))
            os.rmdir(f"{logdir}.tmp")
            written.append(logdir)
    return written
