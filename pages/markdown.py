"""Markdown results: the table of a report's steps beside the report's figures, each report's
OUT/results/<id>.md (results.py writes it), and the tables main.py prints at the end of a command."""
from __future__ import annotations

import os
from typing import Mapping, Sequence

from run_folder import reader
from config import FIGURES as FIGURE_NAMES
from config import reported_figures
from experiments import REPORTS, Report, report_of
from figures import notes as figure_notes
from figures.context import results_dir
from pages import href
from run_folder.reader import Run
from summary import (DEFAULT_COLUMNS, VERDICT_RULE, Spread, aggregate, figure_text, spread_text,
                     verdict_text)


def results_table(steps: Sequence[str], found: dict[str, Run], columns: Sequence[str],
                  status: dict[str, str] | None = None,
                  seeds: Mapping[str, Sequence[Run]] | None = None) -> str:
    """A Markdown table: each step's figures on the report's columns beside the report's, and the difference.

    status names what happened to a step with no run (failed, stopped); default "not run".
    seeds: a step's runs when it has several (--seeds): each figure is their mean ± std (n) and
    the difference is the mean's, with the verdict (summary.verdict).
    """
    head = ["step", "parameters", "epochs"]
    for c in columns:
        head += [FIGURE_NAMES[c][0], "report", "diff"]
    head += ["device", "setting"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for step in steps:
        run = found.get(step)
        rep = reader.reported_for(step, run)
        theirs = reported_figures(rep)
        if run is None:
            cells = [step, "-", (status or {}).get(step, "not run")]
            for c in columns:
                cells += ["-", figure_text(c, theirs[c]) if c in theirs else "-", "-"]
            lines.append("| " + " | ".join(cells + ["-", "-"]) + " |")
            continue
        several = list((seeds or {}).get(step, [run]))
        spreads = aggregate([r.summary for r in several])
        params = run.info.get("parameters")
        early = any(r.end and r.end.get("stopped_early") for r in several)
        cells = [step, f"{params:,}" if params is not None else "-",
                 _epochs(spreads["epochs"]) + (" (stopped early)" if early else "")]
        if rep is not None and rep.parameters is not None and rep.parameters != params:
            cells[1] += f" (report: {rep.parameters:,})"
        for c in columns:
            value = spreads.get(c)
            cells += [spread_text(c, value) if value is not None else "-",
                      figure_text(c, theirs[c]) if c in theirs else "-",
                      verdict_text(value, theirs[c]) if c in theirs and value is not None else "-"]
        first = several[0]
        notes = figure_notes.setting(first)
        if len(several) > 1:
            notes.append(f"seeds {', '.join(str(r.config.seed) for r in several)}")
        cells += [first.device, ", ".join(notes) or "the report's"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _epochs(s: Spread) -> str:
    """The epochs column: the count, or the range over several seeds that stopped at different ones."""
    return f"{s.low:g}" if s.low == s.high else f"{s.low:g}-{s.high:g}"


def tables(steps: Sequence[str], by_step: Mapping[str, Sequence[Run]],
           status: dict[str, str]) -> str:
    """main.py's end-of-command tables, one per report: each step's runs (one, or several seeds)."""
    found = {s: reader.mean_run(list(rs)) for s, rs in by_step.items() if rs}
    seeds = {s: rs for s, rs in by_step.items() if len(rs) > 1}
    text = []
    for report in [*REPORTS, None]:
        mine = [s for s in steps if report_of(s) is report]
        if mine:
            columns = report.columns if report else DEFAULT_COLUMNS
            text.append(f"{f'report {report.id}' if report else 'other experiments'}:\n"
                        + results_table(mine, found, columns, status, seeds))
    return "\n\n".join(text)


def results_markdown(report: Report, found: dict[str, Run], files: list[str], out: str,
                     seeds: Mapping[str, Sequence[Run]] | None = None, said: Sequence[str] = (),
                     not_drawn: Sequence[str] = ()) -> str:
    """runs/results/<id>.md: the table, what its columns mean, and the figures as images.

    seeds: the steps run with several seeds, and their runs (results_table); said: the lines the
    figures add under the table (Context.note); not_drawn: the report figures left out for want
    of a run.
    """
    not_run = [s for s in report.steps if s not in found]
    hardware = f" The report's minutes are on a {report.hardware}." if report.hardware else ""
    notes = [f"- {s}: {r.note}" for s in report.steps
             if (r := reader.reported_for(s, found.get(s))) is not None and r.note]
    return "\n".join([
        f"# Report {report.id}: {report.title}",
        "",
        f"Rebuilt by `python results.py --out {out}` from the runs in `{out}/`; nothing was trained. "
        f"{len(found)} of {len(report.steps)} steps have a run"
        + (f"; not run: {', '.join(not_run)}." if not_run else "."),
        "",
        results_table(report.steps, found, report.columns, seeds=seeds),
        "",
        *[f"{line[0].upper()}{line[1:]}." for line in (report.loss_note, *said) if line],
        *([""] if report.loss_note or said else []),
        "Each figure is the run's beside the report's, on the report's own metric; *diff* is run minus "
        "report (for a range, the distance to its nearer end). Test figures are of the weights the "
        "step keeps (the last epoch's, or the best validation epoch's). A run whose *setting* is "
        f"not the report's (other data, fewer images or epochs) is not comparable.{hardware}",
        "",
        *([f"A step run with several seeds ({', '.join(seeds)}) shows each figure as mean ± std "
           f"(n runs) and, after its diff, a verdict: {VERDICT_RULE}", ""] if seeds else []),
        *(["## Notes on the report's figures", "", *notes, ""] if notes else []),
        "## Figures",
        "",
        *[f"![{os.path.relpath(f, results_dir(out))}]({href(f, results_dir(out))})\n"
          for f in files],
        *([f"- not drawn, no run of their steps: {', '.join(not_drawn)}", ""] if not_drawn else []),
    ])
