"""Rebuild every report's figures and results table from the runs under runs/, training nothing.

    python results.py                 # every report; --report 001 for one

For each step with a run: its loss/accuracy figure (best epoch marked) and the step's own figures
(experiments.Report.step_figures); for each report: its overlays, its report-level figures and
runs/results/<id>.md, the table of its steps beside the report's figures. Steps with no run are
listed as not run; runs of experiments outside the table go to runs/results/other.md.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import plotting
import runs
from config import FIGURES as FIGURE_NAMES
from config import Config, Reported, reported_figures
from errors import OneLineParser, UserError
from experiments import REPORTS, STEPS, Report, load_experiment, resolve_path
from figures import load as analysis
from figures import r002 as r002_figures
from figures import r003, r004
from runs import Run
from summary import DEFAULT_COLUMNS, difference, figure_text, setting_notes


@dataclass(frozen=True)
class Options:
    """What the figures may need beyond the runs: where the data is, t-SNE points, the user's image."""

    out: str
    data_dir: str | None = None
    tsne_samples: int = r003.TSNE_SAMPLES  # training images in a t-SNE, stratified by class
    image: str | None = None  # --image: the picture report 004's activation figures show
    pixels: Any = None  # the image, read once; None with image set: unreadable, already reported


# ---------------------------------------------------------------------------------------------
# The figures, by the names experiments.REPORTS gives them
# ---------------------------------------------------------------------------------------------

def _first_layer(run: Run, opts: Options) -> list[str]:
    analysis.plot_first_layer(run, run.experiment(), opts.data_dir)
    return [os.path.join(run.dir, "kernels.png"), os.path.join(run.dir, "feature_maps.png")]


def _softmax(run: Run, opts: Options) -> list[str]:
    path = os.path.join(run.dir, "softmax.png")
    analysis.plot_softmax(run, run.experiment(), opts.data_dir, path)
    return [path]


def _overview(report: Report, found: dict[str, Run], opts: Options) -> list[str]:
    path = os.path.join(results_dir(opts.out), f"{report.id}-overview.png")
    plotting.plot_overview({s: r.history for s, r in found.items()},
                           {s: reported_for(s, found.get(s)) for s in report.steps}, path)
    return [path]


def _samples(report: Report, found: dict[str, Run], opts: Options) -> list[str]:
    if not found:
        return []
    path = os.path.join(results_dir(opts.out), f"{report.id}-samples.png")
    analysis.plot_samples(next(iter(found.values())), opts.data_dir, path)
    return [path]


def _error(run: Run, opts: Options) -> list[str]:
    path = os.path.join(run.dir, "error.png")
    r003.plot_error(run, path)
    return [path]


def _tsne(run: Run, opts: Options) -> list[str]:
    path = os.path.join(run.dir, "tsne.png")
    r003.plot_tsne(run, opts.data_dir, path, opts.tsne_samples)
    return [path]


def _augmented_samples(report: Report, found: dict[str, Run], opts: Options) -> list[str]:
    run = next((r for r in found.values() if r.config.dataset != "synthetic"), None) \
        or next(iter(found.values()), None)
    if run is None:
        return []
    path = os.path.join(results_dir(opts.out), f"{report.id}-augmented_samples.png")
    r003.plot_augmented_samples(run, opts.data_dir, path)
    return [path]
def _report_002(draw: Callable[[dict[str, Run], str], list[str]]) -> Callable[..., list[str]]:
    return lambda report, found, opts: draw(found, opts.out)
def _activations(run: Run, opts: Options) -> list[str]:
    if opts.image and opts.pixels is None:
        return []  # the image could not be read: said once, the other figures are drawn
    return r004.plot_activations(run, opts.pixels, os.path.basename(opts.image or ""), opts.data_dir)


def _losses_resnet_model1(report: Report, found: dict[str, Run], opts: Options) -> list[str]:
    return r004.plot_losses(found, os.path.join(results_dir(opts.out), f"{report.id}-losses.png"))


# Per step: drawn in the step's run folder. Per report: drawn in runs/results/.
STEP_FIGURES: dict[str, Callable[[Run, Options], list[str]]] = {
    "first_layer": _first_layer, "softmax": _softmax, "error": _error, "tsne": _tsne,
    "activations": _activations, "kernels_by_colour": lambda run, opts: r004.plot_kernels_by_colour(run)}
REPORT_FIGURES: dict[str, Callable[[Report, dict[str, Run], Options], list[str]]] = {
    "overview": _overview, "samples": _samples, "augmented_samples": _augmented_samples,
    "r002_filters": _report_002(r002_figures.filters),
    "r002_early_stopping": _report_002(r002_figures.early_stopping),
    "r002_dropout": _report_002(r002_figures.dropout), "r002_vgg": _report_002(r002_figures.vgg),
    "losses_resnet_model1": _losses_resnet_model1}
assert all(f in STEP_FIGURES for r in REPORTS for fs in r.step_figures.values() for f in fs)
assert all(f in REPORT_FIGURES for r in REPORTS for f in r.figures)


def results_dir(out: str) -> str:
    """Where the report-level figures and tables go."""
    return os.path.join(out, "results")


def reported_for(step: str, run: Run | None) -> Reported | None:
    """The report's figures for a step: as the run saved them, else from its experiment file."""
    if run is not None and run.info.get("reported"):
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in run.info["reported"].items()}
        return Reported(**{k: v for k, v in given.items() if k in Reported.__dataclass_fields__})
    if step in STEPS:
        return load_experiment(resolve_path(step)).reported
    return None


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
        rep = reported_for(step, run)
        figures = reported_figures(rep)
        if run is None:
            cells = [step, "-", (status or {}).get(step, "not run")]
            for c in columns:
                cells += ["-", figure_text(c, figures[c]) if c in figures else "-", "-"]
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
                      figure_text(c, figures[c]) if c in figures else "-",
                      difference(value, figures[c]) if c in figures and value is not None else "-"]
        notes = setting_notes(run.config, _step_config(step, run), run.history, run.end,
                              os.path.exists(os.path.join(run.dir, runs.INTERRUPTED)))
        cells += [run.device, ", ".join(notes) or "the report's"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _step_config(step: str, run: Run) -> Config:
    """The step's own configuration, as its experiment file (the run's copy) declares it."""
    return run.experiment().config


def results_markdown(report: Report, found: dict[str, Run], figures: list[str], out: str) -> str:
    """runs/results/<id>.md: the table, what its columns mean, and links to the figures."""
    not_run = [s for s in report.steps if s not in found]
    hardware = f" The report's minutes are on a {report.hardware}." if report.hardware else ""
    notes = [f"- {s}: {r.note}" for s in report.steps
             if (r := reported_for(s, found.get(s))) is not None and r.note]
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
          for f in figures],
        "",
    ])


# ---------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------

def regenerate(out: str, data_dir: str | None = None, only: Sequence[str] = (),
               tsne_samples: int = r003.TSNE_SAMPLES, image: str | None = None) -> dict[str, Any]:
    """Rebuild every figure and table under out from the runs there; trains nothing.

    Returns the files written, the runs found and the problems met (one sentence each); a problem
    with one step or figure does not stop the others.
    """
    if not os.path.isdir(out):
        raise UserError(f"{out}/ does not exist; train a step first (python main.py 001-A "
                        f"--dataset synthetic), or point --out at the runs")
    os.makedirs(results_dir(out), exist_ok=True)
    written: list[str] = []
    problems: list[str] = []
    pixels = None
    if image:
        try:
            pixels = r004.read_image(image)
        except UserError as e:
            problems.append(str(e))
    opts = Options(out, data_dir, tsne_samples, image, pixels)
    found_all: dict[str, Run] = {}

    def attempt(draw: Callable[[], list[str]]) -> list[str]:
        try:
            files = draw()
        except UserError as e:
            problems.append(str(e))
            return []
        written.extend(files)
        return files

    others = sorted(d for d in os.listdir(out) if d not in STEPS and not runs.SET_ASIDE.fullmatch(d)
                    and os.path.isfile(os.path.join(out, d, "metrics.csv")))
    reports = [r for r in REPORTS if not only or r.id in only]
    for report in reports:
        found: dict[str, Run] = {}
        figures: list[str] = []
        for step in report.steps:
            run_dir = os.path.join(out, step)
            try:
                run = runs.read_run(run_dir)
            except UserError as e:
                problems.append(str(e))
                continue
            if run is None:
                continue
            found[step] = run
            figures += attempt(lambda: _curves(run))
            for name in report.step_figures.get(step, ()):
                figures += attempt(lambda: STEP_FIGURES[name](run, opts))
        for overlay in report.overlays:
            path = os.path.join(results_dir(out), f"{report.id}-{overlay.name}.png")
            curves = {s: found[s].history for s in overlay.steps if s in found}
            label = FIGURE_NAMES.get(overlay.metric, (overlay.metric, ""))
            plotting.plot_overlay(curves, overlay.metric, f"{label[0]} ({label[1] or 'value'})",
                                  overlay.title, path, report.steps)
            figures.append(path)
            written.append(path)
        for name in report.figures:
            figures += attempt(lambda: REPORT_FIGURES[name](report, found, opts))
        path = os.path.join(results_dir(out), f"{report.id}.md")
        attempt(lambda: _write(path, results_markdown(report, found, figures, out)))
        found_all.update(found)
    if others and not only:
        found = {s: r for s in others if (r := attempt_read(os.path.join(out, s), problems))}
        for run in found.values():
            attempt(lambda: _curves(run))
        path = os.path.join(results_dir(out), "other.md")
        table = results_table(others, found, DEFAULT_COLUMNS)
        attempt(lambda: _write(path, f"# Runs outside the reports\n\n{table}\n"))
        found_all.update(found)
    return {"written": written, "problems": problems, "runs": sorted(found_all),
            "not_run": [s for r in reports for s in r.steps if s not in found_all]}


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
    p.add_argument("--tsne-samples", type=int, default=r003.TSNE_SAMPLES, metavar="N",
                   help=f"training images in each t-SNE, a stratified sample (default: "
                        f"{r003.TSNE_SAMPLES}; 40000 takes every one, minutes with openTSNE)")
    p.add_argument("--image", metavar="PATH",
                   help="a photo (any format PIL reads) for report 004's activation figures, resized "
                        "to the model's input (default: the run's first CIFAR-10 test image)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate from the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.tsne_samples < 1:
            raise UserError(f"--tsne-samples {args.tsne_samples} must be at least 1")
        result = regenerate(args.out, args.data_dir, args.report, args.tsne_samples, args.image)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in result["written"]:
        print(f"wrote {path}")
    total = len(result["runs"]) + len(result["not_run"])
    print(f"{len(result['runs'])} of {total} steps have a run")
    for problem in result["problems"]:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
