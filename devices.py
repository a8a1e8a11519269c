"""Where a run computes: the device, the memory layout, mixed precision."""
from __future__ import annotations

import contextlib
import platform
from typing import Any

import numpy as np
import torch
import torchvision
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


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and hardware, saved beside each run so that it can be reproduced."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else cpu_name()),
        "cpu_threads": torch.get_num_threads(),
    }


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows of it."""
    with contextlib.suppress(OSError):  # Linux names the model; elsewhere the architecture must do
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
