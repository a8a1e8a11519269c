"""Report 000's own figures: the first convolution's kernels and outputs before and after training
(the report's Figs. 13-15, for CNN2 and CNN6), and the kit's overview of every step."""
from __future__ import annotations

import os

import plotting
import runs
from figures import notes, tiles
from figures.common import steps_of
from figures.context import Context
from figures.load import (first_conv, first_conv_outputs, first_test_image, for_display,
                          layer_label, model_input, trained_model, untrained_model)
from runs import Run


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
        f"before and after training", os.path.join(run.dir, "kernels.png"), footnote=footnote)

    image, label, name = first_test_image(run.config, data_dir)
    x = model_input(image, label, exp.test_transform, run.config.seed)
    maps = [(label_, first_conv_outputs(m, x)) for m, label_ in panels]
    c, h, w = maps[0][1].shape
    side = x.shape[-1]
    features = tiles.plot_feature_maps(
        for_display(x[0], exp.test_transform),
        f"test image 0 of {run.config.dataset}: {name}\nat {side}x{side}, as {run.step} sees it",
        maps, f"{run.step}: the first convolution's {c} output channels ({h}x{w}) for one test image",
        os.path.join(run.dir, "feature_maps.png"), footnote=footnote)
    return {"kernels": kernels, "feature_maps": features}


def overview(found: dict[str, Run], ctx: Context) -> list[str]:
    """Every step's test accuracy per epoch, and its final accuracy beside the report's.

    A run not in the report's setting has a * on its bar, the footnote saying how it differs (a
    synthetic 1.2% beside the report's 30% is no verdict on the step).
    """
    if not found:
        return []
    path = ctx.path()
    footnote = notes.footnote(found)
    plotting.plot_overview({s: r.history for s, r in found.items()},
                           {s: runs.reported_for(s, found.get(s)) for s in steps_of(ctx.report)}, path,
                           footnote=f"* {footnote}" if footnote else "",
                           marked=[s for s, r in found.items() if notes.setting(r)])
    return [path]
