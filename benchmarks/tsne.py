"""Seconds per t-SNE embedding with each installed library, on random clustered features.

Features are float32, `--clusters` Gaussian clusters in `--dim` dimensions (like a trained
net's latent, which is what the figure embeds), timed through tsne.embed with its defaults
(perplexity 50, 1,000 iterations). A library is left out by hiding the other one's import.
Nothing here asserts a speed; the figures are in BENCHMARKS.md, "t-SNE".

Run: python -m benchmarks.tsne --n 5000 --dim 2048
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator, Sequence

import numpy as np

import devices
from figures import tsne
from errors import OneLineParser, UserError

# What to hide from the import system so that tsne.embed falls through to the other library,
# and how embed names the library it used.
BACKENDS = {"openTSNE": (), "sklearn": ("openTSNE",)}
NAMES = {"openTSNE": "openTSNE", "sklearn": "scikit-learn"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The benchmark's command line."""
    p = OneLineParser(prog="python -m benchmarks.tsne", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=5000, help="points to embed (default: 5000)")
    p.add_argument("--dim", type=int, default=2048,
                   help="feature dimensions (default: 2048, report 003's latent)")
    p.add_argument("--clusters", type=int, default=10, help="Gaussian clusters (default: 10)")
    p.add_argument("--backend", nargs="+", choices=BACKENDS, default=list(BACKENDS),
                   help="libraries to time, in this order (default: openTSNE sklearn)")
    p.add_argument("--seed", type=int, default=0, help="features and t-SNE seed (default: 0)")
    args = p.parse_args(argv)
    if args.n < tsne.MIN_POINTS or args.dim < 1 or args.clusters < 1:
        p.error(f"--n must be at least {tsne.MIN_POINTS}, --dim and --clusters at least 1")
    return args


def clustered_features(n: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n float32 points in `clusters` Gaussian clusters (centres 3 noise-widths apart per axis)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n)
    centres = rng.normal(scale=3.0, size=(clusters, dim))
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


@contextlib.contextmanager
def hidden(*modules: str) -> Iterator[None]:
    """Make `import m` raise ImportError for each m inside the block (a None entry does that)."""
    saved = {m: sys.modules.get(m) for m in modules}
    sys.modules.update(dict.fromkeys(modules))
    try:
        yield
    finally:
        for m, module in saved.items():
            if module is None:
                del sys.modules[m]
            else:
                sys.modules[m] = module


def _load() -> str:
    try:  # Linux only
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    """Time tsne.embed with each requested library and print one line each."""
    args = parse_args(argv)
    features, _ = clustered_features(args.n, args.dim, args.clusters, args.seed)
    cpu = devices.cpu_name()
    print(f"{args.n:,} x {args.dim:,} float32, {args.clusters} clusters; {cpu}, "
          f"{tsne._cores()} cores")
    for name in args.backend:
        load = _load()
        try:
            with hidden(*BACKENDS[name]):
                y, used, seconds = tsne.embed(features, seed=args.seed)
        except UserError:
            used = "neither library"
        if not used.startswith(NAMES[name]):  # embed fell back to the other library
            print(f"{name:<9} not installed")
            continue
        assert y.shape == (args.n, 2) and np.isfinite(y).all()
        print(f"{name:<9} {seconds:8.1f} s  ({used}; load average {load} before)")
    print(f"load average {_load()} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
