"""A run's figures under the names config.Reported gives them, and the comparison with the report.

One summary serves the end-of-run line, main.py's tables and results.py's tables, so the three
always agree.
"""
from __future__ import annotations

from typing import Any

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

    A run that ended recorded it (early stopping's choice, the epoch of best.pt); with evaluations
    between epochs, or before the run ended, it is the best evaluation by `monitor` (the first of
    equals). None without a validation split.
    """
    if not history or monitor not in history[-1]:
        return None
    if end and "best_epoch" in end and len(history) == len(epoch_rows(history)):
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
    if isinstance(reported, (tuple, list)):
        low, high = reported
        if low <= value <= high:
            return "in range"
        return f"{value - (low if value < low else high):+.2f}"
    return f"{value - reported:+.2f}"


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
    if compared and notes:
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


def evaluation_line(step: str, row: dict[str, float]) -> str:
    """A row of extra evaluations (eval_every) as the console shows it."""
    parts = [f"{name} loss {row[f'{split}_loss']:.4f} acc {row[f'{split}_accuracy']:5.2f}%"
             for split, name in (("train_eval", "train"), ("val", "val"), ("test", "test"))
             if f"{split}_loss" in row]
    return f"{step} epoch {row['epoch']:>7.2f}  evaluation in eval mode: " + "  ".join(parts)
