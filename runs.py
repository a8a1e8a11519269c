"""A run's folder: metrics.csv, checkpoint.pt, best.pt, summary.json, and reading them back.

Everything that must survive a crash or a Ctrl-C lives here: atomic writes, resume, moving an
earlier run aside, the INTERRUPTED marker, the free-space check, holding Ctrl-C while a checkpoint
is written. Also the one summary of a run that the end-of-run line and the results tables share.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
import torchvision
from torch import nn

from config import Config, fields_with
from experiments import Experiment, load_experiment, resolve_path
from summary import best_epoch, summarize
from errors import UserError, first_line

# metrics.csv's columns in order; the validation ones only when the run has a validation split.
# train_eval_*: the training set evaluated in eval mode, in runs with extra evaluations (eval_every).
COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
           "test_accuracy", "train_eval_loss", "train_eval_accuracy", "seconds")
REQUIRED_COLUMNS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")
CHECKPOINT = "checkpoint.pt"  # the last finished epoch: model, optimizer, history, RNG, early stopping
BEST = "best.pt"  # the weights of the best validation epoch
SUMMARY = "summary.json"  # written when a run ends: best epoch, whether it stopped early, kept weights
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "history", "rng", "config", "architecture")
INTERRUPTED = "INTERRUPTED.txt"  # in a run's folder while its last run was stopped by Ctrl-C
SET_ASIDE = re.compile(r".+-\d{8}-\d{6}(-\d+)?")  # an earlier run's folder, moved by set_aside


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


def save_epoch(run_dir: str, cfg: Config, epoch: int, model: nn.Module, optimizer: Any,
               history: list[dict[str, float]], loaders: list[Any], early_stopping: dict[str, Any],
               improved: bool) -> None:
    """Everything an epoch leaves: best.pt if it improved, its snapshot, then checkpoint.pt."""
    if improved:
        save_atomic(os.path.join(run_dir, BEST), {"epoch": epoch, "model": model.state_dict()})
    if cfg.snapshots:  # before checkpoint.pt: a resumed run never lacks one
        save_snapshot(run_dir, epoch, model)
    save_atomic(os.path.join(run_dir, CHECKPOINT), {
        "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "history": history, "rng": rng_state(loaders), "config": dataclasses.asdict(cfg),
        "architecture": repr(model), "early_stopping": early_stopping})


def load_checkpoint(path: str, cfg: Config) -> dict[str, Any]:
    """Read a checkpoint for --resume, refusing by name one that is missing, damaged or of other data."""
    if not os.path.isfile(path):
        raise UserError(f"--resume: there is no checkpoint at {path}; run without --resume "
                        f"to start {cfg.step} from scratch")
    try:
        # weights_only: tensors and plain data only; a pickle that would run code is refused unrun.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, empty, not a checkpoint, or a pickle with code in it
        raise UserError(f"--resume: {path} is not a readable checkpoint "
                        f"({first_line(e)}); run without --resume to start again") from None
    if not isinstance(ckpt, dict) or not set(CHECKPOINT_KEYS) - {"architecture"} <= set(ckpt):
        raise UserError(f"--resume: {path} is not a checkpoint written by this kit (it lacks "
                        f"{', '.join(CHECKPOINT_KEYS)}); run without --resume to start again")
    saved, now = ckpt["config"], dataclasses.asdict(cfg)
    # The seed generates synthetic data and draws a random split: then it must match too.
    keys = fields_with("resume") + (("seed",) if cfg.dataset == "synthetic"
                                    or cfg.val_split == "random" else ())
    differs = [k for k in keys if saved.get(k, Config.__dataclass_fields__[k].default) != now[k]]
    if differs:
        was = ", ".join(f"{k} {saved.get(k, Config.__dataclass_fields__[k].default)}" for k in differs)
        asked = ", ".join(f"{k} {now[k]}" for k in differs)
        raise UserError(f"--resume: {path} was trained with {was}, but this run has {asked}; "
                        f"resume with the same options, or run without --resume to start again "
                        f"(the old run is moved aside)")
    return ckpt


def load_weights(model: nn.Module, path: str, step: str) -> dict[str, Any]:
    """Load a weights file of the run (checkpoint.pt, best.pt, a snapshot) into model; returns it.

    The one reader of saved weights: tensors and plain data only (weights_only), and one sentence
    naming the file when it is missing, damaged or of another network.
    """
    if not os.path.isfile(path):
        raise UserError(f"{step}: there is no {path}")
    if os.path.getsize(path) == 0:
        raise UserError(f"{path} is empty, not a weights file of {step}")
    try:
        # mmap: a checkpoint also holds the optimizer's state, which only --resume reads.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        model.load_state_dict(state["model"])
    except Exception as e:  # truncated, empty, foreign, or another architecture
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


def rng_state(loaders: list[Any]) -> dict[str, Any]:
    """Every random state a run draws from: torch's, each loader's (train, then validation) and CUDA's."""
    state = {"torch": torch.get_rng_state(), "data": loaders[0].generator.get_state(),
             "loaders": [loader.generator.get_state() for loader in loaders[1:]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], loaders: list[Any]) -> None:
    """Put back what rng_state saved."""
    torch.set_rng_state(state["torch"])
    loaders[0].generator.set_state(state["data"])
    for loader, saved in zip(loaders[1:], state.get("loaders", [])):
        loader.generator.set_state(saved)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and hardware, saved beside each run so that it can be reproduced."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else cpu_name()),
        "cpu_threads": torch.get_num_threads(),
    }


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows of it."""
    with contextlib.suppress(OSError):  # Linux names the model; elsewhere the architecture must do
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()



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


def set_aside(run_dir: str) -> str | None:
    """Move an earlier run's folder to <run_dir>-<its time>, so that starting again loses nothing."""
    done = [os.path.join(run_dir, f) for f in ("metrics.csv", "checkpoint.pt")]
    done = [f for f in done if os.path.exists(f)]
    if not done:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(max(os.path.getmtime(f) for f in done)))
    target, n = f"{run_dir}-{stamp}", 1
    while os.path.exists(target):
        target, n = f"{run_dir}-{stamp}-{n}", n + 1
    os.rename(run_dir, target)
    return target


def check_free_space(run_dir: str, model: nn.Module, ckpt_path: str, snapshots: int = 0) -> None:
    """Refuse, before training, a disk without room for the run's checkpoints (and `snapshots` epochs' weights)."""
    # A checkpoint holds the weights and Adam's two moments; while one is written the old one stays.
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    size = 3 * trainable + sum(b.numel() * b.element_size() for b in model.buffers())
    existing = os.path.getsize(ckpt_path) if os.path.exists(ckpt_path) else 0
    # best.pt holds the weights only: one more copy of them.
    need = 2 * size + trainable - existing + (16 << 20)
    need += snapshots * (size - 2 * trainable)  # weights and buffers, until prune_snapshots
    free = shutil.disk_usage(run_dir).free
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


def kept(saved: int) -> str:
    """What a stopped run leaves: the phrase every stopping message ends with."""
    return (f"the checkpoint of epoch {saved} is kept and --resume continues from it"
            if saved else "no epoch had finished, so nothing was saved")


def exit_at_once(signum: int, frame: Any) -> None:
    """A second Ctrl-C: exit now, without cleaning up."""
    os.write(2, b"\ninterrupted again: exiting now\n")
    os._exit(130)


def mark_interrupted(run_dir: str, cfg: Config, epoch: int, saved: int) -> str:
    """Leave INTERRUPTED.txt in the run's folder; returns the one-line message."""
    message = f"{cfg.step}: interrupted during epoch {epoch}; {kept(saved)}"
    with contextlib.suppress(OSError):  # a full disk must not hide the interruption itself
        with open(os.path.join(run_dir, INTERRUPTED), "w") as f:
            f.write(f"{message}\n(at {time.strftime('%Y-%m-%d %H:%M:%S')}; add --resume to the "
                    f"command that started it)\n")
    return message


@contextlib.contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends, so that a checkpoint and its record always agree."""
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if caught:  # the second one: do not wait
            exit_at_once(signum, frame)
        caught.append(signum)

    previous = on_sigint(hold)
    try:
        yield
    finally:
        if previous is not None:
            on_sigint(previous)
    if caught:
        raise KeyboardInterrupt


def on_sigint(handler: Any) -> Any:
    """Install a SIGINT handler where Python allows it (the main thread); returns the previous one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)



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
