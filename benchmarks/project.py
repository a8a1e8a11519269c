"""How long whole reports take to reproduce on this machine, projected from a few batches per step.

For each step of a report, at its own batch size and image size, on synthetic data of CIFAR's
shape: the seconds per training batch of (a) the report's loop (benchmarks/measure.py), (b) this
project's (train.train_one_epoch) eager and, on CUDA, with its step captured as a CUDA graph
(capture.py), and the seconds per image of an evaluation. The projection multiplies them out at
CIFAR's full 50,000 / 10,000 images, cut by the step's validation split, over the epochs the step
runs (early stopping: the report's own best epoch + patience), with the evaluations each epoch
makes (validation, test, report 004's extra ones) and the kit's own choice of capture. Then each
report and all five with --jobs 1 (one step after the other) and with --jobs N: N runs at a time,
each slowed by the factor measured with N processes training the report's longest step at once,
in the order the --jobs pool starts them.

One concept in some 360 lines, in the order it runs: what a step does, timing it, the projection
and the --jobs pool, what is printed.

Run: python -m benchmarks --project 001 --device cpu
     python -m benchmarks --project all --device cuda --batches 200
"""
from __future__ import annotations

import argparse
import dataclasses
import heapq
import math
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any, Iterator, Sequence

import torch

import augment
import capture
import data
import devices
import train
from benchmarks.measure import device_name, loadavg, report_loader, sync
from config import Config
from errors import OneLineParser, UserError
from experiments import REPORTS, Experiment, build_model, load_experiment, resolve_path
from launch.local import cores
from optimizers import OPTIMIZERS, make_optimizer

WARM = capture.WARMUP + 2  # untimed batches: autotuning, the optimizer's state, the capture
TRAIN, TEST = data.SIZES["cifar10"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The projection's command line."""
    ids = ", ".join(r.id for r in REPORTS)
    p = OneLineParser(prog="python -m benchmarks --project",
                      description=__doc__.split("\n\n")[0])
    p.add_argument("--project", required=True, help=f"a report ({ids}) or all")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--batches", type=int,
                   help="training batches timed per step and variant (default: 200 on CUDA, 20 on "
                        "the CPU); fewer where they would take over --seconds")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="the most seconds one variant of one step is timed for (default: 3)")
    p.add_argument("--jobs", help="comma-separated numbers of runs at a time to project, besides 1 "
                                  "(default: 4,8 on CUDA, the CPU's cores on the CPU)")
    p.add_argument("--no-report-loop", action="store_true",
                   help="do not time (a), the report's own loop (its DataLoader is the slowest part)")
    args = p.parse_args(argv)
    if args.project != "all" and all(r.id != args.project for r in REPORTS):
        p.error(f"--project {args.project}: give one of {ids} or all")
    if (args.batches is not None and args.batches < 1) or args.seconds <= 0:
        p.error("--batches must be at least 1 and --seconds above 0")
    try:
        args.jobs = sorted({int(j) for j in args.jobs.split(",")} - {1}) if args.jobs else None
    except ValueError:
        p.error(f"--jobs {args.jobs}: give whole numbers such as 4,8")
    if args.jobs and args.jobs[0] < 1:
        p.error("--jobs: each number must be at least 1")
    return args


# ---------------------------------------------------------------------------------------------
# What a step does: its epochs, and the images it trains on and evaluates per epoch
# ---------------------------------------------------------------------------------------------

def epochs_of(exp: Experiment) -> tuple[int, str]:
    """The epochs a step runs, and why: all of cfg.epochs, or the report's best epoch + patience."""
    cfg, best = exp.config, exp.reported.best_epoch if exp.reported else None
    if cfg.early_stopping == "off":
        return cfg.epochs, "all"
    if not isinstance(best, (int, float)):
        return cfg.epochs, "stops early; the report gives no best epoch"
    return min(cfg.epochs, int(best) + cfg.patience), f"best {int(best)} + patience {cfg.patience}"


def images_of(cfg: Config) -> dict[str, int]:
    """Images per epoch trained on, and evaluated (every evaluation of the epoch), and at the end."""
    val = data.split_size(cfg.val_split, cfg.val_size)
    trained, test = TRAIN - val, min(TEST, cfg.test_limit or TEST)
    per_evaluation = val + test + (trained if cfg.eval_every < 1 or cfg.eval_at_start else 0)
    evaluations = len(train._pauses(cfg.eval_every, math.ceil(trained / cfg.batch_size))) + 1
    end = TEST + (test if val else 0)  # the kept weights on the whole test set; the best on its own
    return {"trained": trained, "evaluated": per_evaluation * evaluations, "end": end,
            "start": per_evaluation if cfg.eval_at_start else 0}


# ---------------------------------------------------------------------------------------------
# Timing one step
# ---------------------------------------------------------------------------------------------

class Batches:
    """The next n batches of an iterator, with a len: a part of an epoch for the loops to run."""

    def __init__(self, batches: Iterator, n: int) -> None:
        self.batches, self.n = batches, n

    def __iter__(self) -> Iterator:
        for _, batch in zip(range(self.n), self.batches):
            yield batch

    def __len__(self) -> int:
        return self.n


def _timed(run: Any, loader: Any, limit: int, seconds: float, device: torch.device,
           barrier: Any = None) -> float:
    """Seconds per batch of run(part) over one pass of loader: WARM batches untimed, then up to
    `limit`, fewer if the warm-up says they would take more than `seconds`; with a barrier, the
    timed batches start when every process sharing it has warmed up."""
    batches = iter(loader)
    sync(device)
    start = time.perf_counter()
    run(Batches(batches, WARM))
    sync(device)
    n = max(3, min(limit, len(loader) - WARM, int(seconds * WARM / (time.perf_counter() - start))))
    if barrier is not None:
        barrier.wait()
    sync(device)
    start = time.perf_counter()
    run(Batches(batches, n))
    sync(device)
    return (time.perf_counter() - start) / n


def _setup(step: str, device: torch.device, batches: int) -> tuple[Experiment, Config, Any, Any]:
    """The step as the kit runs it on synthetic data: its experiment, config and images, labels."""
    exp = load_experiment(resolve_path(step))
    cfg = dataclasses.replace(exp.config, dataset="synthetic", pretrained=False,
                              num_classes=data.NUM_CLASSES[exp.config.dataset],
                              precision=devices.resolve_precision(exp.config.precision, device))
    n = min(TRAIN, (batches + WARM + 1) * cfg.batch_size)
    ds = data.load_dataset("synthetic", cfg.data_dir, n, 0, cfg.num_classes)
    return exp, cfg, ds.train_images, ds.train_labels


def time_ours(exp: Experiment, cfg: Config, images: Any, labels: Any, device: torch.device,
              captured: bool, batches: int, seconds: float, barrier: Any = None) -> float:
    """Seconds per training batch of this project's loop, with its step captured or not."""
    torch.manual_seed(0)
    devices.set_determinism(False, device)
    model = devices.prepare_model(build_model(exp, cfg), device)
    optimizer = make_optimizer(model, cfg, device)
    step = capture.make_step(model, optimizer, device, cfg.precision, captured)
    loader = augment.make_loader(images, labels, exp.train_transform, cfg.batch_size, True, device,
                                 0, cfg.workers)
    return _timed(lambda part: train.train_one_epoch(model, part, optimizer, device, exp.config.step,
                                                     precision=cfg.precision, step=step),
                  loader, batches, seconds, device, barrier)


def time_report(exp: Experiment, cfg: Config, images: Any, labels: Any, device: torch.device,
                batches: int, seconds: float) -> float:
    """Seconds per training batch of the report's loop: PIL images in DataLoader workers, fp32."""
    from benchmarks.measure import report_epoch
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = False  # the report never set it
    model = build_model(exp, cfg).to(device)
    optimizer = OPTIMIZERS[cfg.optimizer]([p for p in model.parameters() if p.requires_grad], cfg,
                                          False)
    loader = report_loader(images, labels, exp, cfg.batch_size, 2, 0)
    return _timed(lambda part: report_epoch(model, part, optimizer, device), loader, batches,
                  seconds, device)


def time_evaluation(exp: Experiment, cfg: Config, images: Any, labels: Any,
                    device: torch.device, batches: int, seconds: float) -> float:
    """Seconds per image of train.evaluate at the step's batch size, with its test transform."""
    torch.manual_seed(0)
    model = devices.prepare_model(build_model(exp, cfg), device)
    loader = augment.make_loader(images, labels, exp.test_transform, cfg.batch_size, False, device, 0,
                                 cfg.workers)
    return _timed(lambda part: train.evaluate(model, part, device, cfg.precision), loader, batches,
                  seconds, device) / cfg.batch_size


# ---------------------------------------------------------------------------------------------
# A step's projection, and many runs at once
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class StepTime:
    """One step's measured seconds and what it runs: enough to project its wall time."""

    step: str
    batch_size: int
    epochs: int
    why: str  # where the epochs come from (epochs_of)
    images: dict[str, int]  # images_of
    captured: bool  # the kit's own choice (capture.decide, auto)
    report: float | None  # s per training batch: (a)
    eager: float  # (b)
    graph: float | None  # (b) captured, on CUDA
    evaluation: float  # s per image evaluated

    @property
    def batches(self) -> int:
        return math.ceil(self.images["trained"] / self.batch_size)

    def epoch(self, per_batch: float | None) -> float | None:
        """Seconds of one epoch's training at per_batch seconds a batch."""
        return None if per_batch is None else self.batches * per_batch

    @property
    def seconds(self) -> float:
        """The projected wall seconds of the whole run as the kit makes it: epochs, evaluations, end."""
        per_batch = self.graph if self.captured and self.graph is not None else self.eager
        per_epoch = self.batches * per_batch + self.images["evaluated"] * self.evaluation
        return self.epochs * per_epoch + (self.images["start"] + self.images["end"]) * self.evaluation


def measure_step(step: str, device: torch.device, args: argparse.Namespace) -> StepTime:
    """Time one step's variants and its evaluation."""
    exp, cfg, images, labels = _setup(step, device, args.batches)
    captured, _ = capture.decide(cfg.capture, cfg.optimizer, cfg.compile, cfg.batch_size,
                                 cfg.image_size, device)
    can_capture = device.type == "cuda" and cfg.optimizer in capture.CAPTURABLE
    timing = (args.batches, args.seconds)
    epochs, why = epochs_of(exp)
    return StepTime(
        step, cfg.batch_size, epochs, why, images_of(cfg), captured,
        None if args.no_report_loop else time_report(exp, cfg, images, labels, device, *timing),
        time_ours(exp, cfg, images, labels, device, False, *timing),
        time_ours(exp, cfg, images, labels, device, True, *timing) if can_capture else None,
        time_evaluation(exp, cfg, images, labels, device, *timing))


def _child(step: str, device: str, batches: int, seconds: float, threads: int, barrier: Any,
           results: Any) -> None:
    """One of several processes training a step at once: its seconds per batch, into results."""
    torch.set_num_threads(threads)
    where = torch.device(device)
    exp, cfg, images, labels = _setup(step, where, batches)
    captured, _ = capture.decide(cfg.capture, cfg.optimizer, cfg.compile, cfg.batch_size,
                                 cfg.image_size, where)
    results.put(time_ours(exp, cfg, images, labels, where, captured, batches, seconds, barrier))


def slowdown(row: StepTime, jobs: int, device: torch.device, args: argparse.Namespace) -> float:
    """How much slower a run trains with `jobs` processes training row's step at once, each with
    its share of the CPU's threads (as --jobs gives them): per batch, against it alone."""
    context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    barrier, results = context.Barrier(jobs), context.Queue()
    threads = max(1, cores() // jobs)
    children = [context.Process(target=_child, args=(row.step, str(device), args.batches,
                                                     args.seconds, threads, barrier, results))
                for _ in range(jobs)]
    for child in children:
        child.start()
    times = [results.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    alone = row.graph if row.captured and row.graph is not None else row.eager
    return statistics.median(times) / alone


def makespan(seconds: list[float], jobs: int) -> float:
    """Wall seconds of runs started in order, `jobs` at a time, each as soon as a slot is free."""
    slots = [0.0] * min(jobs, len(seconds))
    for s in seconds:
        heapq.heappush(slots, heapq.heappop(slots) + s)
    return max(slots, default=0.0)


# ---------------------------------------------------------------------------------------------
# What is printed
# ---------------------------------------------------------------------------------------------

HEADER = (f"{'step':<20} {'batch':>5} {'epochs':<26} {'graph':<5} {'(a) s/ep':>9} {'(b) s/ep':>9} "
          f"{'graph s/ep':>10} {'b/a':>7} {'graph/a':>7} {'eval s/ep':>9} {'minutes':>8}")


def _cell(value: float | None, width: int, form: str = ".1f", suffix: str = "") -> str:
    return f"{'-':>{width}}" if value is None else f"{format(value, form) + suffix:>{width}}"


def step_line(row: StepTime) -> str:
    """A step's measured seconds per epoch, the ratios to the report's loop, its projected minutes."""
    a, b, g = row.epoch(row.report), row.epoch(row.eager), row.epoch(row.graph)
    return (f"{row.step:<20} {row.batch_size:>5} {f'{row.epochs} ({row.why})':<26} "
            f"{'yes' if row.captured else 'no':<5} {_cell(a, 9)} {_cell(b, 9)} {_cell(g, 10)} "
            f"{_cell(a / b if a else None, 7, '.2f', 'x')} "
            f"{_cell(a / g if a and g else None, 7, '.2f', 'x')} "
            f"{_cell(row.images['evaluated'] * row.evaluation, 9)} {row.seconds / 60:>8.1f}")


def jobs_line(name: str, rows: list[StepTime], factors: dict[int, float], jobs: int) -> str:
    """One report's (or all five's) projected wall minutes with --jobs `jobs`."""
    seconds = [r.seconds * factors.get(r.step, 1.0) for r in rows]
    return f"{name}, --jobs {jobs}: {makespan(seconds, jobs) / 60:.1f} min"


def project(rows: list[StepTime], jobs: list[int], device: torch.device, args: argparse.Namespace,
            name: str) -> dict[int, dict[str, float]]:
    """Print a report's projection with --jobs 1 and each of jobs; returns each step's slowdown."""
    longest = max(rows, key=lambda r: r.seconds)
    factors: dict[int, dict[str, float]] = {1: {}}
    print(jobs_line(name, rows, {}, 1) + " (one step after the other)")
    for n in jobs:
        factor = slowdown(longest, n, device, args)
        factors[n] = {r.step: factor for r in rows}
        print(jobs_line(name, rows, factors[n], n) + f" ({n} runs at a time, a batch taking "
              f"{factor:.2f}x its time alone: measured with {n} processes training {longest.step})")
    best = min(factors, key=lambda n: makespan([r.seconds * factors[n].get(r.step, 1.0)
                                                 for r in rows], n))
    print(f"{name}: the fastest is --jobs {best}\n", flush=True)
    return factors


def main(argv: Sequence[str] | None = None) -> int:
    """Project the reports named by --project; returns the exit code."""
    args = parse_args(argv)
    try:
        device = devices.resolve_device(args.device)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.batches = args.batches or (200 if device.type == "cuda" else 20)
    jobs = args.jobs if args.jobs is not None else ([4, 8] if device.type == "cuda"
                                                    else [cores()] if cores() > 1 else [])
    reports = [r for r in REPORTS if args.project in ("all", r.id)]
    print(f"projection on {device} ({device_name(device)}), torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs; load average {loadavg()}\n"
          f"per step and variant: {WARM} batches untimed, then up to {args.batches} timed (at most "
          f"{args.seconds:g} s); synthetic data of CIFAR's shape; an epoch is CIFAR's {TRAIN:,} "
          f"training images less the step's validation split, and {TEST:,} test images\n"
          f"(a) the report's loop, (b) this project's, graph: (b) with its step captured (CUDA "
          f"only); s/ep: training seconds per epoch; minutes: the run as the kit makes it "
          f"(graph where 'graph' says yes), evaluations included\n", flush=True)
    everything: list[StepTime] = []
    factors: dict[int, dict[str, float]] = {1: {}}
    for report in reports:
        print(f"== report {report.id}: {len(report.steps)} steps\n{HEADER}", flush=True)
        rows = []
        for step in report.steps:
            rows.append(measure_step(step, device, args))
            print(step_line(rows[-1]), flush=True)
        for n, by_step in project(rows, jobs, device, args, f"report {report.id}").items():
            factors.setdefault(n, {}).update(by_step)
        everything += rows
    if len(reports) > 1:
        for n in factors:
            print(jobs_line(f"all {len(reports)} reports", everything, factors[n], n))
    print(f"load average at the end: {loadavg()}")
    return 0
