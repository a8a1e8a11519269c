"""Report 000's own figures: the first convolution's kernels and outputs before and after training
(the report's Figs. 13-15, for CNN2 and CNN6), and the kit's overview of every step (drawn here)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from matplotlib.patches import Patch

import plotting
from run_folder import reader
from config import Reported
from figures import notes, tiles
from figures.common import steps_of
from figures.context import Context
from figures.load import (first_conv, first_conv_outputs, first_test_image, for_display,
                          layer_label, model_input, trained_model, untrained_model)
from run_folder.reader import Run


def first_layer(run: Run, ctx: Context) -> list[str]:
    """kernels.png and feature_maps.png in the run's folder: the first convolution before and after."""
    plot_first_layer(run, ctx.data_dir)
    return [os.path.join(run.dir, "kernels.png"), os.path.join(run.dir, "feature_maps.png")]


def plot_first_layer(run: Run, data_dir: str | None = None) -> dict[str, list[int]]:
    """Draw first_layer's two files; returns the tiles in each grid, before and after."""
    exp = run.experiment()
    model, label = trained_model(exp, run)
    conv = first_conv(model)
    panels = [untrained_model(exp, run.config), (model, layer_label(label, conv, run.config))]
    kh, kw = conv.kernel_size
    footnote = notes.of_run(run)
    kernels = tiles.plot_kernels(
        [(label, first_conv(m).weight) for m, label in panels],
        f"{run.step}: the first convolution's {conv.out_channels} kernels ({kh}x{kw}x{conv.in_channels}), "
        f"before and after training", os.path.join(run.dir, "kernels.png"), footnote=footnote,
        narrow=True)

    image, label, name = first_test_image(run.config, data_dir)
    x = model_input(image, label, exp.test_transform, run.config.seed)
    maps = [(label_, first_conv_outputs(m, x)) for m, label_ in panels]
    c, h, w = maps[0][1].shape
    side = x.shape[-1]
    features = tiles.plot_feature_maps(
        for_display(x[0], exp.test_transform),
        f"test image 0 of {run.config.dataset}: {name}\nat {side}x{side}, as {run.step} sees it",
        maps, f"{run.step}: the first convolution's {c} output channels ({h}x{w}) for one test image",
        os.path.join(run.dir, "feature_maps.png"), footnote=footnote, narrow=True)
    return {"kernels": kernels, "feature_maps": features}


def overview(runs: dict[str, Run], ctx: Context) -> list[str]:
    """Every step's test accuracy per epoch, and its final accuracy beside the report's.

    A run not in the report's setting has a * on its bar, the footnote saying how it differs (a
    synthetic 1.2% beside the report's 30% is no verdict on the step).
    """
    if not runs:
        return []
    path = ctx.path()
    footnote = notes.footnote(runs)
    plot_overview({s: r.history for s, r in runs.items()},
                  {s: reader.reported_for(s, runs.get(s)) for s in steps_of(ctx.report)}, path,
                  footnote=f"* {footnote}" if footnote else "",
                  marked=[s for s, r in runs.items() if notes.setting(r)])
    return [path]


def plot_overview(histories: dict[str, list[dict[str, float]]],
                  reported: dict[str, Reported | None], path: str, *, footnote: str = "",
                  marked: Sequence[str] = ()) -> None:
    """Every step's test accuracy per epoch, and each final accuracy beside the report's.

    `reported` lists the steps to show, in their report's order (which gives each its look); a
    step missing from `histories` is marked "not run" rather than left out. A step in `marked`
    (a run not in the report's setting) has a * beside its accuracy, which the footnote explains.
    """
    assert histories, f"{path}: an overview of no runs"
    steps = list(reported)
    for slim in (False, True):  # the page's, then a phone's: the panels one above the other
        fig, (ax_curve, ax_bar) = plotting.plt.subplots(
            *((2, 1) if slim else (1, 2)), constrained_layout=True,
            figsize=(plotting.NARROW_WIDTH, 7 + 0.45 * len(steps)) if slim else (15, 5.5),
            gridspec_kw={"height_ratios" if slim else "width_ratios":
                         (4 + 0.2 * len(steps), 0.4 * len(steps) + 1) if slim else (3, 2)})
        _overview_curves(ax_curve, histories, steps, slim)
        _overview_bars(ax_bar, histories, reported, marked, slim)
        fig.suptitle(f"All steps: {len(histories)} of {len(steps)} run")
        plotting.save(fig, plotting.narrow_path(path) if slim else path, footnote)


def _overview_curves(ax_curve: plotting.plt.Axes, histories: dict[str, list[dict[str, float]]],
                     steps: Sequence[str], slim: bool) -> None:
    for step in steps:
        if step in histories:
            h = histories[step]
            ax_curve.plot([r["epoch"] for r in h], [r["test_accuracy"] for r in h], label=step,
                          markersize=4, **plotting.step_style(step, steps))
    plotting.epoch_axes(ax_curve, "test accuracy (%)", "test accuracy per epoch")
    plotting.legend_outside(ax_curve, slim)


def _overview_bars(ax_bar: plotting.plt.Axes, histories: dict[str, list[dict[str, float]]],
                   reported: dict[str, Reported | None], marked: Sequence[str], slim: bool) -> None:
    steps = list(reported)
    # Two bars per step: the run's final accuracy filled, the report's hatched (greyscale-safe).
    y = np.arange(len(steps))[::-1] * 1.0
    height = 0.38
    for yi, step in zip(y, steps):
        colour = plotting.step_style(step, steps)["color"]
        rep = reported[step]
        if rep is not None and rep.test_accuracy is not None:
            low, high = (rep.test_accuracy if isinstance(rep.test_accuracy, tuple)
                         else (0, rep.test_accuracy))  # a range is drawn as the span it covers
            ax_bar.barh(yi - height / 2, high - low, height, left=low, color="white",
                        edgecolor=colour, hatch="///")
            ax_bar.text(high + 0.5, yi - height / 2,
                        f"{low:g}-{high:g}%" if low else f"{high:g}%", va="center",
                        fontsize="x-small")
        if step in histories:
            acc = histories[step][-1]["test_accuracy"]
            ax_bar.barh(yi + height / 2, acc, height, color=colour, edgecolor=colour)
            ax_bar.text(acc + 0.5, yi + height / 2, f"{acc:.1f}%" + (" *" if step in marked else ""),
                        va="center", fontsize="x-small")
        else:
            ax_bar.text(0.5, yi + height / 2, "not run", va="center", fontsize="x-small",
                        style="italic")
    ax_bar.set_yticks(y, steps)
    ax_bar.set_xlabel("final test accuracy (%)")
    ax_bar.set_xlim(0, 100)
    ax_bar.set_title("final test accuracy: run vs report")
    ax_bar.grid(axis="x", alpha=0.3)
    plotting.legend_outside(ax_bar, slim, handles=[Patch(facecolor="0.4", label="run (last epoch)"),
                                                   Patch(facecolor="white", edgecolor="0.2",
                                                         hatch="///", label="report")])

