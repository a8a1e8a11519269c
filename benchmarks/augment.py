"""Report 002's augmentation pipelines alone (no model): per image as the report ran them, or batched.

(a) the report's path: a torchvision-style Dataset handing PIL images to the transform, in a
    DataLoader with worker processes; (b) the kit's: augment.make_loader, batched on the device with
    per-image draws (augment/). The two alternate, A then B then B then A..., so that a change
    in the machine's load hits both; the ratio b/a is taken within each repetition. Nothing here
    asserts a speed: the figures belong in BENCHMARKS.md.

Run: python -m benchmarks.augment --images 5000 --reps 3
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from types import SimpleNamespace
from typing import Sequence

import torch

import augment
import data
import devices
from benchmarks.measure import (deliver, device_name, loadavg, profile, ratio_row, report_loader,
                                row, timed)
from errors import OneLineParser, UserError
from experiments.r002 import augmentations

CONFIGS = ("DA1", "DA2", "DA3", "VGG_DA")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The benchmark's command line."""
    p = OneLineParser(prog="python -m benchmarks.augment", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", nargs="+", default=list(CONFIGS), choices=CONFIGS,
                   help="pipelines of experiments/r002/augmentations.py to time (default: all)")
    p.add_argument("--images", type=int, default=5000,
                   help="synthetic training images per pass (default: 5000)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of each path (default: 3)")
    p.add_argument("--batch-size", type=int, default=200, help="images per batch (default: 200, "
                                                              "the report's)")
    p.add_argument("--workers", type=int, default=2,
                   help="DataLoader workers of (a) (default: 2, the report's)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="torch's intra-op threads in (b) (default: torch's, "
                        f"{torch.get_num_threads()} here); on a machine others load, 1 avoids "
                        "threads waiting for each other")
    p.add_argument("--seed", type=int, default=0, help="seed of the images and draws (default: 0)")
    p.add_argument("--profile", action="store_true",
                   help="after the timings, profile one pass of (b) and print where its time goes")
    args = p.parse_args(argv)
    if min(args.images, args.reps, args.batch_size, args.threads) < 1 or args.workers < 0:
        p.error("--images, --reps, --batch-size and --threads must be at least 1, --workers at "
                "least 0")
    return args


def bench_config(name: str, images: torch.Tensor, labels: torch.Tensor, args: argparse.Namespace,
                 device: torch.device) -> tuple[list[float], list[float]]:
    """Time one pipeline both ways, alternating; print the rows and return images/s of (a), (b)."""
    transform = getattr(augmentations, name)
    loader_a = report_loader(images, labels, SimpleNamespace(train_transform=transform),
                             args.batch_size, args.workers, args.seed)
    start = time.perf_counter()
    loader_b = augment.make_loader(images, labels, transform, args.batch_size, True, device, args.seed)
    setup_b = time.perf_counter() - start
    names = ", ".join(type(t).__name__ for t in augment.flatten(transform))
    print(f"== {name}: {names}")
    print(f"(a) DataLoader ({args.workers} workers) on PIL images, per image")
    print(f"(b) {loader_b.description} (set up in {setup_b:.2f} s, once per run)")
    deliver(loader_a, device), deliver(loader_b, device)  # warm-up: worker start, caches
    rates: dict[str, list[float]] = {"a": [], "b": []}
    for rep in range(args.reps):
        for variant in ("ab" if rep % 2 == 0 else "ba"):
            loader = loader_a if variant == "a" else loader_b
            rates[variant].append(len(images) / timed(lambda: deliver(loader, device), device))
    full = data.SIZES["synthetic"][0]
    print(f"{'':<6} {'':<4} {'images/s':>12} {f's/epoch ({full})':>14}")
    print(row("data", "(a)", rates["a"], full))
    print(row("data", "(b)", rates["b"], full))
    print(ratio_row("data", rates["a"], rates["b"]))
    if args.profile:
        print(profile(lambda: deliver(loader_b, device), device))
    print(f"load average after {name}: {loadavg()}\n", flush=True)
    return rates["a"], rates["b"]


def table(results: dict[str, tuple[list[float], list[float]]]) -> str:
    """The results as a Markdown table, as BENCHMARKS.md gives them."""
    lines = ["| pipeline | (a) per image, images/s | (b) batched, images/s | b/a median "
             "(min - max) |", "|---|---:|---:|---|"]
    for name, (a, b) in results.items():
        ratios = sorted(rb / ra for ra, rb in zip(a, b))
        lines.append(f"| {name} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | "
                     f"{statistics.median(ratios):.1f}x ({ratios[0]:.1f}x - {ratios[-1]:.1f}x) |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Benchmark the pipelines named on the command line; returns the exit code."""
    args = parse_args(argv)
    try:
        device = devices.resolve_device(args.device)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ds = data.synthetic(args.images, 1, args.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)  # (a)'s workers set theirs to 1, whatever this is
    try:
        print(f"torch {torch.__version__}, {platform.platform()}, {os.cpu_count()} CPUs; "
              f"{device} ({device_name(device)}); {args.images} synthetic images, batch "
              f"{args.batch_size}, {args.reps} reps; load average {loadavg()}\n")
        results = {name: bench_config(name, ds.train_images, ds.train_labels, args, device)
                   for name in args.config}
    finally:
        torch.set_num_threads(threads)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
