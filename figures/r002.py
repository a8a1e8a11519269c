"""Report 002's own figures, drawn from finished runs: CNN_5's first-layer filters (Fig. 4), early
stopping (Figs. 6-8), the dropout sweep (Fig. 10) and the VGG11_bn runs (Figs. 11-14).

Each draws the steps that have a run and names the others in its footnote; with none, nothing.
"""
from __future__ import annotations

import textwrap

from figures import load, notes, tiles
from figures.common import steps_of
from figures.context import Context
from plotting import (BEST_STYLE, TRAIN_STYLE, VAL_STYLE, epoch_axes, legend_outside, narrow_path,
                      panel_figures, save, step_style)
from run_folder.reader import Run

ES_STEPS = ("002-ES-loss", "002-ES-acc", "002-ES-BN-acc")
DROPOUT = tuple((k / 10, f"002-drop0.{k}") for k in range(1, 10))
VGG = ("partial", "full", "scratch")
# Fig. 4's panels: the step whose weights each shows, and which weights.
FILTERS = (("before training (002-CNN5)", "002-CNN5", "untrained"),
           ("after training (002-CNN5)", "002-CNN5", "trained"),
           ("after, with BN (002-CNN5-BN)", "002-CNN5-BN", "trained"),
           ("after, with DA (002-DA1)", "002-DA1", "trained"))


def filters(runs: dict[str, Run], ctx: Context) -> list[str]:
    """Fig. 4: the 128 first-layer RGB 3x3 filters before training, after, with BN, with DA."""
    panels = []
    for label, step, which in FILTERS:
        run = runs.get(step)
        if run is None:
            continue
        exp = run.experiment()
        if which == "untrained":
            model = load.untrained_model(exp, run.config)[0]
        else:
            model, trained = load.trained_model(exp, run)
            if load.layer_label(trained, load.first_conv(model), run.config) != trained:
                label += " (frozen)"
        panels.append((label, load.first_conv(model).weight))
    if not panels:
        return []
    steps = tuple(dict.fromkeys(step for _, step, _ in FILTERS))
    path = ctx.path()
    tiles.plot_kernels(panels, "Report 002 (Fig. 4): CNN_5's first-layer filters", path,
                       footnote=notes.footnote({s: runs[s] for s in steps if s in runs}, steps),
                       narrow=True)
    return [path]


def early_stopping(runs: dict[str, Run], ctx: Context) -> list[str]:
    """Figs. 6-8: each early-stopping run's loss and validation accuracy, the best epoch dotted."""
    ran = [s for s in ES_STEPS if s in runs]
    if not ran:
        return []
    path = ctx.path()
    title = "Report 002 (Figs. 6-8): early stopping, patience 10, tolerance 1e-5"
    n = len(ran)
    # The page's: a column per run, as the report's Figs. 6-8 side by side (loss above, validation
    # accuracy below, one legend); a phone's: the panels one to a row, each with its legend.
    for fig, axes, slim in panel_figures(2 * n, n, (11, 6.6)):
        for i, step in enumerate(ran):
            ax_loss, ax_acc = (axes[2 * i], axes[2 * i + 1]) if slim else (axes[i], axes[n + i])
            run = runs[step]
            epochs = [r["epoch"] for r in run.history]
            ax_loss.plot(epochs, [r["train_loss"] for r in run.history], label="train", **TRAIN_STYLE)
            ax_loss.plot(epochs, [r["val_loss"] for r in run.history], label="validation", **VAL_STYLE)
            ax_acc.plot(epochs, [r["val_accuracy"] for r in run.history], label="validation",
                        **VAL_STYLE)
            best = run.best_epoch
            for ax, ylabel in ((ax_loss, "cross-entropy loss"), (ax_acc, "validation accuracy (%)")):
                if best:
                    ax.axvline(best, label=f"best epoch ({best:g})" if slim else "best epoch",
                               **BEST_STYLE)
                heading = f"{step} (monitor {run.config.monitor})"
                if not slim:  # the column's heading, once
                    heading = "" if ax is ax_acc else textwrap.fill(
                        heading + (f", best epoch {best:g}" if best else ""), 28)
                epoch_axes(ax, ylabel, heading or None)
                if slim:
                    legend_outside(ax, slim)
        if not slim:  # one legend, where it covers least of the first run's loss
            handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
            axes[0].legend(list(handles.values()), list(handles), loc="best", fontsize="small")
        fig.suptitle(textwrap.fill(title, 48) if slim else title)
        save(fig, narrow_path(path) if slim else path,
             notes.footnote({s: runs[s] for s in ran}, ES_STEPS, loss=True))
    return [path]


def dropout(runs: dict[str, Run], ctx: Context) -> list[str]:
    """Fig. 10 and the assignment's sweep plot: losses per p, final train and val accuracy against p."""
    ran = [(p, step, runs[step]) for p, step in DROPOUT if step in runs]
    if not ran:
        return []
    path = ctx.path()
    title = "Report 002 (Fig. 10): CNN_5 with dropout p after every block (the report's best: 0.3)"
    for fig, (ax_train, ax_val, ax_p), slim in panel_figures(3, 3, (16, 4.8)):
        for p, step, run in ran:
            epochs = [r["epoch"] for r in run.history]
            style = {**step_style(step, steps_of(ctx.report)), "markersize": 3}
            ax_train.plot(epochs, [r["train_loss"] for r in run.history], label=f"p = {p}", **style)
            ax_val.plot(epochs, [r["val_loss"] for r in run.history], label=f"p = {p}", **style)
        for ax, which in ((ax_train, "training"), (ax_val, "validation")):
            epoch_axes(ax, f"{which} loss", f"{which} loss per dropout p")
        legend_outside(ax_val, slim)  # the same p in both loss panels: one legend
        ps = [p for p, _, _ in ran]
        ax_p.plot(ps, [run.history[-1]["train_accuracy"] for _, _, run in ran], label="train",
                  **TRAIN_STYLE)
        ax_p.plot(ps, [run.history[-1]["val_accuracy"] for _, _, run in ran], label="validation",
                  **VAL_STYLE)
        ax_p.set(xlabel="dropout p", ylabel="final accuracy (%)", title="final accuracy against p")
        ax_p.set_xticks([p for p, _ in DROPOUT])
        ax_p.grid(alpha=0.3)
        legend_outside(ax_p, slim)
        fig.suptitle(textwrap.fill(title, 48) if slim else title)
        save(fig, narrow_path(path) if slim else path,
             notes.footnote({s: r for _, s, r in ran}, [s for _, s in DROPOUT], loss=True))
    return [path]


def vgg(runs: dict[str, Run], ctx: Context, suffixes: tuple[str, ...] = ("", "-DA")) -> list[str]:
    """Loss and validation accuracy of partial, full and scratch, a row per suffix: without DA
    ("", the report's Figs. 11-13 in one plot) and with DA ("-DA", its Fig. 14).

    A row is drawn when one of its three steps has a run.
    """
    rows = [(suffix, "with DA" if suffix else "without DA", [f"002-VGG-{k}{suffix}" for k in VGG])
            for suffix in suffixes]
    rows = [row for row in rows if any(s in runs for s in row[2])]
    if not rows:
        return []
    path = ctx.path()
    every = [f"002-VGG-{k}{suffix}" for suffix in suffixes for k in VGG]
    which = "Fig. 14" if suffixes == ("-DA",) else "Figs. 11-13" if suffixes == ("",) else "Figs. 11-14"
    title = f"Report 002 ({which}): VGG11_bn partial, full fine-tune and scratch"
    for fig, axes, slim in panel_figures(2 * len(rows), 2, (12, 4 * len(rows) + 0.6)):
        for i, (_, row_title, steps) in enumerate(rows):
            ax_loss, ax_acc = axes[2 * i], axes[2 * i + 1]
            for step in (s for s in steps if s in runs):
                run = runs[step]
                epochs = [r["epoch"] for r in run.history]
                style = {**step_style(step, steps_of(ctx.report)), "markersize": 3}
                ax_loss.plot(epochs, [r["train_loss"] for r in run.history], label=f"{step} train",
                             **style)
                ax_loss.plot(epochs, [r["val_loss"] for r in run.history], label=f"{step} val",
                             **{**style, "alpha": 0.5})
                ax_acc.plot(epochs, [r["val_accuracy"] for r in run.history], label=step, **style)
            for ax, ylabel in ((ax_loss, "cross-entropy loss"), (ax_acc, "validation accuracy (%)")):
                epoch_axes(ax, ylabel, f"VGG11_bn {row_title}")
                legend_outside(ax, slim)
        fig.suptitle(textwrap.fill(title, 48) if slim else title)
        save(fig, narrow_path(path) if slim else path,
             notes.footnote({s: runs[s] for s in every if s in runs}, every, loss=True))
    return [path]
