"""A run's folder <out>/<step>/: where its files are, by name. One home for everything about it:

    run_folder/__init__.py     the file names, run_dir (this file; it imports nothing of torch)
    run_folder/writer.py       RunFolder, the one writer of a run's folder (like timm's
                               CheckpointSaver): atomic writes, moving an earlier run aside, snapshots
    run_folder/lock.py         one writer at a time: <run>.lock beside the folder while a process
                               trains it (its pid and host), refused or taken over from a dead one
    run_folder/reader.py       reading a run back: Run, read_run, read_step (all seeds of a step),
                               run_state (how far a run got, for --resume)
    run_folder/checkpoint.py   what checkpoint.pt holds, reading it for --resume, putting a run back
                               as it was; reading saved weights (load_weights)

A step run with several seeds (--seeds) has a folder per seed inside its own, <out>/<step>/seed-<s>/.
"""
from __future__ import annotations

import os
import re

# metrics.csv's columns in order; the validation ones only when the run has a validation split.
# train_eval_*: the training set evaluated in eval mode, in runs with extra evaluations (eval_every).
COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
           "test_accuracy", "train_eval_loss", "train_eval_accuracy", "seconds")
REQUIRED_COLUMNS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")
CHECKPOINT = "checkpoint.pt"  # the last finished epoch: model, optimizer, history, RNG, early stopping
BEST = "best.pt"  # the weights of the best validation epoch
SUMMARY = "summary.json"  # written when a run ends: best epoch, whether it stopped early, kept weights
CONFIG = "config.json"  # the resolved configuration, parameters, the report's figures, environment
EXPERIMENT = "experiment.py"  # a copy of the experiment file that was run
METRICS = "metrics.csv"  # one row per evaluation
CURVES = "loss_accuracy.png"  # the run's loss and accuracy per epoch
CONFUSION = "confusion.csv"  # the kept weights on the test set: images of each class by prediction
CONFUSION_FIGURE = "confusion.png"  # confusion.csv drawn (CIFAR-100: its 20 most confused pairs)
INTERRUPTED = "INTERRUPTED.txt"  # in a run's folder while its last run was stopped by Ctrl-C
SET_ASIDE = re.compile(r".+-\d{8}-\d{6}(-\d+)?")  # an earlier run's folder (run_folder.set_aside)
LOG = "log.txt"  # a run's own output when it ran in a process of its own (--jobs, Slurm)
SEED_DIR = re.compile(r"seed-(\d+)")  # <out>/<step>/seed-<s>/: the run of one of several seeds
# In a step's folder, what belongs to its seeds rather than to its plain run: seed-<s>/, a seed
# folder set aside (seed-<s>-<date>-<time>/), the seeds' mean curves. Never moved with the plain run.
SEEDS_PREFIX = "seed"
SEEDS_CURVES = "seeds_loss_accuracy.png"  # the mean over a step's seeds, with their min-max band
SNAPSHOTS = "snapshots"  # <run>/snapshots/epoch-N.pt: the weights after epoch N (Config.snapshots)


# ---------------------------------------------------------------------------------------------
# Where a run's files are
# ---------------------------------------------------------------------------------------------

def run_dir(out: str, step: str, seed: int | None = None) -> str:
    """A run's folder: <out>/<step>/, or <out>/<step>/seed-<seed>/ for one of several seeds."""
    return os.path.join(out, step) if seed is None else os.path.join(out, step, f"seed-{seed}")

def snapshot_path(run_dir: str, epoch: int) -> str:
    """Where the weights after `epoch` are kept when the run keeps snapshots."""
    return os.path.join(run_dir, SNAPSHOTS, f"epoch-{epoch}.pt")

def snapshot_epochs(best: int) -> tuple[int, ...]:
    """The epochs report 003's t-SNE shows: after epoch 1, in the middle (best // 2) and the best."""
    return tuple(sorted({1, max(1, best // 2), max(1, best)}))
