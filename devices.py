"""Where a run computes: the device, the memory layout, mixed precision."""
from __future__ import annotations

import contextlib
import ctypes
import sys

import torch
from torch import nn

from errors import UserError


def resolve_device(name: str) -> torch.device:
    """The device for --device: auto picks cuda, then mps, then cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available here (use auto or cpu)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {name}: MPS is not available here (use auto or cpu)")
    return device


# glibc's malloc gives freed blocks over 128 KiB back to the kernel (unmapping them, or trimming the
# heap's top), so every batch's temporaries come back as fresh pages that fault in on first touch:
# 13,500 page faults in 20 hue adjustments of 200 images, 5x their time alone on this CPU, and
# 3-9% of report 002's loader and of training steps (BENCHMARKS.md). Keeping freed memory in the
# heap for reuse, as jemalloc and tcmalloc do by default, removes them.
# Blocks from 32 MiB up are still mapped and unmapped one by one (datasets, large activations);
# the heap keeps at most 1 GiB free.
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2**30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from <malloc.h>


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks for reuse; False where there is no glibc (nothing done)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    # musl has a mallopt too; it does nothing there and returns 0.
    return (bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
            and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)))


def uses_channels_last(model: nn.Module) -> bool:
    """Whether the model runs channels_last: convolution nets do, faster on CPU and CUDA alike."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """The model on the device, in channels_last if it has convolutions."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if uses_channels_last(model) else model


def to_device(x: torch.Tensor, y: torch.Tensor, device: torch.device,
               channels_last: bool) -> tuple[torch.Tensor, ...]:
    """A batch on the device, channels_last where the model runs so."""
    x = x.to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, nothing elsewhere."""
    # bf16 on CUDA only: on CPUs without native bf16 it is many times slower than fp32.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
