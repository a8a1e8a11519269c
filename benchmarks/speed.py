"""The report's training loop against this project's, on the same images, model and machine.

(a) the report's loop: a torchvision-style Dataset handing PIL images to the step's transforms in
    a DataLoader with worker processes (shuffle=True: a RandomSampler), fp32, NCHW, the step's
    optimizer without its fused kernel, loss.item() per batch; (b) this project's:
    augment.make_loader and train.train_one_epoch, as main.py runs them, in each --precision
    (fp32, bf16: one model each, from the same seed).
The variants alternate, A then B then B then A..., so that a change in the machine's load hits
all; the ratios are taken within each repetition. Nothing here asserts a speed. The report's loop
(a), and how each thing is measured (the clock, FLOPs, the peak, the rows printed), are
benchmarks/measure.py's.

Run: python -m benchmarks --step CNN5b --images 5000 --reps 3
     python -m benchmarks --step 002-CNN5 --precision fp32,bf16
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Sequence

import torch

import augment
import data
import devices
import optimizers
import train
from benchmarks.measure import (count_flops, count_syncs, deliver, device_name, loadavg, measure_peak,
                                profile, ratio_row, report_epoch, report_loader, row, timed)
from errors import OneLineParser, UserError
from experiments import REPORT_STEPS, Experiment, load_experiment, resolve_path

WHAT = ("data", "train")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The benchmark's command line."""
    p = OneLineParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--step", nargs="+", default=["CNN5b"],
                   help=f"report steps to time, or 'all' ({', '.join(REPORT_STEPS)}; default: CNN5b)")
    p.add_argument("--images", type=int, default=5000,
                   help="training images per epoch; seconds per epoch are scaled to the full "
                        "dataset's 50,000 (default: 5000)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of each variant (default: 3)")
    p.add_argument("--dataset", choices=data.DATASETS, default="synthetic",
                   help="synthetic (no download; CIFAR's size) or a CIFAR in --data-dir "
                        "(default: synthetic)")
    p.add_argument("--data-dir", default="data", help="where CIFAR is (default: data/)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--what", default="data,train",
                   help="comma-separated: data (the pipeline alone, no model), train (whole "
                        "training epochs) (default: data,train)")
    p.add_argument("--precision", default="auto",
                   help="comma-separated precisions of (b), each timed beside the others: auto (what "
                        "main.py picks on the device), fp32, bf16 (default: auto)")
    p.add_argument("--batch-size", type=int, help="images per batch (default: the step's)")
    p.add_argument("--workers", type=int, default=2,
                   help="the report loop's DataLoader workers (default: 2, the report's)")
    p.add_argument("--compile", nargs="?", const="default", metavar="MODE",
                   help="torch.compile the model in (b), in torch.compile's MODE if given "
                        "(default, reduce-overhead: CUDA graphs, max-autotune)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the models (default: 0)")
    p.add_argument("--profile", action="store_true",
                   help="after the timings, profile one epoch of (b) with torch.profiler and print "
                        "where its time goes")
    args = p.parse_args(argv)
    what = args.what.split(",")
    if not what or any(w not in WHAT for w in what):
        p.error(f"--what {args.what}: give data, train or data,train")
    if args.images < 1 or args.reps < 1 or args.workers < 0 or (args.batch_size or 1) < 1:
        p.error("--images, --reps and --batch-size must be at least 1, --workers at least 0")
    args.what = what
    args.precision = list(dict.fromkeys(args.precision.split(",")))
    if any(q not in devices.PRECISIONS for q in args.precision):
        p.error(f"--precision {','.join(args.precision)}: give {', '.join(devices.PRECISIONS)} "
                f"or a comma-separated list")
    return args


# ---------------------------------------------------------------------------------------------
# One step, side by side
# ---------------------------------------------------------------------------------------------

def _gflops(flops_per_second: float) -> str:
    """GFLOP/s to three significant figures at least: an emulated bf16 peak is well under 1."""
    g = flops_per_second / 1e9
    return f"{g:,.0f}" if g >= 100 else f"{g:.3g}"


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _variants(precisions: list[str]) -> dict[str, str | None]:
    """The variants by label: (a), then (b) in each precision ("(b)" alone when there is one)."""
    return {"(a)": None, **{f"(b) {q}" if len(precisions) > 1 else "(b)": q for q in precisions}}


def bench_step(step: str, args: argparse.Namespace, device: torch.device,
               peaks: dict[torch.dtype, float]) -> dict[str, Any]:
    """Time one step's data pipeline and training epochs, (a) and (b) in turn; print and return them."""
    exp = load_experiment(resolve_path(step))
    cfg = dataclasses.replace(exp.config, dataset=args.dataset, data_dir=args.data_dir,
                              num_classes=data.NUM_CLASSES.get(args.dataset, exp.config.num_classes),
                              pretrained=False,
                              batch_size=args.batch_size or exp.config.batch_size)
    ds = data.load_dataset(args.dataset, args.data_dir, args.images, args.seed, cfg.num_classes)
    images, labels = ds.train_images, ds.train_labels
    full = data.SIZES[args.dataset][0]
    bs = cfg.batch_size
    precisions = [devices.resolve_precision(q, device) for q in args.precision]
    variants = _variants(list(dict.fromkeys(precisions)))

    start = time.perf_counter()
    loader_b = augment.make_loader(images, labels, exp.train_transform, bs, True, device, args.seed)
    setup_b = time.perf_counter() - start
    loader_a = report_loader(images, labels, exp, bs, args.workers, args.seed)
    forward, step_flops = count_flops(exp.model(cfg), cfg.image_size)

    print(f"== {step} on {device} ({device_name(device)}); {args.dataset}, {len(images)} images, "
          f"batch {bs}, {args.reps} reps; load average {loadavg()}")
    names = ", ".join(type(t).__name__ for t in augment.flatten(exp.train_transform))
    print(f"(a) report: DataLoader ({args.workers} workers) applying {names} to PIL images; fp32, "
          f"NCHW, {cfg.optimizer} as torch builds it by default, loss.item() per batch")
    computes = [devices.precision_text(q, device) if q == "bf16" else q for q in variants.values() if q]
    print(f"(b) ours: {loader_b.description} (set up in {setup_b:.2f} s, once per run); "
          f"{' and '.join(computes)}, "
          f"{'channels_last, ' if devices.uses_channels_last(exp.model(cfg)) else ''}{cfg.optimizer}"
          f"{' (fused)' if device.type in optimizers.FUSED_ON[cfg.optimizer] else ''}"
          f"{f', torch.compile (mode {args.compile})' if args.compile else ''}, sums kept on the device")
    print(f"FLOPs per image: forward {forward / 1e6:,.1f} M, training step {step_flops / 1e6:,.1f} M "
          f"(FlopCounterMode: convolutions and matrix products, 2 per multiply-add, backward "
          f"counted)")
    measured = ", ".join(f"{_name(k)} {_gflops(v)} GFLOP/s" for k, v in peaks.items())
    print(f"peak: {measured} (best large matmul, measured); % of peak below is each variant's own "
          f"precision's: (a) fp32, "
          + ", ".join(v if v.endswith(q) else f"{v} {q}" for v, q in variants.items() if q))
    print(f"{'what':<6} {'':<9} {'images/s':>12} {f's/epoch ({full})':>14} {'GFLOP/s':>10} "
          f"{'of peak':>10}")

    rates: dict[tuple[str, str], list[float]] = {}

    def record(what: str, variant: str, seconds: float) -> None:
        rates.setdefault((what, variant), []).append(len(images) / seconds)

    if "data" in args.what:
        deliver(loader_a, device), deliver(loader_b, device)  # warm-up: worker start, caches
        for rep in range(args.reps):
            for variant in ("ab" if rep % 2 == 0 else "ba"):
                loader = loader_a if variant == "a" else loader_b
                record("data", variant, timed(lambda: deliver(loader, device), device))
        print(row("data", "(a)", rates["data", "a"], full))
        print(row("data", "(b)", rates["data", "b"], full))
        print(ratio_row("data", rates["data", "a"], rates["data", "b"]))

    if "train" in args.what:
        runners = _training_runners(step, exp, cfg, args, device, images, labels, loader_a,
                                    loader_b, variants)
        order = list(variants)
        for rep in range(args.reps):
            for variant in (order if rep % 2 == 0 else order[::-1]):
                record("train", variant, timed(runners[variant], device))
        print("\n".join(_train_rows(rates, variants, full, step_flops, peaks)))
        if args.profile:
            print(profile(runners[order[-1]], device))
        if device.type == "cuda":
            print(f"host syncs in one epoch of (b): {count_syncs(runners[order[-1]])} "
                  f"(train_one_epoch reads its three sums once, at the end)")
    print(f"load average after {step}: {loadavg()}\n", flush=True)
    return {"step": step, "epochs": exp.config.epochs, "full": full,
            "variants": [v for v in variants if v != "(a)"],
            **{f"{what} {v}": statistics.median(r) for (what, v), r in rates.items()}}


def _train_rows(rates: dict[tuple[str, str], list[float]], variants: dict[str, str | None],
                full: int, flops: int, peaks: dict[torch.dtype, float]) -> list[str]:
    """The training rows: each variant against its own precision's peak, then each (b) against (a)
    and, with two precisions, the second against the first."""
    order = list(variants)
    lines = [row("train", variant, rates["train", variant], full, flops, peaks[DTYPES[q or "fp32"]])
             for variant, q in variants.items()]
    for variant in order[1:]:
        label = "b/a" if variant == "(b)" else f"{variant[4:]}/a"
        lines.append(ratio_row("train", rates["train", "(a)"], rates["train", variant], label))
    if len(order) == 3:  # two precisions of (b): the second against the first
        lines.append(ratio_row("train", rates["train", order[1]], rates["train", order[2]],
                               f"{order[2][4:]}/{order[1][4:]}"))
    return lines


def _training_runners(step: str, exp: Experiment, cfg: Any, args: argparse.Namespace,
                      device: torch.device, images: torch.Tensor, labels: torch.Tensor,
                      loader_a: Any, loader_b: Any,
                      variants: dict[str, str | None]) -> dict[str, Callable[[], None]]:
    """One epoch of each variant as a function, each with its own model from the same seed,
    warmed up (untimed) on two batches: kernel selection, worker start, compilation."""
    torch.manual_seed(args.seed)
    model_a = exp.model(cfg).to(device)
    # The report's optimizer as torch builds it by default: no fused kernel.
    optimizer_a = optimizers.OPTIMIZERS[cfg.optimizer](list(model_a.parameters()), cfg, False)

    def run_a(loader: Any = loader_a) -> None:
        torch.backends.cudnn.benchmark = False  # the report never set it
        report_epoch(model_a, loader, optimizer_a, device)

    def ours(precision: str) -> Callable[..., None]:
        torch.manual_seed(args.seed)
        model_b = devices.prepare_model(exp.model(cfg), device)
        optimizer_b = optimizers.make_optimizer(model_b, cfg, device)
        step_b = torch.compile(model_b, mode=args.compile) if args.compile else model_b

        def run_b(loader: Any = loader_b) -> None:
            devices.set_determinism(False, device)  # cuDNN's benchmark on CUDA, as train.run sets it
            train.train_one_epoch(step_b, loader, optimizer_b, device, step, precision=precision)
        return run_b

    runners = {v: ours(q) if q else run_a for v, q in variants.items()}
    few = min(len(images), 2 * cfg.batch_size)
    warm = time.perf_counter()
    for variant, q in variants.items():
        loader = (augment.make_loader(images[:few], labels[:few], exp.train_transform,
                                      cfg.batch_size, True, device, args.seed) if q else
                  report_loader(images[:few], labels[:few], exp, cfg.batch_size, args.workers,
                                args.seed))
        runners[variant](loader)
    print(f"warm-up (untimed): {time.perf_counter() - warm:.1f} s")
    return runners


def summary(results: list[dict[str, Any]]) -> str:
    """Per step: seconds per full epoch each way, and training minutes at the report's epochs."""
    variants = ["(a)", *results[0]["variants"]]
    lines = [f"{'step':<10} {'epochs':>6} " + " ".join(f"{v + ' s/epoch':>16}" for v in variants)
             + " " + " ".join(f"{v[4:] or 'b'}/a".rjust(8) for v in variants[1:])
             + " " + " ".join(f"{v + ' minutes':>16}" for v in variants)]
    totals = dict.fromkeys(variants, 0.0)
    for r in results:
        seconds = {v: r["full"] / r[f"train {v}"] for v in variants}
        for v in variants:
            totals[v] += seconds[v] * r["epochs"] / 60
        lines.append(f"{r['step']:<10} {r['epochs']:>6} "
                     + " ".join(f"{seconds[v]:>16.1f}" for v in variants) + " "
                     + " ".join(f"{seconds['(a)'] / seconds[v]:>7.2f}x" for v in variants[1:]) + " "
                     + " ".join(f"{seconds[v] * r['epochs'] / 60:>16.1f}" for v in variants))
    lines.append(f"{'total':<10} {'':>6} " + " ".join(f"{'':>16}" for v in variants) + " "
                 + " ".join(f"{'':>8}" for v in variants[1:]) + " "
                 + " ".join(f"{totals[v]:>16.1f}" for v in variants))
    return "\n".join(lines) + "\n(training epochs only, median images/s scaled to the full " \
                              "training set; evaluation not included)"


def main(argv: Sequence[str] | None = None) -> int:
    """Benchmark the steps named on the command line; returns the exit code."""
    args = parse_args(argv)
    steps = [s for n in args.step for s in (REPORT_STEPS if n == "all" else [n])]
    try:
        device = devices.resolve_device(args.device)
        for step in steps:
            load_experiment(resolve_path(step))  # a typo fails before any timing
        dtypes = {DTYPES[devices.resolve_precision(q, device)] for q in args.precision}
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Each precision's own peak, measured the same way: (a) is always fp32.
    peaks = {dtype: measure_peak(device, dtype) for dtype in (torch.float32, torch.bfloat16)
             if dtype in dtypes | {torch.float32}}
    flags = sorted(devices.cpu_flags() & {*devices.NATIVE_BF16, "avx512f", "avx2", "fma", "amx_tile"})
    print(f"torch {torch.__version__}, {platform.platform()}, {os.cpu_count()} CPUs; CPU flags: "
          f"{' '.join(flags) or 'none read'}; load average {loadavg()}\n")
    try:
        results = [bench_step(step, args, device, peaks) for step in steps]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len(results) > 1 and "train" in args.what:
        print(summary(results))
    return 0
