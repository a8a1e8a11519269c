"""One file per report step; this module lists them in report order and loads one by path."""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from config import Config, Reported
from errors import UserError

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT_STEPS = ("NN1", "CNN2", "CNN3a", "CNN3b", "CNN3c", "CNN4a", "CNN4b", "CNN4c",
                "CNN5a", "CNN5b", "CNN6")
REQUIRED = ("model", "train_transform", "test_transform", "reported")  # `config` is optional


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


def resolve_path(name: str) -> str:
    """A path as given, or a bare step name such as CNN4b looked up in experiments/."""
    if os.path.exists(name) or os.sep in name or name.endswith(".py"):
        return name
    path = os.path.join(HERE, f"{name}.py")
    return path if os.path.relpath(path).startswith("..") else os.path.relpath(path)


def load_experiment(path: str) -> Experiment:
    """Import an experiment file by path and check that it declares what a run needs."""
    steps = ", ".join(REPORT_STEPS)
    if not os.path.isfile(path):
        raise UserError(f"{path} does not exist (steps: {steps}, or all)")
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"experiment_{name}", path)
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


def build_model(exp: Experiment, cfg: Config) -> nn.Module:
    """The experiment's network for cfg; an error inside the experiment file is reported by line."""
    try:
        model = exp.model(cfg)
    except UserError:
        raise
    except Exception as e:
        line = _line_in(exp.path, sys.exc_info()[2])
        raise UserError(f"{exp.path}: model(cfg) failed{line}: {type(e).__name__}: "
                        f"{(str(e).strip() or '-').splitlines()[0]}") from None
    if not isinstance(model, nn.Module):
        raise UserError(f"{exp.path}: model(cfg) returned a {type(model).__name__}, not an nn.Module")
    return model


def _line_in(path: str, tb: Any) -> str:
    """' (line N)' for the deepest frame of the traceback inside the experiment file."""
    line = ""
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    return line
