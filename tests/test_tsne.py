"""figures/tsne.py: the subsample, each backend, the missing-library message, the figure (plot_tsne).

A backend is forced by hiding the other: sys.modules[name] = None makes `import name` raise
ImportError. openTSNE imports scikit-learn itself, so it cannot be the only library present.
"""
import subprocess
import sys

import matplotlib.colors
import numpy as np
import pytest
import torch

import plotting
from benchmarks import tsne as bench
from errors import UserError
from figures import tsne

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# ---------------------------------------------------------------------------------------------
# stratified_sample
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def labels():
    """30 images of class 0, 3 of class 1 (fewer than asked for), 12 of class 4, shuffled."""
    y = torch.tensor([0] * 30 + [1] * 3 + [4] * 12)
    return y[torch.randperm(len(y), generator=torch.Generator().manual_seed(1))]


def test_stratified_sample_takes_per_class_of_each_and_all_of_a_small_class(labels):
    idx = tsne.stratified_sample(labels, 5, seed=0)
    picked = labels[idx]
    assert [(picked == c).sum().item() for c in (0, 1, 4)] == [5, 3, 5]
    assert len(idx.unique()) == len(idx) == 13
    assert torch.equal(idx, idx.sort().values)


def test_stratified_sample_is_seeded(labels):
    a, b = tsne.stratified_sample(labels, 5, seed=0), tsne.stratified_sample(labels, 5, seed=0)
    assert torch.equal(a, b)
    assert not torch.equal(a, tsne.stratified_sample(labels, 5, seed=1))


def test_stratified_sample_none_is_every_index(labels):
    assert torch.equal(tsne.stratified_sample(labels, None, seed=0), torch.arange(len(labels)))
    assert torch.equal(tsne.stratified_sample(labels, 1000, seed=0), torch.arange(len(labels)))


# ---------------------------------------------------------------------------------------------
# embed
# ---------------------------------------------------------------------------------------------

def clusters(n_per: int = 20, k: int = 3, dim: int = 50) -> tuple[torch.Tensor, np.ndarray]:
    """k well-separated Gaussian clusters (centres ~14 noise-widths apart) of n_per points each."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(k, dim, generator=g) * 2
    y = np.repeat(np.arange(k), n_per)
    return centres[y] + 0.1 * torch.randn(len(y), dim, generator=g), y


@pytest.fixture(params=["openTSNE", "scikit-learn"])
def only(request, monkeypatch):
    """Each backend in turn, the other hidden; skipped where it is not installed."""
    if request.param == "openTSNE":
        pytest.importorskip("openTSNE")
    else:
        pytest.importorskip("sklearn")
        monkeypatch.setitem(sys.modules, "openTSNE", None)
    return request.param


def test_embed_separates_clusters_with_each_backend(only):
    x, y = clusters()
    points, name, seconds = tsne.embed(x, perplexity=50, seed=0)
    assert points.shape == (60, 2) and np.isfinite(points).all()
    assert name.startswith(only) and tsne.backend().startswith(only)
    assert "perplexity 19.7 (not 50: only 60 points)" in name  # clamped to (60 - 1) / 3
    assert seconds >= 0
    # Nearest centroid in 2-d gives back every label.
    centroids = np.stack([points[y == c].mean(0) for c in range(3)])
    nearest = ((points[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == y).all()


def test_embed_keeps_a_perplexity_that_fits(only):
    x, _ = clusters()
    points, name, _ = tsne.embed(x.numpy(), perplexity=5, seed=0)
    assert points.shape == (60, 2) and "perplexity" not in name


def test_embed_is_seeded():
    x, _ = clusters()
    assert np.array_equal(tsne.embed(x, seed=3)[0], tsne.embed(x, seed=3)[0])


def test_neither_library_names_both_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openTSNE", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    for call in (lambda: tsne.embed(np.zeros((10, 3))), tsne.backend):
        with pytest.raises(UserError) as e:
            call()
        message = str(e.value)
        assert "pip install openTSNE" in message and "pip install scikit-learn" in message
        assert "\n" not in message


def test_importing_the_kit_imports_neither_library():
    code = ("import sys, figures.tsne, plotting, benchmarks.tsne\n"
            "print(sorted(m for m in ('openTSNE', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_benchmark_prints_a_line_per_backend(capsys):
    assert bench.main(["--n", "40", "--dim", "8", "--clusters", "2"]) == 0
    out = capsys.readouterr().out
    assert "40 x 8 float32, 2 clusters" in out and "load average" in out
    for name in ("openTSNE", "sklearn"):
        assert any(line.startswith(name) and " s  (" in line for line in out.splitlines()), out


# ---------------------------------------------------------------------------------------------
# plot_tsne
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def figures(monkeypatch):
    """The figures plotting closes, kept open for inspection (and closed after the test)."""
    kept, close = [], plotting.plt.close
    monkeypatch.setattr(plotting.plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


@pytest.mark.parametrize("panels, n_classes, columns", [(3, 10, 1), (2, 20, 1), (1, 100, 4), (4, 2, 1)])
def test_plot_tsne_draws_one_axes_per_panel_and_one_legend(tmp_path, figures, panels, n_classes,
                                                           columns):
    rng = np.random.default_rng(0)
    classes = CLASSES if n_classes == 10 else [f"class {i}" for i in range(n_classes)]
    data = [(f"epoch {i}", rng.normal(size=(200, 2)), rng.integers(0, n_classes, 200))
            for i in range(panels)]
    path = tmp_path / "tsne.png"
    tsne.plot_tsne(data, classes, "latent\nopenTSNE 1.0.4, 200 points", str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = figures
    assert [ax.get_title() for ax in fig.axes] == [f"epoch {i}" for i in range(panels)]
    assert all(len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == 200
               for ax in fig.axes)
    (legend,) = fig.legends
    assert not any(ax.get_legend() for ax in fig.axes)
    assert [t.get_text() for t in legend.get_texts()] == list(classes)
    assert legend._ncols == columns
    colours = {matplotlib.colors.to_hex(h.get_color()) for h in legend.legend_handles}
    assert len(colours) == n_classes


def test_plot_tsne_colours_points_by_class(tmp_path, figures):
    points = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    tsne.plot_tsne([("p", points, np.array([2, 0, 2]))], CLASSES, "t", str(tmp_path / "a.png"))
    drawn = figures[0].axes[0].collections[0]
    tab10 = tsne.class_colours(10)
    # Points are drawn in a shuffled order; match each colour to its point by position.
    by_point = {tuple(p): tuple(c) for p, c in zip(drawn.get_offsets(), drawn.get_facecolors())}
    assert by_point[(1.0, 1.0)][:3] == tuple(tab10[0]) and by_point[(0.0, 0.0)][:3] == tuple(tab10[2])
