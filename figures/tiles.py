"""Grids of tiles: first-layer kernels and feature maps, one mosaic image per panel.

Pure drawing, like plotting.py: every function takes tensors and writes one PNG (plotting.save,
with its optional footnote).
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from plotting import DPI, save

def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for n tiles: a power of two across, at least as wide as tall (32 -> 4x8)."""
    assert n > 0
    cols = 1 << math.ceil(math.log2(math.sqrt(n))) if n > 1 else 1
    return math.ceil(n / cols), cols


def mosaic(tiles: torch.Tensor, gap: int = 1, fill: float = 1.0) -> tuple[np.ndarray, int]:
    """Tiles (N, h, w) or (N, h, w, 3) in [0, 1] laid out on grid_shape(N), `gap` pixels apart.

    Returns the image and the number of tiles placed in it.
    """
    n, h, w = tiles.shape[:3]
    rows, cols = grid_shape(n)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, *tiles.shape[3:]), fill,
                  dtype=np.float32)
    placed = 0
    for k, tile in enumerate(tiles.numpy()):
        r, c = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
        placed += 1
    return out, placed


def _scale_each(x: torch.Tensor) -> torch.Tensor:
    """Each item of the batch stretched to [0, 1] over its own range (a flat item becomes 0.5)."""
    flat = x.flatten(1).float()
    low, high = flat.min(1).values, flat.max(1).values
    span = (high - low).clamp_min(1e-12)
    scaled = (flat - low[:, None]) / span[:, None]
    scaled[high == low] = 0.5
    return scaled.view_as(x)


def kernel_tiles(weight: torch.Tensor) -> torch.Tensor:
    """A convolution's weight (out, in, kh, kw) as images (out, kh, kw, 3), each kernel scaled alone.

    RGB kernels keep their colours (one range over the three channels); one-channel kernels are grey.
    """
    assert weight.dim() == 4 and weight.shape[1] in (1, 3), f"cannot draw kernels {tuple(weight.shape)}"
    tiles = _scale_each(weight.detach().cpu()).permute(0, 2, 3, 1)
    return tiles.expand(*tiles.shape[:3], 3) if tiles.shape[-1] == 1 else tiles


_TILE_PIXELS = 32  # small tiles are enlarged to about this before laying out, so gaps stay thin


def _show_mosaic(ax: plt.Axes, tiles: torch.Tensor, title: str, xlabel: bool = True,
                 **imshow: object) -> int:
    scale = max(1, _TILE_PIXELS // tiles.shape[1])
    big = tiles.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    h, w = big.shape[1:3]
    gap = max(1, h // 28)
    image, placed = mosaic(big, gap=gap)
    rows, cols = grid_shape(len(tiles))
    ax.imshow(image, interpolation="nearest", **imshow)
    # Ticks at tile centres: channel k sits at row k // cols, column k % cols.
    ax.set_xticks([c * (w + gap) + (w - 1) / 2 for c in range(cols)], range(cols))
    ax.set_yticks([r * (h + gap) + (h - 1) / 2 for r in range(rows)], range(rows))
    ax.tick_params(length=0, labelsize="x-small")
    if xlabel:
        ax.set_xlabel(f"channel = {cols} x row + column", fontsize="small")
    ax.set_title(title, fontsize="medium")
    return placed


def _aspect(n: int) -> float:
    """Width over height of the mosaic of n square tiles."""
    rows, cols = grid_shape(n)
    return cols / rows


def _panel_height(tiles: torch.Tensor) -> float:
    """Inches per row of panels: 4, or enough that large maps are drawn a pixel per pixel."""
    rows, _ = grid_shape(len(tiles))
    return max(4.0, rows * (tiles.shape[1] + 1) / DPI)


def plot_kernels(panels: Sequence[tuple[str, torch.Tensor]], title: str, path: str, *,
                 footnote: str = "") -> list[int]:
    """First-layer kernels, one grid per (label, weight) panel; returns the tiles in each grid.

    Square grids go side by side, wide ones (32 kernels: 4x8) one above the other.
    """
    tiles = [kernel_tiles(w) for _, w in panels]
    aspect, height = _aspect(len(tiles[0])), _panel_height(tiles[0])
    stacked = aspect > 1.5
    rows, cols = (len(panels), 1) if stacked else (1, len(panels))
    fig, axes = plt.subplots(rows, cols, squeeze=False, layout="constrained", figsize=(
        cols * aspect * height + 0.5, rows * height + 1.2))
    counts = [_show_mosaic(ax, t, label, xlabel=not stacked or i == len(panels) - 1)
              for i, (ax, t, (label, _)) in enumerate(zip(axes.flat, tiles, panels))]
    fig.suptitle(f"{title}\n(each kernel scaled to its own range; RGB kernels in colour)")
    save(fig, path, footnote, bbox_inches="tight")
    return counts


def plot_feature_maps(image: torch.Tensor, image_label: str,
                      panels: Sequence[tuple[str, torch.Tensor]], title: str, path: str, *,
                      footnote: str = "") -> list[int]:
    """The input image beside one grid of output channels per (label, maps) panel; returns tiles per grid.

    image: (3, H, W) in [0, 1], as the model sees it but before normalization; maps: (C, h, w).
    Square grids go side by side, wide ones one above the other, with the image beside them all.
    """
    tiles = [_scale_each(m.detach().cpu().float()) for _, m in panels]
    aspect, height = _aspect(len(tiles[0])), _panel_height(tiles[0])
    stacked = aspect > 1.5
    n = len(panels)
    if stacked:  # the image as tall as the stack, the grids in one column
        fig = plt.figure(layout="constrained", figsize=((n + aspect) * height + 0.5, n * height + 1.2))
        grid = fig.add_gridspec(n, 2, width_ratios=(n, aspect))
        ax_image = fig.add_subplot(grid[:, 0])
        ax_maps = [fig.add_subplot(grid[i, 1]) for i in range(n)]
    else:
        fig = plt.figure(layout="constrained", figsize=((1 + n * aspect) * height + 0.5, height + 1.2))
        grid = fig.add_gridspec(1, 1 + n, width_ratios=(1, *[aspect] * n))
        ax_image = fig.add_subplot(grid[0, 0])
        ax_maps = [fig.add_subplot(grid[0, 1 + i]) for i in range(n)]
    ax_image.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax_image.set_title(image_label, fontsize="medium")
    ax_image.set_xlabel("x (pixels)", fontsize="small")
    ax_image.set_ylabel("y (pixels)", fontsize="small")
    ax_image.tick_params(labelsize="x-small")
    # Stacked grids share the channel numbering, so only the lowest says how to read it.
    counts = [_show_mosaic(ax, t, label, xlabel=not stacked or i == n - 1, cmap="gray", vmin=0, vmax=1)
              for i, (ax, t, (label, _)) in enumerate(zip(ax_maps, tiles, panels))]
    fig.suptitle(f"{title}\n(each channel scaled to its own range: black lowest, white highest)")
    save(fig, path, footnote, bbox_inches="tight")
    return counts
