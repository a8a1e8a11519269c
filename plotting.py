"""Pure drawing: loss and accuracy per step, overlays, the overview, images, softmax bars, t-SNE.

Every function takes numbers or tensors (and, for a step's look, its report's steps in order) and
writes one PNG. It imports no registry: reading runs back and building models is figures/' job,
deciding what to draw is results.py's.
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: runs happen on servers without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from config import Reported  # noqa: E402

DPI = 150  # sharp in a printed A4 report at full width, small enough to browse
TRAIN_STYLE = {"color": "tab:blue", "linestyle": "-", "marker": "o", "markersize": 3}
VAL_STYLE = {"color": "tab:green", "linestyle": "-.", "marker": "^", "markersize": 3}
TEST_STYLE = {"color": "tab:orange", "linestyle": "--", "marker": "s", "markersize": 3}
TRAIN_EVAL_STYLE = {"color": "tab:purple", "linestyle": ":", "marker": "v", "markersize": 3}
SPLIT_LABELS = {"train_eval": "train (eval mode)", "val": "validation"}
BEST_STYLE = {"color": "tab:cyan", "linestyle": ":", "linewidth": 1.5}  # report 002's best-epoch line

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
# Curves
# ---------------------------------------------------------------------------------------------

def epoch_axes(ax: plt.Axes, ylabel: str, title: str | None = None) -> None:
    """Label an axes whose x is the epoch: whole-number ticks, the y label, a light grid."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_loss_accuracy(history: list[dict[str, float]], step: str, path: str,
                       best_epoch: int | None = None, low: list[dict[str, float]] | None = None,
                       high: list[dict[str, float]] | None = None) -> None:
    """The step's loss and accuracy per epoch, train, validation (if any) and test, saved as a PNG.

    best_epoch, if given, is drawn as a dotted vertical line: the weights early stopping kept.
    low and high, rows as history's: the band around each curve (several seeds: history is their
    mean, low and high their minimum and maximum).
    """
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss (per image)"),
                           (ax_acc, "accuracy", "accuracy (%)")):
        for split, style in (("train", TRAIN_STYLE), ("train_eval", TRAIN_EVAL_STYLE),
                             ("val", VAL_STYLE), ("test", TEST_STYLE)):
            # Evaluations between epochs (eval_every) have no running train figures: each its own x.
            rows = [r for r in history if f"{split}_{key}" in r]
            if f"{split}_{key}" in history[-1]:
                ax.plot([r["epoch"] for r in rows], [r[f"{split}_{key}"] for r in rows],
                        label=SPLIT_LABELS.get(split, split), **style)
                if low is not None and high is not None:
                    k = f"{split}_{key}"
                    ax.fill_between([r["epoch"] for r in rows], [r[k] for r in low if k in r],
                                    [r[k] for r in high if k in r], color=style["color"], alpha=0.2,
                                    linewidth=0, label="band: min-max" if split == "train" else None)
        if best_epoch:
            ax.axvline(best_epoch, label=f"best epoch ({best_epoch})", **BEST_STYLE)
        epoch_axes(ax, label)
        ax.legend()
    last = history[-1]
    val = f", validation accuracy {last['val_accuracy']:.1f}%" if "val_accuracy" in last else ""
    fig.suptitle(f"{step}: after {sum('seconds' in r for r in history)} epochs, train loss {last['train_loss']:.3f}{val}, "
                 f"test accuracy {last['test_accuracy']:.1f}%")
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_overlay(curves: dict[str, list[dict[str, float]]], metric: str, ylabel: str, title: str,
                 path: str, order: Sequence[str]) -> None:
    """One metric per epoch for several steps in one axes: a sweep (dropout p, batch size ...).

    order: the steps' report's steps, which give each its look (step_style).
    """
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for step, history in curves.items():
        ax.plot([r["epoch"] for r in history], [r[metric] for r in history], label=step,
                markersize=4, **step_style(step, order))
    epoch_axes(ax, ylabel)
    if curves:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no runs yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_overview(histories: dict[str, list[dict[str, float]]],
                  reported: dict[str, Reported | None], path: str) -> None:
    """Every step's test accuracy per epoch, and each final accuracy beside the report's.

    `reported` lists the steps to show, in their report's order (which gives each its look); a
    step missing from `histories` is marked "not run" rather than left out.
    """
    steps = list(reported)
    fig, (ax_curve, ax_bar) = plt.subplots(
        1, 2, figsize=(14, 5.5), constrained_layout=True, gridspec_kw={"width_ratios": (3, 2)})

    for step in steps:
        if step in histories:
            h = histories[step]
            ax_curve.plot([r["epoch"] for r in h], [r["test_accuracy"] for r in h], label=step,
                          markersize=4, **step_style(step, steps))
    epoch_axes(ax_curve, "test accuracy (%)", "test accuracy per epoch")
    if histories:
        ax_curve.legend(ncol=2, fontsize="small")
    else:
        ax_curve.text(0.5, 0.5, "no runs yet", ha="center", va="center",
                      transform=ax_curve.transAxes)

    # Two bars per step: the run's final accuracy filled, the report's hatched (greyscale-safe).
    y = np.arange(len(steps))[::-1] * 1.0
    height = 0.38
    for yi, step in zip(y, steps):
        colour = step_style(step, steps)["color"]
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
            ax_bar.text(acc + 0.5, yi + height / 2, f"{acc:.1f}%", va="center",
                        fontsize="x-small")
        else:
            ax_bar.text(0.5, yi + height / 2, "not run", va="center", fontsize="x-small",
                        style="italic")
    ax_bar.set_yticks(y, steps)
    ax_bar.set_xlabel("final test accuracy (%)")
    ax_bar.set_xlim(0, 100)
    ax_bar.set_title("final test accuracy: run vs report")
    ax_bar.grid(axis="x", alpha=0.3)
    ax_bar.legend(handles=[Patch(facecolor="0.4", label="run (last epoch)"),
                           Patch(facecolor="white", edgecolor="0.2", hatch="///", label="report")],
                  loc="upper right", fontsize="small")
    fig.suptitle(f"All steps: {len(histories)} of {len(steps)} run")
    fig.savefig(path, dpi=DPI)
    plt.close(fig)



# ---------------------------------------------------------------------------------------------
# Images, and what a network makes of them
# ---------------------------------------------------------------------------------------------

def plot_images(images: torch.Tensor, titles: Sequence[str], title: str, path: str) -> None:
    """Images (N, 3, H, W) in [0, 1] in one row, each with its caption (a class name)."""
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), squeeze=False, constrained_layout=True)
    for ax, image, caption in zip(axes[0], images, titles):
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax.set_title(caption, fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_softmax(images: torch.Tensor, titles: Sequence[str], probs: torch.Tensor,
                 classes: Sequence[str], title: str, path: str) -> None:
    """Each image beside a bar chart of its class probabilities, the largest one highlighted.

    images (N, 3, H, W) in [0, 1]; probs (N, classes). The bars are labelled with the value,
    in scientific notation as report 001 prints them.
    """
    n = len(images)
    fig, axes = plt.subplots(n, 2, figsize=(9, 2.1 * n), squeeze=False, constrained_layout=True,
                             gridspec_kw={"width_ratios": (1, 4)})
    for (ax_img, ax_bar), image, caption, p in zip(axes, images, titles, probs):
        ax_img.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax_img.set_title(f"true: {caption}", fontsize="small")
        ax_img.set_xticks([])
        ax_img.set_yticks([])
        top = int(p.argmax())
        colours = ["tab:orange" if k == top else "0.7" for k in range(len(p))]
        ax_bar.bar(range(len(p)), p.numpy(), color=colours, edgecolor="0.3",
                   hatch=["//" if k == top else "" for k in range(len(p))])
        ax_bar.set_xticks(range(len(p)), classes, rotation=30, ha="right", fontsize="x-small")
        ax_bar.set_ylim(0, 1.15)
        ax_bar.set_ylabel("probability", fontsize="small")
        ax_bar.text(top, float(p[top]) + 0.03, f"{float(p[top]):.4e}", ha="center",
                    fontsize="x-small")
        ax_bar.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# t-SNE: points coloured by class, one panel per snapshot
# ---------------------------------------------------------------------------------------------

def class_colours(n: int) -> np.ndarray:
    """n distinct RGBA colours: tab10 up to 10 classes, tab20 up to 20, else n steps around turbo."""
    if n <= 20:
        return np.array(plt.get_cmap("tab10" if n <= 10 else "tab20").colors[:n])
    # No qualitative map has 100 colours (CIFAR-100); a stride of about n/3 through turbo keeps
    # neighbouring class numbers (often related classes) far apart in colour.
    stride = next(s for s in range(n // 3, n) if math.gcd(s, n) == 1)
    return plt.get_cmap("turbo")(((np.arange(n) * stride) % n) / (n - 1))


def plot_tsne(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], classes: Sequence[str],
              title: str, path: str) -> None:
    """One t-SNE scatter per (title, points (n, 2), labels (n,)) panel, side by side, one legend."""
    assert 1 <= len(panels) <= 4, f"1 to 4 panels side by side, got {len(panels)}"
    colours = class_colours(len(classes))
    ncol = math.ceil(len(classes) / 25)  # legend columns of at most 25 names (CIFAR-100: 4)
    fig, axes = plt.subplots(1, len(panels), squeeze=False, layout="constrained",
                             figsize=(4.5 * len(panels) + 0.5 + 1.5 * ncol, 5))
    for ax, (label, points, labels) in zip(axes.flat, panels):
        points, labels = np.asarray(points), np.asarray(labels)
        assert points.ndim == 2 and points.shape[1] == 2 and len(labels) == len(points)
        # Drawn in a fixed random order: in label order the last class would cover the others.
        order = np.random.default_rng(0).permutation(len(points))
        ax.scatter(points[order, 0], points[order, 1], c=colours[labels[order]], s=3,
                   linewidths=0)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])  # t-SNE axes have no units; distances between clusters mean little
        ax.set_yticks([])
        ax.set_title(label, fontsize="medium")
    handles = [plt.Line2D([], [], linestyle="", marker="o", markersize=6, color=c, label=name)
               for c, name in zip(colours, classes)]
    fig.legend(handles=handles, loc="outside right center", fontsize="small", ncol=ncol)
    fig.suptitle(title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
