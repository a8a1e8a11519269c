"""The training step, run eagerly or replayed as one CUDA graph (the `capture` setting).

On a GPU a small net at a small batch is bound by kernel launches, not arithmetic: 001-A (batch
32, 0.9 M parameters) makes 1,532 optimizer steps an epoch of a few dozen small kernels each, and
the GPU idles between them (BENCHMARKS.md, "GPU"). A CUDA graph of the whole step (forward, loss,
backward, the optimizer's step) replays those kernels with one launch.

What stays as it was:
- the augmentation runs outside the graph, from the loader's own generator, as before;
- dropout draws inside it from CUDA's default generator, which torch registers with the graph:
  each replay advances it by what the eager step would, so the stream is the same either way;
- the last, shorter batch of an epoch is run eagerly, not padded (padding would change its mean
  loss and batch norm's statistics); so are the first WARMUP full batches (cuDNN's autotuning and
  the optimizer's state are made there, as torch's CUDA graph notes require);
- the learning rate is a number inside the graph: when an epoch's decay changes it, the step is
  captured again.
Never on the CPU: `decide` says no for any device but CUDA, and `capture on` is refused there.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from config import CAPTURABLE, CHOICES, check_capture  # noqa: F401 (the settings' rules)
from devices import autocast
from errors import UserError

CAPTURE = CHOICES["capture"]  # the setting's values, named in config.CHOICES
# The rule for auto: a batch of at most 256 CIFAR images (32x32) is launch-bound on a GPU (001-A
# 1.53x the report's loop on an H200, against 5.85x for CNN2 at the same image size but batch 256:
# BENCHMARKS.md); a batch of 224x224 images (CNN6, 004-ResNet18) is bound by arithmetic.
LAUNCH_BOUND_PIXELS = 256 * 32 * 32
WARMUP = 3  # full batches run eagerly before the capture

Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               device: torch.device, precision: str, cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step on a batch: forward and loss (bf16 autocast for precision bf16), backward,
    the optimizer's step; returns the loss (detached, float32) and the logits.

    cache: autocast's cache of weights cast to bf16; off inside a graph, where it would outlive it.
    """
    with autocast(device, precision, cache):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach().float(), logits


def check_device(capture: str, device: torch.device) -> None:
    """Refuse `capture on` off CUDA."""
    if capture == "on" and device.type != "cuda":
        raise UserError(f"capture on: a CUDA graph needs a CUDA device, not {device.type} "
                        f"(use capture auto or off)")


def decide(capture: str, optimizer: str, compile: bool, batch_size: int, image_size: int,
           device: torch.device) -> tuple[bool, str]:
    """Whether a run captures its training step, and a phrase saying so and why (for its first line).

    auto captures on CUDA where the rule (LAUNCH_BOUND_PIXELS) says launches bound the step; on
    captures on any CUDA device (check_capture has refused the settings no graph holds) and is
    refused on any other; off never captures. The phrase is "" on the CPU and MPS,
    where there is nothing to decide.
    """
    check_device(capture, device)
    if device.type != "cuda":
        return False, ""
    batch = f"batch {batch_size} of {image_size}x{image_size} images"
    if capture == "off":
        return False, "training step not captured (capture off)"
    if capture == "on":
        return True, f"training step captured as a CUDA graph ({batch}; capture on)"
    if compile:
        return False, "training step not captured (compile makes its own graphs)"
    if optimizer not in CAPTURABLE:
        return False, f"training step not captured ({optimizer} cannot be captured)"
    if batch_size * image_size ** 2 > LAUNCH_BOUND_PIXELS:
        return False, f"training step not captured ({batch}: bound by arithmetic, not launches)"
    return True, f"training step captured as a CUDA graph ({batch}: launch-bound)"


class GraphedStep:
    """train_step as a callable whose full batches replay one CUDA graph (see the module's notes)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                 precision: str) -> None:
        assert device.type == "cuda", "a CUDA graph is captured on CUDA only"
        self.model, self.optimizer, self.device, self.precision = model, optimizer, device, precision
        self.shapes: tuple[torch.Size, torch.Size] | None = None
        self.eager = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.lrs: tuple[float, ...] = ()
        self.replays = 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on (x, y): replayed if it is a full batch after the warm-up, else eager."""
        self.shapes = self.shapes or (x.shape, y.shape)  # the first batch is a full one
        if (x.shape, y.shape) != self.shapes or self.eager < WARMUP:
            self.eager += (x.shape, y.shape) == self.shapes
            return self._eager(x, y)
        lrs = tuple(float(group["lr"]) for group in self.optimizer.param_groups)
        if self.graph is None or lrs != self.lrs:
            self._capture(x, y, lrs)
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()
        self.replays += 1
        return self.static_loss, self.static_logits

    def _eager(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # On a side stream, as torch's notes on whole-network capture do their warm-up.
        stream, current = torch.cuda.Stream(self.device), torch.cuda.current_stream(self.device)
        stream.wait_stream(current)
        with torch.cuda.stream(stream):
            out = train_step(self.model, self.optimizer, x, y, self.device, self.precision)
        current.wait_stream(stream)
        return out

    def _capture(self, x: torch.Tensor, y: torch.Tensor, lrs: tuple[float, ...]) -> None:
        self.graph = None  # an earlier graph's memory goes back first
        self.static_x, self.static_y = x.clone(), y.clone()  # clone keeps channels_last
        # Adam and RMSprop capture only with `capturable` (their step counts read on the device),
        # set for the capture alone: the eager steps and the checkpoint keep the optimizer as built
        # (a checkpoint with capturable set could not be resumed on the CPU).
        flags = [group.get("capturable") for group in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            if "capturable" in group:
                group["capturable"] = True
        for state in self.optimizer.state.values():  # an unfused optimizer counts on the host
            if isinstance(state.get("step"), torch.Tensor):
                state["step"] = state["step"].to(self.device)
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: a DataLoader's pin-memory thread may call CUDA while this one captures.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.static_loss, self.static_logits = train_step(
                    self.model, self.optimizer, self.static_x, self.static_y, self.device,
                    self.precision, cache=False)
        finally:
            for group, flag in zip(self.optimizer.param_groups, flags):
                if flag is not None:
                    group["capturable"] = flag
        self.graph, self.lrs = graph, lrs


def make_step(model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
              precision: str, captured: bool) -> Step:
    """The run's training step: a GraphedStep if captured, else train_step on its model and optimizer."""
    if captured:
        return GraphedStep(model, optimizer, device, precision)
    return lambda x, y: train_step(model, optimizer, x, y, device, precision)
