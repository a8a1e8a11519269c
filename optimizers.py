"""The optimizers by name, built over the trainable parameters only."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from config import CHOICES

if TYPE_CHECKING:
    from config import Config

# The optimizers by name; `fused` is torch's one-pass kernel, on the devices that have it.
OPTIMIZERS = {
    "adam": lambda params, cfg, fused: torch.optim.Adam(
        params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused),
    "sgd": lambda params, cfg, fused: torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=fused),
    "adagrad": lambda params, cfg, fused: torch.optim.Adagrad(
        params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused),
    "rmsprop": lambda params, cfg, fused: torch.optim.RMSprop(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, foreach=True),
}
assert tuple(OPTIMIZERS) == CHOICES["optimizer"], "config.CHOICES names the optimizers"
FUSED_ON = {"adam": ("cpu", "cuda"), "sgd": ("cpu", "cuda"), "adagrad": ("cpu",), "rmsprop": ()}


def make_optimizer(model: nn.Module, cfg: Config, device: torch.device) -> torch.optim.Optimizer:
    """cfg.optimizer over the trainable parameters only (a frozen backbone is left alone)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return OPTIMIZERS[cfg.optimizer](params, cfg, device.type in FUSED_ON[cfg.optimizer])


def trainable_parameters(model: nn.Module) -> int:
    """The number of parameters the optimizer changes: the figure every table and test uses."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
