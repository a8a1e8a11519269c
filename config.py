"""Every default of a run, in one place; experiments and the command line override fields."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reported:
    """The figures the report gives for one step, to compare a run against."""

    accuracy: float  # final test accuracy, percent
    loss: float  # final training loss (mean cross-entropy per sample)
    minutes: float  # wall time on the report's GTX 960M laptop


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run. The defaults are the report's (section 1)."""

    step: str = ""  # report step name, e.g. "CNN4b"; filled from the experiment's file name
    dataset: str = "cifar100"  # cifar100 | cifar10 | synthetic
    num_classes: int = 100  # filled from the dataset
    data_dir: str = "data"  # holds cifar-100-python/ and cifar-10-batches-py/
    subset: int | None = None  # first N training and N // 5 test images; None = all
    image_size: int = 32  # side of the square images the model sees
    epochs: int = 20  # every step of the report but CNN6 trains for 20 epochs
    batch_size: int = 256
    lr: float = 1e-4  # Adam, default betas, no weight decay
    pretrained: bool = False  # ImageNet weights (CNN6 only)
    seed: int = 0  # seeds the model init, the shuffling, the augmentation and synthetic data
    device: str = "auto"  # auto = cuda, then mps, then cpu
    out: str = "runs"  # a run writes to <out>/<step>/
    resume: bool = False  # continue from <out>/<step>/checkpoint.pt
    workers: int = 2  # DataLoader workers, used only when a transform has no batched form
    compile: bool = False  # torch.compile the model; off: slower on the 2-core CPU (BENCHMARKS.md)
