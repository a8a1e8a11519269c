"""Reproduce the reports one step at a time: python main.py experiments/CNN4b.py, 001-A, 001 or all."""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
import traceback
import typing
from typing import Any, Sequence

import torch

import data
import devices
import optimizers
import results
import runs
import train
from config import Config, check_config
from errors import Interrupted, OneLineParser, TrainingError, UserError
from experiments import REPORTS, Experiment, expand, listing, load_experiment, report_of, resolve_path
from summary import DEFAULT_COLUMNS

DEFAULTS = Config()
# Fields --set may not change: the step is the experiment's name, the classes follow the dataset.
DERIVED = ("step", "num_classes")


def _at_least(kind: type, low: float, strict: bool = False) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(
                f"{text} must be {'greater than' if strict else 'at least'} {low}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _positive(kind: type) -> Any:
    return _at_least(kind, 0, strict=True)


def _device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not one of auto, cpu, cuda, cuda:N, mps")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line; every option defaults to None so that experiments' settings show through."""
    p = OneLineParser(prog="python main.py",
                      description="Train the networks of the reports, one step per experiment file, "
                      "and write each step's metrics, figures and checkpoints.")
    p.add_argument("experiments", nargs="*", metavar="STEP",
                   help="experiment files (experiments/CNN4b.py), step names (CNN4b, 001-A), report "
                        f"ids ({', '.join(r.id for r in REPORTS)}) for all of a report's steps in "
                        "order, or 'all' for every step of every report; --list shows them")
    p.add_argument("--list", action="store_true", help="list every report with its steps, then exit")
    p.add_argument("--epochs", type=_positive(int), help="the most epochs to train (default: the "
                   "step's; early stopping may end sooner)")
    p.add_argument("--batch-size", type=_positive(int), help="images per batch (default: the step's)")
    p.add_argument("--optimizer", choices=tuple(optimizers.OPTIMIZERS),
                   help=f"the optimizer (default: the step's, {DEFAULTS.optimizer} for report 000)")
    p.add_argument("--lr", type=_positive(float), help=f"learning rate (default: the step's, "
                   f"{DEFAULTS.lr:g} for report 000)")
    p.add_argument("--device", type=_device, help="auto (cuda, then mps, then cpu), cpu, cuda, "
                   "cuda:N or mps (default: auto)")
    p.add_argument("--data-dir", help=f"where the datasets are, or are downloaded to "
                   f"(default: {DEFAULTS.data_dir}/)")
    p.add_argument("--dataset", choices=data.DATASETS,
                   help="cifar100, cifar10, or synthetic: generated, learnable, with the step's own "
                        "number of classes, needs no download (default: the step's)")
    p.add_argument("--subset", type=_positive(int), metavar="N",
                   help="train on the first N training images and test on the first N/5, for quick "
                        "runs; a validation split keeps its share (default: all)")
    p.add_argument("--out", help=f"runs are written to OUT/<step>/ (default: {DEFAULTS.out}/)")
    p.add_argument("--seed", type=int, help=f"random seed (default: {DEFAULTS.seed})")
    p.add_argument("--workers", type=_at_least(int, 0),
                   help="DataLoader workers, used only for transforms with no "
                   f"batched form (default: {DEFAULTS.workers})")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model (default: off; see BENCHMARKS.md)")
    p.add_argument("--precision", choices=devices.PRECISIONS,
                   help="auto (bf16 autocast on CUDA, fp32 elsewhere), bf16 (autocast, fp32 weights; "
                        "fast on CUDA and on CPUs with amx_bf16 or avx512_bf16) or fp32, the "
                        "reports' (default: auto)")
    p.add_argument("--deterministic", action="store_true", default=None,
                   help="torch's deterministic algorithms, cuDNN benchmark off, a fixed cuBLAS "
                        "workspace: repeatable on CUDA, slower; the CPU computes the same either way")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="set any other config.Config field, e.g. --set momentum=0.9 --set "
                        "val_split=random --set val_size=1000 --set early_stopping=patience")
    p.add_argument("--resume", action="store_true",
                   help="continue each step from its checkpoint in OUT/<step>/")
    p.add_argument("--summary", action="store_true",
                   help="print each step's architecture and trainable parameters, then exit (no data)")
    p.add_argument("--no-pretrained", action="store_true",
                   help="train networks that start from ImageNet weights from scratch instead")
    return p


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """--set KEY=VALUE pairs as typed Config values; an unknown key or a bad value is a UserError."""
    hints = typing.get_type_hints(Config)
    keys = [f.name for f in dataclasses.fields(Config) if f.name not in DERIVED]
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in keys:
            raise UserError(f"--set {pair}: {'expected KEY=VALUE' if not sep else f'no setting {key!r}'}"
                            f"; the keys are {', '.join(keys)}")
        kind = hints[key]
        try:
            if text.lower() == "none" and type(None) in typing.get_args(kind):
                value = None
            elif kind is bool:
                value = {"true": True, "1": True, "yes": True, "false": False, "0": False,
                         "no": False}[text.lower()]
            else:
                base = next((k for k in typing.get_args(kind) if k is not type(None)), kind)
                value = base(text)
                if base is float and not math.isfinite(value):
                    raise ValueError
        except (KeyError, ValueError):
            name = getattr(kind, "__name__", str(kind))
            raise UserError(f"--set {pair}: {text!r} is not a valid {name} for {key}") from None
        out[key] = value
    return out


def resolve_config(exp: Experiment, args: argparse.Namespace,
                   settings: dict[str, Any] | None = None) -> Config:
    """The experiment's config with the options the user gave on top."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
             if getattr(args, f.name, None) is not None}
    cfg = dataclasses.replace(exp.config, **given, **(settings or {}))
    if args.no_pretrained:
        cfg = dataclasses.replace(cfg, pretrained=False)
    # Synthetic data stands in for the step's own dataset, with as many classes.
    source = exp.config.dataset if cfg.dataset == "synthetic" else cfg.dataset
    return dataclasses.replace(cfg, num_classes=data.NUM_CLASSES.get(source, exp.config.num_classes))


def summary(exp: Experiment, cfg: Config) -> None:
    """Print the step's architecture, its input and output shapes and its trainable parameters."""
    model = exp.model(dataclasses.replace(cfg, pretrained=False)).eval()  # the count needs no weights
    x = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        y = model(x)
    print(f"== {cfg.step} ({exp.path})\n{model}")
    print(f"input: {tuple(x.shape)} -> output: {tuple(y.shape)}")
    print(f"trainable parameters: {optimizers.trainable_parameters(model):,}")


def _tables(steps: list[str], status: dict[str, str], out: str) -> str:
    """The results table of the steps just run, one per report (results.results_table)."""
    found = {s: r for s in steps if status.get(s) == "ok"
             and (r := results.attempt_read(os.path.join(out, s), [])) is not None}
    text = []
    for report in [*REPORTS, None]:
        mine = [s for s in steps if report_of(s) is report]
        if mine:
            columns = report.columns if report else DEFAULT_COLUMNS
            text.append(f"{f'report {report.id}' if report else 'other experiments'}:\n"
                        + results.results_table(mine, found, columns, status))
    return "\n\n".join(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the steps named on the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.list:
        print(listing())
        return 0
    if not args.experiments:
        print("error: name a step, a report id or all (python main.py --list shows them; see "
              "python main.py --help)", file=sys.stderr)
        return 2
    names = expand(args.experiments)
    try:
        # Check every step before training any: a typo in the last should not wait for the first.
        settings = parse_settings(args.settings)
        exps = [load_experiment(resolve_path(n)) for n in names]
        cfgs = [resolve_config(e, args, settings) for e in exps]
        for cfg in cfgs:
            check_config(cfg)
        for device, precision in dict.fromkeys((c.device, c.precision) for c in cfgs):
            devices.resolve_precision(precision, devices.resolve_device(device))
        if args.summary:
            for exp, cfg in zip(exps, cfgs):
                summary(exp, cfg)
            return 0
        for out in dict.fromkeys(c.out for c in cfgs):
            runs.check_writable(out)
        for key in dict.fromkeys((c.dataset, c.data_dir, c.subset, c.seed, c.num_classes)
                                 for c in cfgs):
            data.load_dataset(*key)  # a missing dataset stops here, once
        for cfg in cfgs:  # the split fits the data: known only now, from the subset
            data.split_indices(data.sizes(cfg.dataset, cfg.subset)[0], cfg.val_split,
                               cfg.val_size, cfg.seed)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted before training started", file=sys.stderr)
        return 130

    status: dict[str, str] = {}
    code = 0
    for exp, cfg in zip(exps, cfgs):
        try:
            train.run(exp, cfg)
            status[cfg.step] = "ok"
        except (Interrupted, KeyboardInterrupt) as e:  # Ctrl-C stops this step and the rest
            print(e if isinstance(e, Interrupted) else f"{cfg.step}: interrupted while it was being "
                  f"set up; nothing was trained", file=sys.stderr)
            status[cfg.step] = "stopped (Ctrl-C)"
            code = 130
            break
        except (UserError, TrainingError) as e:
            print(f"error: {e}", file=sys.stderr)
            status[cfg.step] = "failed"
            code = max(code, 2 if isinstance(e, UserError) else 1)
        except Exception:  # a bug: show where, and go on with the other steps
            traceback.print_exc()
            status[cfg.step] = "failed"
            code = max(code, 1)
    if len(cfgs) > 1:
        print("\n" + _tables([c.step for c in cfgs], status, cfgs[0].out))
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C outside a run, e.g. while the summary table prints
        sys.exit(130)
