"""A step trained with its step captured as a CUDA graph and without: do the two metrics.csv agree?

Runs `python main.py STEP` twice in this process, --set capture=off and then capture=auto (which
captures where the kit would; capture on is refused off CUDA), both --deterministic so that the
only difference left is the capture, and compares every figure of every epoch (all but the
seconds) within rtol and atol. Prints which capture each run used (its config.json), the largest
difference of each column, and agrees or not; exit 0 if they agree, 1 if not.

Run: python -m benchmarks.capture_check --step 001-A --epochs 2 --device cuda
"""
from __future__ import annotations

import csv
import json
import os
import sys
from typing import Sequence

import main as kit
from errors import OneLineParser


def parse_args(argv: Sequence[str] | None):
    """The check's command line."""
    p = OneLineParser(prog="python -m benchmarks.capture_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--step", default="001-A", help="the step to train (default: 001-A)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of each run (default: 2)")
    p.add_argument("--subset", type=int, help="training images (default: all 50,000)")
    p.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke run (default: cuda)")
    p.add_argument("--out", default="runs/capture-check", help="where the two runs go")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default: 1e-3)")
    p.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance (default: 1e-4)")
    p.add_argument("--no-deterministic", action="store_true",
                   help="run without --deterministic (the runs then differ by more than the capture)")
    return p.parse_args(argv)


def read(run_dir: str) -> tuple[str, list[dict[str, str]]]:
    """The capture a run used, from its config.json, and its metrics.csv rows."""
    with open(os.path.join(run_dir, "config.json")) as f:
        used = json.load(f)["config"]["capture"]
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return used, list(csv.DictReader(f))


def compare(eager: list[dict[str, str]], graph: list[dict[str, str]], rtol: float,
            atol: float) -> tuple[bool, list[str]]:
    """Whether every figure agrees within atol + rtol * |eager|, and a line per column."""
    if len(eager) != len(graph):
        return False, [f"{len(eager)} rows against {len(graph)}"]
    agree, lines = True, []
    for column in (c for c in eager[0] if c != "seconds"):
        pairs = [(float(a[column]), float(b[column])) for a, b in zip(eager, graph)
                 if a[column] != "" and b[column] != ""]
        worst = max((abs(a - b) for a, b in pairs), default=0.0)
        ok = all(abs(a - b) <= atol + rtol * abs(a) for a, b in pairs)
        agree &= ok
        lines.append(f"{column:<20} largest difference {worst:.3g} {'ok' if ok else 'OUTSIDE'}")
    return agree, lines


def main(argv: Sequence[str] | None = None) -> int:
    """Train the step both ways and compare; returns the exit code."""
    args = parse_args(argv)
    common = [args.step, "--dataset", "synthetic", "--epochs", str(args.epochs), "--device",
              args.device, *(["--subset", str(args.subset)] if args.subset else []),
              *([] if args.no_deterministic else ["--deterministic"])]
    runs = {}
    for setting in ("off", "auto"):
        out = os.path.join(args.out, setting)
        code = kit.main([*common, "--set", f"capture={setting}", "--out", out])
        if code != 0:
            return code
        runs[setting] = read(os.path.join(out, args.step))
    (used_eager, eager), (used_graph, graph) = runs["off"], runs["auto"]
    agree, lines = compare(eager, graph, args.rtol, args.atol)
    print(f"\n{args.step}, {args.epochs} epochs on {args.device}: capture {used_eager} against "
          f"capture {used_graph} (auto), rtol {args.rtol:g}, atol {args.atol:g}")
    print("\n".join(lines))
    print(f"{'agree' if agree else 'DIFFER'}"
          + ("" if used_graph == "on" else " (but neither run was captured: nothing was compared "
                                           "on a graph)"))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
