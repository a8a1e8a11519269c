"""Markdown results: the table of a report's steps beside the report's figures, each report's
OUT/results/<id>.md (results.py writes it), and the tables main.py prints at the end of a command."""
from __future__ import annotations

import os
from typing import Mapping, Sequence

from compare import RULES, ClaimRecord, Comparison, compare_runs, judge_claims
from config import FIGURES as FIGURE_NAMES
from experiments import REPORTS, Report, report_of
from figures.context import results_dir
from pages import href
from run_folder import reader
from run_folder.reader import Run
from summary import DEFAULT_COLUMNS


def results_table(comparisons: Sequence[Comparison], columns: Sequence[str],
                  status: Mapping[str, str] | None = None) -> str:
    """A Markdown table of compare.py's records: each step's figures on `columns` beside the
    report's, the difference and the verdict; then its device and setting.

    status names what happened to a step with no run (failed, stopped); default "not run".
    """
    head = ["step", "verdict", "parameters", "epochs"]
    for c in columns:
        head += [FIGURE_NAMES[c][0], "report", "diff"]
    head += ["device", "setting"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for comparison in comparisons:
        first = comparison.compared[0].run if comparison.compared else None
        verdict = (status or {}).get(comparison.step, comparison.verdict) if first is None \
            else comparison.verdict
        cells = [comparison.step, verdict, _parameters(first, comparison), _epochs(comparison)]
        for c in columns:
            r = comparison[c]
            cells += [r.ours, r.theirs, r.cell]
        seeds = [o.name.removeprefix("seed ") for o in comparison.compared if o.seeded]
        setting = [*comparison.notes] + ([f"seeds {', '.join(seeds)}"] if len(seeds) > 1 else [])
        cells += [first.device if first else "-",
                  (", ".join(setting) or "the report's") if first else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parameters(run: Run | None, comparison: Comparison) -> str:
    if run is None or run.info.get("parameters") is None:
        return "-"
    params = run.info["parameters"]
    reported = reader.reported_for(comparison.step, run)
    theirs = reported.parameters if reported is not None else None
    return f"{params:,}" + (f" (report: {theirs:,})" if theirs is not None and theirs != params else "")


def _epochs(comparison: Comparison) -> str:
    """The epochs column: the count, or the range over several seeds that stopped at different ones."""
    done = [o.figures["epochs"] for o in comparison.compared]
    if not done:
        return "-"
    early = any(o.run is not None and o.run.end and o.run.end.get("stopped_early")
                for o in comparison.compared)
    text = f"{min(done):g}" if min(done) == max(done) else f"{min(done):g}-{max(done):g}"
    return text + (" (stopped early)" if early else "")


def verdicts_text(comparisons: Sequence[Comparison]) -> list[str]:
    """Each step's verdict and, under it, each figure's sentence: what the table's words mean."""
    lines = []
    for c in comparisons:
        if not c.compared:
            continue
        runs_ = ", ".join(o.name for o in c.compared)
        lines.append(f"- {c.step} ({runs_}): **{c.verdict}**. {c.sentence}")
        lines += [f"  - {r.label} ({r.measured_on}): {r.sentence}" for r in c.explained]
        lines += [f"  - left out: {why}" for why in c.left_out]
    return lines


def claims_text(records: Sequence[ClaimRecord]) -> list[str]:
    """Each claim of the report: its verdict, the report's words and where, and the sentence."""
    return [f"- **{r.verdict}**: {r.what}. The report ({r.claim.where}): \"{r.claim.says}\" "
            f"{r.sentence}" for r in records]


def comparisons(steps: Sequence[str], by_step: Mapping[str, Sequence[Run]],
                columns: Sequence[str]) -> list[Comparison]:
    """compare.compare_runs on each step (every run of it; none: not run)."""
    return [compare_runs(s, list(by_step.get(s, [])), columns) for s in steps]


def tables(steps: Sequence[str], by_step: Mapping[str, Sequence[Run]],
           status: dict[str, str]) -> str:
    """main.py's end-of-command tables, one per report, each with its verdicts' sentences."""
    text = []
    for report in [*REPORTS, None]:
        mine = [s for s in steps if report_of(s) is report]
        if mine:
            columns = report.columns if report else DEFAULT_COLUMNS
            compared = comparisons(mine, by_step, columns)
            text.append("\n".join([f"{f'report {report.id}' if report else 'other experiments'}:",
                                   results_table(compared, columns, status), "",
                                   *verdicts_text(compared)]).rstrip())
    return "\n\n".join(text)


def results_markdown(report: Report, by_step: Mapping[str, Sequence[Run]], files: list[str],
                     out: str, said: Sequence[str] = (), not_drawn: Sequence[str] = ()) -> str:
    """runs/results/<id>.md: the table, the verdicts explained, and the figures as images.

    by_step: every run of each step (reader.read_step; a step without one: not run); said: the lines
    the figures add under the table (Context.note); not_drawn: the report figures left out for
    want of a run.
    """
    compared = comparisons(report.steps, by_step, report.columns)
    claims = claims_text(judge_claims(report.id, {c.step: c for c in compared}))
    not_run = [c.step for c in compared if not c.compared]
    hardware = f" The report's minutes are on a {report.hardware}." if report.hardware else ""
    notes = [f"- {s}: {r.note}" for s in report.steps
             if (r := reader.reported_for(s, _first(by_step, s))) is not None and r.note]
    return "\n".join([
        f"# Report {report.id}: {report.title}",
        "",
        f"Rebuilt by `python results.py --out {out}` from the runs in `{out}/`; nothing was trained. "
        f"{len(compared) - len(not_run)} of {len(report.steps)} steps have a run"
        + (f"; not run: {', '.join(not_run)}." if not_run else "."),
        "",
        *(["## The report's claims", "", *claims, ""] if claims else []),
        "## The steps beside the report",
        "",
        results_table(compared, report.columns),
        "",
        *[f"{line[0].upper()}{line[1:]}." for line in (report.loss_note, *said) if line],
        *([""] if report.loss_note or said else []),
        "Each figure is the runs' beside the report's, on the report's own metric: one run's value, "
        "or several seeds' mean ± sd (n); *diff* is ours minus the report's (for a range, the "
        "distance to its nearer end). Test figures are of the weights the step keeps (the last "
        f"epoch's, or the best validation epoch's).{hardware}",
        "",
        RULES,
        "",
        *(["## The verdicts", "", *verdicts_text(compared), ""] if len(not_run) < len(compared)
          else []),
        *(["## Notes on the report's figures", "", *notes, ""] if notes else []),
        "## Figures",
        "",
        *[f"![{os.path.relpath(f, results_dir(out))}]({href(f, results_dir(out))})\n"
          for f in files],
        *([f"- not drawn, no run of their steps: {', '.join(not_drawn)}", ""] if not_drawn else []),
    ])


def _first(by_step: Mapping[str, Sequence[Run]], step: str) -> Run | None:
    return by_step[step][0] if by_step.get(step) else None
