"""The table of figures: consistent with the reports, one signature per kind, its options on the command line."""
import inspect
import os
import re
import subprocess
import sys

import pytest

import figures
import results
from experiments import REPORTS, STEPS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMBERED = ("000", "001", "002", "004")  # the reports that number their figures (003 does not)
LABEL = re.compile(r"Fig\. \d+|Figs\. \d+(-\d+|(, \d+)+)")


def test_rows_come_report_by_report_in_the_registry_s_order():
    order = [f.report for f in figures.FIGURES]
    assert [r for i, r in enumerate(order) if i == 0 or r != order[i - 1]] == [r.id for r in REPORTS]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_every_step_a_figure_names_is_a_step_of_its_report(report):
    for figure in figures.of(report.id):
        assert set(figure.steps) <= set(report.steps), figure.name
        assert all(STEPS[s] is report for s in figure.steps)


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_names_are_unique_in_a_report_and_files_do_not_collide(report):
    names = [f.name for f in figures.of(report.id)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[\w-]+", n) for n in names)  # a file name, in any shell


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_labels_are_the_report_s_own_and_every_figure_has_a_caption(report):
    rows = figures.of(report.id)
    assert rows, f"report {report.id} has no figure"
    for figure in rows:
        assert figure.caption.strip() and "\n" not in figure.caption, figure.name
        assert figure.number == "" or LABEL.fullmatch(figure.number), figure.number
    labelled = [f for f in rows if f.number]
    assert bool(labelled) == (report.id in NUMBERED)
    assert all(not (f.number and f.called) for f in rows)  # a number, or what the report calls it


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_the_report_s_figures_come_in_its_order_then_the_kit_s_own(report):
    rows = figures.of(report.id)
    theirs = [f.the_reports for f in rows]
    assert theirs == sorted(theirs, reverse=True), [f.name for f in rows]  # the kit's own last
    numbers = [int(re.search(r"\d+", f.number).group()) for f in rows if f.number]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers
    # Every step the report plots on its own has its curves among the report's figures.
    plotted = [f.steps[0] for f in rows if f.draw is figures.common.curves]
    assert plotted and all(f.the_reports for f in rows if f.draw is figures.common.curves)
    assert len(set(plotted)) == len(plotted)


def test_one_signature_per_kind():
    for figure in figures.FIGURES:
        params = list(inspect.signature(figure.draw).parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert [p.name for p in positional[:2]] == (["run", "ctx"] if figure.steps
                                                     else ["runs", "ctx"]), figure.name
        assert all(p.default is not p.empty for p in params[2:]), figure.name


def test_options_are_unique_and_known_to_results_command_line():
    flags = [o.flag for o in figures.OPTIONS]
    assert len(set(flags)) == len(flags) and flags
    parsed = results.build_parser().parse_args([])
    assert all(getattr(parsed, o.key) == o.default for o in figures.OPTIONS)


def test_help_lists_every_option_the_table_declares(capsys):
    with pytest.raises(SystemExit) as e:
        results.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for option in figures.OPTIONS:
        assert f"{option.flag} {option.metavar}" in out
        assert option.help.split()[0] in out


def test_an_option_below_its_minimum_is_refused_before_anything_is_written(tmp_path, capsys):
    assert results.main(["--out", str(tmp_path), "--tsne-samples", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --tsne-samples 0 must be at least 1"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module, forbidden", [
    ("experiments", ("figures", "plotting", "results", "run_folder")),
    ("plotting", ("experiments", "figures", "results", "run_folder")),
])
def test_declarations_and_drawing_import_nothing_above_them(module, forbidden):
    code = f"import sys, {module}; print(sorted(m for m in {forbidden!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
