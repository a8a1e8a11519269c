"""Pure drawing: loss and accuracy per step, overlays, images, softmax bars, the confusion matrix.

Every function takes numbers or tensors (and, for a step's look, its report's steps in order) and
writes one PNG through save(), with an optional footnote under everything: what the figure's runs
do differently from the report (footnote_for composes it). It imports no registry: reading runs
back and building models is figures/' job, deciding what to draw is results.py's.
"""
from __future__ import annotations

import os
import textwrap
from typing import Iterator, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only: runs happen on servers without a display
# Plain numbers on every axis: "+2.302" above a validation loss axis reads as part of the values.
matplotlib.rcParams["axes.formatter.useoffset"] = False
# Text a little larger than matplotlib's 10 pt: the figures are read scaled down on a page.
matplotlib.rcParams["font.size"] = 12
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

import atomic  # noqa: E402

DPI = 150  # sharp in a printed A4 report at full width, small enough to browse
# zlib's level for the PNGs: 3 rather than Pillow's 6 encodes the kit's figures 40% faster for
# 6% more bytes (all 232 PNGs of a run of every step: 12.4 -> 7.4 s, 25.0 -> 26.5 MB).
PNG_COMPRESSION = 3
TRAIN_STYLE = {"color": "tab:blue", "linestyle": "-", "marker": "o", "markersize": 3}
VAL_STYLE = {"color": "tab:green", "linestyle": "-.", "marker": "^", "markersize": 3}
TEST_STYLE = {"color": "tab:orange", "linestyle": "--", "marker": "s", "markersize": 3}
TRAIN_EVAL_STYLE = {"color": "tab:purple", "linestyle": ":", "marker": "v", "markersize": 3}
SPLIT_LABELS = {"train_eval": "train (eval mode)", "val": "validation"}
BEST_STYLE = {"color": "tab:cyan", "linestyle": ":", "linewidth": 1.5}  # report 002's best-epoch line
FOOTNOTE_STYLE = {"fontsize": "small", "color": "0.2"}
_CHARACTERS_PER_INCH = 12  # of FOOTNOTE_STYLE's text: where a footnote line is wrapped
_FOOTNOTE_GAP = 0.08  # inches from the rest of a figure to its footnote (and title), like an axis label's
# A figure's narrow variant, for a phone: a page shows an image about 360 px wide there, where
# 12 pt text stays about 10 px high only on a figure at most this many inches wide.
NARROW = ".narrow"
NARROW_WIDTH = 6.0

# One look per step, the same in every figure: its place in its report picks a colour, a marker
# and a line style, which keep the steps apart when printed in grey.
_COLOURS = ("tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
            "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "black")
_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h")
_LINES = ("-", "--", "-.", ":")
OTHER_STYLE = {"color": "0.5", "marker": ".", "linestyle": ":"}  # a run that is not a report step


def step_style(step: str, order: Sequence[str]) -> dict[str, str]:
    """The colour, marker and line style a step has in every figure, from its place in `order`.

    order: its report's steps, in the report's order; a step not in it gets OTHER_STYLE.
    """
    if step not in order:
        return OTHER_STYLE
    i = list(order).index(step)
    return {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": _LINES[i % len(_LINES)]}


# ---------------------------------------------------------------------------------------------
# Saving, with the footnote that says what the figure's runs do differently
# ---------------------------------------------------------------------------------------------

def footnote_for(settings: Mapping[str, Sequence[str]], missing: Sequence[str] = (),
                 loss: str = "") -> str:
    """A figure's footnote: how its runs differ from the report's setting, its steps without a run,
    and how the report scaled its loss; "" when there is nothing to say.

    settings: each run's differences by step (summary.setting_notes); those every run shares are
    said once, then each step's own ("CNN2: subset 64; CNN6: pretrained False"). missing: steps the
    figure would show but has no run of.
    """
    lines = []
    notes = dict.fromkeys(n for step_notes in settings.values() for n in step_notes)  # in order
    if notes:
        shared = [n for n in notes if all(n in step_notes for step_notes in settings.values())]
        own: dict[tuple[str, ...], list[str]] = {}  # steps with the same notes of their own together
        for step, step_notes in settings.items():
            if rest := tuple(n for n in step_notes if n not in shared):
                own.setdefault(rest, []).append(step)
        parts = [", ".join(shared)] if shared else []
        parts += [f"{', '.join(steps)}: {', '.join(rest)}" for rest, steps in own.items()]
        lines.append("not the report's setting: " + "; ".join(parts))
    if missing:
        lines.append(f"no run of {', '.join(missing)}: not shown")
    if loss:
        lines.append(loss)
    return "\n".join(lines)


def save(fig: plt.Figure, path: str, footnote: str = "", **savefig: object) -> None:
    """Write the figure as a PNG with its footnote (lines, wrapped to its width) at the bottom; close it."""
    label = None
    if footnote:
        width = max(40, int(fig.get_figwidth() * _CHARACTERS_PER_INCH))
        text = "\n".join(textwrap.fill(line, width) for line in footnote.splitlines())
        # supxlabel: the constrained layout keeps room for it below the axes and their labels.
        label = fig.supxlabel(text, x=0.01, ha="left", multialignment="left", **FOOTNOTE_STYLE)
    if savefig.get("bbox_inches") == "tight":
        _clear_of_the_rest(fig, label, float(savefig.get("dpi", DPI)))  # type: ignore[arg-type]
    try:
        with atomic.replacing(path, "wb") as f:  # a full disk leaves the previous figure, whole
            kind = os.path.splitext(path)[1][1:] or "png"
            png = {"pil_kwargs": {"compress_level": PNG_COMPRESSION}} if kind == "png" else {}
            fig.savefig(f, **{"dpi": DPI, "format": kind, **png, **savefig})
    finally:
        plt.close(fig)


def _clear_of_the_rest(fig: plt.Figure, footnote: matplotlib.text.Text | None, dpi: float) -> None:
    """Lay the figure out as savefig will, then fix it there: its title above all the rest, its
    footnote under it.

    The room a constrained layout keeps for a suptitle and a supxlabel is not enough around axes
    of a fixed aspect (images): their titles and x labels end where the layout did not plan, on
    the title and the footnote (report 000's kernels). A figure saved cropped to its content
    ("tight") has room beyond everything.
    """
    fig.set_dpi(dpi)  # text extents in pixels as savefig will draw them
    fig.draw_without_rendering()
    title = next((t for t in fig.texts if fig.get_suptitle() and t.get_text() == fig.get_suptitle()),
                 None)
    moved = [t for t in (title, footnote) if t is not None]
    for text in moved:
        text.set_visible(False)
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, without the title and footnote
    for text in moved:
        text.set_visible(True)
    fig.set_layout_engine("none")  # else savefig lays it out again and puts them back
    if title is not None:
        title.set_verticalalignment("bottom")
        title.set_y((box.y1 + _FOOTNOTE_GAP) / fig.get_figheight())
    if footnote is not None:
        footnote.set_verticalalignment("top")
        footnote.set_y((box.y0 - _FOOTNOTE_GAP) / fig.get_figheight())


def footnote_height(footnote: str, width: float) -> float:
    """Inches the footnote takes under a figure `width` inches wide, for layouts with fixed margins."""
    chars = max(40, int(width * _CHARACTERS_PER_INCH))
    lines = sum(len(textwrap.wrap(line, chars)) or 1 for line in footnote.splitlines())
    return 0.2 * lines + 0.1 if lines else 0.0


def legend_outside(ax: plt.Axes, slim: bool = False, **legend: object) -> None:
    """The axes' legend to the right of its frame, where it covers no data; slim (a narrow
    variant's axes, as wide as the figure): under the frame, in two columns."""
    if slim:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize="small",
                  frameon=False, **legend)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize="small",
                  **legend)


def panel_figures(n: int, cols: int, figsize: tuple[float, float], *, narrow: bool = True,
                  panel_height: float = 3.6) -> Iterator[tuple[plt.Figure, list[plt.Axes], bool]]:
    """Figures to draw n panels in, as (figure, its axes row by row, slim): the wide one, cols to
    a row at figsize, then (narrow) a phone's, one panel to a row NARROW_WIDTH inches wide. The
    caller draws the same into each and saves a slim one to narrow_path(path)."""
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=figsize, constrained_layout=True, squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    yield fig, list(axes.flat), False
    if narrow:
        fig, axes = plt.subplots(n, 1, figsize=(NARROW_WIDTH, panel_height * n + 1),
                                 constrained_layout=True, squeeze=False)
        yield fig, list(axes.flat), True


# ---------------------------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------------------------

def epoch_axes(ax: plt.Axes, ylabel: str, title: str | None = None) -> None:
    """Label an axes whose x is the epoch (whole-number ticks, the y label, a light grid) once its
    curves are drawn: a flat curve gets a range that shows it (data_range)."""
    data_range(ax, percent="%" in ylabel)
    ax.set_xlabel("epoch")
    # min_n_ticks=1: one epoch still gets the tick "1", not 0.945 ... 1.050.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)


def data_range(ax: plt.Axes, percent: bool) -> None:
    """A y range that shows the curves when they barely move: matplotlib widens a flat curve at 0
    to -0.04..0.04, where rounding noise reads as a trend. A percentage spanning under a point
    gets 0-100%; another quantity, its range padded by a unit (never below 0 if it never is)."""
    ys = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()
          if line.get_transform() == ax.transData]  # not axvline's, drawn in axes coordinates
    ys = [y[np.isfinite(y)] for y in ys if np.isfinite(y).any()]
    if not ys:
        return
    low, high = min(y.min() for y in ys), max(y.max() for y in ys)
    if high - low >= 1:
        return
    if percent:
        ax.set_ylim(-2, 102)  # the whole scale, a little room for markers at 0 and 100
    else:
        ax.set_ylim(low - 1 if low < 0 or low >= 1 else 0, high + 1)


def plot_loss_accuracy(history: list[dict[str, float]], step: str, path: str,
                       best_epoch: float | None = None, low: list[dict[str, float]] | None = None,
                       high: list[dict[str, float]] | None = None, *, footnote: str = "",
                       narrow: bool = False) -> None:
    """The step's loss and accuracy per epoch, train, validation (if any) and test, saved as a PNG.

    best_epoch, if given, is drawn as a dotted vertical line: the weights early stopping kept.
    low and high, rows as history's: the band around each curve (several seeds: history is their
    mean, low and high their minimum and maximum), each band in its curve's legend entry. One
    legend for both panels, below them: inside, it covered the curves; beside, the title.
    narrow: also narrow_path(path), the panels one above the other for a phone's screen.
    """
    for stacked in (False, True) if narrow else (False,):
        fig = _loss_accuracy_figure(history, step, best_epoch, low, high, stacked)
        save(fig, narrow_path(path) if stacked else path, footnote)


def narrow_path(path: str) -> str:
    """Where a figure's narrow variant (the one a page shows on a phone) is written: x.narrow.png."""
    root, ext = os.path.splitext(path)
    return f"{root}{NARROW}{ext}"


def _loss_accuracy_figure(history: list[dict[str, float]], step: str, best_epoch: float | None,
                          low: list[dict[str, float]] | None, high: list[dict[str, float]] | None,
                          stacked: bool) -> plt.Figure:
    """plot_loss_accuracy's figure: the panels side by side, or stacked (NARROW_WIDTH inches)."""
    layout = [["loss"], ["accuracy"], ["legend"]] if stacked else [["loss", "accuracy"],
                                                                     ["legend", "legend"]]
    fig, axes = plt.subplot_mosaic(layout, figsize=(NARROW_WIDTH, 6.5) if stacked else (11, 4.4),
                                   height_ratios=(1, 1, 0.1) if stacked else (1, 0.07),
                                   constrained_layout=True)
    ax_loss, ax_acc = axes["loss"], axes["accuracy"]
    entries: dict[str, object] = {}  # legend label -> handle, once for both panels
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss (per image)"),
                           (ax_acc, "accuracy", "accuracy (%)")):
        for split, style in (("train", TRAIN_STYLE), ("train_eval", TRAIN_EVAL_STYLE),
                             ("val", VAL_STYLE), ("test", TEST_STYLE)):
            # Evaluations between epochs (eval_every) have no running train figures: each its own x.
            rows = [r for r in history if f"{split}_{key}" in r]
            if f"{split}_{key}" in history[-1]:
                name = SPLIT_LABELS.get(split, split)
                line, = ax.plot([r["epoch"] for r in rows], [r[f"{split}_{key}"] for r in rows],
                                **style)
                entry: object = line
                if low is not None and high is not None:  # the band's entry is its curve's
                    k = f"{split}_{key}"
                    band = ax.fill_between([r["epoch"] for r in rows], [r[k] for r in low if k in r],
                                           [r[k] for r in high if k in r], color=style["color"],
                                           alpha=0.2, linewidth=0)
                    entry, name = (band, line), f"{name}: mean, band min-max"
                entries.setdefault(name, entry)
        if best_epoch is not None:  # 0 too: the evaluation before training (report 004)
            entries.setdefault(f"best epoch ({best_epoch:g})",
                               ax.axvline(best_epoch, **BEST_STYLE))
        epoch_axes(ax, label)
    # In a row of its own under the panels: it covers neither a curve, the title nor the footnote.
    axes["legend"].axis("off")
    axes["legend"].legend(list(entries.values()), list(entries), loc="center",
                          ncols=min(len(entries), 2 if stacked else 3), fontsize="small",
                          frameon=False)
    last = history[-1]
    val = f", validation accuracy {last['val_accuracy']:.1f}%" if "val_accuracy" in last else ""
    epochs = sum('seconds' in r for r in history)
    title = (f"{step}: after {epochs} epoch{'s' * (epochs != 1)}, train loss "
             f"{last['train_loss']:.3f}{val}, test accuracy {last['test_accuracy']:.1f}%")
    fig.suptitle(textwrap.fill(title, 56) if stacked else title)  # 56: one line where it can
    return fig


def plot_overlay(curves: dict[str, list[dict[str, float]]], metric: str, ylabel: str, title: str,
                 path: str, order: Sequence[str], *, footnote: str = "", narrow: bool = False) -> None:
    """One metric per epoch for several steps in one axes: a sweep (dropout p, batch size ...).

    order: the steps' report's steps, which give each its look (step_style). At least one curve:
    a figure with no run is not drawn (the caller's choice), rather than drawn empty. narrow: also
    narrow_path(path), NARROW_WIDTH inches wide with the legend under the axes, for a phone.
    """
    assert curves, f"{path}: an overlay of no runs"
    for stacked in (False, True) if narrow else (False,):
        fig, ax = plt.subplots(figsize=(NARROW_WIDTH, 7) if stacked else (8.5, 5),
                               constrained_layout=True)
        drawn: dict[tuple, str] = {}  # each curve's points: a step equal to one drawn before says so
        for step, history in curves.items():
            points = tuple((r["epoch"], r[metric]) for r in history)
            same = drawn.setdefault(points, step)
            style = {"markersize": 4, **step_style(step, order)}
            if same != step:  # hollow and larger, so that both stay visible
                style.update(markersize=9, markerfacecolor="none", markeredgewidth=1.5)
            ax.plot(*zip(*points), label=step if same == step else f"{step} (equals {same})",
                    **style)
        epoch_axes(ax, ylabel)
        if stacked:  # under the axes, as wide as they are
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2, fontsize="small",
                      frameon=False)
        else:
            legend_outside(ax)
        ax.set_title(textwrap.fill(title, 48 if stacked else 60))  # the axes' width, less its legend's
        save(fig, narrow_path(path) if stacked else path, footnote)


# ---------------------------------------------------------------------------------------------
# Images, and what a network makes of them
# ---------------------------------------------------------------------------------------------

def plot_images(images: torch.Tensor, titles: Sequence[str], title: str, path: str, *,
                footnote: str = "", narrow: bool = False) -> None:
    """Images (N, 3, H, W) in [0, 1] in one row, each with its caption (a class name); narrow:
    also narrow_path(path), at most three to a row (when there are more than three)."""
    n = len(images)
    rows = -(-n // 3)  # the narrow variant's: at most three to a row, the rows filled evenly
    for cols in (n, -(-n // rows)) if narrow and n > 3 else (n,):
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols if cols < n else 2.2 * n,
                                                      2.3 * rows + 0.3),
                                 squeeze=False, constrained_layout=True)
        for ax in axes.flat[n:]:
            ax.axis("off")
        for ax, image, caption in zip(axes.flat, images, titles):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax.set_title(caption, fontsize="medium")
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(textwrap.fill(title, 48) if cols < n else title)
        save(fig, narrow_path(path) if cols < n else path, footnote)


def plot_softmax(images: torch.Tensor, titles: Sequence[str], probs: torch.Tensor,
                 classes: Sequence[str], title: str, path: str, *, footnote: str = "",
                 narrow: bool = False) -> None:
    """Each image beside a bar chart of its class probabilities, the largest one highlighted.

    images (N, 3, H, W) in [0, 1]; probs (N, classes). The bars are labelled with the value,
    in scientific notation as report 001 prints them. narrow: also narrow_path(path),
    NARROW_WIDTH inches wide with larger labels.
    """
    n = len(images)
    for slim in (False, True) if narrow else (False,):
        small, tiny = ("medium", "small") if slim else ("small", "x-small")
        fig, axes = plt.subplots(n, 2, figsize=(NARROW_WIDTH if slim else 9, 2.3 * n if slim
                                                else 2.1 * n),
                                 squeeze=False, constrained_layout=True,
                                 gridspec_kw={"width_ratios": (1, 3 if slim else 4)})
        for (ax_img, ax_bar), image, caption, p in zip(axes, images, titles, probs):
            ax_img.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax_img.set_title(f"true: {caption}", fontsize=small)
            ax_img.set_xticks([])
            ax_img.set_yticks([])
            top = int(p.argmax())
            colours = ["tab:orange" if k == top else "0.7" for k in range(len(p))]
            ax_bar.bar(range(len(p)), p.numpy(), color=colours, edgecolor="0.3",
                       hatch=["//" if k == top else "" for k in range(len(p))])
            ax_bar.set_xticks(range(len(p)), classes, rotation=30 if not slim else 60, ha="right",
                              fontsize=tiny)
            ax_bar.set_ylim(0, 1.15)
            ax_bar.set_ylabel("probability", fontsize=small)
            ax_bar.text(top, float(p[top]) + 0.03, f"{float(p[top]):.4e}", ha="center",
                        fontsize=tiny)
            ax_bar.grid(axis="y", alpha=0.3)
        fig.suptitle(textwrap.fill(title, 48) if slim else title)
        save(fig, narrow_path(path) if slim else path, footnote)


# ---------------------------------------------------------------------------------------------
# What a model gets wrong: the confusion matrix, or its most confused pairs
# ---------------------------------------------------------------------------------------------

GRID_CLASSES = 20  # a confusion grid up to this many classes; above (CIFAR-100), the top pairs


def most_confused(counts: np.ndarray, n: int) -> list[tuple[int, int]]:
    """The n largest off-diagonal cells (true, predicted) of a confusion matrix, ties in row order;
    only cells with a count."""
    off = np.where(np.eye(len(counts), dtype=bool), -1, counts)
    order = zip(*np.unravel_index(np.argsort(-off, axis=None, kind="stable"), off.shape))
    return [(int(i), int(j)) for i, j in order if off[i, j] > 0][:n]


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], title: str, path: str,
                   pairs: int = 20, *, footnote: str = "") -> None:
    """A confusion matrix [true][predicted]: a grid coloured by the share of each true class, with
    the counts; above GRID_CLASSES classes, the `pairs` most frequent confusions as bars instead."""
    counts = np.asarray(matrix, dtype=np.int64)
    k, total = len(classes), int(counts.sum())
    per_class = counts.sum(1, keepdims=True)
    share = counts / np.maximum(per_class, 1)
    # Fixed margins rather than a constrained layout, at a screen's resolution: the figure is
    # drawn at the end of every run, and laying out its text twice cost more than the training
    # of a small test run.
    if k <= GRID_CLASSES:
        grid = max(0.42 * k, 3.2)  # inches; the margins below hold the names and the title
        width = grid + 1.6 + 0.3
        below = 1.2 + footnote_height(footnote, width)
        height = grid + below + 0.95
        fig, ax = plt.subplots(figsize=(width, height))
        fig.subplots_adjust(left=1.6 / width, right=1 - 0.3 / width, bottom=below / height,
                            top=1 - 0.95 / height)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize="x-small",
                            color="white" if share[i, j] > 0.5 else "black")
        ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize="small")
        ax.set_yticks(range(k), classes, fontsize="small")
        ax.set_xlabel("predicted class (colour: share of the true class)")
        ax.set_ylabel("true class")
    else:
        top = most_confused(counts, pairs)
        below = 0.7 + footnote_height(footnote, 8)
        height = 1.2 + below + 0.3 * max(len(top), 1)
        fig, ax = plt.subplots(figsize=(8, height))
        fig.subplots_adjust(left=0.33, bottom=below / height, right=0.97, top=1 - 1.2 / height)
        y = np.arange(len(top))[::-1]
        ax.barh(y, [counts[i, j] for i, j in top], color="tab:blue")
        ax.set_yticks(y, [f"{classes[i]} \u2192 {classes[j]}" for i, j in top], fontsize="small")
        for yi, (i, j) in zip(y, top):
            ax.text(counts[i, j], yi, f" {counts[i, j]} ({100 * share[i, j]:.0f}% of {classes[i]})",
                    va="center", fontsize="x-small")
        ax.set_xlabel("test images of the true class predicted as the other")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0, 1.4 * max([counts[i, j] for i, j in top], default=1))  # room for the labels
        ax.grid(axis="x", alpha=0.3)
        if not top:
            ax.text(0.5, 0.5, "no image was misclassified", ha="center", va="center",
                    transform=ax.transAxes)
        title += f"\nthe {len(top)} most confused pairs (true \u2192 predicted) of {k} classes"
    correct = int(np.trace(counts))
    fig.suptitle(f"{title}\n{correct} of {total} images right ({100 * correct / max(total, 1):.1f}%)",
                 fontsize="medium")
    save(fig, path, footnote, dpi=100)
