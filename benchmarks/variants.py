"""One training step of a conv net in four variants: NCHW or channels_last, for-loop or fused Adam.

The measurement behind devices.prepare_model and optimizers.make_optimizer's choices on CPU; the variants
step in turn on the same batch, alternating order, and the median of each is printed.

Run: python -m benchmarks.variants
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from models import SimpleCNN

NETS = {"CNN2": (32, 32, 32, 64), "CNN3a": (128, 128, 128, 256)}


def step_seconds(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                 y: torch.Tensor) -> tuple[float, float]:
    """Seconds of one whole training step, and of its optimizer step alone."""
    start = time.perf_counter()
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    middle = time.perf_counter()
    optimizer.step()
    end = time.perf_counter()
    return end - start, end - middle


def main(reps: int = 5, batch_size: int = 256) -> None:
    """Print each net's step time in each variant."""
    print(f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    for net, widths in NETS.items():
        x, y = torch.randn(batch_size, 3, 32, 32), torch.randint(0, 100, (batch_size,))
        variants = {}
        for channels_last in (False, True):
            for fused in (False, True):
                torch.manual_seed(0)
                model = SimpleCNN(widths=widths)
                if channels_last:
                    model = model.to(memory_format=torch.channels_last)
                variants[channels_last, fused] = (
                    model, torch.optim.Adam(model.parameters(), lr=1e-4, fused=fused or None),
                    x.contiguous(memory_format=torch.channels_last) if channels_last else x)
        times: dict[tuple[bool, bool], list[tuple[float, float]]] = {k: [] for k in variants}
        for key in variants:  # warm-up: oneDNN picks its kernels on the first steps
            step_seconds(*variants[key][:2], variants[key][2], y)
        keys = list(variants)
        for rep in range(reps):
            for key in keys if rep % 2 == 0 else keys[::-1]:
                model, optimizer, xx = variants[key]
                times[key].append(step_seconds(model, optimizer, xx, y))
        for (channels_last, fused), t in times.items():
            print(f"{net:<6} {'channels_last' if channels_last else 'NCHW':<13} "
                  f"{'fused' if fused else 'for-loop'} Adam: "
                  f"{1000 * statistics.median(s for s, _ in t):.0f} ms/step "
                  f"(Adam {1000 * statistics.median(a for _, a in t):.0f} ms)")
    print(f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
