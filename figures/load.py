"""What figures need from a run beyond its metrics: its network before and after training, its images,
and what a layer makes of them.

A model is built from the run's own copy of its experiment (Run.experiment) and given the weights
the run saved (checkpoint.load_weights); images are read from disk only, never downloaded.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch
from torch import nn
from torchvision.transforms import v2

import augment
import data
import run_folder
from run_folder import checkpoint
from config import Config
from errors import UserError
from experiments import Experiment
from models import pretrained
from run_folder.reader import Run


# ---------------------------------------------------------------------------------------------
# Loading what a run saved
# ---------------------------------------------------------------------------------------------

def untrained_model(exp: Experiment, cfg: Config) -> tuple[nn.Module, str]:
    """The network the run started from, and a label saying what it is.

    The run seeded torch just before building its model, and nothing drew from torch's generator
    in between, so seeding here gives back its exact starting weights. A pretrained run started
    from the ImageNet weights; without them in the cache they are not fetched, and a seeded random
    initialization is shown instead, labelled so.
    """
    label = f"untrained: random initialization (seed {cfg.seed})"
    if cfg.pretrained:
        label = "before fine-tuning: ImageNet weights"
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(cfg.seed)
        try:
            with pretrained.cached_only():  # whichever weights the step's model loads (ResNet, VGG)
                return exp.model(cfg), label
        except pretrained.MissingWeights as e:
            label = (f"random initialization (seed {cfg.seed}), as the ImageNet weights the\n"
                     f"run started from are not in {os.path.dirname(e.path)}")
        torch.manual_seed(cfg.seed)
        return exp.model(dataclasses.replace(cfg, pretrained=False)), label


def trained_model(exp: Experiment, run: Run, file: str = run_folder.CHECKPOINT) -> tuple[nn.Module, str]:
    """The network in the run's checkpoint.pt (or best.pt), and a label saying after which epoch."""
    model = exp.model(dataclasses.replace(run.config, pretrained=False))  # the checkpoint replaces them
    ckpt = checkpoint.load_weights(model, os.path.join(run.dir, file), run.step)
    row = next((r for r in run.history if r["epoch"] == ckpt["epoch"]), run.history[-1])
    return model.eval(), (f"trained: after epoch {ckpt['epoch']} (test accuracy "
                          f"{row['test_accuracy']:.1f}%)")


def layer_label(label: str, layer: nn.Module, cfg: Config) -> str:
    """What a drawn layer's weights are: the model's label (trained_model's) if the run trained the
    layer, else what they stayed at: a frozen layer is never called trained (004-ResNet18's conv1)."""
    if any(p.requires_grad for p in layer.parameters()):
        return label
    start = "its ImageNet weights" if cfg.pretrained else f"its random initialization (seed {cfg.seed})"
    return f"frozen, never trained: {start}"


def run_dataset(cfg: Config, data_dir: str | None = None) -> data.Dataset:
    """The data a run trained on (its subset too), read from disk only: figures should not fetch 160 MB."""
    try:
        return data.load_dataset(cfg.dataset, data_dir or cfg.data_dir, cfg.subset, cfg.seed,
                                 cfg.num_classes, download=False)
    except UserError as e:
        raise UserError(f"{cfg.step}: its figures need its images, but {e} (use --data-dir)") from None


def first_test_image(cfg: Config, data_dir: str | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The run's first test image (1, 3, 32, 32) uint8, its label, and its class name."""
    ds = run_dataset(cfg, data_dir)
    label = ds.test_labels[:1]
    return ds.test_images[:1], label, ds.classes[int(label)]


def model_input(image: torch.Tensor, label: torch.Tensor, transform: Any, seed: int) -> torch.Tensor:
    """The batch the run's test loader makes from these images: resized and normalized as in evaluate."""
    loader = augment.make_loader(image, label, transform, len(image), False, torch.device("cpu"), seed,
                                 workers=0)
    x, _ = next(iter(loader))
    return x


def for_display(x: torch.Tensor, transform: Any) -> torch.Tensor:
    """A model input (3, H, W) with the transform's normalizations undone, in [0, 1]."""
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    # Undone last to first; every experiment normalizes as its last step.
    for t in reversed([t for t in augment.flatten(transform) if isinstance(t, v2.Normalize)]):
        x = x * torch.tensor(t.std)[:, None, None] + torch.tensor(t.mean)[:, None, None]
    return x.clamp(0, 1)


# ---------------------------------------------------------------------------------------------
# Layers: the first convolution, and what a block outputs
# ---------------------------------------------------------------------------------------------

def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first Conv2d the model registers: the one that sees the image (SimpleCNN, ResNet18)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise UserError(f"{type(model).__name__} has no convolution to draw")
    return conv


class _Seen(Exception):
    """Raised from the first convolution's hook: what follows it is not needed."""


def first_conv_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The first convolution's output (C, h, w) for one input batch x of size 1, in eval mode."""
    seen: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        seen.append(output.detach())
        raise _Seen  # stops the forward pass: ResNet18's other layers would take a second on a CPU

    handle = first_conv(model).register_forward_hook(hook)
    try:
        with torch.no_grad():
            model.eval()(x)
    except _Seen:
        pass
    finally:
        handle.remove()
    assert seen, "the model's forward pass never used its first convolution"
    return seen[0][0]


def block_outputs(model: nn.Module, x: torch.Tensor, block: nn.Module) -> torch.Tensor:
    """What `block` gives (C, h, w) for one input batch x of size 1, in eval mode."""
    seen: list[torch.Tensor] = []
    handle = block.register_forward_hook(lambda m, i, out: seen.append(out.detach()))
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        handle.remove()
    return seen[0][0]
