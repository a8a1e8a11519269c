"""t-SNE embeddings of saved features, for report 003's latent-space figures, at a cost people can
afford, and their scatter plot.

openTSNE when it is installed (FFT-accelerated: 40,000 x 2,048 in about 2.4 min on 2 CPU cores),
else scikit-learn (about 6 min for the same); both are imported only when an embedding is asked
for, so the kit runs without either. A stratified subsample (e.g. 500 per class) keeps a figure
to seconds; see BENCHMARKS.md, "t-SNE".
"""
from __future__ import annotations

import math
import os
import textwrap
import time
from typing import Sequence

import numpy as np
import torch

from errors import UserError
from plotting import NARROW_WIDTH, narrow_path, plt, save

INSTALL_HINT = ("pip install -e '.[tsne]' (both), or pip install openTSNE (faster) or pip install "
                "scikit-learn")
MIN_POINTS = 4  # below this no perplexity satisfies both libraries' checks
SMALL = 1000  # openTSNE runs on one thread below this many points (see embed)


def stratified_sample(labels: torch.Tensor, per_class: int | None, seed: int) -> torch.Tensor:
    """Sorted indices of up to `per_class` images of each class, drawn with `seed`; None = all."""
    labels = torch.as_tensor(labels).flatten().cpu()
    if per_class is None:
        return torch.arange(len(labels))
    assert per_class > 0, f"per_class must be positive, got {per_class}"
    g = torch.Generator().manual_seed(seed)
    # Classes in sorted order, one shared generator: the same seed gives the same sample.
    picks = [idx[torch.randperm(len(idx), generator=g)[:per_class]]
             for idx in (torch.nonzero(labels == c).flatten() for c in labels.unique())]
    return torch.cat(picks).sort().values if picks else torch.empty(0, dtype=torch.long)


def backend() -> str:
    """The library embed() would use, with its version (e.g. "openTSNE 1.0.4")."""
    return _load()[0]


def _load() -> tuple[str, object]:
    try:  # openTSNE also needs scikit-learn, so it fails to import without it too
        import openTSNE
        return f"openTSNE {openTSNE.__version__}", openTSNE
    except ImportError:
        pass
    try:
        import sklearn
        import sklearn.manifold
        return f"scikit-learn {sklearn.__version__}", sklearn.manifold
    except ImportError:
        raise UserError(f"t-SNE needs openTSNE or scikit-learn: {INSTALL_HINT}") from None


def _cores() -> int:
    try:  # the cores this process may use, which a container or taskset can limit
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def embed(features: np.ndarray | torch.Tensor, perplexity: float = 50,
          seed: int = 0) -> tuple[np.ndarray, str, float]:
    """A 2-d t-SNE embedding (n, 2) of features (n, ...), the library used, and the seconds taken.

    Perplexity is clamped to (n - 1) / 3 for small inputs (both libraries need about 3 x perplexity
    neighbours per point); the returned name then says so.
    """
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    x = np.ascontiguousarray(np.asarray(features, dtype=np.float32).reshape(len(features), -1))
    n = len(x)
    if n < MIN_POINTS:
        raise ValueError(f"t-SNE needs at least {MIN_POINTS} points, got {n}")
    name, lib = _load()
    if perplexity > (n - 1) / 3:
        clamped = (n - 1) / 3
        name += f", perplexity {clamped:.3g} (not {perplexity:g}: only {n} points)"
        perplexity = clamped
    start = time.perf_counter()
    # Threads meet at each of the 1,000 iterations; for small inputs the hand-offs cost more than
    # the work, and far more when other jobs hold the cores (60 points on a busy 2-core machine:
    # 0.3 s on one thread, 3-16 s on two; BENCHMARKS.md, "t-SNE").
    small = n < SMALL
    if name.startswith("openTSNE"):
        y = lib.TSNE(perplexity=perplexity, n_jobs=1 if small else _cores(),
                     random_state=seed).fit(x)
    else:
        from threadpoolctl import threadpool_limits  # scikit-learn's own dependency
        with threadpool_limits(1 if small else None):  # its OpenMP threads
            # 003's TSNE(perplexity=50, n_iter=1000); scikit-learn >= 1.7 calls it max_iter.
            y = lib.TSNE(perplexity=perplexity, max_iter=1000, random_state=seed,
                         init="pca").fit_transform(x)
    seconds = time.perf_counter() - start
    # A plain copy: openTSNE's result object keeps the affinity matrix (large for 40,000 points).
    return np.array(y, dtype=np.float32), name, seconds


# ---------------------------------------------------------------------------------------------
# The scatter: points coloured by class, one panel per snapshot
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
              title: str, path: str, *, footnote: str = "", narrow: bool = False) -> None:
    """One t-SNE scatter per (title, points (n, 2), labels (n,)) panel, side by side, one legend;
    narrow: also narrow_path(path), the panels one above the other and the legend under them,
    NARROW_WIDTH inches wide, for a phone."""
    assert 1 <= len(panels) <= 4, f"1 to 4 panels side by side, got {len(panels)}"
    colours = class_colours(len(classes))
    ncol = math.ceil(len(classes) / 25)  # legend columns of at most 25 names (CIFAR-100: 4)
    handles = [plt.Line2D([], [], linestyle="", marker="o", markersize=6, color=c, label=name)
               for c, name in zip(colours, classes)]
    for slim in (False, True) if narrow else (False,):
        n = len(panels)
        below = math.ceil(len(classes) / (2 if len(classes) <= 20 else 4))  # the legend's rows
        fig, axes = plt.subplots(n if slim else 1, 1 if slim else n, squeeze=False,
                                 layout="constrained",
                                 figsize=(NARROW_WIDTH, 5 * n + 0.25 * below + 1) if slim
                                 else (4.5 * n + 0.5 + 1.5 * ncol, 5))
        for ax, (label, points, labels) in zip(axes.flat, panels):
            _scatter(ax, label, np.asarray(points), np.asarray(labels), colours)
        if slim:  # under the last panel (a figure legend there would cover the footnote)
            axes.flat[-1].legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02),
                                 fontsize="small", ncol=2 if len(classes) <= 20 else 4,
                                 frameon=False)
        else:
            fig.legend(handles=handles, loc="outside right center", fontsize="small", ncol=ncol)
        fig.suptitle(textwrap.fill(title, 48) if slim else title)
        save(fig, narrow_path(path) if slim else path, footnote)


def _scatter(ax: plt.Axes, label: str, points: np.ndarray, labels: np.ndarray,
             colours: np.ndarray) -> None:
    assert points.ndim == 2 and points.shape[1] == 2 and len(labels) == len(points)
    # Drawn in a fixed random order: in label order the last class would cover the others.
    order = np.random.default_rng(0).permutation(len(points))
    ax.scatter(points[order, 0], points[order, 1], c=colours[labels[order]], s=3, linewidths=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])  # t-SNE axes have no units; distances between clusters mean little
    ax.set_yticks([])
    ax.set_title(label, fontsize="medium")
