"""Which executor runs a command's tasks: here one after the other, a local pool (--jobs) or Slurm.

main.py's parser reads --jobs and --gpus with parse_jobs and parse_gpus; check_options refuses
options that contradict each other (--seeds, --jobs, --gpus, --executor, --slurm, --no-wait), and
choose picks the executor and checks it, all before anything is trained. launch/local.py and
launch/slurm.py are imported only by choose (Slurm's needs submitit).
"""
from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any, Callable

import launch
from errors import UserError

if TYPE_CHECKING:
    from config import Config


def parse_jobs(text: str) -> int:
    """argparse's type for --jobs: a whole number of runs, at least 1."""
    if not re.fullmatch(r"\d+", text.strip()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs, at least 1")
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


def choose(args: argparse.Namespace, cfgs: list[Config]) -> Callable[[list[launch.Task]], Any]:
    """What runs the tasks: here one after the other, a local pool (--jobs) or Slurm; checked now."""
    from launch import local
    if args.executor == "slurm":
        try:
            from launch import slurm
        except ImportError as e:
            if e.name != "submitit":
                raise
            raise UserError("--executor slurm needs submitit, which is not installed: "
                            "pip install -e '.[slurm]' (or pip install submitit)") from None
        local.check_gpus(None, [c.device for c in cfgs])
        submit = slurm.prepare(args.slurm, cfgs[0].out)
        return lambda tasks: slurm.run(tasks, submit, wait=not args.no_wait)
    if args.jobs:
        local.check_gpus(args.gpus, [c.device for c in cfgs])
        return lambda tasks: local.run(tasks, args.jobs, args.gpus)
    return launch.run_here
