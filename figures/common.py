"""What several reports' figures share: the overlay of one metric across a sweep's steps, a report's
step order (which gives each step its look), and the report's figures for a step."""
from __future__ import annotations

import plotting
from config import FIGURES as FIGURE_NAMES
from config import Reported
from experiments import REPORTS, STEPS, load_experiment, resolve_path
from figures.context import Context
from runs import Run


def steps_of(report: str) -> tuple[str, ...]:
    """A report's steps in its order: a step's place there is its look (plotting.step_style)."""
    return next(r.steps for r in REPORTS if r.id == report)


def reported_for(step: str, run: Run | None) -> Reported | None:
    """The report's figures for a step: as the run saved them, else from its experiment file."""
    if run is not None and run.info.get("reported"):
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in run.info["reported"].items()}
        return Reported(**{k: v for k, v in given.items() if k in Reported.__dataclass_fields__})
    if step in STEPS:
        return load_experiment(resolve_path(step)).reported
    return None


def overlay(found: dict[str, Run], ctx: Context, *, metric: str, steps: tuple[str, ...],
            title: str) -> list[str]:
    """One metric per epoch for several of the report's steps in one axes: a sweep, drawn even empty.

    A report figure once metric, steps and title are bound (functools.partial in the table).
    """
    path = ctx.path()
    curves = {s: found[s].history for s in steps if s in found}
    label = FIGURE_NAMES.get(metric, (metric, ""))
    plotting.plot_overlay(curves, metric, f"{label[0]} ({label[1] or 'value'})", title, path,
                          steps_of(ctx.report))
    return [path]
