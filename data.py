"""Datasets as a run sees them: CIFAR-100 and CIFAR-10 (their files: cifar.py), synthetic data,
their sizes, validation splits and channel statistics.

The images are decoded once into a uint8 tensor (N, 3, 32, 32); the augment package turns them
into batches.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torchvision.transforms import v2

import cifar
from config import CHOICES, SIZES, sizes  # noqa: F401 (data.SIZES and data.sizes, as runs see them)
from errors import UserError

HALF = (0.5, 0.5, 0.5)  # the report normalizes every channel with mean 0.5 and std 0.5
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ToImage, then float in [0, 1], then the report's normalization: every step's final transforms.
TO_NORMALIZED_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                                   v2.Normalize(HALF, HALF)])


# ---------------------------------------------------------------------------------------------
# The datasets on disk
# ---------------------------------------------------------------------------------------------

DATASETS = CHOICES["dataset"]  # their images: config.SIZES
NUM_CLASSES = {"cifar100": 100, "cifar10": 10}  # synthetic data takes the step's own dataset's


@dataclass
class Dataset:
    """A classification dataset decoded into tensors: images uint8 (N, 3, H, W), labels int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]


def load_cifar(spec: cifar.CifarSpec, root: str, download: bool = True) -> Dataset:
    """Read an official CIFAR folder under root, fetching the archive first if it is missing."""
    folder = os.path.join(root, spec.folder)
    for path in (root, folder):
        if os.path.exists(path) and not os.path.isdir(path):
            raise UserError(f"{path} is a file, not a folder: --data-dir names the folder that holds "
                            f"{spec.folder}/ (default: data)")
    needed = (*spec.train_files, *spec.test_files, spec.meta_file)

    def there() -> bool:
        return all(os.path.isfile(os.path.join(folder, name)) for name in needed)

    if not there():
        if not download:
            raise UserError(f"{spec.title} is not in {folder}")
        cifar.fetch(spec, root, there)

    def read(files: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [cifar.read_batch(os.path.join(folder, name), spec) for name in files]
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        # Rows hold the red, green and blue planes in turn, each 32x32 row-major: that is CHW.
        return torch.from_numpy(data.reshape(-1, 3, 32, 32)), torch.from_numpy(labels)

    train_images, train_labels = read(spec.train_files)
    test_images, test_labels = read(spec.test_files)
    meta_path = os.path.join(folder, spec.meta_file)
    names = cifar.read_pickle(meta_path, spec).get(spec.names_key)
    if not isinstance(names, list) or len(names) != spec.num_classes:
        raise UserError(f"{meta_path} is not a valid {spec.title} file: '{spec.names_key}' should list "
                        f"{spec.num_classes} class names")
    # A copy re-pickled by Python 3 may hold the names as bytes: decoded, as the keys are.
    return Dataset(train_images, train_labels, test_images, test_labels,
                   [n.decode() if isinstance(n, bytes) else str(n) for n in names])


def synthetic(n_train: int, n_test: int, seed: int = 0, num_classes: int = 100) -> Dataset:
    """A learnable CIFAR-shaped dataset: each class a smooth colour pattern, each image a noisy copy.

    Deterministic in (n_train, n_test, seed). Smooth noise as strong as the class pattern, pixel
    noise and a brightness shift make classes overlap, so accuracy climbs over epochs (CNN2: about
    45% after 3 epochs on 10,000 images) instead of jumping to 100%.
    """
    g = torch.Generator().manual_seed(seed)

    def smooth(n: int) -> torch.Tensor:
        """Random 4x4 colour grids blown up to 32x32: structure at the scale of CIFAR's objects."""
        coarse = torch.randn(n, 3, 4, 4, generator=g)
        return torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear",
                                               align_corners=False)

    prototypes = smooth(num_classes)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
        images = torch.empty(n, 3, 32, 32, dtype=torch.uint8)
        for start in range(0, n, 4096):  # chunks keep the float temporaries small
            y = labels[start:start + 4096]
            x = (128 + 40 * prototypes[y] + 40 * smooth(len(y))
                 + 45 * torch.randn(len(y), 3, 32, 32, generator=g)
                 + 20 * torch.randn(len(y), 1, 1, 1, generator=g))
            images[start:start + 4096] = x.round().clamp(0, 255).to(torch.uint8)
        return images, labels

    train_images, train_labels = draw(n_train)
    test_images, test_labels = draw(n_test)
    return Dataset(train_images, train_labels, test_images, test_labels,
                   [f"class_{i:02d}" for i in range(num_classes)])


@lru_cache(maxsize=2)  # decode once per dataset: `main.py all` spans CIFAR-100 and CIFAR-10
def load_dataset(name: str, data_dir: str, subset: int | None = None, seed: int = 0,
                 num_classes: int = 100, download: bool = True) -> Dataset:
    """The named dataset as a run sees it: cut to sizes(name, subset).

    Synthetic data has num_classes classes (the step's own dataset's); CIFAR has its own and is
    fetched when missing unless download is False.
    """
    n_train, n_test = sizes(name, subset)
    if name == "synthetic":
        return synthetic(n_train, n_test, seed, num_classes)
    ds = load_cifar(cifar.SPECS[name], data_dir, download)
    return Dataset(ds.train_images[:n_train], ds.train_labels[:n_train],
                   ds.test_images[:n_test], ds.test_labels[:n_test], ds.classes)


# ---------------------------------------------------------------------------------------------
# Validation splits and channel statistics
# ---------------------------------------------------------------------------------------------

# How a validation set is cut from the training set (Config.val_split):
#   none    no validation set
#   random  val_size images drawn at random, seeded by the run's seed (reports 001 and 004)
#   last    the last val_size images (report 002: 49,000-49,999)
#   batch5  CIFAR-10's fifth training file, data_batch_5: the last 10,000 images, as the files are
#           read in order (report 003)
SPLITS = CHOICES["val_split"]
BATCH5 = 10000


def split_size(kind: str, val_size: int) -> int:
    """The validation images a split holds out of CIFAR's 50,000 training images."""
    return BATCH5 if kind == "batch5" else (0 if kind == "none" else val_size)


def held_out(n: int, kind: str, val_size: int, full: int = 50000) -> int:
    """The validation images a split holds out of a training set of n: a subset (n < full) holds
    out the same share, at least one image."""
    size = split_size(kind, val_size)
    return max(1, round(size * n / full)) if size and n < full else size


def split_indices(n: int, kind: str, val_size: int, seed: int,
                  full: int = 50000) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation indices into a training set of n images, each sorted.

    val_size counts images of the full set of `full`; a subset (n < full) holds out the same
    share, at least one image.
    """
    assert kind in SPLITS, kind
    size = held_out(n, kind, val_size, full)
    if size >= n:
        raise UserError(f"a validation split of {size} images leaves nothing to train on: the "
                        f"training set has {n}; choose a smaller val_size")
    if kind == "random":
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.arange(n)
    train, val = order[:n - size], order[n - size:]
    return train.sort().values, val.sort().values


@dataclass(frozen=True)
class Split:
    """A training set cut into the images a run trains on and those it validates on."""

    train_index: torch.Tensor  # sorted indices into the whole training set
    val_index: torch.Tensor  # empty without a validation split
    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor


def split_dataset(ds: Dataset, kind: str, val_size: int, seed: int) -> Split:
    """ds's training images cut by split_indices: the one place a run's split is worked out."""
    train, val = split_indices(len(ds.train_labels), kind, val_size, seed)
    if not len(val):  # no split: the whole set, without a copy
        return Split(train, val, ds.train_images, ds.train_labels, ds.train_images[:0],
                     ds.train_labels[:0])
    return Split(train, val, ds.train_images[train], ds.train_labels[train], ds.train_images[val],
                 ds.train_labels[val])


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of uint8 images (N, C, H, W), in [0, 1].

    As np.mean and np.std over every pixel of every image, divided by 255: report 001's recipe,
    which gives its published CIFAR-10 values from the 50,000 training images. The sums are
    exact integers, so the result does not depend on the order of the images.
    """
    assert images.dtype == torch.uint8 and images.ndim == 4, (images.dtype, images.shape)
    total = torch.zeros(images.shape[1], dtype=torch.int64)
    squares = torch.zeros(images.shape[1], dtype=torch.int64)
    for start in range(0, len(images), 4096):  # chunks keep the int64 temporaries small
        x = images[start:start + 4096].to(torch.int64).transpose(0, 1).flatten(1)
        total += x.sum(1)
        squares += (x * x).sum(1)
    n = images.numel() // images.shape[1]
    mean = total.double() / n
    std = (squares.double() / n - mean ** 2).clamp_min(0).sqrt()
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())