"""Figures that need a trained network: first-layer kernels and outputs, softmax bars, sample images.

Each reads a run back (runs.read_run), builds the step's model from the run's own copy of its
experiment, loads the saved weights, and hands tensors to plotting.py, which only draws.
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
import plotting
import runs
from config import Config
from errors import UserError
from experiments import Experiment
from figures import tiles
from models import pretrained
from runs import Run


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


def trained_model(exp: Experiment, run: Run, file: str = runs.CHECKPOINT) -> tuple[nn.Module, str]:
    """The network in the run's checkpoint.pt (or best.pt), and a label saying after which epoch."""
    model = exp.model(dataclasses.replace(run.config, pretrained=False))  # the checkpoint replaces them
    ckpt = runs.load_weights(model, os.path.join(run.dir, file), run.step)
    row = next((r for r in run.history if r["epoch"] == ckpt["epoch"]), run.history[-1])
    return model.eval(), (f"trained: after epoch {ckpt['epoch']} (test accuracy "
                          f"{row['test_accuracy']:.1f}%)")


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
# First convolution: kernels and outputs
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


def plot_first_layer(run: Run, exp: Experiment, data_dir: str | None = None) -> dict[str, list[int]]:
    """kernels.png and feature_maps.png in the run's folder, before and after; returns tile counts."""
    panels = [untrained_model(exp, run.config), trained_model(exp, run)]
    conv = first_conv(panels[1][0])
    kh, kw = conv.kernel_size
    kernels = tiles.plot_kernels(
        [(label, first_conv(m).weight) for m, label in panels],
        f"{run.step}: the first convolution's {conv.out_channels} kernels ({kh}x{kw}x{conv.in_channels}), "
        f"before and after training", os.path.join(run.dir, "kernels.png"))

    image, label, name = first_test_image(run.config, data_dir)
    x = model_input(image, label, exp.test_transform, run.config.seed)
    maps = [(label_, first_conv_outputs(m, x)) for m, label_ in panels]
    c, h, w = maps[0][1].shape
    side = x.shape[-1]
    features = tiles.plot_feature_maps(
        for_display(x[0], exp.test_transform),
        f"test image 0 of {run.config.dataset}: {name}\nat {side}x{side}, as {run.step} sees it",
        maps, f"{run.step}: the first convolution's {c} output channels ({h}x{w}) for one test image",
        os.path.join(run.dir, "feature_maps.png"))
    return {"kernels": kernels, "feature_maps": features}



# ---------------------------------------------------------------------------------------------
# Images and what the network makes of them
# ---------------------------------------------------------------------------------------------

def plot_samples(run: Run, data_dir: str | None, path: str, n: int = 4) -> list[int]:
    """n random training images of the run's data with their class names (report 001's Fig. 1)."""
    ds = run_dataset(run.config, data_dir)
    pick = torch.randperm(len(ds.train_labels), generator=torch.Generator().manual_seed(run.config.seed))[:n]
    images = ds.train_images[pick].float() / 255
    names = [ds.classes[int(y)] for y in ds.train_labels[pick]]
    plotting.plot_images(images, names, f"{n} random training images of {run.config.dataset}", path)
    return pick.tolist()


@torch.no_grad()
def plot_softmax(run: Run, exp: Experiment, data_dir: str | None, path: str, n: int = 4) -> list[int]:
    """n random validation images beside their softmax probabilities, the largest highlighted.

    The model is the run's kept one (best.pt with keep="best", else the last epoch's); the images
    are drawn from the run's own validation split, seeded. Returns their training-set indices.
    """
    cfg = run.config
    ds = run_dataset(cfg, data_dir)
    val_idx = data.split_dataset(ds, cfg.val_split, cfg.val_size, cfg.seed).val_index
    if not len(val_idx):
        raise UserError(f"{run.step}: the softmax figure shows validation images, but the run has "
                        f"no validation split")
    g = torch.Generator().manual_seed(cfg.seed)
    pick = val_idx[torch.randperm(len(val_idx), generator=g)[:n]]
    model, label = trained_model(exp, run, runs.BEST if cfg.keep == "best" else runs.CHECKPOINT)
    x = model_input(ds.train_images[pick], ds.train_labels[pick], exp.test_transform, cfg.seed)
    probs = torch.softmax(model(x).float(), 1)
    names = [ds.classes[int(y)] for y in ds.train_labels[pick]]
    plotting.plot_softmax(ds.train_images[pick].float() / 255, names, probs, ds.classes,
                          f"{run.step}, {label}: softmax of {n} random validation images", path)
    return pick.tolist()
