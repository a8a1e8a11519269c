"""What a figure says under itself: how its runs differ from the report's setting (the notes the
results tables give), which of its steps have no run, and how the report scaled the loss it plotted.

Every figure drawn from runs passes footnote(...) to its plotting function; plotting.footnote_for
words it and plotting.save writes it under the figure.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import plotting
import run_folder
from experiments import STEPS
from run_folder.reader import Run
from summary import setting_notes


def setting(run: Run) -> list[str]:
    """How the run differs from its step's setting (the report's), as its row of the results table says."""
    return setting_notes(run.config, run.experiment().config, run.history, run.end,
                         os.path.exists(os.path.join(run.dir, run_folder.INTERRUPTED)))


def footnote(runs: Mapping[str, Run], steps: Sequence[str] = (), *, loss: bool = False) -> str:
    """The footnote of a figure drawn from these runs ("" when they are all in the report's setting).

    steps: the steps the figure shows when they have a run; those without one are named.
    loss: the figure plots a loss, so a report that plotted it scaled (Report.loss_note) says so.
    """
    report = next((STEPS[s] for s in (*runs, *steps) if s in STEPS), None)
    return plotting.footnote_for({s: setting(r) for s, r in runs.items()},
                                 [s for s in steps if s not in runs],
                                 report.loss_note if loss and report else "")


def of_run(run: Run, *, loss: bool = False) -> str:
    """The footnote of a figure drawn from one run."""
    return footnote({run.step: run}, loss=loss)
