"""Which executor runs a command's tasks: here one after the other, a local pool (--jobs) or Slurm.

main.py checks the options (--seeds, --jobs, --gpus, --executor, --slurm, --no-wait) beside its
parser; choose picks the executor and checks it against the configs, before anything is trained. launch/local.py and
launch/slurm.py are imported only by choose (Slurm's needs submitit).
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable

import launch
from errors import UserError

if TYPE_CHECKING:
    from config import Config


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
