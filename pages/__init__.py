"""The grader's pages: OUT/results/index.html and one OUT/results/<report>.html per report.

    pages/__init__.py       what a page shows, gathered from the runs (this file), and writing it
    pages/markdown.py       the results tables in Markdown: OUT/results/<report>.md, main.py's tables
    pages/tensorboard.py    every run's metrics.csv as TensorBoard event files (results.py --tensorboard)
    pages/templates/        the Jinja2 templates: base.html, index.html, report.html
    pages/style.css         the one stylesheet, copied beside the pages

A page reads like its report: the setting, the step table beside the report's figures with
compare.py's verdict in words and colour and the sentence that explains it, the report's figures in its order, each step's curves and confusion
matrix, the environment. Everything is local and linked relatively (the folder can be zipped or
served as it is), readable without JavaScript and on a phone. Jinja2 escapes every string that
comes from a run, a config or an experiment file.
"""
from __future__ import annotations

import functools
import os
import statistics
import struct
import time
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import atomic
import cifar
import data
import kit
import plotting
import run_folder
from run_folder import reader
import summary
from config import FIGURES as FIGURE_NAMES
from config import Config, reported_figures
from errors import UserError
from experiments import REPORTS, Report, load_experiment, resolve_path
from figures import notes
from figures.common import curves
from figures.context import Figure, results_dir
from compare import (ABOVE, BELOW, CONSISTENT, DOES_NOT_HOLD, HOLDS, MATCHES, NOT_COMPARABLE,
                     NOT_GIVEN, NOT_REPRODUCED, NOT_RUN, REPRODUCED, RULES, UNDECIDED_WORD,
                     Comparison, compare_runs, judge_claims)
from run_folder.reader import Run

HERE = os.path.dirname(os.path.abspath(__file__))
READINGS = os.path.join(os.path.dirname(HERE), "docs", "readings.md")  # each report's readings
STYLE = "style.css"
# The files of a run folder a page links to, when the run has them.
RUN_FILES = (run_folder.METRICS, run_folder.CONFIG, run_folder.SUMMARY, run_folder.EXPERIMENT,
             run_folder.CONFUSION, run_folder.LOG, run_folder.INTERRUPTED)


Drawn = Sequence[tuple[Figure, Sequence[str]]]  # each figure of a report with the files drawn for it


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

MANY_COLUMNS = 8  # figures in the step table above which its cells wrap to fit 1280 px (style.css)
FEW_COLUMNS = 3  # figures at most for the verdicts' reasons to take one line at 1280 px (style.css)


@functools.lru_cache(maxsize=1)
def templates() -> Any:
    """The Jinja2 environment of pages/templates/, escaping every value it is given."""
    try:  # imported here: a checkout whose requirements predate the pages still trains
        import jinja2
    except ImportError:
        raise UserError("the results pages need Jinja2: pip install -e . (or pip install jinja2)") from None
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["emphasis"] = emphasis
    env.filters["kind"] = kind
    env.filters["side_by_side"] = side_by_side
    env.globals["kit"] = kit.text()  # the kit writing the pages, named in their footer
    return env


def emphasis(text: str) -> Any:
    """Markdown's *words* (compare.RULES is written for .md too) as <em>words</em>, the rest escaped."""
    from markupsafe import Markup, escape

    parts = str(text).split("*")
    return Markup("").join(escape(p) if i % 2 == 0 else Markup("<em>%s</em>") % p
                           for i, p in enumerate(parts))


def write_pages(out: str, drawn: Mapping[str, Drawn | None],
                problems: list[str] | None = None) -> list[str]:
    """OUT/results/index.html and the pages of the reports in `drawn` (None: their figures were
    not drawn by this command); the index links the reports that have a page. Returns the files
    written."""
    folder, problems = results_dir(out), problems if problems is not None else []
    os.makedirs(folder, exist_ok=True)
    every = {r.id: {s: reader.read_step(out, s, problems) for s in r.steps} for r in REPORTS}
    # The runs each page shows (reader.compared): a step's seeds', else its one run; the verdicts
    # are compare.py's, on every run of the step (it says which it left out).
    by_report = {r.id: {s: reader.compared(rs) for s, rs in every[r.id].items()} for r in REPORTS}
    compared = {r.id: {s: compare_runs(s, rs, r.columns) for s, rs in every[r.id].items()}
                for r in REPORTS}
    written = []
    for report in REPORTS:
        if report.id in drawn:
            written.append(write_report(folder, report, by_report[report.id], compared[report.id],
                                        drawn.get(report.id)))
    others = os.path.isfile(os.path.join(folder, "other.md"))
    written.append(write_index(folder, [(r, by_report[r.id], compared[r.id]) for r in REPORTS], others))
    return written


def write_report(folder: str, report: Report, by_step: reader.RunsByStep,
                 compared: dict[str, Comparison], drawn: Drawn | None) -> str:
    """Write folder/<report>.html; by_step holds each step's runs (an empty list: not run), compared
    each step's comparison with the report (compare.compare_runs).

    drawn: the report's figures with their files, in the report's order; None when they were not
    drawn (main.py writes the pages without drawing them).
    """
    path = os.path.join(folder, f"{report.id}.html")
    view = report_view(folder, report, by_step, compared, drawn)
    _write(path, templates().get_template("report.html").render(**view))
    return path


def write_index(folder: str,
                reports: Sequence[tuple[Report, dict[str, list[Run]], dict[str, Comparison]]],
                others: bool = False) -> str:
    """Write folder/index.html (every report, its runs, how many reproduced) and the stylesheet."""
    atomic.copy(os.path.join(HERE, STYLE), os.path.join(folder, STYLE))
    rows = [index_row(folder, report, by_step, compared) for report, by_step, compared in reports]
    path = os.path.join(folder, "index.html")
    _write(path, templates().get_template("index.html").render(
        reports=rows, others=others, style=STYLE, generated=time.strftime("%Y-%m-%d %H:%M")))
    return path


def _write(path: str, text: str) -> None:
    atomic.write_text(path, text)


def href(path: str, folder: str) -> str:
    """A relative link from a page in folder to path, each part percent-encoded."""
    return quote(os.path.relpath(path, folder).replace(os.sep, "/"))


# ---------------------------------------------------------------------------------------------
# What the index shows
# ---------------------------------------------------------------------------------------------

def index_row(folder: str, report: Report, by_step: reader.RunsByStep,
              compared: dict[str, Comparison]) -> dict[str, Any]:
    """A report's line of the index: its page (if it has one), steps run, reproduced, training
    time, devices."""
    done = [s for s in report.steps if by_step.get(s)]
    verdicts = [compared[s].verdict for s in done]
    every = [r for s in done for r in by_step[s]]
    page = f"{report.id}.html"
    return {"id": report.id, "title": report.title,
            "page": page if os.path.isfile(os.path.join(folder, page)) else None,
            "steps": len(report.steps), "run": len(done), "runs": len(every),
            "reproduced": verdicts.count(REPRODUCED),
            "judged": verdicts.count(REPRODUCED) + verdicts.count(NOT_REPRODUCED)
            + verdicts.count(UNDECIDED_WORD), "not_comparable": verdicts.count(NOT_COMPARABLE),
            "minutes": sum(r.summary["minutes"] for r in every),
            "devices": sorted({r.device for r in every}),
            "setting": [(note, where) for note, where in _changes({s: by_step[s] for s in done})]}


def _first(by_step: reader.RunsByStep, step: str) -> Run | None:
    return by_step[step][0] if by_step.get(step) else None


# ---------------------------------------------------------------------------------------------
# What a report's page shows
# ---------------------------------------------------------------------------------------------

def report_view(folder: str, report: Report, by_step: reader.RunsByStep,
                compared: dict[str, Comparison], drawn: Drawn | None) -> dict[str, Any]:
    """Everything report.html shows, as plain data; the verdicts are compared's, rendered."""
    stated = {c for s in report.steps for c in reported_figures(reader.reported_for(s, _first(by_step, s)))}
    columns = [c for c in report.columns if c in stated]  # only the figures the report gives
    run_steps = [s for s in report.steps if by_step.get(s)]
    course, source = _source(report)
    return {
        "style": STYLE, "report": report, "course": course, "source": source,
        "setting": setting_lines(report), "changes": _changes(by_step),
        "columns": [{"name": c, "label": FIGURE_NAMES[c][0]} for c in columns],
        "many_columns": len(columns) > MANY_COLUMNS,
        "few_columns": len(columns) <= FEW_COLUMNS,
        "rows": [_row(s, by_step.get(s, []), compared[s], columns) for s in report.steps],
        "rules": RULES,
        "claims": judge_claims(report.id, compared),
        "notes": [(s, r.note) for s in report.steps
                  if (r := reader.reported_for(s, _first(by_step, s))) is not None and r.note],
        "figures": _figures(folder, drawn, by_step) if run_steps and drawn is not None else None,
        "drawn": drawn is not None,
        "steps": [{"step": s, "runs": [_run_view(folder, r) for r in by_step[s]]} for s in run_steps],
        "classes": _class_table(by_step, report.steps),
        "environment": [_environment(s, by_step.get(s, [])) for s in report.steps],
        "command": f"python main.py {report.id}",
        "generated": time.strftime("%Y-%m-%d %H:%M"),
    }


def kind(verdict: str) -> str:
    """What a verdict's (or a claim's) colour says: agreement, disagreement (above or below alike:
    above on a loss is no good news), or neither (not comparable, undecided, not judged, not run)."""
    return ("agree" if verdict in (MATCHES, CONSISTENT, REPRODUCED, HOLDS)
            else "disagree" if verdict in (ABOVE, BELOW, NOT_REPRODUCED, DOES_NOT_HOLD)
            else "neutral")


def _row(step: str, step_runs: list[Run], comparison: Comparison,
         columns: Sequence[str]) -> dict[str, Any]:
    """A step's row of the step table: its verdict, then each figure's record as a cell."""
    return {"step": step, "runs": len(step_runs), "epochs": _epochs(step_runs),
            "comparison": comparison, "verdict": comparison.verdict,
            "kind": kind(comparison.verdict), "reason": _reason(comparison),
            "cells": [{"label": r.label, "ours": r.ours, "theirs": r.theirs, "diff": r.diff,
                       "verdict": r.verdict, "kind": kind(r.verdict), "sentence": r.sentence,
                       "measured_on": r.measured_on if r.verdict not in (NOT_RUN, NOT_GIVEN) else "",
                       "comparable": r.verdict != NOT_COMPARABLE}
                      for r in (comparison[c] for c in columns)]}


def _reason(comparison: Comparison) -> str:
    """Why a step is not comparable, in a few words: how its runs' setting differs, else the
    images its headline figure was measured on."""
    if comparison.verdict != NOT_COMPARABLE:
        return ""
    if comparison.notes:
        return ", ".join(comparison.notes)
    return next((f"{r.measured_on}: too few" for r in comparison.records if r.headline), "")


def _epochs(step_runs: list[Run]) -> str:
    done = sorted({r.summary["epochs"] for r in step_runs})
    return "/".join(str(e) for e in done) or "not run"


def _source(report: Report) -> tuple[str, str]:
    """The course (the title's parentheses) and the report's section of docs/readings.md: its
    sources and the readings chosen where it is silent."""
    course = report.title.rsplit("(", 1)[1].rstrip(")") if report.title.endswith(")") else ""
    return course, readings(report.id)


def readings(report_id: str) -> str:
    """The section "## Report <id>" of docs/readings.md, without its heading ("" if it has none)."""
    with open(READINGS, encoding="utf-8") as f:
        sections = f.read().split("\n## Report ")
    mine = [s.split("\n", 1)[1].strip() for s in sections[1:] if s.split("\n", 1)[0] == report_id]
    return mine[0] if mine else ""


def setting_lines(report: Report) -> list[tuple[str, str]]:
    """The report's setting in a few lines (data, validation, optimizer, epochs), from its steps' files."""
    configs = {s: load_experiment(resolve_path(s)).config for s in report.steps}
    spec = cifar.SPECS[report.dataset]
    n_train, n_test = data.SIZES[report.dataset]
    return [("data", f"{spec.title}: {n_train:,} training and {n_test:,} test images"),
            ("validation", _grouped(configs, _split_text)),
            ("optimizer", _grouped(configs, _optimizer_text)),
            ("epochs", _grouped(configs, _epochs_text))]


def _grouped(configs: dict[str, Config], describe: Any) -> str:
    """One description when every step agrees, else each with its steps (the most common first)."""
    groups: dict[str, list[str]] = {}
    for step, cfg in configs.items():
        groups.setdefault(describe(cfg), []).append(step)
    if len(groups) == 1:
        return next(iter(groups))
    ordered = sorted(groups.items(), key=lambda g: -len(g[1]))
    return "; ".join(f"{text} ({', '.join(steps) if len(steps) <= 3 else f'{len(steps)} steps'})"
                     for text, steps in ordered)


def _split_text(cfg: Config) -> str:
    size = data.split_size(cfg.val_split, cfg.val_size)
    return {"none": "none: the test set only",
            "random": f"a seeded random {size:,} of the training images",
            "last": f"the last {size:,} training images",
            "batch5": f"data_batch_5 ({size:,} images)"}[cfg.val_split]


def _optimizer_text(cfg: Config) -> str:
    parts = [f"{cfg.optimizer} lr {cfg.lr:g}"]
    parts += [f"{k.replace('_', ' ')} {getattr(cfg, k):g}" for k in ("momentum", "weight_decay")
              if getattr(cfg, k)]
    if cfg.lr_decay != 1:
        parts.append(f"lr x{cfg.lr_decay:g} per epoch")
    return ", ".join(parts) + f", batch {cfg.batch_size}"


def _epochs_text(cfg: Config) -> str:
    if cfg.early_stopping == "off":
        text = f"{cfg.epochs} epochs"
    else:
        monitor = cfg.monitor.replace("val_", "validation ")
        text = (f"up to {cfg.epochs} epochs, early stopping on {monitor} (the {cfg.early_stopping} "
                f"rule, patience {cfg.patience})")
    return text + (", the best epoch's weights kept" if cfg.keep == "best" else "")


def _changes(by_step: reader.RunsByStep) -> list[tuple[str, str]]:
    """What the runs changed of the report's setting, each with the steps it holds for."""
    every = [r for step_runs in by_step.values() for r in step_runs]
    notes: dict[str, list[str]] = {}
    for run in every:
        interrupted = os.path.exists(os.path.join(run.dir, run_folder.INTERRUPTED))
        for note in summary.setting_notes(run.config, run.experiment().config, run.history,
                                          run.end, interrupted):
            steps = notes.setdefault(note.split(" (report:")[0], [])
            if run.step not in steps:
                steps.append(run.step)
    steps_run = [s for s in by_step if by_step[s]]
    return [(note, _which(steps, steps_run)) for note, steps in notes.items()]


LISTED = 4  # steps named in a list of the steps a setting holds for; more are counted


def _which(steps: Sequence[str], steps_run: Sequence[str]) -> str:
    """The steps a setting holds for, in a few words: "every run", a few names, "every run but"
    a few, else how many (the step table's reasons name each)."""
    others = [s for s in steps_run if s not in steps]
    if not others and len(steps) > 1:
        return "every run"
    if len(steps) <= LISTED:
        return ", ".join(steps)
    if len(others) <= LISTED:
        return f"every run but {', '.join(others)}"
    return f"{len(steps)} of the {len(steps_run)} steps run"


def _figures(folder: str, drawn: Drawn, by_step: reader.RunsByStep) -> list[dict[str, Any]]:
    """The report's figures in its order, each with its heading (number, what the report calls
    it, or the kit's own), its caption, its images, and for a step's figure the runs it shows:
    how their setting differs from the report's, and each seed's own run when there are several."""
    return [{"heading": figure.heading, "theirs": figure.the_reports, "caption": figure.caption,
             "steps": figure.steps, "id": f"figure-{figure.name}", "curves": figure.draw is curves,
             "images": [_image(p, folder) for p in files if os.path.isfile(p)],
             "runs": [_figure_runs(folder, s, by_step.get(s, []), files) for s in figure.steps
                      if by_step.get(s)]} for figure, files in drawn]


def side_by_side(shown: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The figures in rows of a page: consecutive step curves (one image each, with its narrow
    variant: the panels stacked) are set two to a row on a wide screen, as a report sets its
    Figs. 3-5 together (an odd last one a row of its own, full width); every other figure is a
    row of its own."""
    rows: list[list[dict[str, Any]]] = []
    for fig in shown:
        pairable = fig["curves"] and len(fig["images"]) == 1 and fig["images"][0]["narrow"]
        if pairable and rows and rows[-1][0].get("paired") and len(rows[-1]) < 2:
            rows[-1].append({**fig, "paired": True})
        else:
            rows.append([{**fig, "paired": bool(pairable)}])
    return rows


def _image(path: str, folder: str) -> dict[str, Any]:
    """An image of a figure: its link, its name, its size on the page (so that the page keeps
    its place before it loads), and its narrow variant for a phone (plotting.narrow_path) when
    one was drawn with it or after."""
    width, height = _shown_size(path)
    slim = plotting.narrow_path(path)
    narrow = None
    if os.path.isfile(slim) and os.path.getmtime(slim) >= os.path.getmtime(path):  # not stale
        w, h = _shown_size(slim, max_height=None)  # drawn for legibility: a phone scrolls
        narrow = {"src": href(slim, folder), "width": w, "height": h}
    return {"src": href(path, folder), "name": os.path.relpath(path, folder), "width": width,
            "height": height, "narrow": narrow}


# A figure's height on a page at most (px): a tall one (four images beside their
# probabilities, 128 filters) at about a screen's height, opened full size by a click.
MAX_HEIGHT = 768


def _shown_size(path: str, max_height: int | None = MAX_HEIGHT) -> tuple[int | None, int | None]:
    """A figure's size on a page in CSS px: the size it was drawn at (plotting.DPI), 96 px to the
    inch, where its 12-pt text is 16 px high like the page's, at most max_height high; a
    narrower screen scales it down."""
    width, height = _png_size(path)
    if width is None or height is None:
        return None, None
    scale = min(96 / plotting.DPI, max_height / height if max_height else 96 / plotting.DPI)
    return round(width * scale), round(height * scale)


def _png_size(path: str) -> tuple[int | None, int | None]:
    with open(path, "rb") as f:
        head = f.read(24)
    # A PNG's first chunk, IHDR, holds its width and height at bytes 16-24.
    return (struct.unpack(">II", head[16:24]) if head[:8] == b"\x89PNG\r\n\x1a\n"
            else (None, None))


def _figure_runs(folder: str, step: str, step_runs: list[Run],
                 files: Sequence[str]) -> dict[str, Any]:
    """What a step figure's caption says of one step's runs: their setting, and with several
    seeds whether it shows their mean (one file for all, figures.common.seed_curves) or an image
    per seed, with a link to each seed's own curves."""
    seeds = [(f"seed {r.config.seed}", href(os.path.join(r.dir, run_folder.CURVES), folder))
             for r in step_runs if len(step_runs) > 1]
    mean = os.path.join(os.path.dirname(step_runs[0].dir), run_folder.SEEDS_CURVES)
    return {"step": step, "setting": ", ".join(notes.setting(step_runs[0])) or "the report's",
            "seeds": seeds, "mean": mean in files}


def _run_view(folder: str, run: Run) -> dict[str, Any]:
    """A run's images and files, linked from the page."""
    def link(name: str) -> str | None:
        path = os.path.join(run.dir, name)
        return href(path, folder) if os.path.isfile(path) else None

    curves = os.path.join(run.dir, run_folder.CURVES)
    return {"name": os.path.relpath(run.dir, os.path.dirname(folder)),
            "curves": _image(curves, folder) if os.path.isfile(curves) else None,
            "confusion": link(run_folder.CONFUSION_FIGURE),
            "files": [(name, link(name)) for name in RUN_FILES if link(name)]}


def _class_table(by_step: reader.RunsByStep, steps: Sequence[str]) -> dict[str, Any]:
    """Each step's per-class test accuracy (the mean over its runs): one column per class up to
    20 classes, else the five lowest and highest."""
    rows, names = [], []
    for step in steps:
        per_run = [r.end["per_class_accuracy"] for r in by_step.get(step, [])
                   if r.end and "per_class_accuracy" in r.end]
        classes = list(per_run[0]) if per_run else []
        means = {c: statistics.fmean(v) if (v := [p[c] for p in per_run if p.get(c) is not None])
                 else None for c in classes}
        names = names or classes
        ranked = sorted((v, c) for c, v in means.items() if v is not None)
        rows.append({"step": step, "run": bool(by_step.get(step)), "known": bool(per_run),
                     "accuracy": means, "lowest": ranked[:5],
                     "highest": ranked[::-1][:5]})
    return {"names": names, "wide": len(names) > 20, "rows": rows}


def _environment(step: str, step_runs: list[Run]) -> dict[str, Any]:
    """Where and with what a step's runs were made, and when they last wrote an epoch."""
    if not step_runs:
        return {"step": step, "run": False}
    envs = [r.info.get("environment", {}) for r in step_runs]

    def values(key: str) -> str:
        return ", ".join(sorted({str(e.get(key, "?")) for e in envs}))

    dates = [os.path.getmtime(os.path.join(r.dir, run_folder.METRICS)) for r in step_runs]
    kits = ", ".join(sorted({kit.text(e["kit"]) if "kit" in e else "not recorded"
                             for e in envs}))
    return {"step": step, "run": True, "kit": kits,
            "torch": values("torch"), "torchvision": values("torchvision"),
            "python": values("python"), "device": ", ".join(sorted({r.device for r in step_runs})),
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(max(dates))),
            "minutes": sum(r.summary["minutes"] for r in step_runs)}
