"""Where a run computes: the device, the memory layout, its precision and determinism."""
from __future__ import annotations

import contextlib
import os
import platform
import traceback
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn

import kit
from config import CHOICES
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


# ---------------------------------------------------------------------------------------------
# Precision: float32, or bf16 autocast with float32 weights (--precision)
# ---------------------------------------------------------------------------------------------

PRECISIONS = CHOICES["precision"]
# /proc/cpuinfo flags of x86 CPUs with bf16 matrix instructions: Intel AMX (Sapphire Rapids and
# later), AVX-512 BF16 (Cooper Lake, AMD Zen 4 and later). Without them torch emulates bf16.
NATIVE_BF16 = ("amx_bf16", "avx512_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them (Linux x86); empty where it does not."""
    with contextlib.suppress(OSError):
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16() -> list[str]:
    """The CPU's flags that show native bf16 arithmetic (NATIVE_BF16); empty: bf16 is emulated."""
    flags = cpu_flags()
    return [f for f in NATIVE_BF16 if f in flags]


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run computes in, bf16 or fp32; auto: fp32 on every device, the reports'.

    bf16 is the documented fast option (--precision bf16): a CPU with native bf16 (NATIVE_BF16)
    trains 1.5-2x faster in it, and on the H200 it was no faster for these networks (BENCHMARKS.md);
    README's "Precision and determinism" says why auto keeps the reports' float32 everywhere.
    """
    if name not in PRECISIONS:
        raise UserError(f"--precision {name}: not one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "fp32"
    if name == "bf16" and device.type not in ("cuda", "cpu"):
        raise UserError(f"--precision bf16: autocast to bf16 is for cuda and cpu, not {device.type} "
                        f"(use fp32 or auto)")
    return name


def precision_text(precision: str, device: torch.device) -> str:
    """How a run computes, as its first line says it: fp32 (and whether bf16 would be faster), or
    bf16 autocast (and whether it is slow, emulated)."""
    if precision == "fp32":
        flags = native_bf16() if device.type == "cpu" else []
        return f"fp32 ({', '.join(flags)} here: --precision bf16 trains faster)" if flags else "fp32"
    text = "bf16 autocast, fp32 weights"
    if device.type == "cpu":
        flags = native_bf16()
        text += (f" ({', '.join(flags)})" if flags else
                 f"; this CPU has no native bf16 ({' or '.join(NATIVE_BF16)} in /proc/cpuinfo), so "
                 f"bf16 is emulated and slower than fp32 here")
    return text


def set_float32_math(device: torch.device) -> dict[str, bool]:
    """IEEE float32 on CUDA: TF32 off for cuDNN's convolutions and for matrix products (torch's
    cuDNN default computes fp32 convolutions in TF32, with a 10-bit mantissa). Returns the
    setting, as config.json records it; nothing to set off CUDA."""
    if device.type != "cuda":
        return {}
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return {"cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32}


def autocast(device: torch.device, precision: str = "fp32",
             cache: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast for precision bf16 (matrix products and convolutions in bf16, the loss and
    reductions in float32, the weights left in float32), nothing for fp32.

    cache: keep each weight's bf16 copy for the rest of the context (off inside a CUDA graph).
    """
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# Determinism (--deterministic)
# ---------------------------------------------------------------------------------------------

# cuBLAS picks its reduction order by workspace; a fixed workspace makes its products repeatable.
# torch reads the variable once, when the process first uses cuBLAS: it must be set before that.
CUBLAS_WORKSPACE = ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def set_determinism(deterministic: bool, device: torch.device) -> None:
    """Set (or reset, for the next run in this process) torch's deterministic algorithms, cuDNN's
    deterministic mode and its benchmark (off when deterministic), and cuBLAS's workspace."""
    if deterministic and device.type == "cuda" and os.environ.get(CUBLAS_WORKSPACE[0]) not in (
            ":4096:8", ":16:8"):
        if torch.cuda.is_initialized():
            raise UserError(f"--deterministic: {CUBLAS_WORKSPACE[0]} must be {CUBLAS_WORKSPACE[1]} "
                            f"before this process first uses CUDA, and it has already; start a new "
                            f"process (python main.py ... --deterministic sets it itself)")
        os.environ[CUBLAS_WORKSPACE[0]] = CUBLAS_WORKSPACE[1]
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    # benchmark times several kernels and keeps the fastest: the choice, and the sums, vary by run.
    torch.backends.cudnn.benchmark = device.type == "cuda" and not deterministic


# How torch's RuntimeError for an op without a deterministic kernel reads, after the op's name.
NO_DETERMINISTIC_KERNEL = " does not have a deterministic implementation"


def nondeterministic_error(e: BaseException, step: str, device: torch.device,
                           when: str) -> str | None:
    """torch's error for an op with no deterministic kernel, as one sentence naming the op, the
    step and the kit's line that called it; None for any other error."""
    if NO_DETERMINISTIC_KERNEL not in str(e):
        return None
    op = str(e).split(NO_DETERMINISTIC_KERNEL, 1)[0].split()[-1]
    root = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.abspath(f.filename).startswith(root + os.sep)]
    where = (f"called from {os.path.relpath(frames[-1].filename, root)}:{frames[-1].lineno}, "
             f"{frames[-1].name}, " if frames else "")
    return (f"{step}: --deterministic: torch {torch.__version__} has no deterministic "
            f"{device.type.upper()} kernel for {op} ({where}{when}); run without --deterministic"
            + (", or on the CPU" if device.type == "cuda" else ""))


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
        "kit": kit.current(),
        # CUDA: whether fp32 convolutions and products ran in TF32 (set_float32_math turns it off)
        **({"cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32} if device.type == "cuda" else {}),
    }


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows of it."""
    with contextlib.suppress(OSError):  # Linux names the model; elsewhere the architecture must do
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
