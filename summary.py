"""A run's figures under the names config.Reported gives them, and the console's lines of a run.

One summary serves the end-of-run line, main.py's tables and results.py's tables. Several seeds'
runs are aggregated here too (Spread: mean, std, n, min, max); whether they reproduce the report is
compare.py's, which every line and table renders.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from config import FIGURES, REPORTS_PRECISION, Config, fields_with
from early_stopping import MONITORS

if TYPE_CHECKING:
    from compare import Comparison
    from experiments import Report

# The figures a run outside the reports' table is shown with (a report names its own columns).
DEFAULT_COLUMNS = ("best_val_accuracy", "test_accuracy", "train_loss")


def epoch_rows(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """The rows of whole epochs (with their time), without the evaluations between them (eval_every)."""
    return [r for r in history if "seconds" in r]


def best_epoch(history: list[dict[str, float]], end: dict[str, Any] | None = None,
               monitor: str = "val_accuracy") -> float | None:
    """The epoch whose weights a run keeps as its best: the one reading every table and figure uses.

    A run that ended recorded it (early stopping's choice over every evaluation, the epoch of
    best.pt); before the run ended, it is the best evaluation by `monitor` (the first of equals).
    None without a validation split.
    """
    if not history or monitor not in history[-1]:
        return None
    if end and "best_epoch" in end:
        return end["best_epoch"]
    pick = max if MONITORS[monitor] == "max" else min
    return pick(history, key=lambda r: r.get(monitor, float("nan")))["epoch"]


def summarize(history: list[dict[str, float]], end: dict[str, Any] | None = None,
              keep: str = "last", monitor: str = "val_accuracy") -> dict[str, Any]:
    """A run's figures under config.Reported's names, from its metrics and what it recorded at its end.

    The test figures are the kept weights': the last epoch's, or with keep="best" the best
    validation epoch's (evaluated on the test set when the run ended).
    """
    last = history[-1]
    s: dict[str, Any] = {k: v for k, v in last.items() if k not in ("epoch", "seconds")}
    s["epochs"] = len(epoch_rows(history))
    s["minutes"] = sum(r["seconds"] for r in epoch_rows(history)) / 60
    if "val_accuracy" in last:
        best = max(history, key=lambda r: r["val_accuracy"])  # the first of equals
        lowest = min(history, key=lambda r: r["val_loss"])
        s["best_val_accuracy"] = best["val_accuracy"]
        s["lowest_val_loss"], s["lowest_val_loss_epoch"] = lowest["val_loss"], lowest["epoch"]
        s["best_epoch"] = best_epoch(history, end, monitor)
        at_best = next((r for r in history if r["epoch"] == s["best_epoch"]), None)
        if at_best is not None and "train_accuracy" in at_best:
            s["train_accuracy_at_best"] = at_best["train_accuracy"]
        if len(history) > s["epochs"] and len(history) >= 4:
            # Report 004's starter printed the 4th-last evaluation as its "final" figures.
            s["val_accuracy_4th_last"] = history[-4]["val_accuracy"]
            s["test_accuracy_4th_last"] = history[-4]["test_accuracy"]
    if end and keep == "best" and "best_test_accuracy" in end:
        s["test_accuracy"], s["test_loss"] = end["best_test_accuracy"], end["best_test_loss"]
    if end and "full_test_accuracy" in end:  # test_limit: the kept weights on every test image
        s["full_test_accuracy"] = end["full_test_accuracy"]
    return s


def per_class_accuracy(confusion: list[list[int]], classes: list[str]) -> dict[str, float | None]:
    """Each class's accuracy (%) from a confusion matrix [true][predicted]; None for a class with no image."""
    return {name: 100 * row[i] / sum(row) if sum(row) else None
            for i, (name, row) in enumerate(zip(classes, confusion))}


def figure_text(name: str, value: Any) -> str:
    """A figure as tables print it: 73.6%, 0.803, epoch numbers as integers, ranges as 60-65%."""
    unit = FIGURES.get(name, ("", ""))[1]
    if isinstance(value, (tuple, list)):
        return "-".join(figure_text(name, v).rstrip("%") for v in value) + unit
    if name.endswith("epoch") or name == "epochs":
        return f"{value:g}"
    digits = 2 if unit == "%" else (1 if name == "minutes" else 4)
    return f"{value:.{digits}f}{unit}" if isinstance(value, float) else f"{value:g}{unit}"


def setting_notes(cfg: Config, step_config: Config, history: list[dict[str, float]],
                  end: dict[str, Any] | None, interrupted: bool = False) -> list[str]:
    """How a run's setting differs from its step's (the report's); an empty list if it does not."""
    notes = [f"{k} {getattr(cfg, k)}" for k in fields_with("setting")
             if getattr(cfg, k) != getattr(step_config, k)]
    if cfg.precision not in (REPORTS_PRECISION, "auto"):  # auto: a run from before it was recorded
        notes.append(f"precision {cfg.precision}")
    if cfg.epochs != step_config.epochs:
        notes.append(f"epochs {cfg.epochs} (report: {step_config.epochs})")
    done = len(epoch_rows(history))
    if done < cfg.epochs and not (end and end.get("stopped_early")):
        notes.append(f"{done} of {cfg.epochs} epochs")
    if interrupted:
        notes.append("interrupted (Ctrl-C)")
    return notes


def compare_line(comparison: Comparison, summary: dict[str, Any], columns: tuple[str, ...],
                 report: Report | None) -> str:
    """The end-of-run lines: the run's figures beside the report's with each verdict (compare.py's
    records, rendered), then the step's verdict and the sentence that explains it. A step of a
    report that gives no figure for it still names how its setting differs."""
    hardware = report.hardware if report else ""
    shown = [c for c in columns if c in summary and c != "minutes"]
    line = f"{comparison.step}: " + ", ".join(f"{FIGURES[c][0]} {figure_text(c, summary[c])}"
                                              for c in shown)
    line += f", {summary['minutes']:.1f} min over {summary['epochs']} epochs"
    given = [r for r in comparison.records if r.reported is not None]
    if given:
        line += " | report: " + ", ".join(
            f"{r.label} {r.theirs}" + (f" ({r.cell})" if r.cell != "-" else "") for r in given)
        if any(r.figure == "minutes" for r in given) and hardware:
            line += f" on a {hardware}"
    if not given:
        notes = f" (not the report's setting: {', '.join(comparison.notes)})"
        return line + (notes if report and comparison.notes else "")
    return line + f"\n{comparison.step}: {comparison.verdict}. {comparison.sentence}"


def duration(seconds: float) -> str:
    """A time span as people say it: 40 s, 12 min, 2.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def epoch_line(step: str, epochs: int, row: dict[str, float], improved: bool,
               left: str = "") -> str:
    """An epoch's row as the console shows it; `*` marks a new best validation figure; `left`,
    the time the step still needs (time_left), ends it."""
    parts = [f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:5.2f}%"]
    if "val_loss" in row:
        parts.append(f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:5.2f}%"
                     + ("*" if improved else " "))
    parts.append(f"test loss {row['test_loss']:.4f} acc {row['test_accuracy']:5.2f}%")
    return (f"{step} epoch {row['epoch']:>3}/{epochs}  " + "  ".join(parts)
            + f"  {row['seconds']:6.1f}s" + (f"  {left}" if left else ""))


class Later(NamedTuple):
    """The runs a command trains after this one, for the epoch line's estimate of them."""

    runs: int = 0
    epochs: float = 0.0  # their epochs, in epochs of this run (scaled by their training images)
    at_most: bool = False  # early stopping may end some of them sooner


def time_left(history: list[dict[str, Any]], epochs: int, early_stopping: bool,
              later: Later = Later()) -> str:
    """The step's time left at its epochs' mean pace so far: "~3 min left" ("at most" where
    early stopping may end it sooner), then the later runs' at the same pace; "" after the last
    epoch of the last run."""
    rows = epoch_rows(history)
    if not rows:
        return ""
    pace = sum(r["seconds"] for r in rows) / len(rows)
    remaining = epochs - len(rows)
    parts = [f"{'at most ' if early_stopping else '~'}{duration(remaining * pace)} left"] \
        if remaining > 0 else []
    if later.runs:
        parts.append(f"then {'at most ' if later.at_most else '~'}{duration(later.epochs * pace)} "
                     f"for the {later.runs} run{'s' if later.runs > 1 else ''} after it")
    return ", ".join(parts)


def evaluation_line(step: str, row: dict[str, float], improved: bool = False) -> str:
    """A row of extra evaluations (eval_every) as the console shows it; `*` marks a new best."""
    parts = [f"{name} loss {row[f'{split}_loss']:.4f} acc {row[f'{split}_accuracy']:5.2f}%"
             + ("*" if improved and split == "val" else "")
             for split, name in (("train_eval", "train"), ("val", "val"), ("test", "test"))
             if f"{split}_loss" in row]
    return f"{step} epoch {row['epoch']:>5g}  evaluation in eval mode: " + "  ".join(parts)


# ---------------------------------------------------------------------------------------------
# Several seeds of a step: each figure's spread
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spread:
    """One figure over a step's runs (one per seed)."""

    mean: float
    std: float  # the sample standard deviation (n - 1); 0 for one run
    n: int
    low: float  # the smallest run's value
    high: float  # the largest's


def spread(values: Sequence[float]) -> Spread:
    """The mean, sample standard deviation, count, minimum and maximum of a figure's values."""
    assert values, "a spread needs at least one value"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Spread(statistics.fmean(values), std, len(values), min(values), max(values))


def aggregate(summaries: Sequence[dict[str, Any]]) -> dict[str, Spread]:
    """Each figure the runs' summaries (summarize) all have, as its Spread over them."""
    def number(s: dict[str, Any], k: str) -> bool:
        return isinstance(s.get(k), (int, float)) and math.isfinite(s[k])

    return {k: spread([float(s[k]) for s in summaries]) for k in summaries[0]
            if all(number(s, k) for s in summaries)}


def mean_history(histories: Sequence[list[dict[str, float]]]) -> tuple[list[dict[str, float]], ...]:
    """Several runs' metrics averaged row by row: (mean, min, max) histories.

    Over the rows (epochs, evaluations) every run has, and the columns each of those rows has.
    """
    by_epoch = [{r["epoch"]: r for r in h} for h in histories]
    mean, low, high = [], [], []
    for e in [e for e in by_epoch[0] if all(e in b for b in by_epoch[1:])]:
        same = [b[e] for b in by_epoch]
        keys = [k for k in same[0] if k != "epoch" and all(k in r for r in same)]
        mean.append({"epoch": e, **{k: statistics.fmean(r[k] for r in same) for k in keys}})
        low.append({"epoch": e, **{k: min(r[k] for r in same) for k in keys}})
        high.append({"epoch": e, **{k: max(r[k] for r in same) for k in keys}})
    return mean, low, high
