"""Rebuild every report's figures and results table from the runs under runs/, training nothing.

    python results.py                 # every report; --report 001 for one

For each report: each step's run is read back and its loss/accuracy figure drawn (best epoch
marked); then the report's rows of figures.FIGURES are drawn, in the report's order (a step
figure once per run of its steps, a report figure once); then runs/results/<id>.md, the table of
its steps beside the report's figures. Steps with no run are listed as not run; runs of
experiments outside the table go to runs/results/other.md. The figures' own options
(figures.OPTIONS) are added to the command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from typing import Any, Callable, Mapping, Sequence

import figures
import plotting
import runs
from config import FIGURES as FIGURE_NAMES
from config import Config, reported_figures
from errors import OneLineParser, UserError
from experiments import REPORTS, STEPS, Report
from figures.context import results_dir
from runs import Run
from summary import DEFAULT_COLUMNS, difference, figure_text, setting_notes


# ---------------------------------------------------------------------------------------------
# The results table: one for every report, and for the command line's summary
# ---------------------------------------------------------------------------------------------

def results_table(steps: Sequence[str], found: dict[str, Run], columns: Sequence[str],
                  status: dict[str, str] | None = None) -> str:
    """A Markdown table: each step's figures on the report's columns beside the report's, and the difference.

    status names what happened to a step with no run (failed, stopped); default "not run".
    """
    head = ["step", "parameters", "epochs"]
    for c in columns:
        head += [FIGURE_NAMES[c][0], "report", "diff"]
    head += ["device", "setting"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for step in steps:
        run = found.get(step)
        rep = runs.reported_for(step, run)
        theirs = reported_figures(rep)
        if run is None:
            cells = [step, "-", (status or {}).get(step, "not run")]
            for c in columns:
                cells += ["-", figure_text(c, theirs[c]) if c in theirs else "-", "-"]
            lines.append("| " + " | ".join(cells + ["-", "-"]) + " |")
            continue
        summary = run.summary
        params = run.info.get("parameters")
        cells = [step, f"{params:,}" if params is not None else "-", str(summary["epochs"])
                 + (" (stopped early)" if run.end and run.end.get("stopped_early") else "")]
        if rep is not None and rep.parameters is not None and rep.parameters != params:
            cells[1] += f" (report: {rep.parameters:,})"
        for c in columns:
            value = summary.get(c)
            cells += [figure_text(c, value) if value is not None else "-",
                      figure_text(c, theirs[c]) if c in theirs else "-",
                      difference(value, theirs[c]) if c in theirs and value is not None else "-"]
        notes = setting_notes(run.config, _step_config(step, run), run.history, run.end,
                              os.path.exists(os.path.join(run.dir, runs.INTERRUPTED)))
        cells += [run.device, ", ".join(notes) or "the report's"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _step_config(step: str, run: Run) -> Config:
    """The step's own configuration, as its experiment file (the run's copy) declares it."""
    return run.experiment().config


def results_markdown(report: Report, found: dict[str, Run], files: list[str], out: str) -> str:
    """runs/results/<id>.md: the table, what its columns mean, and links to the figures."""
    not_run = [s for s in report.steps if s not in found]
    hardware = f" The report's minutes are on a {report.hardware}." if report.hardware else ""
    notes = [f"- {s}: {r.note}" for s in report.steps
             if (r := runs.reported_for(s, found.get(s))) is not None and r.note]
    return "\n".join([
        f"# Report {report.id}: {report.title}",
        "",
        f"Rebuilt by `python results.py --out {out}` from the runs in `{out}/`; nothing was trained. "
        f"{len(found)} of {len(report.steps)} steps have a run"
        + (f"; not run: {', '.join(not_run)}." if not_run else "."),
        "",
        results_table(report.steps, found, report.columns),
        "",
        "Each figure is the run's beside the report's, on the report's own metric; *diff* is run minus "
        "report (for a range, the distance to its nearer end). Test figures are of the weights the "
        "step keeps (the last epoch's, or the best validation epoch's). A run whose *setting* is "
        f"not the report's (other data, fewer images or epochs) is not comparable.{hardware}",
        "",
        *(["## Notes on the report's figures", "", *notes, ""] if notes else []),
        "## Figures",
        "",
        *[f"- [{os.path.relpath(f, results_dir(out))}]({os.path.relpath(f, results_dir(out))})"
          for f in files],
        "",
    ])


# ---------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------

def regenerate(out: str, data_dir: str | None = None, only: Sequence[str] = (),
               options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Rebuild every figure and table under out from the runs there; trains nothing.

    options: the figures' option values by key (figures.OPTIONS; a missing one takes its default).
    Returns the files written, the runs found and the problems met (one sentence each); a problem
    with one step or figure does not stop the others.
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
    problems: list[str] = []
    values, unread = _read_options(values, problems)
    base = figures.Context(out, data_dir, values)
    found_all: dict[str, Run] = {}

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

    others = sorted(d for d in os.listdir(out) if d not in STEPS and not runs.SET_ASIDE.fullmatch(d)
                    and os.path.isfile(os.path.join(out, d, "metrics.csv")))
    reports = [r for r in REPORTS if not only or r.id in only]
    for report in reports:
        found = {s: r for s in report.steps if (r := attempt_read(os.path.join(out, s), problems))}
        files: list[str] = []
        for run in found.values():
            files += attempt(lambda: _curves(run))
        for figure in figures.of(report.id):
            if any(o.key in unread for o in figure.options):
                continue  # its option could not be read: said once, the other figures are drawn
            ctx = dataclasses.replace(base, report=figure.report, name=figure.name)
            if not figure.steps:
                files += attempt(lambda: figure.draw(found, ctx))
            for step in (s for s in figure.steps if s in found):
                files += attempt(lambda: figure.draw(found[step], ctx))
        path = os.path.join(results_dir(out), f"{report.id}.md")
        attempt(lambda: _write(path, results_markdown(report, found, files, out)))
        found_all.update(found)
    if others and not only:
        found = {s: r for s in others if (r := attempt_read(os.path.join(out, s), problems))}
        for run in found.values():
            attempt(lambda: _curves(run))
        path = os.path.join(results_dir(out), "other.md")
        table = results_table(others, found, DEFAULT_COLUMNS)
        attempt(lambda: _write(path, f"# Runs outside the reports\n\n{table}\n"))
        found_all.update(found)
    # A damaged file that several figures read is said once.
    return {"written": written, "problems": list(dict.fromkeys(problems)), "runs": sorted(found_all),
            "not_run": [s for r in reports for s in r.steps if s not in found_all]}


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


def attempt_read(run_dir: str, problems: list[str]) -> Run | None:
    """runs.read_run, with a damaged run recorded as a problem instead of raised."""
    try:
        return runs.read_run(run_dir)
    except UserError as e:
        problems.append(str(e))
        return None


def _curves(run: Run) -> list[str]:
    path = os.path.join(run.dir, "loss_accuracy.png")
    plotting.plot_loss_accuracy(run.history, run.step, path, best_epoch=run.best_epoch)
    return [path]


def _write(path: str, text: str) -> list[str]:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return [path]


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
    for o in figures.OPTIONS:  # the figures' own options, from the table
        p.add_argument(o.flag, type=o.type, default=o.default, metavar=o.metavar, help=o.help)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate from the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        result = regenerate(args.out, args.data_dir, args.report,
                            {o.key: getattr(args, o.key) for o in figures.OPTIONS})
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # outside any one figure: the tables' folder, say
        print(f"error: {_os_problem(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the figures and tables written so far are kept; run results.py again "
              "to redo them all", file=sys.stderr)
        return 130
    for path in result["written"]:
        print(f"wrote {path}")
    total = len(result["runs"]) + len(result["not_run"])
    print(f"{len(result['runs'])} of {total} steps have a run")
    for problem in result["problems"]:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if result["problems"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # while the command line is read, or the last lines print
        print("interrupted", file=sys.stderr)
        sys.exit(130)
