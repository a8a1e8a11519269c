"""The acceptance tier: the issues' acceptance command, every step of each report on the CPU (on
10 training images and 2 test images). The slowest tests of the suite; `pytest -m "not acceptance"`
leaves them out of an edit loop, CI runs them.

One class per report, made from the registry: pytest-xdist's --dist loadscope sends each class to a
worker of its own, so the five runs go side by side rather than back to back.
"""
import os

import pytest

import main
from experiments import REPORTS
from helpers import table_rows

pytestmark = pytest.mark.acceptance
RUN_FILES = {"checkpoint.pt", "config.json", "experiment.py", "loss_accuracy.png", "metrics.csv",
             "confusion.csv", "confusion.png"}


def every_step_runs_and_leaves_its_files(report, tmp_path, capsys):
    out_dir = tmp_path / "runs"
    code = main.main([report.id, "--dataset", "synthetic", "--subset", "10", "--epochs", "1",
                      "--no-pretrained", "--out", str(out_dir)])
    assert code == 0, capsys.readouterr().err
    for step in report.steps:
        assert RUN_FILES <= set(os.listdir(out_dir / step)), step
    rows = table_rows(capsys.readouterr().out)
    assert list(rows) == list(report.steps) and all(r[3] == "1" for r in rows.values())


def _report_class(report):
    def test_every_step_runs_and_leaves_its_files(self, tmp_path, capsys):
        every_step_runs_and_leaves_its_files(report, tmp_path, capsys)
    return type(f"TestReport{report.id}", (), {
        "__doc__": f"Every step of report {report.id}.",
        "test_every_step_runs_and_leaves_its_files": test_every_step_runs_and_leaves_its_files})


for _report in REPORTS:
    globals()[f"TestReport{_report.id}"] = _report_class(_report)
