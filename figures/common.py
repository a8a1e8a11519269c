"""What several reports' figures share: the overlay of one metric across a sweep's steps, a
report's step order (which gives each step its look), and a step's seeds' mean curves."""
from __future__ import annotations

import os
from typing import Sequence

import plotting
import run_folder
from config import FIGURES as FIGURE_NAMES
from experiments import REPORTS
from figures import notes
from figures.context import Context
from run_folder.reader import Run
from summary import mean_history


def steps_of(report: str) -> tuple[str, ...]:
    """A report's steps in its order: a step's place there is its look (plotting.step_style)."""
    return next(r.steps for r in REPORTS if r.id == report)


def overlay(runs: dict[str, Run], ctx: Context, *, metric: str, steps: tuple[str, ...],
            title: str) -> list[str]:
    """One metric per epoch for several of the report's steps in one axes: a sweep.

    A report figure once metric, steps and title are bound (functools.partial in the table). The
    steps with a run are drawn and the others named under it; with none, nothing is drawn. A step
    run with several seeds is drawn as their mean, and the title says so.
    """
    curves = {s: runs[s].history for s in steps if s in runs}
    if not curves:
        return []
    path = ctx.path()
    several = [f"{s}: mean of {runs[s].mean_of} seeds" for s in curves if runs[s].mean_of > 1]
    if several:  # steps run with several seeds are drawn as their mean (reader.mean_run): which
        title += f" ({'; '.join(several)})"
    label = FIGURE_NAMES.get(metric, (metric, ""))
    plotting.plot_overlay(curves, metric, f"{label[0]} ({label[1] or 'value'})", title, path,
                          steps_of(ctx.report),
                          footnote=notes.footnote({s: runs[s] for s in curves}, steps,
                                                  loss=metric.endswith("loss")), narrow=True)
    return [path]


def curves(run: Run, ctx: Context) -> list[str]:
    """A step's own loss and accuracy per epoch, as results.py drew it before the report's figures:
    one run's loss_accuracy.png, or for a seed's run the seeds' mean with its band (one file for
    all of them)."""
    if run.seeded:
        return [os.path.join(os.path.dirname(run.dir), run_folder.SEEDS_CURVES)]
    return [os.path.join(run.dir, run_folder.CURVES)]


def seed_curves(several: Sequence[Run]) -> list[str]:
    """<out>/<step>/seeds_loss_accuracy.png: the seeds' mean per epoch with their min-max band."""
    if len(several) < 2:
        return []
    mean, low, high = mean_history([r.history for r in several])
    if not mean:
        return []
    path = os.path.join(os.path.dirname(several[0].dir), run_folder.SEEDS_CURVES)
    plotting.plot_loss_accuracy(mean, f"{several[0].step}, mean of {len(several)} seeds", path,
                                low=low, high=high, narrow=True,
                                footnote=notes.footnote({several[0].step: several[0]}, loss=True))
    return [path]
