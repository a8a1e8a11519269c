"""Every default of a run, in one place; experiments and the command line override fields.

Beside each field, what changing it means (its metadata):
  DATA     the data or the network differ: --resume refuses the change, and such a run is not
           the report's setting;
  SETTING  such a run is not the report's setting; --resume takes the new value;
  RESUMED  --resume refuses the change (the optimizer's state would not fit), but it is not
           compared with the report (OPTIMIZER fields are both).
"""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from early_stopping import MONITORS, RULES
from errors import UserError

# $CIFAR_MIRROR: a folder (URL) holding the official archives under their own names, downloaded
# from instead of the official host (cifar.py); what comes from it must still have the published MD5.
MIRROR_VARIABLE = "CIFAR_MIRROR"
# A command that needs no download and ends in seconds on a CPU, learning: README's quick start,
# main.py's first example, and the suggestion when CIFAR is missing.
QUICK_START = "python main.py 003-final --dataset synthetic --subset 1000 --epochs 2"

DATA = {"resume": "refuse", "setting": True}
SETTING = {"setting": True}
OPTIMIZER = {"resume": "refuse", "setting": True}
RESUMED = {"resume": "refuse"}


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run. The defaults are report 000's (section 1)."""

    step: str = ""  # step name, e.g. "CNN4b" or "001-A"; filled from the experiment's file name
    dataset: str = field(default="cifar100", metadata=DATA)  # cifar100 | cifar10 | synthetic
    num_classes: int = field(default=100, metadata=RESUMED)  # filled from the step's dataset
    data_dir: str = "data"  # holds cifar-100-python/ and cifar-10-batches-py/
    subset: Union[int, None] = field(default=None, metadata=DATA)  # first N training, N // 5 test images
    image_size: int = field(default=32, metadata=DATA)  # side of the square images the model sees
    epochs: int = 20  # the most epochs; early stopping may end a run sooner
    batch_size: int = field(default=256, metadata=SETTING)
    optimizer: str = field(default="adam", metadata=OPTIMIZER)  # adam | sgd | adagrad | rmsprop
    lr: float = field(default=1e-4, metadata=SETTING)
    momentum: float = field(default=0.0, metadata=SETTING)  # sgd and rmsprop only
    weight_decay: float = field(default=0.0, metadata=SETTING)  # L2 added to the gradient, as torch.optim does
    lr_decay: float = field(default=1.0, metadata=SETTING)  # lr is multiplied by this after every epoch
    # Validation: part of the training set held out and evaluated every epoch.
    val_split: str = field(default="none", metadata=DATA)  # none | random | last | batch5
    val_size: int = field(default=0, metadata=DATA)  # images held out (of the 50,000); batch5: 10,000
    val_transform: str = field(default="test", metadata=SETTING)  # test | train (report 002's quirk)
    # Early stopping on the validation split; early_stopping.py defines the rules.
    early_stopping: str = field(default="off", metadata=SETTING)  # off | patience | baseline | window
    monitor: str = field(default="val_accuracy", metadata=SETTING)  # val_accuracy | val_loss
    patience: int = field(default=5, metadata=SETTING)  # evaluations without improvement
    min_delta: float = field(default=0.0, metadata=SETTING)  # the least change that is an improvement
    keep: str = field(default="last", metadata=SETTING)  # last | best: the weights the final test is of
    # Report 002 tests on the first 1,000 test images only; the whole set is still evaluated at the end.
    test_limit: Union[int, None] = field(default=None, metadata=SETTING)  # first N test images per epoch
    # Extra evaluations (train in eval mode, validation, test) as rows of metrics.csv (report 004's loop).
    eval_every: float = field(default=1.0, metadata=SETTING)  # a fraction of an epoch; 1: only at its end
    eval_at_start: bool = field(default=False, metadata=SETTING)  # also evaluate before training (epoch 0)
    pretrained: bool = field(default=False, metadata=SETTING)  # ImageNet weights (CNN6 and transfer steps)
    seed: int = 0  # seeds the model init, the shuffling, the augmentation, the split, synthetic data
    device: str = "auto"  # auto = cuda, then mps, then cpu
    out: str = "runs"  # a run writes to <out>/<step>/
    resume: bool = False  # continue from <out>/<step>/checkpoint.pt
    workers: int = 2  # DataLoader workers, used only when a transform has no batched form
    compile: bool = False  # torch.compile the model; off: slower on the 2-core CPU (BENCHMARKS.md)
    # auto | bf16 | fp32: auto is fp32 on every device, IEEE on CUDA (no TF32); bf16 the fast option
    # (devices.resolve_precision, devices.set_float32_math).
    # A run records the one it used; --resume refuses another, and bf16 is noted as not the
    # reports' setting (they trained in fp32): both handled by name, as "auto" is no setting.
    precision: str = "auto"
    # auto | on | off: the training step replayed as one CUDA graph (capture.py); auto where kernel
    # launches bound it (capture.decide's rule), never on the CPU; on is refused off CUDA. A run
    # records the one it used, on or off; captured or not, the losses agree within float rounding.
    capture: str = "auto"
    # torch's deterministic algorithms, cuDNN's benchmark off, cuBLAS's fixed workspace (CUDA).
    deterministic: bool = field(default=False, metadata=SETTING)
    # Weights after every epoch in <run>/snapshots/, pruned at the end to epoch 1, best // 2 and
    # the best (report 003's t-SNE figure; run_folder.writer.prune_snapshots).
    snapshots: bool = False


REPORTS_PRECISION = "fp32"  # every report trained in float32: a run in bf16 is not their setting


def fields_with(key: str) -> tuple[str, ...]:
    """The Config fields whose metadata sets `key` (e.g. "setting", "resume")."""
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata.get(key))


Figure = Union[float, tuple[float, float], None]  # a number, or a (low, high) range such as 60-65%


@dataclass(frozen=True)
class Reported:
    """What a report states for one step; every figure is optional, and may be a (low, high) range.

    Each name is also the name of the run's own figure (summary.summarize), so a run is compared with
    the report on the report's own metric.
    """

    test_accuracy: Figure = None  # percent, of the weights the report kept
    test_loss: Figure = None
    full_test_accuracy: Figure = None  # percent, on every test image when test_limit cut the test set
    train_loss: Figure = None  # the last epoch's mean cross-entropy per image
    train_accuracy: Figure = None  # the last epoch's
    val_accuracy: Figure = None  # the last epoch's
    val_loss: Figure = None  # the last epoch's
    best_val_accuracy: Figure = None
    best_epoch: Figure = None  # the epoch early stopping (or the best validation figure) chose
    lowest_val_loss: Figure = None
    lowest_val_loss_epoch: Figure = None
    train_accuracy_at_best: Figure = None  # the training accuracy in the best epoch
    minutes: Figure = None  # on the report's hardware (experiments.Report.hardware)
    parameters: Union[int, None] = None  # as the report prints it
    note: str = ""  # where a figure of the report is wrong, or how it was read off
    # The figure that decides whether the step is reproduced (compare.py); "": the first of
    # HEADLINES the report gives. The others keep their verdicts but do not decide.
    headline: str = ""

    def __post_init__(self) -> None:
        assert self.headline in ("", *FIGURES), f"Reported: headline {self.headline!r} is no figure"
        assert not self.headline or getattr(self, self.headline) is not None, \
            f"Reported: the headline {self.headline} is a figure the report does not give"

    @property
    def decisive(self) -> str | None:
        """The figure that decides whether the step is reproduced: headline, else the first of
        HEADLINES the report gives; None when it gives none."""
        given = reported_figures(self)
        return self.headline or next((k for k in HEADLINES if k in given), None)


# The figures a run is compared on, with their labels and units, in the order tables show them.
FIGURES: dict[str, tuple[str, str]] = {
    "best_val_accuracy": ("best val acc", "%"),
    "best_epoch": ("best epoch", ""),
    "train_accuracy_at_best": ("train acc at best", "%"),
    "lowest_val_loss": ("lowest val loss", ""),
    "lowest_val_loss_epoch": ("its epoch", ""),
    "train_loss": ("train loss", ""),
    "train_accuracy": ("train acc", "%"),
    "val_loss": ("val loss", ""),
    "val_accuracy": ("val acc", "%"),
    "test_loss": ("test loss", ""),
    "test_accuracy": ("test acc", "%"),
    "full_test_accuracy": ("full test acc", "%"),
    "minutes": ("minutes", ""),
}
assert set(FIGURES) == {f.name for f in dataclasses.fields(Reported)} - {"parameters", "note", "headline"}
# A step's headline figure when its Reported names none: the figure its report is about, first
# the one early stopping or the report's table chose the weights by, then the test set's.
HEADLINES = ("best_val_accuracy", "test_accuracy", "full_test_accuracy", "val_accuracy",
             "best_epoch", "lowest_val_loss", "train_loss", "test_loss")


def reported_figures(reported: Reported | None) -> dict[str, Any]:
    """The figures a report states for a step, by name, leaving out those it does not give."""
    if reported is None:
        return {}
    return {k: getattr(reported, k) for k in FIGURES if getattr(reported, k) is not None}


# The datasets a run may use, with their training and test images (synthetic: CIFAR's counts).
# Here and not in data.py, with the choices below, so that checking a command imports no torch.
SIZES = {"cifar100": (50000, 10000), "cifar10": (50000, 10000), "synthetic": (50000, 10000)}

# What each string field may hold: an unknown value is refused before any training. The names of
# the optimizers (optimizers.py), the splits (data.py) and the precisions (devices.py) live here.
CHOICES = {"optimizer": ("adam", "sgd", "adagrad", "rmsprop"),
           "val_split": ("none", "random", "last", "batch5"), "val_transform": ("test", "train"),
           "early_stopping": RULES, "monitor": tuple(MONITORS), "keep": ("last", "best"),
           "dataset": tuple(SIZES), "precision": ("auto", "bf16", "fp32"),
           "capture": ("auto", "on", "off")}
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")  # what --device may name
DEVICES = "auto, cpu, cuda, cuda:N, mps"


@dataclass(frozen=True)
class Range:
    """The numbers a field may hold, from low to high (None: no bound); above, below: not the bound."""

    low: float | None = None
    high: float | None = None
    above: bool = False  # low itself is refused (lr: above 0)
    below: bool = False  # high itself is refused (momentum: below 1)

    def __contains__(self, value: float) -> bool:
        # Written so that NaN is in no range.
        return ((self.low is None or value > self.low or (value == self.low and not self.above))
                and (self.high is None or value < self.high or (value == self.high and not self.below)))

    def __str__(self) -> str:
        ends = [f"{word} {bound}" for word, bound in (("above" if self.above else "at least", self.low),
                                                      ("below" if self.below else "at most", self.high))
                if bound is not None]
        return " and ".join(ends)


# What each number may hold, refused before anything runs, whether it comes from an option, --set
# or an experiment file. A new number field adds its line here (tests/test_inputs.py checks).
RANGES = {
    "subset": Range(1),  # and at most the dataset's training images (sizes)
    "image_size": Range(1, 1024),
    "epochs": Range(1),
    "batch_size": Range(1),
    "lr": Range(0, above=True),
    "momentum": Range(0, 1, below=True),  # 1 or more: the steps never shrink, the weights blow up
    "weight_decay": Range(0),
    "lr_decay": Range(0, 1, above=True),  # 0 stops learning after epoch 1; above 1 the lr grows
    "val_size": Range(0),  # random and last: from 1 to the training images less one (check_config)
    "patience": Range(1),
    "min_delta": Range(0),
    "test_limit": Range(1),
    "eval_every": Range(0, 1, above=True),
    "seed": Range(0, 2**32 - 1),  # what numpy and most seeding code take
    "workers": Range(0, 64),
}
HINTS = typing.get_type_hints(Config)
# Fields no one sets: the step is the experiment's name, the classes follow the dataset.
DERIVED = ("step", "num_classes")


def field_type(key: str) -> tuple[type, bool]:
    """A Config field's type (bool, int, float or str) and whether it may be None."""
    hint = HINTS[key]
    args = typing.get_args(hint)
    return (next(a for a in args if a is not type(None)), True) if args else (hint, False)


def parse_value(key: str, text: str) -> Any:
    """The text of an option or a --set value as the typed value of Config field `key`."""
    kind, optional = field_type(key)
    if optional and text.strip().lower() == "none":
        return None
    if kind is bool:
        value = {"true": True, "1": True, "yes": True, "false": False, "0": False,
                 "no": False}.get(text.strip().lower())
        if value is None:
            raise UserError(f"{key} takes true or false, not {text!r}")
        return value
    try:
        return kind(text)
    except ValueError:
        what = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)
        raise UserError(f"{key} takes {what}{' or none' if optional else ''}, not {text!r}") from None


def check_value(key: str, value: Any) -> None:
    """Refuse a value Config field `key` cannot hold, in a sentence naming what it can."""
    kind, optional = field_type(key)
    if value is None and optional:
        return
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, (int, float) if kind is float
                                                                  else kind):
        raise UserError(f"{key} must be {'a number' if kind is float else kind.__name__}"
                        f"{' or None' if optional else ''}, not {type(value).__name__} {value!r}")
    if kind is float and not math.isfinite(value):
        raise UserError(f"{key} {value} must be a finite number {RANGES.get(key, '')}".rstrip())
    if key in RANGES and value not in RANGES[key]:
        raise UserError(f"{key} {value} must be {RANGES[key]}{' (or none)' if optional else ''}")
    if key in CHOICES and value not in CHOICES[key]:
        raise UserError(f"{key} {value!r} is not one of {', '.join(CHOICES[key])}")
    if key == "device" and not DEVICE.fullmatch(value):
        raise UserError(f"device {value!r} is not one of {DEVICES}")
    if kind is str and not value:
        raise UserError(f"{key} must not be empty")


def sizes(name: str, subset: int | None = None) -> tuple[int, int]:
    """The training and test images a run of `name` uses: all, or the first `subset` and `subset // 5`."""
    n_train, n_test = SIZES[name]
    if subset is None:
        return n_train, n_test
    if not 1 <= subset <= n_train:
        raise UserError(f"--subset {subset} is out of range: {name} has {n_train} training images")
    return subset, max(1, subset // 5)


# Adagrad reads its step count on the host in every step (torch.optim.adagrad): no CUDA graph
# holds that (capture.py).
CAPTURABLE = ("adam", "sgd", "rmsprop")


def check_capture(capture: str, optimizer: str, compile: bool) -> None:
    """Refuse `capture on` with a setting no graph can hold, in one sentence naming what can run."""
    if capture != "on":
        return
    if optimizer not in CAPTURABLE:
        raise UserError(f"capture on: {optimizer} reads its step count on the host every step, which "
                        f"a CUDA graph cannot hold (capture works with {', '.join(CAPTURABLE)}; "
                        f"use capture auto or off)")
    if compile:
        raise UserError("capture on with compile: choose one (compile's mode reduce-overhead makes "
                        "its own CUDA graphs); use capture off with compile")


def check_config(cfg: Config) -> None:
    """Refuse settings that cannot run, in one sentence naming what is valid."""
    for f in dataclasses.fields(Config):
        if f.name not in DERIVED:
            try:
                check_value(f.name, getattr(cfg, f.name))
            except UserError as e:
                raise UserError(f"{cfg.step}: {e}") from None
    try:
        check_capture(cfg.capture, cfg.optimizer, cfg.compile)
    except UserError as e:
        raise UserError(f"{cfg.step}: {e}") from None
    if cfg.subset is not None:
        sizes(cfg.dataset, cfg.subset)
    if cfg.val_split == "batch5" and cfg.dataset == "cifar100":
        raise UserError(f"{cfg.step}: val_split batch5 is CIFAR-10's fifth training file; cifar100 has "
                        f"one training file (use random or last)")
    if cfg.val_split in ("random", "last") and not 0 < cfg.val_size < SIZES[cfg.dataset][0]:
        raise UserError(f"{cfg.step}: val_size {cfg.val_size} must be between 1 and "
                        f"{SIZES[cfg.dataset][0] - 1} for val_split {cfg.val_split}")
    if cfg.val_split == "none":
        needs = [f"{k} {getattr(cfg, k)}" for k, off in (("early_stopping", "off"), ("keep", "last"))
                 if getattr(cfg, k) != off]
        if needs:
            raise UserError(f"{cfg.step}: {' and '.join(needs)} needs a validation split; set "
                            f"val_split (one of {', '.join(CHOICES['val_split'][1:])}) and val_size")


def describe() -> str:
    """The --set keys as a table: each field's default and what it may hold (python main.py --set help)."""
    rows = []
    for f in dataclasses.fields(Config):
        if f.name in DERIVED:
            continue
        kind, optional = field_type(f.name)
        holds = (", ".join(CHOICES[f.name]) if f.name in CHOICES else DEVICES if f.name == "device"
                 else "true or false" if kind is bool
                 else f"{'a whole number' if kind is int else 'a number' if kind is float else 'a folder'}"
                 + (f", {RANGES[f.name]}" if f.name in RANGES else ""))
        rows.append((f.name, str(f.default).lower() if f.default is None or kind is bool
                     else str(f.default), holds + (", or none" if optional else "")))
    width = max(len(r[0]) for r in rows) + 2, max(len(r[1]) for r in rows) + 2
    lines = [f"{'key'.ljust(width[0])}{'default'.ljust(width[1])}may hold"]
    lines += [f"{k.ljust(width[0])}{d.ljust(width[1])}{h}" for k, d, h in rows]
    return ("\n".join(lines) + "\n\nGive any as --set KEY=VALUE (a step's own file may change the "
            "default; README.md, \"Run\", says what each does).")
