"""One training step of each named step in fp32 and in bf16 autocast, the two interleaved.

Each step's own network, batch size and optimizer as train.run builds them (channels_last, fused
kernel), stepped by train.train_one_epoch on one random batch: the two precisions alternate
(fp32, bf16, then bf16, fp32, ...) and the fastest and the median of each are printed. The fastest
is the step least disturbed by other jobs on the machine, so it reads through a busy CPU better
than whole epochs do (python -m benchmarks). Nothing here asserts a speed.

Run: python -m benchmarks.precision --step CNN2 CNN4a 001-A 002-CNN5 003-final 004-Model2
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from typing import Sequence

import torch

import devices
import optimizers
import train
from benchmarks.measure import loadavg
from errors import OneLineParser
from experiments import load_experiment, resolve_path

PRECISIONS = ("fp32", "bf16")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    p = OneLineParser(prog="python -m benchmarks.precision", description=__doc__.split("\n\n")[0])
    p.add_argument("--step", nargs="+", default=["002-CNN5"], help="steps to time (default: 002-CNN5)")
    p.add_argument("--reps", type=int, default=7, help="steps of each precision (default: 7)")
    p.add_argument("--batch-size", type=int, help="images per batch (default: the step's)")
    args = p.parse_args(argv)
    if args.reps < 1 or (args.batch_size or 1) < 1:
        p.error("--reps and --batch-size must be at least 1")
    return args


def step_times(step: str, reps: int, batch_size: int | None) -> dict[str, list[float]]:
    """Seconds of each training step of `step` in each precision, interleaved."""
    exp = load_experiment(resolve_path(step))
    cfg = dataclasses.replace(exp.config, pretrained=False,
                              batch_size=batch_size or exp.config.batch_size)
    cpu = torch.device("cpu")
    x = torch.randn(cfg.batch_size, 3, cfg.image_size, cfg.image_size)
    y = torch.randint(0, cfg.num_classes, (cfg.batch_size,))
    runs = {}
    for precision in PRECISIONS:
        torch.manual_seed(0)
        model = devices.prepare_model(exp.model(cfg), cpu)
        runs[precision] = (model, optimizers.make_optimizer(model, cfg, cpu))
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for rep in range(reps + 1):  # the first round warms up: oneDNN picks its kernels
        for precision in PRECISIONS if rep % 2 == 0 else PRECISIONS[::-1]:
            model, optimizer = runs[precision]
            start = time.perf_counter()
            train.train_one_epoch(model, [(x, y)], optimizer, cpu, step, precision=precision)
            if rep:
                times[precision].append(time.perf_counter() - start)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    """Time each step in both precisions and print a row per step."""
    args = parse_args(argv)
    flags = sorted(devices.cpu_flags() & {*devices.NATIVE_BF16, "avx512f", "amx_tile"})
    print(f"torch {torch.__version__}, {devices.cpu_name()}, {torch.get_num_threads()} threads; "
          f"CPU flags: {' '.join(flags) or 'no avx512f, amx or bf16'}; load average {loadavg()}")
    print(f"{'step':<11} {'batch':>5} {'fp32 ms (fastest, median)':>26} "
          f"{'bf16 ms (fastest, median)':>26} {'fp32/bf16 (fastest, median)':>28}")
    for step in args.step:
        t = step_times(step, args.reps, args.batch_size)
        best = {p: 1000 * min(t[p]) for p in PRECISIONS}
        mid = {p: 1000 * statistics.median(t[p]) for p in PRECISIONS}
        batch = args.batch_size or load_experiment(resolve_path(step)).config.batch_size
        print(f"{step:<11} {batch:>5} {best['fp32']:>15.0f} {mid['fp32']:>10.0f} "
              f"{best['bf16']:>15.0f} {mid['bf16']:>10.0f} {best['fp32'] / best['bf16']:>17.2f}x "
              f"{mid['fp32'] / mid['bf16']:>9.2f}x", flush=True)
    print(f"load average {loadavg()}; {args.reps} steps of each after one to warm up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
