"""Grids of tiles: first-layer kernels and feature maps, one mosaic image per panel.

Pure drawing, like plotting.py: every function takes tensors and writes one PNG (plotting.save,
with its optional footnote).
"""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from plotting import DPI, NARROW_WIDTH, narrow_path, save

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
                 width: float = 6.0, **imshow: object) -> int:
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
    # Wrapped to the panel's width in inches (about 11 characters an inch at 12 pt): side by
    # side, two long titles would run into each other.
    ax.set_title(textwrap.fill(title, max(20, int(width * 11))), fontsize="medium")
    return placed


def _aspect(n: int) -> float:
    """Width over height of the mosaic of n square tiles."""
    rows, cols = grid_shape(n)
    return cols / rows


def _panel_height(tiles: torch.Tensor) -> float:
    """Inches per row of panels: 4 for a square grid, 3 for a wide one (32 tiles: 4x8, already
    6 inches wide), or enough that large maps are drawn a pixel per pixel."""
    rows, _ = grid_shape(len(tiles))
    return max(3.0 if _aspect(len(tiles)) > 1.5 else 4.0, rows * (tiles.shape[1] + 1) / DPI)


def _narrow_height(n: int, aspect: float, text: float = 1.2) -> float:
    """Inches of a narrow variant (NARROW_WIDTH wide) holding n panels of this aspect one to a row."""
    return n * ((NARROW_WIDTH - 0.5) / aspect + 0.5) + text


def _title(title: str, slim: bool) -> str:
    return "\n".join(textwrap.fill(line, 48) for line in title.splitlines()) if slim else title


def plot_kernels(panels: Sequence[tuple[str, torch.Tensor]], title: str, path: str, *,
                 footnote: str = "", narrow: bool = False) -> list[int]:
    """First-layer kernels, one grid per (label, weight) panel; returns the tiles in each grid.

    Square grids go side by side, wide ones (32 kernels: 4x8) two to a row. narrow: also
    narrow_path(path), one grid to a row NARROW_WIDTH inches wide, for a phone.
    """
    tiles = [kernel_tiles(w) for _, w in panels]
    aspect, height = _aspect(len(tiles[0])), _panel_height(tiles[0])
    wide = aspect > 1.5
    n = len(panels)
    cols = min(2, n) if wide else n
    rows = -(-n // cols)
    title = f"{title}\n(each kernel scaled to its own range; RGB kernels in colour)"
    counts: list[int] = []
    for slim in (False, True) if narrow else (False,):
        shape, size = ((n, 1), (NARROW_WIDTH, _narrow_height(n, aspect))) if slim else (
            (rows, cols), (cols * aspect * height + 0.5, rows * (height + 0.4) + 0.8))
        fig, axes = plt.subplots(*shape, squeeze=False, layout="constrained", figsize=size)
        for ax in axes.flat[n:]:
            ax.axis("off")
        width = NARROW_WIDTH if slim else aspect * height
        counts = [_show_mosaic(ax, t, label, xlabel=not slim or i == n - 1, width=width)
                  for i, (ax, t, (label, _)) in enumerate(zip(axes.flat, tiles, panels))]
        fig.suptitle(_title(title, slim))
        save(fig, narrow_path(path) if slim else path, footnote, bbox_inches="tight")
    return counts


def plot_feature_maps(image: torch.Tensor, image_label: str,
                      panels: Sequence[tuple[str, torch.Tensor]], title: str, path: str, *,
                      footnote: str = "", narrow: bool = False) -> list[int]:
    """The input image beside one grid of output channels per (label, maps) panel; returns tiles per grid.

    image: (3, H, W) in [0, 1], as the model sees it but before normalization; maps: (C, h, w).
    The image and the grids side by side; narrow: also narrow_path(path), the image above the
    grids, one to a row, NARROW_WIDTH wide.
    """
    tiles = [_scale_each(m.detach().cpu().float()) for _, m in panels]
    aspect, height = _aspect(len(tiles[0])), _panel_height(tiles[0])
    n = len(panels)
    title = f"{title}\n(each channel scaled to its own range: black lowest, white highest)"
    counts: list[int] = []
    for slim in (False, True) if narrow else (False,):
        fig, ax_image, ax_maps = _maps_layout(n, aspect, height, slim)
        ax_image.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax_image.set_title(image_label, fontsize="medium")
        ax_image.set_xlabel("x (pixels)", fontsize="small")
        ax_image.set_ylabel("y (pixels)", fontsize="small")
        ax_image.tick_params(labelsize="x-small")
        # Grids one above the other share the channel numbering: only the lowest says how to read it.
        counts = [_show_mosaic(ax, t, label, xlabel=not slim or i == n - 1, cmap="gray", vmin=0,
                               vmax=1, width=NARROW_WIDTH if slim else aspect * height)
                  for i, (ax, t, (label, _)) in enumerate(zip(ax_maps, tiles, panels))]
        fig.suptitle(_title(title, slim))
        save(fig, narrow_path(path) if slim else path, footnote, bbox_inches="tight")
    return counts


def _maps_layout(n: int, aspect: float, height: float,
                 slim: bool) -> tuple[plt.Figure, plt.Axes, list[plt.Axes]]:
    """plot_feature_maps' figure: the image and n grids of this aspect in a row, each `height`
    inches high; slim: the image (half the width) above the grids, one to a row, NARROW_WIDTH wide."""
    if slim:
        image = NARROW_WIDTH / 2
        fig = plt.figure(layout="constrained",
                         figsize=(NARROW_WIDTH, _narrow_height(n, aspect) + image + 0.5))
        grid = fig.add_gridspec(n + 1, 1, height_ratios=(image, *[(NARROW_WIDTH - 0.5) / aspect] * n))
        return fig, fig.add_subplot(grid[0, 0]), [fig.add_subplot(grid[1 + i, 0]) for i in range(n)]
    fig = plt.figure(layout="constrained", figsize=((1 + n * aspect) * height + 0.5, height + 1.2))
    grid = fig.add_gridspec(1, 1 + n, width_ratios=(1, *[aspect] * n))
    return fig, fig.add_subplot(grid[0, 0]), [fig.add_subplot(grid[0, 1 + i]) for i in range(n)]
