"""One file per report step, and the table of reports: which steps each has, in order, and what it
compares them on (the figures drawn from their runs are figures.FIGURES).

Report 000's steps are experiments/<step>.py; report NNN's are experiments/rNNN/<name>.py, step
`NNN-<name>`. A step name, a report id, `all`, or a path to an experiment file can be given to
main.py; this module turns each into experiment files and loads them, each step once.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from config import Config, Reported
from errors import UserError, first_line

if TYPE_CHECKING:  # torch is imported where a network is built: --help and --list need none
    import torch
    from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIRED = ("model", "train_transform", "test_transform", "reported")  # `config` is optional


@dataclass(frozen=True)
class Report:
    """A report: its steps in order and the figures its results table compares them on."""

    id: str
    title: str
    dataset: str  # the steps' own dataset (--dataset synthetic gives its class count)
    hardware: str  # where the report's times were measured, "" when it does not say
    steps: tuple[str, ...]
    columns: tuple[str, ...]  # the figures of config.FIGURES its results table compares
    # The kit logs the mean cross-entropy per image; a report whose code summed batch means over
    # the images plotted it divided by its batch size: this, in every figure of it (1: as logged).
    loss_divisor: int = 1

    @property
    def folder(self) -> str:
        """Where its experiment files are: experiments/ for report 000, experiments/rNNN/ else."""
        return HERE if self.id == "000" else os.path.join(HERE, f"r{self.id}")

    @property
    def loss_note(self) -> str:
        """The line a figure or table of its losses gives when the report plotted them scaled; "" if not."""
        if self.loss_divisor == 1:
            return ""
        return (f"loss: the mean cross-entropy per image; report {self.id}'s figures plot it divided "
                f"by {self.loss_divisor} (its batch size)")


_001_DROPOUT = ("001-A", "001-A-drop0.2", "001-A-drop0.5", "001-A-drop0.8")
_002_DROPOUT = tuple(f"002-drop0.{k}" for k in range(1, 10))
_002_VGG = ("002-VGG-partial", "002-VGG-full", "002-VGG-scratch")
_003_STEPS = ("003-final", "003-noaug", "003-k753", "003-k533", "003-noBN", "003-BN-drop0.1",
              "003-bs16", "003-bs32", "003-SGD", "003-Adagrad", "003-RMSprop")

# The literal table of every report the kit reproduces, in order.
REPORTS = (
    Report("000", "CIFAR-100, from a fully connected net to a fine-tuned ResNet18 (PoliTo MLAI "
           "2018/19)", "cifar100", "GTX 960M",
           ("NN1", "CNN2", "CNN3a", "CNN3b", "CNN3c", "CNN4a", "CNN4b", "CNN4c", "CNN5a", "CNN5b",
            "CNN6"),
           columns=("train_loss", "test_accuracy", "minutes")),
    Report("001", "CIFAR-10 ConvNets: validation split, dropout sweep, a deeper final net (USI "
           "Deep Learning Lab 2022/23, Assignment 2)", "cifar10", "",
           (*_001_DROPOUT, "001-A-drop0.8-60ep", "001-B"),
           columns=("best_val_accuracy", "best_epoch", "val_accuracy", "test_accuracy")),
    Report("002", "CIFAR-10: CNN_5, its early stopping, augmentation and dropout sweeps, and VGG11_bn "
           "transfer (Sapienza AML 2021/22, HW2)", "cifar10", "",
           ("002-CNN5", "002-CNN5-BN", "002-ES-loss", "002-ES-acc", "002-ES-BN-acc", "002-DA1",
            "002-DA2", "002-DA3", *_002_DROPOUT, *_002_VGG, *(f"{s}-DA" for s in _002_VGG)),
           columns=("best_val_accuracy", "best_epoch", "val_accuracy", "test_accuracy",
                    "full_test_accuracy"), loss_divisor=200),  # sum of batch means / (batches x 200)
    Report("003", "CIFAR-10, a three-block CNN swept with early stopping, and the t-SNE of its latent "
           "space (Boğaziçi CMPE 597 Deep Learning, Spring 2021, Project II)", "cifar10", "",
           _003_STEPS,
           columns=("best_epoch", "train_accuracy_at_best", "best_val_accuracy", "test_accuracy",
                    "minutes"), loss_divisor=64),  # running_loss / n_train, batch 64
    Report("004", "CIFAR-10 from LeNet to a partly frozen ResNet18, and what its layers see (NTNU "
           "TDT4265 2019, Assignment 2)", "cifar10", "",
           ("004-LeNet", "004-Model1", "004-Model2", "004-ResNet18"),
           columns=("lowest_val_loss", "lowest_val_loss_epoch", "best_val_accuracy", "best_epoch",
                    "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                    "test_accuracy")),
)
STEPS: dict[str, Report] = {step: r for r in REPORTS for step in r.steps}
assert len(STEPS) == sum(len(r.steps) for r in REPORTS), "step names must be unique across reports"
REPORT_STEPS = REPORTS[0].steps  # report 000's, in order


def report_of(step: str) -> Report | None:
    """The report a step belongs to, or None for an experiment outside the table."""
    return STEPS.get(step)


def step_path(step: str) -> str:
    """The experiment file of a step in the table, relative to the working directory if inside it."""
    report = STEPS[step]
    name = step if report.id == "000" else step[len(report.id) + 1:]
    path = os.path.join(report.folder, f"{name}.py")
    return path if os.path.relpath(path).startswith("..") else os.path.relpath(path)


def step_name(path: str) -> str:
    """The step an experiment file is: CNN4b for experiments/CNN4b.py, 001-A for experiments/r001/A.py."""
    stem = os.path.splitext(os.path.basename(path))[0]
    folder = re.fullmatch(r"r(\d{3})", os.path.basename(os.path.dirname(os.path.abspath(path))))
    return f"{folder.group(1)}-{stem}" if folder else stem


def expand(names: list[str]) -> list[str]:
    """Step names, report ids and `all` turned into steps (paths stay paths), in the order given."""
    out: list[str] = []
    for name in names:
        if name == "all":
            out += list(STEPS)
        elif any(r.id == name for r in REPORTS):
            out += list(next(r for r in REPORTS if r.id == name).steps)
        else:
            out.append(name)
    return out


def resolve_path(name: str) -> str:
    """A path as given, or a step name such as CNN4b or 001-A looked up in the table."""
    if name in STEPS:
        return step_path(name)
    if os.path.exists(name) or os.sep in name or name.endswith(".py"):
        return name
    path = os.path.join(HERE, f"{name}.py")  # not in the table: load_experiment says if it is missing
    return path if os.path.relpath(path).startswith("..") else os.path.relpath(path)


def listing() -> str:
    """Every report with its steps, for --list."""
    lines = []
    for r in REPORTS:
        lines.append(f"{r.id}  {r.title} [{r.dataset}, {len(r.steps)} steps]")
        lines += [f"     {s:<22} {step_path(s)}" for s in r.steps]
    return "\n".join(lines)


@dataclass(frozen=True)
class Experiment:
    """What an experiment file declares, plus where it came from."""

    path: str
    source: str
    model: Callable[[Config], nn.Module]
    train_transform: Any
    test_transform: Any
    reported: Reported | None
    config: Config


_LOADED: dict[tuple[str, int, int], Experiment] = {}  # load_experiment's, by path, time and size


def load_experiment(path: str) -> Experiment:
    """Import an experiment file by path and check that it declares what a run needs.

    Each file is executed once while it is unchanged (its modification time and size): a command
    that reads every step's runs asks for the same files many times.
    """
    if os.path.isfile(path):
        stat = os.stat(path)
        key = (path, stat.st_mtime_ns, stat.st_size)
        if key not in _LOADED:
            _LOADED[key] = _load(path)
        return _LOADED[key]
    return _load(path)  # refused, in a sentence


def _load(path: str) -> Experiment:
    if os.path.isdir(path):
        report = next((r for r in REPORTS if os.path.samefile(r.folder, path)), None)
        if report is not None:
            raise UserError(f"{path} is the folder of report {report.id}: give {report.id} for all its "
                            f"steps in order, or one of them ({', '.join(report.steps)})")
        raise UserError(f"{path} is a folder, not an experiment file; give a step name, a report id, "
                        f"all, or a .py file (python main.py --list shows the steps)")
    if not os.path.isfile(path):
        ids = ", ".join(r.id for r in REPORTS)
        lower = {s.lower(): s for s in STEPS}  # cnn2 is CNN2
        name = step_name(path).lower()
        near = [lower[name]] if name in lower else \
            [lower[m] for m in difflib.get_close_matches(name, lower, n=3)]
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        raise UserError(f"{path} does not exist ({hint}give a step name, a report id ({ids}), all, "
                        f"or an experiment file; python main.py --list shows the steps)")
    name = step_name(path)
    module_name = "experiment_" + re.sub(r"\W", "_", name)  # 001-A-drop0.2 is no identifier
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path} is not a Python file; an experiment is a .py file such as "
                        f"experiments/CNN2.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except UserError:
        raise
    except Exception as e:
        line = _line_in(path, sys.exc_info()[2])
        raise UserError(f"{path} failed on import{line}: {type(e).__name__}: {e}") from None
    missing = [n for n in REQUIRED if not hasattr(module, n)]
    if missing:
        raise UserError(f"{path} is not an experiment: it does not define {', '.join(missing)} "
                        f"(an experiment defines {', '.join(REQUIRED)}, and optionally config)")
    config = getattr(module, "config", Config())
    if not isinstance(config, Config):
        raise UserError(f"{path}: config must be a config.Config, not {type(config).__name__}")
    if not callable(module.model):
        raise UserError(f"{path}: model must be a function of the config that returns an nn.Module")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    return Experiment(path, source, module.model, module.train_transform, module.test_transform,
                      module.reported, dataclasses.replace(config, step=config.step or name))


def once(exps: list[Experiment]) -> list[Experiment]:
    """Each step once, in the order first named (saying so); two files that are one step are refused."""
    first: dict[str, Experiment] = {}
    times: dict[str, int] = {}
    for exp in exps:
        step = exp.config.step
        if step in first and os.path.realpath(first[step].path) != os.path.realpath(exp.path):
            raise UserError(f"{first[step].path} and {exp.path} are both step {step}, and would write "
                            f"the same run folder; give them in separate commands with another --out")
        first.setdefault(step, exp)
        times[step] = times.get(step, 0) + 1
    for step, n in times.items():
        if n > 1:
            print(f"{step} is named {n} times in the command; it runs once")
    return list(first.values())


def build_model(exp: Experiment, cfg: Config) -> nn.Module:
    """The experiment's network for cfg; an error inside the experiment file is reported by line."""
    from torch import nn
    try:
        model = exp.model(cfg)
    except UserError:
        raise
    except Exception as e:
        line = _line_in(exp.path, sys.exc_info()[2])
        raise UserError(f"{exp.path}: model(cfg) failed{line}: {type(e).__name__}: "
                        f"{first_line(e)}") from None
    if not isinstance(model, nn.Module):
        raise UserError(f"{exp.path}: model(cfg) returned a {type(model).__name__}, not an nn.Module")
    return model


def check_model_fits(model: nn.Module, exp: Experiment, cfg: Config, classes: int,
                     device: torch.device) -> None:
    """Refuse a network that cannot take the step's images or has fewer outputs than classes."""
    import torch

    from devices import NO_DETERMINISTIC_KERNEL
    was_training = model.training
    model.eval()  # eval mode: batch norm's running statistics stay as they are
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, cfg.image_size, cfg.image_size, device=device))
    except Exception as e:
        if NO_DETERMINISTIC_KERNEL in str(e):  # --deterministic's own error: train.run names it
            raise
        raise UserError(f"{exp.path}: the model cannot take a {cfg.image_size}x{cfg.image_size} "
                        f"image ({type(e).__name__}: {first_line(e)})") from None
    finally:
        model.train(was_training)
    if out.ndim != 2 or out.shape[1] < classes:
        raise UserError(f"{exp.path}: the model gives {tuple(out.shape[1:])} outputs per image, but "
                        f"{cfg.dataset} has {classes} classes (labels 0..{classes - 1}); the model "
                        f"should have cfg.num_classes outputs")


def _line_in(path: str, tb: Any) -> str:
    """' (line N)' for the deepest frame of the traceback inside the experiment file."""
    line = ""
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    return line
