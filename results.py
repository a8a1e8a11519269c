"""Rebuild every report's figures and results table from the runs under runs/, training nothing.

    python results.py                 # every report; --report 001 for one

For each report: each step's run is read back and its loss/accuracy figure drawn (best epoch
marked); then the report's rows of figures.FIGURES are drawn, in the report's order (a step
figure once per run of its steps, a report figure once); then runs/results/<id>.md, the table of
its steps beside the report's figures (pages/markdown.py). Steps with no run are listed as not
run; runs of experiments outside the table go to runs/results/other.md. Last, the pages (pages/):
runs/results/index.html and <id>.html, each report's figures embedded in its order. The figures'
own options (figures.OPTIONS) are added to the command line.

Every figure says under itself how its runs differ from the report's setting (figures/notes.py).
A report figure with no run of its steps is not drawn, and its file from an earlier rebuild is
removed (and said so): everything in runs/results/ is of the runs there now.
"""
from __future__ import annotations

import errors

if __name__ == "__main__":  # Ctrl-C during the imports below (seconds, torch's): one line
    errors.while_starting()

import argparse
import dataclasses
import os
import sys
import tempfile
from typing import Any, Callable, Mapping, Sequence

import atomic
import figures
import pages
import plotting
import run_folder
from run_folder import reader, writer
from config import Config
from errors import OneLineParser, UserError
from experiments import REPORTS, STEPS, Report
from figures import notes as figure_notes
from figures.common import seed_curves
from figures.context import results_dir
from pages import tensorboard
from pages.markdown import comparisons, results_markdown, results_table, verdicts_text
from run_folder.reader import Run
from summary import DEFAULT_COLUMNS


# ---------------------------------------------------------------------------------------------
# Rebuilding: every figure and table from the runs under out
# ---------------------------------------------------------------------------------------------

def regenerate(out: str, data_dir: str | None = None, only: Sequence[str] = (),
               options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Rebuild every figure and table under out from the runs there; trains nothing.

    options: the figures' option values by key (figures.OPTIONS; a missing one takes its default).
    Returns the files written, those removed (a report figure no run now draws), the runs found
    and the problems met (one sentence each); a problem with one step or figure does not stop the
    others.
    """
    values = figures.option_values(options or {})
    if not out:
        raise UserError("--out is empty; give the folder main.py wrote the runs to (default: runs)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out {out} is a file, not a folder of runs; point --out at the folder "
                        f"main.py wrote the runs to (default: runs)")
    if not os.path.isdir(out):
        raise UserError(f"{out}/ does not exist; train a step first (python main.py 001-A "
                        f"--dataset synthetic), or point --out at the runs")
    _check_writable(results_dir(out))
    written: list[str] = []
    removed: list[str] = []
    problems: list[str] = []
    values, unread = _read_options(values, problems)
    base = figures.Context(out, data_dir, values)
    shown_all: dict[str, Run] = {}

    def attempt(draw: Callable[[], list[str]]) -> list[str]:
        try:
            files = draw()
        except UserError as e:
            problems.append(str(e))
            return []
        except OSError as e:  # a file that cannot be written (or read): one line, the others go on
            problems.append(_os_problem(e))
            return []
        written.extend(files)
        return files

    others = sorted(d for d in os.listdir(out) if d not in STEPS and not run_folder.SET_ASIDE.fullmatch(d)
                    and any(os.path.isfile(os.path.join(p, run_folder.METRICS))
                            for p in reader.step_dirs(out, d)))
    reports = [r for r in REPORTS if not only or r.id in only]
    drawn: dict[str, pages.Drawn] = {}
    for report in reports:
        by_step = _read_steps(out, report.steps, problems)
        shown = {s: reader.mean_run(reader.compared(rs)) for s, rs in by_step.items()}
        files: list[str] = []
        for rs in by_step.values():
            files += attempt(lambda: _curves(rs))
        report_ctx = dataclasses.replace(base, notes=[])  # the lines its figures add under its table
        report_files, not_drawn = _draw_figures(report, shown, by_step, report_ctx, unread, attempt,
                                                problems)
        removed += [p for name in not_drawn for p in _remove(os.path.join(results_dir(out), name))]
        files = list(dict.fromkeys(files + [f for _, mine in report_files for f in mine]))
        drawn[report.id] = report_files
        path = os.path.join(results_dir(out), f"{report.id}.md")
        attempt(lambda: _write(path, results_markdown(report, by_step, files, out, report_ctx.notes,
                                                      not_drawn)))
        shown_all.update(shown)
    if others and not only:
        by_step = _read_steps(out, others, problems)
        for rs in by_step.values():
            attempt(lambda: _curves(rs))
        shown = {s: reader.mean_run(reader.compared(rs)) for s, rs in by_step.items()}
        compared = comparisons(others, by_step, DEFAULT_COLUMNS)
        path = os.path.join(results_dir(out), "other.md")
        text = "\n".join([results_table(compared, DEFAULT_COLUMNS), "", *verdicts_text(compared)])
        attempt(lambda: _write(path, f"# Runs outside the reports\n\n{text}\n"))
        shown_all.update(shown)
    unread_runs: list[str] = []  # each said once already, when its report was drawn
    attempt(lambda: pages.write_pages(out, drawn, unread_runs))
    problems += unread_runs
    # A damaged file that several figures read is said once.
    return {"written": list(dict.fromkeys(written)), "removed": removed,
            "problems": list(dict.fromkeys(problems)),
            "runs": sorted(shown_all),
            "not_run": [s for r in reports for s in r.steps if s not in shown_all]}


def _draw_figures(report: Report, shown: dict[str, Run], step_runs: Mapping[str, list[Run]],
                  report_ctx: figures.Context, unread: set[str],
                  attempt: Callable[[Callable[[], list[str]]], list[str]],
                  problems: list[str]) -> tuple[pages.Drawn, list[str]]:
    """A report's rows of figures.FIGURES drawn in its order: each figure with the files it wrote,
    and the report figures not drawn for want of a run (their file names). A report figure is
    drawn from `shown` (each step's run as the figures show it; several seeds: their mean run), a
    step figure for every run compared with the report (reader.compared: its seeds', else its one run)."""
    drawn: pages.Drawn = []
    not_drawn: list[str] = []
    for figure in figures.of(report.id):
        if any(o.key in unread for o in figure.options):
            continue  # its option could not be read: said once, the other figures are drawn
        ctx = dataclasses.replace(report_ctx, report=figure.report, name=figure.name)
        mine: list[str] = []
        if not figure.steps:
            known = len(problems)
            mine = attempt(lambda: figure.draw(shown, ctx))
            if not mine and len(problems) == known:  # no run of its steps: nothing to show
                not_drawn.append(os.path.basename(ctx.path()))
        for run in (r for s in figure.steps for r in reader.compared(step_runs.get(s, []))):
            mine += attempt(lambda: figure.draw(run, ctx))
        drawn.append((figure, list(dict.fromkeys(mine))))  # several seeds may share one file
    return drawn, not_drawn


def _check_writable(folder: str) -> None:
    """Refuse, before drawing anything, a results folder that is a file or cannot be written."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"{folder} is a file, but results.py writes its tables and figures into a "
                        f"folder of that name; move the file away")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UserError(f"cannot write to {folder} ({e.strerror or e}); make it writable, or "
                        f"copy the runs somewhere you can write and point --out there") from None


def _os_problem(e: OSError) -> str:
    """An OSError met while drawing, as one sentence naming the file."""
    if isinstance(e, IsADirectoryError):
        return f"{e.filename} is a folder, but a figure or table is written there; move it away"
    return f"cannot write or read {e.filename or ''} ({e.strerror or e})".replace("  ", " ")


def _read_options(values: dict[str, Any], problems: list[str]) -> tuple[dict[str, Any], set[str]]:
    """Each given option turned once into what its figures use (Option.read); the keys that failed."""
    unread = set()
    for o in figures.OPTIONS:
        if o.read is not None and values[o.key] not in (None, ""):  # "" is no value, as before
            try:
                values[o.key] = o.read(values[o.key])
            except UserError as e:
                problems.append(str(e))
                unread.add(o.key)
    return values, unread


def _confusion(run: Run) -> list[str]:
    return writer.draw_confusion(run.dir, run.step, run.config.keep, run.end or {},
                                     figure_notes.of_run(run))


def _remove(path: str) -> list[str]:
    """Remove an earlier rebuild's file of a figure that is not drawn now (and its narrow variant):
    it would pass for current."""
    gone = [p for p in (path, plotting.narrow_path(path)) if os.path.exists(p)]
    for p in gone:
        os.remove(p)
    return gone


def _read_steps(out: str, steps: Sequence[str], problems: list[str]) -> dict[str, list[Run]]:
    """Every run of each step (reader.read_step), a damaged one recorded as a problem; steps with none left out."""
    read = {s: reader.read_step(out, s, problems) for s in steps}
    return {s: rs for s, rs in read.items() if rs}


def _curves(step_runs: list[Run]) -> list[str]:
    """Each run's loss_accuracy.png, and for several seeds their mean with its band (seed_curves)."""
    written = []
    for run in step_runs:
        path = os.path.join(run.dir, run_folder.CURVES)
        plotting.plot_loss_accuracy(run.history, run.step, path, best_epoch=run.best_epoch,
                                    footnote=figure_notes.of_run(run, loss=True), narrow=True)
        written.append(path)
        written += _confusion(run)
    return written + seed_curves(reader.compared(step_runs))


def _write(path: str, text: str) -> list[str]:
    atomic.write_text(path, text)
    return [path]


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The command line of results.py."""
    p = OneLineParser(prog="python results.py",
                      description="Rebuild every figure and results table from the runs under OUT/, "
                      "without training: each step's curves and figures, each report's overlays, "
                      "figures and OUT/results/<report>.md.")
    p.add_argument("--out", default=Config().out,
                   help=f"the folder the runs were written to (default: {Config().out}/)")
    p.add_argument("--data-dir", help="where CIFAR is, for figures that show images "
                                      "(default: each run's own --data-dir); never downloaded")
    p.add_argument("--report", nargs="+", default=[], choices=[r.id for r in REPORTS],
                   metavar="ID", help="only these reports (default: all)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write every run's metrics.csv as TensorBoard event files in "
                        "OUT/tensorboard/<step>/ (needs the tensorboard package)")
    for o in figures.OPTIONS:  # the figures' own options, from the table
        p.add_argument(o.flag, type=o.type, default=o.default, metavar=o.metavar, help=o.help)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate from the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.tensorboard:
            tensorboard.writer_class()  # a missing package is said before anything is written
        result = regenerate(args.out, args.data_dir, args.report,
                            {o.key: getattr(args, o.key) for o in figures.OPTIONS})
        if args.tensorboard:
            result["written"] += tensorboard.write(args.out, result["runs"], result["problems"])
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # outside any one figure: the tables' folder, say
        print(f"error: {_os_problem(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print("interrupted: the figures and tables written so far are kept; run results.py again "
              "to redo them all", file=sys.stderr)
        return errors.exit_code(e)
    for path in result["written"]:
        print(f"wrote {path}")
    for path in result["removed"]:
        print(f"removed {path}: an earlier rebuild's, and no run now draws it")
    total = len(result["runs"]) + len(result["not_run"])
    print(f"{len(result['runs'])} of {total} steps have a run")
    for problem in result["problems"]:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if result["problems"] else 0


if __name__ == "__main__":
    errors.ctrl_c_and_sigterm()
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:  # while the command line is read, or the last lines print
        print("interrupted", file=sys.stderr)
        sys.exit(errors.exit_code(e))
