"""The table of reports as a user meets it: --list, report ids and `all`, step names and files."""
import os

import pytest

import main
from errors import UserError
from experiments import REPORTS, STEPS, expand, load_experiment, resolve_path, step_name, step_path

EVERY_STEP = [s for r in REPORTS for s in r.steps]


def test_list_prints_every_report_with_its_steps_in_order(capsys):
    assert main.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for report in REPORTS:
        header = next(i for i, line in enumerate(lines) if line.startswith(f"{report.id}  "))
        assert report.title in lines[header] and f"{len(report.steps)} steps" in lines[header]
        rows = [line.split() for line in lines[header + 1:header + 1 + len(report.steps)]]
        assert rows == [[s, step_path(s)] for s in report.steps]
    assert len(lines) == len(REPORTS) + len(EVERY_STEP)


def test_a_report_id_runs_its_steps_in_order(capsys):
    assert main.main(["001", "--summary"]) == 0
    out = capsys.readouterr().out
    headers = [line.split()[1] for line in out.splitlines() if line.startswith("== ")]
    assert headers == list(next(r for r in REPORTS if r.id == "001").steps)


def test_all_expands_to_every_step_and_ids_keep_the_order_given():
    assert expand(["all"]) == EVERY_STEP == list(STEPS)
    assert expand(["001", "CNN2", "000"]) == [*REPORTS[1].steps, "CNN2", *REPORTS[0].steps]
    assert expand(["experiments/CNN2.py"]) == ["experiments/CNN2.py"]  # paths stay paths


def test_step_names_are_unique():
    assert len(set(EVERY_STEP)) == len(EVERY_STEP)


@pytest.mark.parametrize("step", EVERY_STEP)
def test_step_name_and_path_round_trip(step):
    path = step_path(step)
    assert os.path.isfile(path) and resolve_path(step) == path
    assert step_name(path) == step_name(os.path.abspath(path)) == step
    assert load_experiment(path).config.step == step


@pytest.mark.parametrize("typo, near", [("001-A-drop0.3", "001-A-drop0.2"), ("001-b", "001-B"),
                                        ("CNN4x", "CNN4c")])
def test_a_typo_suggests_close_step_names(typo, near):
    with pytest.raises(UserError) as e:
        load_experiment(resolve_path(typo))
    message = str(e.value)
    assert "did you mean" in message and near in message and "\n" not in message
