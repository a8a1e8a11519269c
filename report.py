"""Rebuild every figure and results.md from the runs under runs/, training nothing: python report.py

For each step with a run: its loss/accuracy figure; for CNN2 and CNN6 also the first convolution's
kernels and its outputs on the first test image, before and after training (the report's figures
13-15). Then runs/overview.png (all steps' test accuracy) and runs/results.md (the table beside the
report's figures). Steps with no run are listed as not run.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn
from torchvision.transforms import v2

import data
import plotting
from config import Config, Reported
from errors import OneLineParser, UserError
from experiments import REPORT_STEPS, Experiment, load_experiment, resolve_path
from models import resnet
from train import INTERRUPTED, SET_ASIDE

KERNEL_STEPS = ("CNN2", "CNN6")  # the report draws the simple CNN's and ResNet18's first layer
# The metrics.csv columns the figures and the table use (train.py writes them, among any others).
METRIC_COLUMNS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")
# Settings that make a run a different experiment from the report's, when changed.
SETTING_FIELDS = ("dataset", "subset", "image_size", "batch_size", "lr", "pretrained")


@dataclass
class Run:
    """What a finished run left in <out>/<step>/, read back."""

    step: str
    dir: str
    history: list[dict[str, float]]
    config: Config
    saved: dict[str, Any]  # config.json as written: parameters, reported, environment

    @property
    def minutes(self) -> float:
        """Wall time of all the run's epochs."""
        return sum(r["seconds"] for r in self.history) / 60

    @property
    def device(self) -> str:
        """Where it ran, e.g. "cuda (NVIDIA H100 80GB HBM3)"."""
        env = self.saved.get("environment", {})
        name = env.get("device_name")
        return f"{env.get('device', '?')} ({name})" if name else env.get("device", "?")


# ---------------------------------------------------------------------------------------------
# Reading runs
# ---------------------------------------------------------------------------------------------

def read_history(path: str) -> list[dict[str, float]]:
    """metrics.csv as a list of per-epoch rows (epoch an int, the rest floats)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        history = [{k: (int(r[k]) if k == "epoch" else float(r[k])) for k in METRIC_COLUMNS}
                   for r in rows]
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is not a readable metrics file ({type(e).__name__}: {e})") from None
    if not history:
        raise UserError(f"{path} has no epochs in it")
    return history


def read_run(run_dir: str) -> Run | None:
    """The run in run_dir, or None if it has no metrics.csv (never started, or no epoch finished)."""
    metrics = os.path.join(run_dir, "metrics.csv")
    if not os.path.isfile(metrics):
        return None
    history = read_history(metrics)
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            saved = json.load(f)
        fields = {f.name for f in dataclasses.fields(Config)}
        # Keep only the fields this version knows: a run from another version still reads.
        cfg = Config(**{k: v for k, v in saved["config"].items() if k in fields})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a readable run configuration ({type(e).__name__}: {e})") from None
    return Run(cfg.step or os.path.basename(run_dir), run_dir, history, cfg, saved)


def run_experiment(run: Run) -> Experiment:
    """The experiment as it was run (the copy in the run's folder), else the one in experiments/."""
    copy = os.path.join(run.dir, "experiment.py")
    return load_experiment(copy if os.path.isfile(copy) else resolve_path(run.step))


def reported_for(step: str, run: Run | None) -> Reported | None:
    """The report's figures for a step: as the run saved them, else from its experiment file."""
    if run is not None and run.saved.get("reported"):
        return Reported(**run.saved["reported"])
    path = resolve_path(step)
    return load_experiment(path).reported if os.path.isfile(path) else None


# ---------------------------------------------------------------------------------------------
# First convolution: kernels and outputs
# ---------------------------------------------------------------------------------------------

def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first Conv2d the model registers: the one that sees the image (SimpleCNN, ResNet18)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise UserError(f"{type(model).__name__} has no convolution to draw")
    return conv


class _Seen(Exception):
    """Raised from the first convolution's hook: what follows it is not needed."""


def first_conv_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The first convolution's output (C, h, w) for one input batch x of size 1, in eval mode."""
    seen: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        seen.append(output.detach())
        raise _Seen  # stops the forward pass: ResNet18's other layers would take a second on a CPU

    handle = first_conv(model).register_forward_hook(hook)
    try:
        with torch.no_grad():
            model.eval()(x)
    except _Seen:
        pass
    finally:
        handle.remove()
    assert seen, "the model's forward pass never used its first convolution"
    return seen[0][0]


def untrained_model(exp: Experiment, cfg: Config) -> tuple[nn.Module, str]:
    """The network the run started from, and a label saying what it is.

    The run seeded torch just before building its model, and nothing drew from torch's generator
    in between, so seeding here gives back its exact starting weights. A pretrained run started
    from the ImageNet weights; without them in the cache they are not fetched, and a seeded random
    initialization is shown instead, labelled so.
    """
    label = f"untrained: random initialization (seed {cfg.seed})"
    if cfg.pretrained:
        if os.path.isfile(resnet.weights_path()):
            label = "before fine-tuning: ImageNet weights"
        else:
            label = (f"random initialization (seed {cfg.seed}), as the ImageNet weights the\n"
                     f"run started from are not in {os.path.dirname(resnet.weights_path())}")
            cfg = dataclasses.replace(cfg, pretrained=False)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(cfg.seed)
        model = exp.model(cfg)
    return model, label


def trained_model(exp: Experiment, run: Run) -> tuple[nn.Module, str]:
    """The network in the run's checkpoint.pt, and a label saying after which epoch."""
    path = os.path.join(run.dir, "checkpoint.pt")
    if not os.path.isfile(path):
        raise UserError(f"{run.step}: there is no {path}, so its kernels cannot be drawn")
    model = exp.model(dataclasses.replace(run.config, pretrained=False))  # the checkpoint replaces them
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        model.load_state_dict(ckpt["model"])
    except Exception as e:  # truncated, foreign, or another architecture: say which file
        first = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise UserError(f"{path} is not a readable checkpoint of {run.step} ({first})") from None
    last = run.history[-1]
    return model, (f"trained: after epoch {ckpt['epoch']} (test accuracy "
                   f"{last['test_accuracy']:.1f}%)")


def first_test_image(cfg: Config, data_dir: str | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The run's first test image (1, 3, 32, 32) uint8, its label, and its class name.

    CIFAR is read from disk only, never downloaded: regenerating figures should not fetch 160 MB.
    """
    root = data_dir or cfg.data_dir
    if cfg.dataset == "synthetic":  # generated from (subset, seed): the same call the run made
        ds = data.load_dataset(cfg.dataset, root, cfg.subset, cfg.seed)
    else:  # a subset is a prefix, so the first test image is the whole set's first
        try:
            ds = data.load_cifar(data.SPECS[cfg.dataset], root, download=False)
        except UserError as e:
            raise UserError(f"{cfg.step}: the feature maps need the first test image, but {e} "
                            f"(use --data-dir)") from None
    label = ds.test_labels[:1]
    return ds.test_images[:1], label, ds.classes[int(label)]


def model_input(image: torch.Tensor, label: torch.Tensor, transform: Any, seed: int) -> torch.Tensor:
    """The batch the run's test loader makes from this image: resized and normalized as in evaluate."""
    loader = data.make_loader(image, label, transform, 1, False, torch.device("cpu"), seed, workers=0)
    x, _ = next(iter(loader))
    return x


def for_display(x: torch.Tensor, transform: Any) -> torch.Tensor:
    """A model input (3, H, W) with the transform's normalizations undone, in [0, 1]."""
    def flatten(t: Any) -> list[Any]:
        return [u for inner in t.transforms for u in flatten(inner)] if isinstance(t, v2.Compose) else [t]

    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    # Undone last to first; every experiment normalizes as its last step.
    for t in reversed([t for t in flatten(transform) if isinstance(t, v2.Normalize)]):
        x = x * torch.tensor(t.std)[:, None, None] + torch.tensor(t.mean)[:, None, None]
    return x.clamp(0, 1)


def plot_first_layer(run: Run, exp: Experiment, data_dir: str | None = None) -> dict[str, list[int]]:
    """kernels.png and feature_maps.png in the run's folder, before and after; returns tile counts."""
    panels = [untrained_model(exp, run.config), trained_model(exp, run)]
    conv = first_conv(panels[1][0])
    kh, kw = conv.kernel_size
    kernels = plotting.plot_kernels(
        [(label, first_conv(m).weight) for m, label in panels],
        f"{run.step}: the first convolution's {conv.out_channels} kernels ({kh}x{kw}x{conv.in_channels}), "
        f"before and after training", os.path.join(run.dir, "kernels.png"))

    image, label, name = first_test_image(run.config, data_dir)
    x = model_input(image, label, exp.test_transform, run.config.seed)
    maps = [(label_, first_conv_outputs(m, x)) for m, label_ in panels]
    c, h, w = maps[0][1].shape
    side = x.shape[-1]
    features = plotting.plot_feature_maps(
        for_display(x[0], exp.test_transform),
        f"test image 0 of {run.config.dataset}: {name}\nat {side}x{side}, as {run.step} sees it",
        maps, f"{run.step}: the first convolution's {c} output channels ({h}x{w}) for one test image",
        os.path.join(run.dir, "feature_maps.png"))
    return {"kernels": kernels, "feature_maps": features}


# ---------------------------------------------------------------------------------------------
# results.md
# ---------------------------------------------------------------------------------------------

def setting_notes(run: Run, exp_config: Config) -> str:
    """How the run's setting differs from the step's (the report's), or "the report's"."""
    notes = [f"{k} {getattr(run.config, k)}" for k in SETTING_FIELDS
             if getattr(run.config, k) != getattr(exp_config, k)]
    if len(run.history) != exp_config.epochs:
        notes.append(f"{len(run.history)} of {exp_config.epochs} epochs")
    if os.path.exists(os.path.join(run.dir, INTERRUPTED)):
        notes.append("interrupted (Ctrl-C)")
    return ", ".join(notes) or "the report's"


COLUMNS = (("step", "---"), ("parameters", "--:"), ("epochs", "--:"), ("train loss", "--:"),
           ("report", "--:"), ("diff", "--:"), ("test accuracy (%)", "--:"), ("report", "--:"),
           ("diff", "--:"), ("minutes", "--:"), ("report (GTX 960M)", "--:"), ("diff", "--:"),
           ("device", "---"), ("setting", "---"))


def results_table(steps: Sequence[str], runs: dict[str, Run], reported: dict[str, Reported | None],
                  settings: dict[str, str]) -> str:
    """The Markdown table of every step: the run's final figures beside the report's, and the difference."""
    def row(cells: Sequence[str]) -> str:
        assert len(cells) == len(COLUMNS)
        return "| " + " | ".join(cells) + " |"

    def diff(value: float, ref: float | None, digits: int) -> str:
        return "-" if ref is None else f"{value - ref:+.{digits}f}"

    lines = [row([name for name, _ in COLUMNS]), row([align for _, align in COLUMNS])]
    for step in steps:
        rep, run = reported.get(step), runs.get(step)
        r_loss, r_acc, r_min = ((f"{rep.loss:g}", f"{rep.accuracy:g}", f"{rep.minutes:g}") if rep
                                else ("-", "-", "-"))
        if run is None:
            lines.append(row([step, "-", "not run", "-", r_loss, "-", "-", r_acc, "-", "-", r_min,
                              "-", "-", "-"]))
            continue
        last = run.history[-1]
        loss, acc, minutes = last["train_loss"], last["test_accuracy"], run.minutes
        params = run.saved.get("parameters")
        lines.append(row([
            step, f"{params:,}" if params is not None else "-", str(len(run.history)),
            f"{loss:.3f}", r_loss, diff(loss, rep.loss if rep else None, 3),
            f"{acc:.1f}", r_acc, diff(acc, rep.accuracy if rep else None, 1),
            f"{minutes:.1f}", r_min, diff(minutes, rep.minutes if rep else None, 1),
            run.device, settings[step]]))
    return "\n".join(lines)


def results_markdown(out: str, steps: Sequence[str], runs: dict[str, Run],
                     reported: dict[str, Reported | None], settings: dict[str, str],
                     figures: list[str]) -> str:
    """results.md: the table, what its columns mean, and links to the figures."""
    not_run = [s for s in steps if s not in runs]
    text = [
        "# Results",
        "",
        f"Rebuilt by `python report.py --out {out}` from the runs in `{out}/`; nothing was trained. "
        f"{len(runs)} of {len(steps)} steps have a run"
        + (f"; not run: {', '.join(not_run)}." if not_run else "."),
        "",
        results_table(steps, runs, reported, settings),
        "",
        "Train loss is the last epoch's mean cross-entropy per image; test accuracy is the last "
        "epoch's; minutes add up the epochs' wall time. *diff* is run minus report. The report's "
        "minutes are on a GTX 960M laptop, and a run whose *setting* is not the report's (other "
        "data, fewer images or epochs) is not comparable with the report's figures.",
        "",
        "## Figures",
        "",
        *[f"- [{f}]({f})" for f in figures],
        "",
    ]
    return "\n".join(text)


# ---------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------

def regenerate(out: str, data_dir: str | None = None) -> dict[str, Any]:
    """Rebuild every figure and results.md under out from the runs there; trains nothing.

    Returns the files written, the tile counts of the kernel and feature-map grids, and the
    problems met (one sentence each); a problem with one step does not stop the others.
    """
    if not os.path.isdir(out):
        raise UserError(f"{out}/ does not exist; train a step first (python main.py "
                        f"experiments/CNN2.py), or point --out at the runs")
    others = sorted(d for d in os.listdir(out) if d not in REPORT_STEPS
                    and not SET_ASIDE.fullmatch(d)
                    and os.path.isfile(os.path.join(out, d, "metrics.csv")))
    steps = [*REPORT_STEPS, *others]
    written: list[str] = []
    problems: list[str] = []
    tiles: dict[str, dict[str, list[int]]] = {}
    runs: dict[str, Run] = {}
    reported: dict[str, Reported | None] = {}
    settings: dict[str, str] = {}

    for step in steps:
        run_dir = os.path.join(out, step)
        try:
            run = read_run(run_dir) if os.path.isdir(run_dir) else None
            reported[step] = reported_for(step, run)
            if run is None:
                continue
            runs[step] = run
            exp = run_experiment(run)
            settings[step] = setting_notes(run, exp.config)
            path = os.path.join(run_dir, "loss_accuracy.png")
            plotting.plot_loss_accuracy(run.history, step, path)
            written.append(path)
            if step in KERNEL_STEPS:
                tiles[step] = plot_first_layer(run, exp, data_dir)
                written += [os.path.join(run_dir, "kernels.png"),
                            os.path.join(run_dir, "feature_maps.png")]
        except UserError as e:
            problems.append(str(e))
            reported.setdefault(step, None)
            settings.setdefault(step, "?")

    path = os.path.join(out, "overview.png")
    plotting.plot_overview({s: r.history for s, r in runs.items()}, reported, path)
    written.append(path)
    path = os.path.join(out, "results.md")
    figures = [os.path.relpath(p, out) for p in written]
    with open(path, "w", encoding="utf-8") as f:
        f.write(results_markdown(out, steps, runs, reported, settings, figures))
    written.append(path)
    return {"written": written, "tiles": tiles, "problems": problems,
            "runs": sorted(runs), "not_run": [s for s in steps if s not in runs]}



def build_parser() -> argparse.ArgumentParser:
    """The command line of report.py."""
    p = OneLineParser(prog="python report.py",
                      description="Rebuild every figure and results.md from the runs under OUT/, "
                      "without training: each step's loss/accuracy figure, CNN2's and "
                      "CNN6's first-layer kernels and outputs, OUT/overview.png and "
                      "OUT/results.md.")
    p.add_argument("--out", default=Config().out,
                   help=f"the folder the runs were written to (default: {Config().out}/)")
    p.add_argument("--data-dir", help="where CIFAR is, for the feature maps' test image "
                                      "(default: each run's own --data-dir); never downloaded")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate from the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        result = regenerate(args.out, args.data_dir)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in result["written"]:
        print(f"wrote {path}")
    done = [s for s in REPORT_STEPS if s in result["runs"]]
    print(f"{len(done)} of {len(REPORT_STEPS)} report steps have a run"
          + (f"; not run: {', '.join(result['not_run'])}" if result["not_run"] else ""))
    for problem in result["problems"]:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
