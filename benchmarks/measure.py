"""What the speed benchmarks measure with, and against: the clock, a step's cost, the report's loop.

Shared by python -m benchmarks (speed.py), benchmarks.augment and benchmarks.precision: the machine
(its load average, the device's name), a call timed between device syncs and a loader delivered
with no model, FLOPs per image and the achievable FLOP/s, the report's loop (a) that this
project's is timed against, the rows that print a rate and a ratio, and where the time goes
(torch.profiler, CUDA's host syncs). Nothing here asserts a speed.
"""
from __future__ import annotations

import statistics
import time
import warnings
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import augment
import devices
from experiments import Experiment

# ---------------------------------------------------------------------------------------------
# The machine and the clock
# ---------------------------------------------------------------------------------------------

def loadavg() -> str:
    """The machine's load average over 1, 5 and 15 minutes, "n/a" where /proc has none."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "n/a"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with torch's thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{devices.cpu_name()}, {torch.get_num_threads()} threads"


def sync(device: torch.device) -> None:
    """Wait until the device has finished what it was given (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds fn takes, the device synced before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def deliver(loader: Any, device: torch.device) -> None:
    """Iterate a loader as training would, with no model: every batch lands on the device."""
    for x, y in loader:
        x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    sync(device)


# ---------------------------------------------------------------------------------------------
# What a step costs: FLOPs per image, and the device's peak
# ---------------------------------------------------------------------------------------------

def count_flops(model: nn.Module, image_size: int) -> tuple[int, int]:
    """FLOPs per image of the forward pass and of forward plus backward, as FlopCounterMode counts.

    It counts matrix products and convolutions, 2 FLOPs per multiply-add, and leaves out
    element-wise ops and the optimizer. The backward pass is counted, not assumed to be twice
    the forward: the first layer needs no gradient for its input.
    """
    model = model.to("cpu").train()
    x = torch.randn(2, 3, image_size, image_size)  # 2: batch norm wants more than one value
    with FlopCounterMode(display=False) as counter:
        loss = nn.functional.cross_entropy(model(x), torch.zeros(2, dtype=torch.long))
        forward = counter.get_total_flops()
        loss.backward()
        total = counter.get_total_flops()
    return forward // 2, total // 2


def measure_peak(device: torch.device, dtype: torch.dtype) -> float:
    """Achievable FLOP/s in dtype: the best of several square matrix products, as large as a
    quarter of a second allows (up to 2048 on a CPU, 8192 on a GPU)."""
    largest = 2048 if device.type == "cpu" else 8192

    def product(n: int) -> tuple[Callable[[], Any], float]:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        c = a @ b  # the first product warms up
        def mm() -> Any:
            return torch.mm(a, b, out=c)
        return mm, timed(mm, device)

    # A CPU without native bf16 emulates it about 50x slower: a 2048 product alone takes a minute.
    n = 256
    mm, seconds = product(n)
    while n < largest and seconds < 0.25:
        n *= 2
        mm, seconds = product(n)
    best, until = 2 * n ** 3 / seconds, time.perf_counter() + 1  # a second of tries: the best had the machine
    for i in range(20):
        best = max(best, 2 * n ** 3 / timed(mm, device))
        if i >= 2 and time.perf_counter() > until:
            break
    return best


# ---------------------------------------------------------------------------------------------
# The report's loop, (a): what speed.py and augment.py measure this project's against
# ---------------------------------------------------------------------------------------------

def report_loader(images: torch.Tensor, labels: torch.Tensor, exp: Experiment, batch_size: int,
                  workers: int, seed: int) -> torch.utils.data.DataLoader:
    """The report's data path: PIL images through the step's transforms in DataLoader workers."""
    return torch.utils.data.DataLoader(
        augment.PerImage(images, labels, exp.train_transform), batch_size=batch_size, shuffle=True,
        num_workers=workers, generator=torch.Generator().manual_seed(seed))


def report_epoch(model: nn.Module, loader: Any, optimizer: torch.optim.Optimizer,
                 device: torch.device) -> float:
    """One epoch as the report trains: fp32, NCHW, the loss read back after every batch."""
    model.train()
    running_loss = 0.0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    return running_loss / len(loader)


# ---------------------------------------------------------------------------------------------
# The rows printed, and where the time goes
# ---------------------------------------------------------------------------------------------

def row(what: str, variant: str, rates: list[float], full: int, flops: int | None = None,
        peak: float | None = None) -> str:
    """A variant's median images/s, seconds per full epoch, and with flops its GFLOP/s and % of peak."""
    rate = statistics.median(rates)
    line = f"{what:<6} {variant:<9} {rate:>12,.0f} {full / rate:>14.1f}"
    if flops is not None and peak:
        achieved = flops * rate
        line += f" {achieved / 1e9:>10.1f} {100 * achieved / peak:>9.0f}%"
    return line


def ratio_row(what: str, a: list[float], b: list[float], label: str = "b/a") -> str:
    """The ratio of two variants' rates, taken within each repetition: median, min and max."""
    ratios = sorted(rb / ra for ra, rb in zip(a, b))
    return (f"{what:<6} {label:<9} {statistics.median(ratios):>11.2f}x   (min {ratios[0]:.2f}x, "
            f"median {statistics.median(ratios):.2f}x, max {ratios[-1]:.2f}x over {len(ratios)} reps)")


def profile(fn: Callable[[], Any], device: torch.device) -> str:
    """torch.profiler's table of the ops that took the most time in fn."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        fn()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=12)


def count_syncs(fn: Callable[[], Any]) -> int:
    """How many times fn makes the CPU wait for the GPU, by CUDA's sync debug mode."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)
