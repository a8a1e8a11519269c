"""Reading a run's folder back: its metrics and confusion matrix, the Run (read_run), every run of
a step (read_step: its plain run, then its seeds'), and how far a run got (run_state, for --resume).

The file names are run_folder/__init__.py's; the writer is run_folder/writer.py; reading saved
weights is run_folder/checkpoint.py's; the run's figures against the report's are summary.py's.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

from config import FIGURES, Config, Reported, check_config
from errors import UserError
from experiments import STEPS, Experiment, load_experiment, resolve_path
from run_folder import (COLUMNS, CONFIG, CONFUSION, EXPERIMENT, INTERRUPTED, METRICS, CHECKPOINT,
                        REQUIRED_COLUMNS, SEED_DIR, SUMMARY)
from summary import best_epoch, mean_history, summarize


# ---------------------------------------------------------------------------------------------
# Reading a run's files: metrics, the confusion matrix
# ---------------------------------------------------------------------------------------------

def _number(key: str, text: str) -> float:
    return int(text) if key == "epoch" and text.lstrip("-").isdigit() else float(text)


def read_history(path: str) -> list[dict[str, float]]:
    """metrics.csv as a list of per-epoch rows (epoch an int, the rest floats), each value checked."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        history = [{k: _number(k, r[k]) for k in COLUMNS if r.get(k, "") != ""} for r in rows]
        missing = [k for k in REQUIRED_COLUMNS if history and k not in set().union(*history)]
        if missing:
            raise KeyError(f"no column {', '.join(missing)}")
        for n, row in enumerate(history, 2):  # the header is line 1
            for key, value in row.items():
                what, good = _METRIC[key.rsplit("_", 1)[-1]]
                if not good(value):
                    raise ValueError(f"line {n}: {key} {value} is not {what}")
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is not a readable metrics file ({type(e).__name__}: {e})") from None
    if not history:
        raise UserError(f"{path} has no epochs in it")
    return history


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

# ---------------------------------------------------------------------------------------------
# What a run's files may hold: every value read back is checked here, once, so that a damaged
# file is one line naming it, never an error where the value is used (a figure, a page)
# ---------------------------------------------------------------------------------------------

def _real(v: Any, low: float = -math.inf, high: float = math.inf) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and low <= v <= high)


def _whole(v: Any, low: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


Check = tuple[str, Callable[[Any], bool]]  # what a value must be, in words; whether it is
PERCENT: Check = ("a percentage", lambda v: _real(v, 0, 100))
_METRIC: dict[str, Check] = {  # metrics.csv's columns, by the last word of their name
    "epoch": ("an epoch number, at least 0", lambda v: _real(v, 0)), "accuracy": PERCENT,
    "loss": ("a loss, at least 0", lambda v: _real(v, 0)), "seconds": ("a time, at least 0",
                                                                      lambda v: _real(v, 0))}
SUMMARY_CHECKS: dict[str, Check] = {  # the keys of summary.json that the kit reads
    "epochs": ("a whole number of epochs, at least 1", lambda v: _whole(v, 1)),
    "stopped_early": ("true or false", lambda v: isinstance(v, bool)),
    "best_epoch": ("an epoch number, at least 0", lambda v: _real(v, 0)),
    "best_test_loss": ("a loss, at least 0", lambda v: _real(v, 0)),
    "best_test_accuracy": PERCENT, "full_test_accuracy": PERCENT,
    "snapshots": ("a list of epoch numbers", lambda v: isinstance(v, list) and all(map(_whole, v))),
    "per_class_accuracy": ("each class's name and its percentage (or null)", lambda v: isinstance(
        v, dict) and all(isinstance(k, str) and (x is None or PERCENT[1](x)) for k, x in v.items())),
}
_FIGURE: Check = ("a number, a [low, high] range or null", lambda v: v is None or _real(v) or (
    isinstance(v, list) and len(v) == 2 and all(map(_real, v))))
INFO_CHECKS: dict[str, Check] = {  # config.json's keys; "config"'s settings: config.check_config
    "parameters": ("a whole number or null", lambda v: v is None or _whole(v)),
    "reported": ("the report's figures by name, or null", lambda v: v is None or (isinstance(
        v, dict) and all(_FIGURE[1](x) for k, x in v.items() if k in FIGURES)
        and v.get("headline", "") in ("", *FIGURES))),
    "environment": ("an object", lambda v: isinstance(v, dict)),
    "config": ("an object", lambda v: isinstance(v, dict)),
}


def _checked(path: str, content: Any, checks: dict[str, Check]) -> dict[str, Any]:
    """content, if it is a JSON object whose keys named in checks hold what they must."""
    if not isinstance(content, dict):
        raise UserError(f"{path} is damaged: it holds {type(content).__name__}, not an object")
    for key, (what, good) in checks.items():
        if key in content and not good(content[key]):
            raise UserError(f"{path} is damaged: {key} is {json.dumps(content[key])[:60]}, not {what}")
    return content


def _json(path: str) -> Any:
    """A JSON file of a run; FileNotFoundError if there is none, UserError if it is not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is damaged: not readable JSON ({type(e).__name__}: {e})") from None


def read_summary(run_dir: str) -> dict[str, Any] | None:
    """summary.json, checked (SUMMARY_CHECKS); None if the run has none (it has not ended)."""
    path = os.path.join(run_dir, SUMMARY)
    try:
        content = _json(path)
    except FileNotFoundError:
        return None
    try:
        return _checked(path, content, SUMMARY_CHECKS)
    except UserError as e:  # written when the run ended, from its checkpoint: --resume writes it again
        raise UserError(f"{e}; delete it and add --resume to write it again") from None


def read_info(run_dir: str) -> tuple[dict[str, Any], Config]:
    """config.json, checked: what it holds, and the run's Config (its settings, each in range)."""
    path = os.path.join(run_dir, CONFIG)
    info = _checked(path, _json(path), INFO_CHECKS)
    fields = {f.name for f in dataclasses.fields(Config)}
    # Only the fields this version knows: a run from another version still reads.
    given = {k: v for k, v in info.get("config", {}).items() if k in fields}
    try:
        cfg = Config(**given)
        check_config(cfg)
    except (TypeError, UserError) as e:  # check_config names the step: the path names it here
        why = str(e).removeprefix(f"{given.get('step')}: ")
        raise UserError(f"{path} is damaged: {why}") from None
    return info, cfg


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
        copy = os.path.join(self.dir, EXPERIMENT)
        return load_experiment(copy if os.path.isfile(copy) else resolve_path(self.step))

    @property
    def device(self) -> str:
        """Where it ran, e.g. "cuda (NVIDIA H100 80GB HBM3)"."""
        env = self.info.get("environment", {})
        name = env.get("device_name")
        return f"{env.get('device', '?')} ({name})" if name else env.get("device", "?")


def read_run(run_dir: str) -> Run | None:
    """The run in run_dir, or None if it has no metrics.csv (never started, or no epoch finished)."""
    metrics = os.path.join(run_dir, METRICS)
    if not os.path.isfile(metrics):
        return None
    history = read_history(metrics)
    info, cfg = read_info(run_dir)
    end = read_summary(run_dir)  # a run still going, or stopped, has none
    return Run(cfg.step or os.path.basename(run_dir), run_dir, history, cfg, info, end)


def attempt_read(run_dir: str, problems: list[str]) -> Run | None:
    """read_run, with a damaged run recorded as a problem instead of raised."""
    try:
        return read_run(run_dir)
    except UserError as e:
        problems.append(str(e))
        return None


def step_dirs(out: str, step: str) -> list[str]:
    """The folders that may hold a run of the step: <out>/<step>/, then its seeds' in seed order."""
    folder = os.path.join(out, step)
    seeds = sorted((int(m.group(1)), name) for name in (os.listdir(folder) if os.path.isdir(folder)
                                                        else []) if (m := SEED_DIR.fullmatch(name)))
    return [folder] + [os.path.join(folder, name) for _, name in seeds]


# The shapes a step's runs come in, named for what they hold.
StepRuns = list[Run]  # every run of one step: its plain run first, then its seeds' in seed order
RunsByStep = dict[str, StepRuns]  # a report's (or a command's) runs, by step


def read_step(out: str, step: str, problems: list[str] | None = None) -> StepRuns:
    """Every run of a step under out: its plain run first (if any), then its seeds' in seed order.

    problems: where a damaged run is recorded and left out (attempt_read); without it, it is raised.
    """
    if problems is None:
        return [run for d in step_dirs(out, step) if (run := read_run(d)) is not None]
    return [run for d in step_dirs(out, step) if (run := attempt_read(d, problems)) is not None]


def compared(step_runs: StepRuns) -> StepRuns:
    """The runs a step is compared with the report on: its seeds' when it has any, else its plain run.

    A plain run beside seed runs is left out: it may be of another setting, or repeat one of the seeds.
    """
    seeded = [r for r in step_runs if r.seeded]
    return seeded or step_runs[:1]


def mean_run(step_runs: StepRuns) -> Run:
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
    end = None if os.path.exists(os.path.join(folder, INTERRUPTED)) else read_summary(folder)
    if end is not None and (end.get("stopped_early") or end.get("epochs", 0) >= epochs):
        return FINISHED
    return STARTED if os.path.isfile(os.path.join(folder, CHECKPOINT)) else NEW


def ended_line(epochs: int, stopped: bool, best: float | None, asked: int) -> str | None:
    """The sentence --resume says of a run with nothing left to train, or None if it has."""
    if stopped:
        return (f"already stopped early at epoch {epochs} (its best was epoch {best:g}); nothing was "
                f"changed: run without --resume to train it again (the old run is moved aside)")
    if epochs >= asked:
        return (f"already has {epochs} epoch{'s' if epochs != 1 else ''} (--epochs {asked}); "
                f"nothing was changed: give a larger --epochs to train on")
    return None


def finished_line(folder: str, asked: int) -> str:
    """What --resume says of a finished run (run_state): 'already has 3 epochs', or stopped early."""
    end = read_summary(folder) or {}
    return ended_line(end.get("epochs", 0), bool(end.get("stopped_early")),
                             end.get("best_epoch"), asked) or "finished"


def reported_for(step: str, run: Run | None) -> Reported | None:
    """The report's figures for a step: as the run saved them, else from its experiment file."""
    if run is not None and run.info.get("reported"):
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in run.info["reported"].items()}
        return Reported(**{k: v for k, v in given.items() if k in Reported.__dataclass_fields__})
    if step in STEPS:
        return load_experiment(resolve_path(step)).reported
    return None
