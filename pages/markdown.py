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


# The end-of-command tables' widest line: wider tables are split by figure (a terminal's width).
CONSOLE_WIDTH = 120


def results_table(comparisons: Sequence[Comparison], columns: Sequence[str],
                  status: Mapping[str, str] | None = None) -> str:
    """A Markdown table of compare.py's records: each step's figures on `columns` beside the
    report's, the difference and the verdict; then its device and setting.

    status names what happened to a step with no run (failed, stopped); default "not run".
    """
    return _table([c.step for c in comparisons], _groups(comparisons, columns, status))


def console_table(comparisons: Sequence[Comparison], columns: Sequence[str],
                  status: Mapping[str, str] | None = None) -> str:
    """results_table for a terminal: split by figure into tables no wider than CONSOLE_WIDTH
    where it can be (a figure's cells stay together), each starting with the step; minutes
    are ours alone, never beside the report's (its hardware is not ours)."""
    steps = [c.step for c in comparisons]
    blocks: list[list[Group]] = [[]]
    for group in _groups(comparisons, columns, status, minutes_beside=False):
        if blocks[-1] and max(map(len, _table(steps, blocks[-1] + [group]).splitlines())) \
                > CONSOLE_WIDTH:
            blocks.append([])
        blocks[-1].append(group)
    return "\n\n".join(_table(steps, block) for block in blocks)


Group = tuple[list[str], list[list[str]]]  # columns that stay together: their heads, each step's cells


def _table(steps: Sequence[str], groups: Sequence[Group]) -> str:
    """A Markdown table: the step, then the groups' columns."""
    head = ["step", *(h for g in groups for h in g[0])]
    rows = [[step, *(c for g in groups for c in g[1][i])] for i, step in enumerate(steps)]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|",
                      *("| " + " | ".join(cells) + " |" for cells in rows)])


def _groups(comparisons: Sequence[Comparison], columns: Sequence[str],
            status: Mapping[str, str] | None, minutes_beside: bool = True) -> list[Group]:
    """The table's columns after the step, in groups that stay together: the step's verdict,
    parameters and epochs; one per figure (ours, the report's, the difference and verdict;
    minutes, unless minutes_beside, ours alone); then device and setting."""
    alone = {c for c in columns if c == "minutes" and not minutes_beside}
    groups: list[Group] = [(["verdict", "parameters", "epochs"], []),
                           *(([FIGURE_NAMES[c][0]] if c in alone else
                              [FIGURE_NAMES[c][0], "report", "diff"], []) for c in columns),
                           (["device", "setting"], [])]
    for comparison in comparisons:
        first = comparison.compared[0].run if comparison.compared else None
        verdict = (status or {}).get(comparison.step, comparison.verdict) if first is None \
            else comparison.verdict
        groups[0][1].append([verdict, _parameters(first, comparison), _epochs(comparison)])
        for (_, cells), c in zip(groups[1:], columns):
            r = comparison[c]
            cells.append([r.ours] if c in alone else [r.ours, r.theirs, r.cell])
        seeds = [o.name.removeprefix("seed ") for o in comparison.compared if o.seeded]
        setting = [*comparison.notes] + ([f"seeds {', '.join(seeds)}"] if len(seeds) > 1 else [])
        groups[-1][1].append([first.device if first else "-",
                              (", ".join(setting) or "the report's") if first else "-"])
    return groups


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
                                   console_table(compared, columns, status), "",
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
