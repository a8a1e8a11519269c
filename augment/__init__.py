"""Batched transforms and the loaders that feed the training loop.

Experiments declare torchvision.transforms.v2 pipelines; this package maps them onto batched tensor
ops on the training device, with a random draw per image. The part of a pipeline with no
randomness (a resize, the conversion to float, the normalization) is applied once to the whole
dataset when the loader is made, if the result fits CACHE_BUDGET; only the random part runs per
batch. A pipeline with a transform that has no batched form falls back to a standard DataLoader
that applies it image by image, as torchvision's own CIFAR datasets do.

- ops.py: the op protocol; Fixed, Normalize, Flip, Crop; the per-image draw helpers
- colour.py: report 002's colour ops (ColorJitter, sharpness, grayscale, ToPILImage's bytes)
- geometry.py: report 002's geometric ops (perspective, rotation, erasing) and their grids
- __init__.py: the v2 transform -> op table, pipelines, the cached prefix, the loaders
- loaders.py: a run's loaders (train, validation, test), from its dataset and split
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import PIL.Image
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2.functional._geometry import _check_interpolation

from augment import colour, geometry
from augment.ops import Crop, Fixed, Flip, Normalize, RandomApplied, _identity

# Bytes a loader may spend on the deterministic part of its pipeline, applied once to the whole
# dataset. Over it, the part that fits is cached and the rest runs per batch: CNN6's 224x224 images
# are 7.5 GB for 50,000 as uint8, 30 GB as float.
CACHE_BUDGET = 2 * 1024 ** 3


def flatten(transform: Any) -> list[Any]:
    """A pipeline's transforms in order, with nested Compose opened."""
    if isinstance(transform, (v2.Compose,)):
        return [t for inner in transform.transforms for t in flatten(inner)]
    return [transform]


# ---------------------------------------------------------------------------------------------
# The v2 transform -> batched op table
# ---------------------------------------------------------------------------------------------

def batched_op(t: Any) -> Any | None:
    """The batched form of one v2 transform, or None if it has none (the loader then goes per image)."""
    kind = type(t)
    # Deterministic, any subclass too: one torchvision kernel on the whole batch.
    if isinstance(t, (v2.ToImage, v2.ToPureTensor, v2.Identity)):
        return Fixed(type(t).__name__, _identity, pointwise=True)
    if isinstance(t, v2.ToDtype) and isinstance(t.dtype, torch.dtype):
        return Fixed("ToDtype", lambda x: F.to_dtype(x, t.dtype, scale=t.scale), pointwise=True)
    if isinstance(t, v2.Normalize):
        return Normalize(t.mean, t.std)
    if isinstance(t, v2.Resize):
        return Fixed("Resize", lambda x: F.resize(x, t.size, t.interpolation, t.max_size, t.antialias))
    if isinstance(t, v2.CenterCrop):
        return Fixed("CenterCrop", lambda x: F.center_crop(x, t.size))
    # Random, drawn per image; the exact class only, since a subclass may draw otherwise.
    if kind is v2.RandomHorizontalFlip:
        return Flip(t.p)
    if kind is v2.RandomCrop and isinstance(t.fill, (int, float)):
        return Crop(t)
    # Report 002's colour transforms (augment.colour).
    if kind is v2.ColorJitter:
        return colour.Jitter(t)
    if kind is v2.RandomEqualize:
        if t.p >= 1:  # always applied: deterministic, so the loader can cache it once
            return Fixed("RandomEqualize", F.equalize)
        return RandomApplied("RandomEqualize", t.p, F.equalize)
    if kind is v2.RandomGrayscale:  # keeps the channel count, as v2 does (num_input_channels)
        return RandomApplied("RandomGrayscale", t.p, colour.grayscale)
    if kind is v2.RandomAdjustSharpness:
        if t.sharpness_factor == 1:  # x + 0 * (blur - x): the identity, bit for bit
            return RandomApplied("RandomAdjustSharpness", t.p, lambda x: x)
        return RandomApplied("RandomAdjustSharpness", t.p,
                             lambda x: colour.sharpen(x, t.sharpness_factor))
    if kind is v2.ToPILImage and t.mode is None:
        return Fixed("ToPILImage", colour.to_pil_bytes, pointwise=True)
    # Report 002's geometric transforms (augment.geometry).
    nearest_or_bilinear = ("nearest", "bilinear")
    if kind is v2.RandomPerspective and _check_interpolation(t.interpolation).value in nearest_or_bilinear:
        return geometry.Perspective(t)
    if (kind is v2.RandomAffine and t.translate is None and t.scale is None and t.shear is None
            and t.center is None and _check_interpolation(t.interpolation).value in nearest_or_bilinear):
        return geometry.Affine(t)  # rotation only
    if kind is v2.RandomErasing and t.value is not None:  # value "random": noise, not batched here
        return geometry.Erasing(t)
    return None


# ---------------------------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------------------------

class BatchPipeline:
    """A v2 transform pipeline as a list of batched ops; call it on a uint8 (N, C, H, W) batch."""

    def __init__(self, ops: list[Fixed | Flip | Crop]) -> None:
        self.ops = ops

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for op in self.ops:
            batch = op.apply(batch, op.sample(batch, generator))
        return batch

    def take(self, images: torch.Tensor, index: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        """self(images[index], generator), with a leading crop cut straight out of images.

        One gather instead of two (the batch, then its crops): CNN5b's per-batch work.
        """
        if not self.ops or not isinstance(self.ops[0], Crop) or not self.ops[0].selects_pixels:
            return self(images[index], generator)  # a padded crop would pad every image
        crop = self.ops[0]
        shape = images[:1].expand(len(index), *images.shape[1:])  # the batch's shape, no copy
        batch = crop.apply(images, crop.sample(shape, generator), index)
        return BatchPipeline(self.ops[1:])(batch, generator)

    def __repr__(self) -> str:
        return ", ".join(op.name for op in self.ops)

    def split(self) -> tuple[BatchPipeline, BatchPipeline]:
        """The ops that can run once on the whole dataset, and those that must run per batch.

        A fixed op runs once if every op before it does, or if it is pointwise and every op
        before it that runs per batch only moves pixels (a flip, an unpadded crop): moving it
        ahead of them gives the same images, and their random draws depend on the batch's shape
        only, which a pointwise op keeps.
        """
        once: list[Fixed] = []
        per_batch: list[Fixed | Flip | Crop] = []
        for op in self.ops:
            after_selections = all(o.selects_pixels for o in per_batch)
            runs_once = not op.random and after_selections and (op.pointwise or not per_batch)
            (once if runs_once else per_batch).append(op)
        return BatchPipeline(once), BatchPipeline(per_batch)


def compile_transform(transform: Any) -> tuple[BatchPipeline | None, list[str]]:
    """The batched form of a transform pipeline, or None and the names of the transforms without one."""
    transforms = flatten(transform)
    ops = [batched_op(t) for t in transforms]
    missing = [type(t).__name__ for t, op in zip(transforms, ops) if op is None]
    return (None, missing) if missing else (BatchPipeline(ops), [])


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

class DeviceLoader:
    """Batches cut from uint8 images already on the device and transformed there, whole."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pipeline: BatchPipeline,
                 batch_size: int, shuffle: bool, generator: torch.Generator) -> None:
        self.images, self.labels, self.pipeline = images, labels, pipeline
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator
        self.description = f"batched on {images.device.type}: {pipeline}"

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, dev = len(self.images), self.images.device
        order = (torch.randperm(n, generator=self.generator, device=dev) if self.shuffle
                 else torch.arange(n, device=dev))
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.pipeline.take(self.images, index, self.generator), self.labels[index]


class PerImage(torch.utils.data.Dataset):
    """torchvision's CIFAR behaviour: each item a PIL image through the transform, and its label."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Any) -> None:
        self.images = images.permute(0, 2, 3, 1).contiguous().numpy()  # HWC, as PIL wants
        self.labels, self.transform = labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        return self.transform(PIL.Image.fromarray(self.images[i])), self.labels[i]


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def cache_fixed_prefix(images: torch.Tensor, pipeline: BatchPipeline, budget: int = CACHE_BUDGET,
                       chunk: int = 1024) -> tuple[torch.Tensor, BatchPipeline, str]:
    """Apply the pipeline's deterministic part to every image once, as far as `budget` bytes allow.

    Returns the images so transformed, the ops left to run per batch, and a phrase saying what
    was cached. Batches of the result through the ops left equal batches of `images` through
    the whole pipeline (tests/test_transforms.py checks it bit for bit).
    """
    once, _ = pipeline.split()
    ops = list(once.ops)
    probe, probes = images[:1], []  # one image after each op of the prefix
    for op in ops:
        probe = op.apply(probe, None)
        probes.append(probe)
    sizes = [p.numel() * p.element_size() * len(images) for p in probes]  # the whole dataset's
    while ops and sizes[len(ops) - 1] > budget:  # drop ops from the end until the rest fits
        ops.pop()
    # What is not cached runs per batch in the experiment's order: valid, since the cached ops
    # commute with the flips and crops they were moved ahead of.
    left = BatchPipeline([op for op in pipeline.ops if all(op is not c for c in ops)])
    # Identity ops (ToImage) cost nothing per batch: caching only them is no cache at all.
    if all(op.fn is _identity for op in ops):
        first = next((i for i, op in enumerate(once.ops) if op.fn is not _identity), None)
        over = "" if first is None else (f" ({once.ops[first].name} would take "
                                         f"{_size(sizes[first])}, over the budget of {_size(budget)})")
        return images, pipeline, f"nothing cached{over}"
    prefix, probe = BatchPipeline(ops), probes[len(ops) - 1]
    cached = torch.empty((len(images), *probe.shape[1:]), dtype=probe.dtype, device=images.device)
    for start in range(0, len(images), chunk):  # chunks keep the temporaries small
        cached[start:start + chunk] = prefix(images[start:start + chunk], torch.Generator(images.device))
    note = f"{prefix} cached once ({_size(sizes[len(ops) - 1])})"
    if len(ops) < len(once.ops):
        note += f", {BatchPipeline(once.ops[len(ops):])} left per batch to stay under the budget"
    return cached, left, note


def make_loader(images: torch.Tensor, labels: torch.Tensor, transform: Any, batch_size: int,
                shuffle: bool, device: torch.device, seed: int, workers: int = 2,
                cache_budget: int = CACHE_BUDGET) -> Any:
    """A loader yielding (images, labels) batches: batched on the device, or per image as a fallback.

    Either way it has `len()`, a `generator` whose state is the loader's only randomness, and a
    `description` saying which path it took and what it cached.
    """
    pipeline, missing = compile_transform(transform)
    if pipeline is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
        cached, per_batch, note = cache_fixed_prefix(images.to(device), pipeline, cache_budget)
        loader = DeviceLoader(cached, labels.to(device), per_batch, batch_size, shuffle, generator)
        loader.description = f"batched on {device.type}: {note}; per batch: {repr(per_batch) or 'nothing'}"
        return loader
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        PerImage(images, labels, transform), batch_size=batch_size, shuffle=shuffle,
        num_workers=workers, generator=generator, pin_memory=device.type == "cuda")
    loader.description = (f"per image in a DataLoader ({workers} workers): no batched form for "
                          f"{', '.join(missing)}")
    return loader
