"""A run's loaders: its dataset, decoded once and kept on the device, cut by its validation split
into the training, validation and test loaders train.run feeds its epochs."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

import augment
import data
from config import Config
from experiments import Experiment


@dataclasses.dataclass
class Loaders:
    """A run's loaders: train, validation (or None), test, and the train set in eval mode (or None)."""

    train: Any
    val: Any
    test: Any
    train_eval: Any  # the training images in eval mode, for the extra evaluations (eval_every)
    full_test: Any  # with test_limit: made when the run ends, for every test image
    classes: int
    names: list[str]  # the classes' names, from the dataset's own meta file
    train_images: int
    val_images: int
    test_images: int

    @property
    def random(self) -> list[Any]:
        """The loaders whose generator draws (checkpointed): train, then validation."""
        return [self.train] + ([self.val] if self.val is not None else [])


def make_loaders(exp: Experiment, cfg: Config, device: torch.device) -> Loaders:
    """The step's data, decoded once and kept on the device, in the loaders the run needs."""
    ds = data.load_dataset(cfg.dataset, cfg.data_dir, cfg.subset, cfg.seed, cfg.num_classes)
    split = data.split_dataset(ds, cfg.val_split, cfg.val_size, cfg.seed)

    def loader(images: torch.Tensor, labels: torch.Tensor, transform: Any, shuffle: bool = False,
               seed: int = cfg.seed) -> Any:
        return augment.make_loader(images, labels, transform, cfg.batch_size, shuffle, device, seed,
                                   cfg.workers)

    has_val = len(split.val_index) > 0
    val_transform = exp.train_transform if cfg.val_transform == "train" else exp.test_transform
    # Extra evaluations pass over the training images with the test transform: they draw nothing.
    cadence = cfg.eval_every < 1 or cfg.eval_at_start
    # Labels may be fewer than the classes in a small subset: the dataset says how many there are.
    classes = max(len(ds.classes), int(max(ds.train_labels.max(), ds.test_labels.max())) + 1)
    test = ds.test_images[:cfg.test_limit], ds.test_labels[:cfg.test_limit]  # report 002's test set
    return Loaders(
        train=loader(split.train_images, split.train_labels, exp.train_transform, shuffle=True),
        val=loader(split.val_images, split.val_labels, val_transform, seed=cfg.seed + 1) if has_val
        else None,
        test=loader(*test, exp.test_transform),
        train_eval=loader(split.train_images, split.train_labels, exp.test_transform) if cadence
        else None,
        full_test=(lambda: loader(ds.test_images, ds.test_labels, exp.test_transform))
        if cfg.test_limit is not None else None,
        classes=classes, names=[*ds.classes, *map(str, range(len(ds.classes), classes))],
        train_images=len(split.train_labels), val_images=len(split.val_labels),
        test_images=len(test[1]))

