"""How long the answers that need no data take: `python main.py --help`, `--list`, `--version`.

python -m benchmarks --startup [--runs N]: each command as a fresh process, N times, against the
bare interpreter (`python -c pass`), as the median (min-max) wall time, with the machine and its
load average.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Sequence

from benchmarks.measure import loadavg
from devices import cpu_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = (("python -c pass (the floor)", ["-c", "pass"]),
            ("python main.py --help", ["main.py", "--help"]),
            ("python main.py --list", ["main.py", "--list"]),
            ("python main.py --version", ["main.py", "--version"]))


def wall(args: Sequence[str]) -> float:
    """Seconds one fresh interpreter takes to run args in the kit's folder (it must exit 0)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Time each command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks --startup", description=__doc__)
    parser.add_argument("--startup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (default: 7)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: give at least 1")
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
          f"before {loadavg()}; {args.runs} runs each, a fresh process each\n"
          f"| command | median | min - max |\n|---|---:|---:|", flush=True)
    for name, command in COMMANDS:
        times = [wall(command) for _ in range(args.runs)]
        print(f"| `{name}` | {statistics.median(times):.2f} s | {min(times):.2f} - "
              f"{max(times):.2f} s |", flush=True)
    print(f"load average after {loadavg()}")
    return 0
