"""Reproduce the reports one step at a time: python main.py experiments/CNN4b.py, 001-A, 001 or all.

Parse first, import later: the parser, --list, --set help and the checks of the options need only
config, experiments' table and launch, none of which imports torch; torch, the data, the pages
and the figures are imported by the functions that use them, once a command needs them.
"""
from __future__ import annotations

import errors

if __name__ == "__main__":  # Ctrl-C during the imports below (seconds, torch's): one line
    errors.while_starting()

import argparse
import dataclasses
import re
import sys
from typing import Any, Sequence

import launch
from config import (CHOICES, DERIVED, MIRROR_VARIABLE, QUICK_START, Config, check_config, check_value,
                    describe, parse_value)
from errors import OneLineParser, UserError
from experiments import (REPORTS, Experiment, expand, listing, load_experiment, once, report_of,
                         resolve_path)
from launch import executor

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


EXAMPLES = f"""examples (times measured: README.md):
  {QUICK_START}
                             a step on generated data, no download: it learns, in seconds on a CPU
  python main.py CNN2        one step of report 000 on CIFAR-100 (downloaded once, 163 MiB)
  python main.py 001 --seeds 0 1 2 --jobs 2
                             every step of report 001, three seeds each, two runs at a time
  python main.py 001 --resume            after Ctrl-C: finish what is not finished
  python main.py --set help              the --set keys, their defaults and what each may hold
  python results.py                      every figure and page again from runs/, training nothing
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line; every option defaults to None so that experiments' settings show through."""
    p = OneLineParser(prog="python main.py", epilog=EXAMPLES,
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      description="Train the networks of the reports, one step per experiment file, "
                      "and write each step's\nmetrics, figures and checkpoints, and each report's "
                      "page (runs/results/<id>.html).")
    what = p.add_argument_group("what to run")
    what.add_argument("experiments", nargs="*", metavar="STEP",
                      help="experiment files (experiments/CNN4b.py), step names (CNN4b, 001-A), "
                           f"report ids ({', '.join(r.id for r in REPORTS)}) for all of a report's "
                           "steps in order, or 'all' for every step of every report")
    what.add_argument("--list", action="store_true", help="list every report with its steps, then exit")
    what.add_argument("--summary", action="store_true",
                      help="print each step's architecture and trainable parameters, then exit (no data)")
    what.add_argument("--version", action=_Version, help="the kit's commit, then exit")

    step = p.add_argument_group("the step's settings (default: the step's own)")
    step.add_argument("--epochs", type=_option("epochs"),
                      help="the most epochs to train (early stopping may end sooner)")
    step.add_argument("--batch-size", type=_option("batch_size"), help="images per batch")
    step.add_argument("--optimizer", choices=CHOICES["optimizer"],
                      help=f"the optimizer ({DEFAULTS.optimizer} for report 000)")
    step.add_argument("--lr", type=_option("lr"), help=f"learning rate ({DEFAULTS.lr:g} for report 000)")
    step.add_argument("--dataset", choices=CHOICES["dataset"],
                      help="cifar100, cifar10, or synthetic: generated, learnable, with the step's own "
                           "number of classes, needs no download")
    step.add_argument("--subset", type=_option("subset"), metavar="N",
                      help="train on the first N training images and test on the first N/5, for quick "
                           "runs; a validation split keeps its share (default: all)")
    step.add_argument("--data-dir", type=_option("data_dir"), help=f"where the datasets are, or are "
                      f"downloaded to (default: {DEFAULTS.data_dir}/; a mirror: ${MIRROR_VARIABLE})")
    step.add_argument("--no-pretrained", action="store_true",
                      help="train networks that start from ImageNet weights from scratch instead")
    step.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                      help="set any other config.Config field, e.g. --set momentum=0.9 --set "
                           "val_split=random --set val_size=1000; --set help lists the keys, their "
                           "defaults and what each may hold")

    again = p.add_argument_group("seeds and resume")
    again.add_argument("--seed", type=_option("seed"), help=f"random seed (default: {DEFAULTS.seed})")
    again.add_argument("--seeds", type=_option("seed"), nargs="+", metavar="S",
                       help="train each step once per seed, each run in OUT/<step>/seed-<S>/; the "
                            "tables give each figure as mean ± std (n) and a verdict against the "
                            "report (default: one run, seeded by --seed, in OUT/<step>/)")
    again.add_argument("--resume", action="store_true", default=None,
                       help="take each run as it is found in OUT/<step>/: finished, it is skipped; "
                            "stopped, it continues from its checkpoint; not started, it starts")
    again.add_argument("--out", type=_option("out"),
                       help=f"runs are written to OUT/<step>/ (default: {DEFAULTS.out}/)")

    speed = p.add_argument_group("speed and precision")
    speed.add_argument("--device", type=_option("device"), help="auto (cuda, then mps, then cpu), "
                       "cpu, cuda, cuda:N or mps (default: auto)")
    speed.add_argument("--precision", choices=CHOICES["precision"],
                       help="auto (fp32 on every device, the reports'), bf16 (autocast, fp32 "
                            "weights; faster on CPUs with amx_bf16 or avx512_bf16) or fp32 (default: "
                            "auto)")
    speed.add_argument("--deterministic", action="store_true", default=None,
                       help="torch's deterministic algorithms, cuDNN benchmark off, a fixed cuBLAS "
                            "workspace: repeatable on CUDA, slower; the CPU computes the same either way")
    speed.add_argument("--compile", action="store_true", default=None,
                       help="torch.compile the model (default: off; see BENCHMARKS.md)")
    speed.add_argument("--workers", type=_option("workers"),
                       help="DataLoader workers, used only for transforms with no "
                       f"batched form (default: {DEFAULTS.workers})")

    many = p.add_argument_group("many runs and Slurm")
    many.add_argument("--jobs", type=parse_jobs, metavar="N",
                      help="run up to N runs at the same time, each in a process of its own with its "
                           "output in its folder's log.txt, sharing the CPU's cores or the GPUs "
                           "(default: one after the other in this process)")
    many.add_argument("--gpus", type=parse_gpus, metavar="LIST",
                      help="with --jobs: the CUDA devices to place the runs on, e.g. 0,1; several runs "
                           "may share one (default: every visible GPU)")
    many.add_argument("--executor", choices=("local", "slurm"), default="local",
                      help="local: this machine; slurm: one Slurm job array through submitit, "
                           "waiting and showing progress (default: local)")
    many.add_argument("--slurm", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                      help="with --executor slurm: partition, time (minutes or H:MM:SS), gpus, cpus, "
                           "mem (GB), account, qos, constraint, exclude, parallel (most runs at once) "
                           "or another of submitit's slurm_ parameters (defaults: time 240, gpus 1, "
                           "cpus 4, the cluster's default partition)")
    many.add_argument("--no-wait", action="store_true",
                      help="with --executor slurm: submit, print the job id and how to collect the "
                           "results later, and return")
    return p


class _Version(argparse.Action):
    """--version: the kit's commit (kit.text), looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        import kit
        print(f"{parser.prog}: {kit.text()}")
        parser.exit()


MOST_JOBS = 64  # runs at once on one machine: each is a process with its data and its model


def parse_jobs(text: str) -> int:
    """argparse's type for --jobs: a whole number of runs, from 1 to MOST_JOBS."""
    if not re.fullmatch(r"\d+", text.strip()) or not 1 <= int(text) <= MOST_JOBS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs from 1 to "
                                         f"{MOST_JOBS}")
    return int(text)


def parse_gpus(text: str) -> list[int]:
    """argparse's type for --gpus: GPU numbers such as 0 or 0,1."""
    if not re.fullmatch(r"\d+(,\d+)*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of GPU numbers such as 0 or 0,1")
    return [int(g) for g in text.split(",")]


def check_options(args: argparse.Namespace, settings: dict[str, Any]) -> None:
    """Refuse options that contradict each other (seeds, jobs, GPUs, the executor)."""
    if args.seeds is not None and (args.seed is not None or "seed" in settings):
        raise UserError("--seeds and --seed both set the seed: give one (--seeds 0 1 2 trains each "
                        "step once per seed, --seed S once)")
    twice = [s for i, s in enumerate(args.seeds or []) if s in args.seeds[:i]]
    if twice:
        raise UserError(f"--seeds: seed {twice[0]} is given twice")
    if args.gpus is not None and not args.jobs:
        raise UserError("--gpus places the runs of --jobs N: add --jobs")
    if args.executor == "slurm" and args.jobs:
        raise UserError("--jobs with --executor slurm: Slurm runs as many at once as the cluster "
                        "allows (--slurm parallel=N caps it)")
    if args.executor != "slurm" and (args.slurm or args.no_wait):
        raise UserError(f"{'--slurm' if args.slurm else '--no-wait'} goes with --executor slurm")



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


def resolve_config(exp: Experiment, args: argparse.Namespace,
                   settings: dict[str, Any] | None = None) -> Config:
    """The experiment's config with the options the user gave on top (parse_settings has refused a
    field set both by its option and by --set)."""
    given = {key: value for key, (_, value) in given_options(args).items()}
    cfg = dataclasses.replace(exp.config, **given, **(settings or {}))
    import data
    # Synthetic data stands in for the step's own dataset, with as many classes.
    source = exp.config.dataset if cfg.dataset == "synthetic" else cfg.dataset
    return dataclasses.replace(cfg, num_classes=data.NUM_CLASSES.get(source, exp.config.num_classes))


def print_architecture(exp: Experiment, cfg: Config) -> None:
    """Print the step's architecture, its input and output shapes and its trainable parameters."""
    import torch

    from experiments import build_model, check_model_fits
    from optimizers import trainable_parameters
    cfg = dataclasses.replace(cfg, pretrained=False)  # the count needs no weights
    # On the meta device a network has shapes and no values: built and run through in an instant
    # (report 004's 224x224 networks took seconds each on a CPU).
    meta = torch.device("meta")
    with meta:
        model = build_model(exp, cfg).eval()
    check_model_fits(model, exp, cfg, cfg.num_classes, meta)
    x = torch.zeros(1, 3, cfg.image_size, cfg.image_size, device=meta)
    with torch.no_grad():
        y = model(x)
    print(f"== {cfg.step} ({exp.path})\n{model}")
    print(f"input: {tuple(x.shape)} -> output: {tuple(y.shape)}")
    print(f"trainable parameters: {trainable_parameters(model):,}")


def _tables(cfgs: list[Config], tasks: list[launch.Task], outcome: launch.Outcome) -> str:
    """The results tables of the runs just made or found finished (pages.markdown.tables); for a step
    with several seeds, also their mean curves with the min-max band (figures.common.seed_curves)."""
    import pages.markdown
    from figures.common import seed_curves
    from run_folder import reader
    by_step: reader.RunsByStep = {}
    for t in tasks:
        if outcome.status.get(t.name) == launch.OK and (r := reader.attempt_read(t.dir, [])):
            by_step.setdefault(t.cfg.step, []).append(r)
    for several in by_step.values():
        several.sort(key=lambda r: r.config.seed)  # the finished ones were found first
        seed_curves(several)
    return pages.markdown.tables(list(dict.fromkeys(c.step for c in cfgs)), by_step,
                                 launch.step_status(tasks, outcome))


def _configs(args: argparse.Namespace) -> tuple[list[Experiment], list[Config]]:
    """Every step's experiment and its config from the options, the options checked together."""
    settings = parse_settings(args.settings, given_options(args))
    check_options(args, settings)
    exps = once([load_experiment(resolve_path(n)) for n in expand(args.experiments)])
    return exps, [resolve_config(e, args, settings) for e in exps]


def _check_data(cfgs: list[Config]) -> None:
    """Refuse, before any training, an --out that cannot be written, missing data, a split too large."""
    import data
    from run_folder import writer
    for out in dict.fromkeys(c.out for c in cfgs):
        writer.check_writable(out)
    for key in dict.fromkeys((c.dataset, c.data_dir, c.subset, c.seed, c.num_classes) for c in cfgs):
        data.load_dataset(*key)  # a missing dataset stops here, once
    for cfg in cfgs:  # the split fits the data: known only now, from the subset
        data.split_indices(data.sizes(cfg.dataset, cfg.subset)[0], cfg.val_split,
                           cfg.val_size, cfg.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the steps named on the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.list:
        print(listing())
        return 0
    if "help" in args.settings:
        print(describe())
        return 0
    if not args.experiments:
        print("error: name a step, a report id or all (python main.py --list shows them; see "
              "python main.py --help)", file=sys.stderr)
        return 2
    try:
        # Check every step before training any: a typo in the last should not wait for the first.
        exps, cfgs = _configs(args)
        import data  # past the checks that need no torch: what follows trains, and needs it all
        import train
        from run_folder import reader
        if args.summary:
            import devices
            for exp, cfg in zip(exps, cfgs):
                check_config(cfg)
                devices.resolve_device(cfg.device)  # an unavailable device is refused here too
                print_architecture(exp, cfg)
            return 0
        tasks, finished = launch.plan(exps, cfgs, args.seeds)
        for task in finished:  # not trained again, but checked as any run is
            train.prepare(task.exp, dataclasses.replace(task.cfg, resume=False), task.seeded)
        # Each run once: its config checked, its device and precision, its checkpoint (--resume).
        tasks = [dataclasses.replace(t, prepared=train.prepare(t.exp, t.cfg, t.seeded)) for t in tasks]
        _check_data(cfgs)
        execute = executor.choose(args, cfgs)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print("interrupted before training started", file=sys.stderr)
        return errors.exit_code(e)

    _plan(args, tasks, cfgs, execute is launch.run_here)
    if execute is not launch.run_here:  # each run is prepared, and loads its data, in its own process
        tasks = [dataclasses.replace(t, prepared=None) for t in tasks]
        data.load_dataset.cache_clear()
    for task in finished:
        print(f"{task.name}: --resume: {reader.finished_line(task.dir, task.cfg.epochs)}")
    try:
        outcome = execute(tasks)
    except UserError as e:  # refused before any run started (sbatch's reason)
        print(f"error: {e}", file=sys.stderr)
        return 2
    outcome.status.update({t.name: launch.OK for t in finished})
    if outcome.failures and execute is not launch.run_here:
        print(f"\n{len(outcome.failures)} run(s) failed:\n{launch.failure_table(outcome.failures)}")
    if len(tasks) + len(finished) > 1 and not args.no_wait:
        print("\n" + _tables(cfgs, finished + tasks, outcome))
    if not args.no_wait:
        _pages([t.cfg for t in tasks if outcome.status.get(t.name) == launch.OK])
    return outcome.code


def _plan(args: argparse.Namespace, tasks: list[launch.Task], cfgs: list[Config], here: bool) -> None:
    """Say what several runs are about to do, and that a machine already busy will be slow."""
    import devices
    where = list(dict.fromkeys(str(devices.resolve_device(c.device)) for c in cfgs))
    if len(tasks) > 1:
        how = ("one after the other" if here else f"{args.jobs} at a time"
               if args.executor == "local" else "as one Slurm job array")
        print(launch.plan_line(tasks, how, where), flush=True)
    if tasks and args.executor == "local" and "cpu" in where and (busy := launch.busy_line()):
        print(busy, flush=True)


def _pages(trained: list[Config]) -> None:
    """The pages of the reports just trained, and the index (pages.write_pages); their figures
    are results.py's to draw."""
    import pages
    for out in dict.fromkeys(c.out for c in trained):
        reports = {r.id: None for c in trained if c.out == out and (r := report_of(c.step))}
        try:
            index = pages.write_pages(out, reports)[-1]
        except (OSError, UserError) as e:  # the runs are written; only their pages are missing
            print(f"error: could not write the pages in {out}/results/ "
                  f"({getattr(e, 'strerror', None) or e})", file=sys.stderr)
            continue
        print(f"pages: {index}" + ("; python results.py draws the reports' figures into them"
                                   if reports else ""))


if __name__ == "__main__":
    errors.ctrl_c_and_sigterm()  # SIGTERM (kill, timeout, scancel) stops a run as Ctrl-C does
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:  # outside a run, e.g. while the summary table prints
        sys.exit(errors.exit_code(e))
