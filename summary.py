"""A run's figures under the names config.Reported gives them, and the comparison with the report.

One summary serves the end-of-run line, main.py's tables and results.py's tables, so the three
always agree. A step run with several seeds is aggregated here too: each figure's Spread (mean, std,
n, min, max) and its verdict against the report's figure (within, above or below); a single run
matches within TOLERANCE. pages/verdicts.py gives each step's verdict on the pages by these rules.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from config import FIGURES, REPORTS_PRECISION, Config, Reported, fields_with, reported_figures
from early_stopping import MONITORS

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


def difference(value: float, reported: Any) -> str:
    """Run minus report; for a range, 0 inside it, else the distance to its nearer end."""
    if isinstance(reported, (tuple, list)) and distance(value, reported) == 0:
        return "in range"
    return f"{distance(value, reported):+.2f}"


def distance(value: float, reported: Any) -> float:
    """Run minus report; for a (low, high) range 0 inside it, else the distance to its nearer end."""
    if isinstance(reported, (tuple, list)):
        low, high = reported
        return 0.0 if low <= value <= high else value - (low if value < low else high)
    return value - reported


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


def compare_line(step: str, summary: dict[str, Any], reported: Reported | None, hardware: str,
                 columns: tuple[str, ...], notes: list[str]) -> str:
    """One line: the run's figures beside the report's, on the report's own metrics."""
    shown = [c for c in columns if c in summary and c != "minutes"]
    line = f"{step}: " + ", ".join(f"{FIGURES[c][0]} {figure_text(c, summary[c])}" for c in shown)
    line += f", {summary['minutes']:.1f} min over {summary['epochs']} epochs"
    figures = reported_figures(reported)
    compared = [f"{FIGURES[c][0]} {figure_text(c, figures[c])}"
                + (f" ({difference(summary[c], figures[c])})" if c in summary else "")
                for c in columns if c in figures]
    if compared:
        line += " | report: " + ", ".join(compared)
        if "minutes" in figures and hardware:
            line += f" on a {hardware}"
    if notes and reported is not None:  # a step of a report, even one that gives no figure for it
        line += f" (not the report's setting: {', '.join(notes)})"
    return line


def epoch_line(step: str, epochs: int, row: dict[str, float], improved: bool) -> str:
    """An epoch's row as the console shows it; `*` marks a new best validation figure."""
    parts = [f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:5.2f}%"]
    if "val_loss" in row:
        parts.append(f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:5.2f}%"
                     + ("*" if improved else " "))
    parts.append(f"test loss {row['test_loss']:.4f} acc {row['test_accuracy']:5.2f}%")
    return (f"{step} epoch {row['epoch']:>3}/{epochs}  " + "  ".join(parts)
            + f"  {row['seconds']:6.1f}s")


def evaluation_line(step: str, row: dict[str, float], improved: bool = False) -> str:
    """A row of extra evaluations (eval_every) as the console shows it; `*` marks a new best."""
    parts = [f"{name} loss {row[f'{split}_loss']:.4f} acc {row[f'{split}_accuracy']:5.2f}%"
             + ("*" if improved and split == "val" else "")
             for split, name in (("train_eval", "train"), ("val", "val"), ("test", "test"))
             if f"{split}_loss" in row]
    return f"{step} epoch {row['epoch']:>5g}  evaluation in eval mode: " + "  ".join(parts)


# ---------------------------------------------------------------------------------------------
# Several seeds of a step: each figure's spread, and the verdict against the report's
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spread:
    """One figure over a step's runs (one per seed)."""

    mean: float
    std: float  # the sample standard deviation (n - 1); 0 for one run
    n: int
    low: float  # the smallest run's value
    high: float  # the largest's

    @property
    def interval(self) -> tuple[float, float]:
        """Where the runs say the figure lies: mean +- 2 std, widened to min-max where that is wider."""
        return min(self.mean - 2 * self.std, self.low), max(self.mean + 2 * self.std, self.high)


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


WITHIN, ABOVE, BELOW = "within", "above", "below"  # the runs against the report's figure
VERDICT_RULE = ("*within* when the report's figure (any point of its range) lies inside the runs' "
                "mean ± 2 std, widened to their min-max where that is wider; *above* or *below* "
                "when the runs lie wholly above or below it.")


def verdict(s: Spread, reported: Any) -> str | None:
    """Whether the report's figure lies within the runs' spread, or the runs lie above or below it.

    The rule: the report's value (or any point of its range, such as 60-65%) inside mean +- 2 std,
    widened to the runs' min-max (Spread.interval). With one run there is no spread: None.
    """
    if s.n < 2:
        return None
    low, high = reported if isinstance(reported, (tuple, list)) else (reported, reported)
    lo, hi = s.interval
    return ABOVE if lo > high else BELOW if hi < low else WITHIN


def spread_text(name: str, s: Spread) -> str:
    """A figure over several runs as tables print it: 73.10 ± 0.80% (n=3); one run as figure_text."""
    if s.n == 1:
        return figure_text(name, s.mean)
    if name.endswith("epoch") or name == "epochs":
        return f"{s.mean:.1f} ± {s.std:.1f} (n={s.n})"
    mean, unit = figure_text(name, float(s.mean)), FIGURES.get(name, ("", ""))[1]
    return f"{mean.removesuffix(unit)} ± {figure_text(name, float(s.std))} (n={s.n})"


def verdict_text(s: Spread, reported: Any) -> str:
    """The diff cell of several runs: mean minus report, and the verdict: "+0.52, within"."""
    word = verdict(s, reported)
    diff = difference(s.mean, reported)
    return f"{diff}, {word}" if word and diff != "in range" else (word or diff)


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


# ---------------------------------------------------------------------------------------------
# One run against the report: how far it may be from the report's figure and still match it
# ---------------------------------------------------------------------------------------------

# How far a single run may be from the report's figure and still match it: seed-to-seed noise.
# Accuracies: 1 percentage point (a small CIFAR net's test accuracy moves by a few tenths between
# seeds, and the reports print 0.1-1 point); epoch numbers: 2 (on a flat validation curve the best
# epoch moves by a few); losses: 5% of the report's value (they span 0.04 to 2.7).
TOLERANCE = {"%": 1.0, "epoch": 2.0, "loss": 0.05}


def tolerance(name: str, reported: Any) -> float:
    """How far one run may be from the report's figure `name` and still match it (TOLERANCE)."""
    unit = FIGURES.get(name, ("", ""))[1]
    if unit == "%":
        return TOLERANCE["%"]
    if name.endswith("epoch") or name == "epochs":
        return TOLERANCE["epoch"]
    high = max(reported) if isinstance(reported, (tuple, list)) else reported
    return TOLERANCE["loss"] * abs(high)
