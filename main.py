"""Reproduce the CIFAR-100 report one step at a time: python main.py experiments/CNN4b.py"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import traceback
from typing import Any, Sequence

import torch

import data
import train
from config import Config
from errors import Interrupted, OneLineParser, TrainingError, UserError
from experiments import REPORT_STEPS, Experiment, load_experiment, resolve_path

DEFAULTS = Config()



def _at_least(kind: type, low: float, strict: bool = False) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
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
                      description="Train the networks of the CIFAR-100 report, one step per experiment "
                      "file, and write each step's metrics, figure and checkpoint.")
    p.add_argument("experiments", nargs="+", metavar="EXPERIMENT",
                   help=f"experiment files (experiments/CNN4b.py), step names (CNN4b), or 'all' "
                        f"for every step in report order: {', '.join(REPORT_STEPS)}")
    p.add_argument("--epochs", type=_positive(int), help="epochs to train (default: the step's, "
                   f"{DEFAULTS.epochs} for all but CNN6)")
    p.add_argument("--batch-size", type=_positive(int),
                   help=f"images per batch (default: the step's, {DEFAULTS.batch_size} for all but CNN6)")
    p.add_argument("--lr", type=_positive(float), help=f"Adam learning rate (default: {DEFAULTS.lr:g})")
    p.add_argument("--device", type=_device, help="auto (cuda, then mps, then cpu), cpu, cuda, "
                   "cuda:N or mps (default: auto)")
    p.add_argument("--data-dir", help=f"where the datasets are, or are downloaded to "
                   f"(default: {DEFAULTS.data_dir}/)")
    p.add_argument("--dataset", choices=data.DATASETS,
                   help="cifar100 (the report's), cifar10, or synthetic: generated, learnable, "
                        "needs no download (default: cifar100)")
    p.add_argument("--subset", type=_positive(int), metavar="N",
                   help="train on the first N training images and test on the first N/5, for quick "
                        "runs (default: all)")
    p.add_argument("--out", help=f"runs are written to OUT/<step>/ (default: {DEFAULTS.out}/)")
    p.add_argument("--seed", type=int, help=f"random seed (default: {DEFAULTS.seed})")
    p.add_argument("--workers", type=_at_least(int, 0),
                   help="DataLoader workers, used only for transforms with no "
                   f"batched form (default: {DEFAULTS.workers})")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model (default: off; see BENCHMARKS.md)")
    p.add_argument("--resume", action="store_true",
                   help="continue each step from its checkpoint in OUT/<step>/")
    p.add_argument("--summary", action="store_true",
                   help="print each step's architecture and parameter count, then exit (no data)")
    p.add_argument("--no-pretrained", action="store_true",
                   help="CNN6: train ResNet18 from scratch instead of from ImageNet weights")
    return p


def resolve_config(exp: Experiment, args: argparse.Namespace) -> Config:
    """The experiment's config with the options the user gave on top."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
             if getattr(args, f.name, None) is not None}
    cfg = dataclasses.replace(exp.config, **given)
    if args.no_pretrained:
        cfg = dataclasses.replace(cfg, pretrained=False)
    return dataclasses.replace(cfg, num_classes=data.NUM_CLASSES[cfg.dataset])


def summary(exp: Experiment, cfg: Config) -> None:
    """Print the step's architecture, its input and output shapes and its trainable parameters."""
    model = exp.model(dataclasses.replace(cfg, pretrained=False)).eval()  # the count needs no weights
    x = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        y = model(x)
    print(f"== {cfg.step} ({exp.path})\n{model}")
    print(f"input: {tuple(x.shape)} -> output: {tuple(y.shape)}")
    print(f"parameters: {sum(p.numel() for p in model.parameters() if p.requires_grad)}")


def _table(results: list[dict[str, Any]]) -> str:
    header = f"{'step':<7} {'status':<7} {'epochs':>6} {'test acc':>9} {'report':>7} " \
             f"{'train loss':>10} {'report':>7} {'minutes':>8}"
    lines = [header, "-" * len(header)]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"{r['step']:<7} {r['status']:<7} {r['error']}")
            continue
        rep = r["reported"]
        lines.append(f"{r['step']:<7} {'ok':<7} {r['epochs']:>6} {r['test_accuracy']:>8.1f}% "
                     f"{(f'{rep.accuracy:g}%' if rep else '-'):>7} {r['train_loss']:>10.3f} "
                     f"{(f'{rep.loss:g}' if rep else '-'):>7} {r['minutes']:>8.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the steps named on the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    names = [s for n in args.experiments for s in (REPORT_STEPS if n == "all" else [n])]
    try:
        # Check every step before training any: a typo in the last should not wait for the first.
        exps = [load_experiment(resolve_path(n)) for n in names]
        cfgs = [resolve_config(e, args) for e in exps]
        for device in {c.device for c in cfgs}:
            train.resolve_device(device)
        if args.summary:
            for exp, cfg in zip(exps, cfgs):
                summary(exp, cfg)
            return 0
        for out in dict.fromkeys(c.out for c in cfgs):
            train.check_writable(out)
        for key in dict.fromkeys((c.dataset, c.data_dir, c.subset, c.seed) for c in cfgs):
            data.load_dataset(*key)  # cached: a missing dataset stops here, once
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted before training started", file=sys.stderr)
        return 130

    results, code = [], 0
    for exp, cfg in zip(exps, cfgs):
        result = {"step": cfg.step, "reported": exp.reported, "status": "ok"}
        try:
            result.update(train.run(exp, cfg))
        except (Interrupted, KeyboardInterrupt) as e:  # Ctrl-C stops this step and the rest
            print(e if isinstance(e, Interrupted) else f"{cfg.step}: interrupted while it was being "
                  f"set up; nothing was trained", file=sys.stderr)
            results.append({**result, "status": "stopped", "error": "interrupted (Ctrl-C)"})
            code = 130
            break
        except (UserError, TrainingError) as e:
            print(f"error: {e}", file=sys.stderr)
            result.update(status="failed", error=str(e))
            code = max(code, 2 if isinstance(e, UserError) else 1)
        except Exception as e:  # a bug: show where, and go on with the other steps
            traceback.print_exc()
            result.update(status="failed", error=f"{type(e).__name__}: {e}")
            code = max(code, 1)
        results.append(result)
    if len(results) > 1:
        print("\n" + _table(results))
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C outside a run, e.g. while the summary table prints
        sys.exit(130)
