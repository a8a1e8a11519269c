"""A run's folder <out>/<step>/: RunFolder writes every file in it, Run and read_run read it back.

A step run with several seeds (--seeds) has a folder per seed inside its own, <out>/<step>/seed-<s>/;
read_step reads every run of a step back, and run_state says how far a run got (--resume).

What must survive a crash or a Ctrl-C is written here: atomic writes, moving an earlier run aside,
the INTERRUPTED marker, the free-space check, snapshots. What a checkpoint holds and how a run is
resumed from it is resume.py's; the run's figures against the report's are summary.py's.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

import plotting
import resume
from config import Config, Reported
from devices import environment
from errors import UserError, ctrl_c_deferred, first_line
from experiments import STEPS, Experiment, load_experiment, resolve_path
from optimizers import trainable_parameters
from summary import best_epoch, epoch_rows, mean_history, per_class_accuracy, setting_notes, summarize

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
SET_ASIDE = re.compile(r".+-\d{8}-\d{6}(-\d+)?")  # an earlier run's folder, moved by set_aside
LOG = "log.txt"  # a run's own output when it ran in a process of its own (--jobs, Slurm)
SEED_DIR = re.compile(r"seed-(\d+)")  # <out>/<step>/seed-<s>/: the run of one of several seeds
# In a step's folder, what belongs to its seeds rather than to its plain run: seed-<s>/, a seed
# folder set aside (seed-<s>-<date>-<time>/), the seeds' mean curves. Never moved with the plain run.
SEEDS_PREFIX = "seed"
SEEDS_CURVES = "seeds_loss_accuracy.png"  # the mean over a step's seeds, with their min-max band


# ---------------------------------------------------------------------------------------------
# Writing the run: atomic files, metrics, random states
# ---------------------------------------------------------------------------------------------

def save_atomic(path: str, state: dict[str, Any]) -> None:
    """Write a torch file atomically: a temp file, flushed to disk, then renamed over the old one.

    Killed at any moment, the process leaves either the old checkpoint or the new one, whole.
    """
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)  # half a checkpoint frees its space; the old one is untouched
        raise
    os.replace(tmp, path)
    if os.name == "posix":  # make the rename itself survive a power cut
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_weights(path: str, step: str) -> dict[str, Any]:
    """A weights file of the run (checkpoint.pt, best.pt, a snapshot), refused in one sentence naming
    it when it is missing, empty, damaged or not one; tensors and plain data only (weights_only)."""
    if not os.path.isfile(path):
        raise UserError(f"{step}: there is no {path}")
    if os.path.getsize(path) == 0:
        raise UserError(f"{path} is empty, not a weights file of {step}")
    if not zipfile.is_zipfile(path):  # cut short, overwritten, or never written by torch.save
        raise UserError(f"{path} is damaged: it is not the zip archive torch.save writes")
    try:
        # mmap: a checkpoint also holds the optimizer's state, which only --resume reads.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # damaged inside, or a pickle that would run code
        raise UserError(f"{path} is not a readable weights file of {step} ({first_line(e)})") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise UserError(f"{path} is not a weights file written by this kit (it lacks epoch, model)")
    return state


def load_weights(model: nn.Module, path: str, step: str) -> dict[str, Any]:
    """Load a weights file of the run (read_weights) into model; returns it.

    The one reader of saved weights: one sentence naming the file when it is missing, damaged or
    of another network.
    """
    state = read_weights(path, step)
    try:
        model.load_state_dict(state["model"])
    except Exception as e:  # another architecture
        raise UserError(f"{path} is not a readable weights file of {step} ({first_line(e)})") from None
    return state


def write_metrics(path: str, history: list[dict[str, float]]) -> None:
    """metrics.csv: one row per evaluation, the columns the rows have, in COLUMNS' order."""
    columns = [k for k in COLUMNS if any(k in row for row in history)]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row.get(k), float) else row.get(k, ""))
                             for k in columns})


def _number(key: str, text: str) -> float:
    return int(text) if key == "epoch" and text.lstrip("-").isdigit() else float(text)


# ---------------------------------------------------------------------------------------------
# The run's folder: writable, never overwritten silently, marked when interrupted
# ---------------------------------------------------------------------------------------------

def check_writable(out: str) -> None:
    """Refuse, before any training, an --out folder that cannot be created or written to."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out) as f:
            f.write(b"probe")
            f.flush()
    except OSError as e:
        raise UserError(f"--out {out}: cannot write there ({e.strerror or e}); choose a folder you "
                        f"can write to with --out") from None


def run_dir(out: str, step: str, seed: int | None = None) -> str:
    """A run's folder: <out>/<step>/, or <out>/<step>/seed-<seed>/ for one of several seeds."""
    return os.path.join(out, step) if seed is None else os.path.join(out, step, f"seed-{seed}")


def set_aside(run_dir: str) -> str | None:
    """Move an earlier run's folder to <run_dir>-<its time>, so that starting again loses nothing.

    The seeds' folders inside a step's folder stay where they are: only the plain run moves.
    """
    done = [os.path.join(run_dir, f) for f in ("metrics.csv", "checkpoint.pt")]
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

    existing: the bytes of the checkpoint the run replaces (a resumed run's); the disk is the one
    run_dir is (or will be) on.
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


SNAPSHOTS = "snapshots"  # <run>/snapshots/epoch-N.pt: the weights after epoch N (Config.snapshots)


def snapshot_path(run_dir: str, epoch: int) -> str:
    """Where the weights after `epoch` are kept when the run keeps snapshots."""
    return os.path.join(run_dir, SNAPSHOTS, f"epoch-{epoch}.pt")


def save_snapshot(run_dir: str, epoch: int, model: nn.Module) -> None:
    """The weights after `epoch`, weights only, written atomically."""
    os.makedirs(os.path.join(run_dir, SNAPSHOTS), exist_ok=True)
    save_atomic(snapshot_path(run_dir, epoch), {"epoch": epoch, "model": model.state_dict()})


def snapshot_epochs(best: int) -> tuple[int, ...]:
    """The epochs report 003's t-SNE shows: after epoch 1, in the middle (best // 2) and the best."""
    return tuple(sorted({1, max(1, best // 2), max(1, best)}))


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
    """<out>/<step>/ (with a seed: <out>/<step>/seed-<seed>/) and every file a run writes there, in
    the spirit of timm's CheckpointSaver.

    `checkpointed` is the epoch checkpoint.pt holds: the stopping messages say what is kept by it.
    """

    def __init__(self, out: str, step: str, seed: int | None = None) -> None:
        self.dir, self.step, self.checkpointed = run_dir(out, step, seed), step, 0
        self.keeps_best = False  # with a validation split: best.pt holds the best epoch's weights
        self.step_config = Config()  # the step's own (the report's setting): its curves say how it differs
        self.held: dict[str, Any] | None = None  # a best evaluation within the epoch (hold_best)
        self.checkpoint, self.best = os.path.join(self.dir, CHECKPOINT), os.path.join(self.dir, BEST)

    @property
    def ended(self) -> bool:
        """Whether the run in the folder ended (summary.json; a stopped or running one has none)."""
        return os.path.isfile(os.path.join(self.dir, SUMMARY))

    def resumable(self, cfg: Config) -> dict[str, Any]:
        """The checkpoint --resume goes on from; refuses by name one, or a best.pt, it cannot."""
        ckpt = resume.load_checkpoint(self.checkpoint, cfg)
        if cfg.val_split != "none":  # finishing the run tests best.pt's weights
            try:
                read_weights(self.best, cfg.step)
            except UserError as e:
                raise UserError(f"--resume: {e} (best.pt holds the best epoch's weights, which the "
                                f"run's end tests); run without --resume to start again (the old "
                                f"run is moved aside)") from None
        return ckpt

    def start(self, exp: Any, cfg: Config, model: nn.Module, device: torch.device,
              history: list[dict[str, float]], resumed: bool, keeps_best: bool) -> None:
        """Set an earlier run aside (unless resumed), then write what this run is and how to repeat it.

        Everything that can be refused is checked before the earlier run is moved.
        """
        self.checkpointed, self.keeps_best = len(epoch_rows(history)), keeps_best
        self.step_config = exp.config
        try:
            os.makedirs(os.path.dirname(self.dir) or ".", exist_ok=True)
            existing = os.path.getsize(self.checkpoint) if resumed else 0  # set aside otherwise
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
            with open(os.path.join(self.dir, EXPERIMENT), "w", encoding="utf-8") as f:
                f.write(exp.source)
            if history:  # an interruption may have left a row for an epoch the checkpoint lacks
                write_metrics(os.path.join(self.dir, METRICS), history)
            if keeps_best and not resumed:  # best.pt starts as the starting weights
                save_atomic(self.best, {"epoch": 0, "model": model.state_dict()})
        except OSError as e:
            raise UserError(f"{cfg.step}: cannot write the run's folder {self.dir} "
                            f"({e.strerror or e}); choose another --out") from None

    def hold_best(self, epoch: float, model: nn.Module) -> None:
        """A new best at an evaluation inside an epoch: its weights, written with the epoch's checkpoint.

        Kept in memory until then, so that best.pt never runs ahead of checkpoint.pt: a run stopped
        within the epoch evaluates it again when resumed.
        """
        self.held = {"epoch": epoch, "model": {k: v.detach().clone()
                                                for k, v in model.state_dict().items()}}

    def save_epoch(self, cfg: Config, epoch: int, model: nn.Module, optimizer: Any,
                   history: list[dict[str, float]], loaders: list[Any], stopper: Any,
                   improved: bool) -> None:
        """Everything an epoch leaves: metrics.csv, its figure, best.pt if it (or an evaluation within
        it, hold_best) improved, its snapshot, then checkpoint.pt; a full disk stops the run with the
        last checkpoint kept."""
        try:
            write_metrics(os.path.join(self.dir, METRICS), history)
            plotting.plot_loss_accuracy(history, cfg.step, os.path.join(self.dir, CURVES),
                                        best_epoch=stopper.best_epoch if self.keeps_best else None,
                                        footnote=self._footnote(cfg, history, stopper.stopped))
            with ctrl_c_deferred():  # the checkpoint and `checkpointed` always agree
                if improved:
                    save_atomic(self.best, {"epoch": epoch, "model": model.state_dict()})
                elif self.held is not None:
                    save_atomic(self.best, self.held)
                self.held = None
                if cfg.snapshots:  # before checkpoint.pt: a resumed run never lacks one
                    save_snapshot(self.dir, epoch, model)
                save_atomic(self.checkpoint, resume.checkpoint(cfg, epoch, model, optimizer, history,
                                                               loaders, stopper))
                self.checkpointed = epoch
        except OSError as e:
            raise UserError(f"{cfg.step}: could not write to {self.dir} ({e.strerror or e}); "
                            f"{self.kept()}; free some space first") from None

    def _footnote(self, cfg: Config, history: list[dict[str, float]], stopped: bool,
                  loss: bool = True) -> str:
        """A figure's footnote as results.py gives it (figures/notes.py), from what the run knows so
        far; loss: the figure plots a loss, which the report may have scaled."""
        report = STEPS.get(cfg.step)
        notes = setting_notes(cfg, self.step_config, history, {"stopped_early": stopped})
        return plotting.footnote_for({cfg.step: notes},
                                     loss=report.loss_note if report and loss else "")

    def kept(self) -> str:
        """What a stopped run leaves: the phrase every stopping message ends with."""
        return (f"the checkpoint of epoch {self.checkpointed} is kept and --resume continues from it"
                if self.checkpointed else "no epoch had finished, so nothing was saved")

    def mark_interrupted(self, epoch: int) -> str:
        """Leave INTERRUPTED.txt in the run's folder; returns the one-line message."""
        message = f"{self.step}: interrupted during epoch {epoch}; {self.kept()}"
        with contextlib.suppress(OSError):  # a full disk must not hide the interruption itself
            with open(os.path.join(self.dir, INTERRUPTED), "w") as f:
                f.write(f"{message}\n(at {time.strftime('%Y-%m-%d %H:%M:%S')}; add --resume to the "
                        f"command that started it)\n")
        return message

    def finish(self, cfg: Config, end: dict[str, Any], history: list[dict[str, float]], best: int,
               confusion: list[list[int]], classes: list[str]) -> None:
        """The run ended: keep only the snapshots the t-SNE shows, write the kept weights' confusion
        matrix (confusion.csv, its figure, each class's accuracy in end) and summary.json."""
        if cfg.snapshots:  # only now is the best epoch, and so the middle one, known
            end["snapshots"] = prune_snapshots(self.dir, best)
        end["per_class_accuracy"] = per_class_accuracy(confusion, classes)
        write_confusion(os.path.join(self.dir, CONFUSION), confusion, classes)
        self._write_json(SUMMARY, end)
        draw_confusion(self.dir, cfg.step, cfg.keep, end,
                       self._footnote(cfg, history, end.get("stopped_early", False), loss=False))

    def _write_json(self, name: str, content: dict[str, Any]) -> None:
        with open(os.path.join(self.dir, name), "w") as f:
            json.dump(content, f, indent=2)


# ---------------------------------------------------------------------------------------------
# The confusion matrix of the kept weights on the test set
# ---------------------------------------------------------------------------------------------

def write_confusion(path: str, matrix: list[list[int]], classes: list[str]) -> None:
    """confusion.csv: a header of the predicted classes, then a row per true class with its counts."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *classes])
        writer.writerows([name, *row] for name, row in zip(classes, matrix))


def read_confusion(run_dir: str) -> tuple[list[str], list[list[int]]] | None:
    """The class names and counts of a run's confusion.csv; None if it has none (an older run)."""
    path = os.path.join(run_dir, CONFUSION)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        classes, matrix = header[1:], [[int(c) for c in row[1:]] for row in rows]
        if [row[0] for row in rows] != classes or any(len(r) != len(classes) for r in matrix):
            raise ValueError("its rows and columns name different classes")
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable confusion matrix ({type(e).__name__}: {e})") from None
    return classes, matrix


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


# ---------------------------------------------------------------------------------------------
# Reading a run back
# ---------------------------------------------------------------------------------------------

@dataclass
class Run:
    """What a finished run left in <out>/<step>/, read back."""

    step: str
    dir: str
    history: list[dict[str, float]]
    config: Config
    info: dict[str, Any]  # config.json as written: parameters, reported, environment
    end: dict[str, Any] | None = None  # summary.json, written when the run ended: best epoch, kept weights
    mean_of: int = 1  # above 1: the mean of this many seeds' runs, epoch by epoch (mean_run)

    @property
    def seeded(self) -> bool:
        """Whether it is one of several seeds' runs (--seeds), in <out>/<step>/seed-<seed>/."""
        return SEED_DIR.fullmatch(os.path.basename(self.dir)) is not None

    @property
    def summary(self) -> dict[str, Any]:
        """The run's figures, named as config.Reported names them."""
        return summarize(self.history, self.end, self.config.keep, self.config.monitor)

    @property
    def best_epoch(self) -> float | None:
        """The epoch of the weights the run keeps as its best (summary.best_epoch); None without validation."""
        return best_epoch(self.history, self.end, self.config.monitor)

    def experiment(self) -> Experiment:
        """The experiment as it was run (the copy in its folder), else the step's file in experiments/."""
        copy = os.path.join(self.dir, "experiment.py")
        return load_experiment(copy if os.path.isfile(copy) else resolve_path(self.step))

    @property
    def device(self) -> str:
        """Where it ran, e.g. "cuda (NVIDIA H100 80GB HBM3)"."""
        env = self.info.get("environment", {})
        name = env.get("device_name")
        return f"{env.get('device', '?')} ({name})" if name else env.get("device", "?")


def read_history(path: str) -> list[dict[str, float]]:
    """metrics.csv as a list of per-epoch rows (epoch an int, the rest floats)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        history = [{k: _number(k, r[k]) for k in COLUMNS if r.get(k, "") != ""} for r in rows]
        missing = [k for k in REQUIRED_COLUMNS if history and k not in set().union(*history)]
        if missing:
            raise KeyError(f"no column {', '.join(missing)}")
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is not a readable metrics file ({type(e).__name__}: {e})") from None
    if not history:
        raise UserError(f"{path} has no epochs in it")
    return history


def read_run(run_dir: str) -> Run | None:
    """The run in run_dir, or None if it has no metrics.csv (never started, or no epoch finished)."""
    metrics = os.path.join(run_dir, "metrics.csv")
    if not os.path.isfile(metrics):
        return None
    history = read_history(metrics)
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            info = json.load(f)
        fields = {f.name for f in dataclasses.fields(Config)}
        # Keep only the fields this version knows: a run from another version still reads.
        cfg = Config(**{k: v for k, v in info["config"].items() if k in fields})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a readable run configuration ({type(e).__name__}: {e})") from None
    end = None
    with contextlib.suppress(OSError, ValueError):  # a run still going, or stopped, has none
        with open(os.path.join(run_dir, SUMMARY)) as f:
            end = json.load(f)
    return Run(cfg.step or os.path.basename(run_dir), run_dir, history, cfg, info, end)


def step_dirs(out: str, step: str) -> list[str]:
    """The folders that may hold a run of the step: <out>/<step>/, then its seeds' in seed order."""
    folder = os.path.join(out, step)
    seeds = sorted((int(m.group(1)), name) for name in (os.listdir(folder) if os.path.isdir(folder)
                                                        else []) if (m := SEED_DIR.fullmatch(name)))
    return [folder] + [os.path.join(folder, name) for _, name in seeds]


def read_step(out: str, step: str) -> list[Run]:
    """Every run of a step under out: its plain run first (if any), then its seeds' in seed order."""
    return [run for d in step_dirs(out, step) if (run := read_run(d)) is not None]


def compared(step_runs: list[Run]) -> list[Run]:
    """The runs a step is compared with the report on: its seeds' when it has any, else its plain run.

    A plain run beside seed runs is left out: it may be of another setting, or repeat one of the seeds.
    """
    seeded = [r for r in step_runs if r.seeded]
    return seeded or step_runs[:1]


def mean_run(step_runs: list[Run]) -> Run:
    """One run, or the mean of several seeds' runs epoch by epoch, as report figures draw a step.

    Over the epochs every seed reached; its folder, configuration and weights are the first seed's.
    """
    if len(step_runs) == 1:
        return step_runs[0]
    first = step_runs[0]
    history = mean_history([r.history for r in step_runs])[0]
    return Run(first.step, first.dir, history, first.config, first.info, None, len(step_runs))


FINISHED, STARTED, NEW = "finished", "started", "new"  # run_state's answers


def run_state(folder: str, epochs: int) -> str:
    """How far the run in folder got, for --resume: FINISHED, STARTED (it has a checkpoint) or NEW.

    Finished: summary.json, no INTERRUPTED.txt, and `epochs` trained or early stopping ended it (a
    larger --epochs continues a finished run, as --resume always did).
    """
    end = None
    if not os.path.exists(os.path.join(folder, INTERRUPTED)):
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(folder, SUMMARY)) as f:
                end = json.load(f)
    if isinstance(end, dict) and (end.get("stopped_early") or end.get("epochs", 0) >= epochs):
        return FINISHED
    return STARTED if os.path.isfile(os.path.join(folder, CHECKPOINT)) else NEW


def finished_line(folder: str, asked: int) -> str:
    """What --resume says of a finished run (run_state): 'already has 3 epochs', or stopped early."""
    with open(os.path.join(folder, SUMMARY)) as f:
        end = json.load(f)
    return resume.ended_line(end.get("epochs", 0), bool(end.get("stopped_early")),
                             end.get("best_epoch"), asked) or "finished"


def reported_for(step: str, run: Run | None) -> Reported | None:
    """The report's figures for a step: as the run saved them, else from its experiment file."""
    if run is not None and run.info.get("reported"):
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in run.info["reported"].items()}
        return Reported(**{k: v for k, v in given.items() if k in Reported.__dataclass_fields__})
    if step in STEPS:
        return load_experiment(resolve_path(step)).reported
    return None
