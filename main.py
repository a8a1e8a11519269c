"""Reproduce the reports one step at a time: python main.py experiments/CNN4b.py, 001-A, 001 or all."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import traceback
from typing import Any, Sequence

import torch

import data
import devices
import optimizers
import results
import runs
import train
from config import DERIVED, Config, check_config, check_value, parse_value
from errors import Interrupted, OneLineParser, TrainingError, UserError
from experiments import (REPORTS, Experiment, build_model, check_model_fits, expand, listing,
                         load_experiment, report_of, resolve_path)
from summary import DEFAULT_COLUMNS

DEFAULTS = Config()


def _option(key: str) -> Any:
    """argparse's type for the option of Config field `key`: parsed and checked as --set KEY= is."""
    def parse(text: str) -> Any:
        try:
            value = parse_value(key, text)
            check_value(key, value)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value
    parse.__name__ = key
    return parse


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
    p.add_argument("--epochs", type=_option("epochs"), help="the most epochs to train (default: the "
                   "step's; early stopping may end sooner)")
    p.add_argument("--batch-size", type=_option("batch_size"),
                   help="images per batch (default: the step's)")
    p.add_argument("--optimizer", choices=tuple(optimizers.OPTIMIZERS),
                   help=f"the optimizer (default: the step's, {DEFAULTS.optimizer} for report 000)")
    p.add_argument("--lr", type=_option("lr"), help=f"learning rate (default: the step's, "
                   f"{DEFAULTS.lr:g} for report 000)")
    p.add_argument("--device", type=_option("device"), help="auto (cuda, then mps, then cpu), cpu, "
                   "cuda, cuda:N or mps (default: auto)")
    p.add_argument("--data-dir", type=_option("data_dir"), help=f"where the datasets are, or are "
                   f"downloaded to (default: {DEFAULTS.data_dir}/)")
    p.add_argument("--dataset", choices=data.DATASETS,
                   help="cifar100, cifar10, or synthetic: generated, learnable, with the step's own "
                        "number of classes, needs no download (default: the step's)")
    p.add_argument("--subset", type=_option("subset"), metavar="N",
                   help="train on the first N training images and test on the first N/5, for quick "
                        "runs; a validation split keeps its share (default: all)")
    p.add_argument("--out", type=_option("out"),
                   help=f"runs are written to OUT/<step>/ (default: {DEFAULTS.out}/)")
    p.add_argument("--seed", type=_option("seed"), help=f"random seed (default: {DEFAULTS.seed})")
    p.add_argument("--workers", type=_option("workers"),
                   help="DataLoader workers, used only for transforms with no "
                   f"batched form (default: {DEFAULTS.workers})")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model (default: off; see BENCHMARKS.md)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="set any other config.Config field, e.g. --set momentum=0.9 --set "
                        "val_split=random --set val_size=1000 --set early_stopping=patience")
    p.add_argument("--resume", action="store_true", default=None,
                   help="continue each step from its checkpoint in OUT/<step>/")
    p.add_argument("--summary", action="store_true",
                   help="print each step's architecture and trainable parameters, then exit (no data)")
    p.add_argument("--no-pretrained", action="store_true",
                   help="train networks that start from ImageNet weights from scratch instead")
    return p


def parse_settings(pairs: Sequence[str],
                   options: dict[str, tuple[str, Any]] | None = None) -> dict[str, Any]:
    """--set KEY=VALUE pairs as typed, checked Config values (config.check_value).

    An unknown key, a bad value, a key given twice, or one an option (given_options) sets too, is
    a UserError.
    """
    keys = [f.name for f in dataclasses.fields(Config) if f.name not in DERIVED]
    out: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in keys:
            raise UserError(f"--set {pair}: {'expected KEY=VALUE' if not sep else f'no setting {key!r}'}"
                            f"; the keys are {', '.join(keys)}")
        if key in texts:
            raise UserError(f"--set {texts[key]} and --set {pair} both set {key}; give it once")
        if key in (options or {}):
            raise UserError(f"{_shown(*options[key])} and --set {pair} both set {key}; give it once")
        texts[key] = pair
        try:
            out[key] = parse_value(key, text)
            check_value(key, out[key])
        except UserError as e:
            raise UserError(f"--set {pair}: {e}") from None
    return out


def given_options(args: argparse.Namespace) -> dict[str, tuple[str, Any]]:
    """The Config fields the command line's options set: the option as typed, and its value."""
    given = {f.name: (f"--{f.name.replace('_', '-')}", getattr(args, f.name))
             for f in dataclasses.fields(Config) if getattr(args, f.name, None) is not None}
    if getattr(args, "no_pretrained", False):
        given["pretrained"] = ("--no-pretrained", False)
    return given


def _shown(flag: str, value: Any) -> str:
    return flag if isinstance(value, bool) else f"{flag} {value}"


def overrides(args: argparse.Namespace, settings: dict[str, Any]) -> dict[str, Any]:
    """Everything the command line sets; a field set both by its option and by --set is a UserError."""
    given = given_options(args)
    for key in given.keys() & settings.keys():
        raise UserError(f"{_shown(*given[key])} and --set {key}={settings[key]} both set {key}; "
                        f"give it once")
    return {**{k: v for k, (_, v) in given.items()}, **settings}


def resolve_config(exp: Experiment, args: argparse.Namespace,
                   settings: dict[str, Any] | None = None) -> Config:
    """The experiment's config with the options the user gave on top."""
    cfg = dataclasses.replace(exp.config, **overrides(args, settings or {}))
    # Synthetic data stands in for the step's own dataset, with as many classes.
    source = exp.config.dataset if cfg.dataset == "synthetic" else cfg.dataset
    return dataclasses.replace(cfg, num_classes=data.NUM_CLASSES.get(source, exp.config.num_classes))


def summary(exp: Experiment, cfg: Config) -> None:
    """Print the step's architecture, its input and output shapes and its trainable parameters."""
    cfg = dataclasses.replace(cfg, pretrained=False)  # the count needs no weights
    model = build_model(exp, cfg).eval()
    check_model_fits(model, exp, cfg, cfg.num_classes, torch.device("cpu"))
    x = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        y = model(x)
    print(f"== {cfg.step} ({exp.path})\n{model}")
    print(f"input: {tuple(x.shape)} -> output: {tuple(y.shape)}")
    print(f"trainable parameters: {optimizers.trainable_parameters(model):,}")


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
        settings = parse_settings(args.settings, given_options(args))
        exps = once([load_experiment(resolve_path(n)) for n in names])
        cfgs = [resolve_config(e, args, settings) for e in exps]
        for cfg in cfgs:
            check_config(cfg)
        for device in {c.device for c in cfgs}:
            devices.resolve_device(device)
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
        for cfg in (c for c in cfgs if c.resume):  # a run that cannot be resumed, before any trains
            runs.RunFolder(cfg.out, cfg.step).resumable(cfg)
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
