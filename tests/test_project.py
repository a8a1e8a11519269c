"""python -m benchmarks --project: the epochs and images a projection multiplies out, the --jobs pool,
that a step's timing runs; and benchmarks.capture_check's comparison of two runs."""
import argparse

import pytest
import torch

from benchmarks import capture_check, project
from experiments import load_experiment, resolve_path


@pytest.mark.parametrize("step, epochs, why", [
    ("003-final", 33, "best 28 + patience 5"),  # early stopping: the report's best epoch + patience
    ("002-ES-acc", 40, "best 30 + patience 10"),  # capped at the step's 40
    ("001-A", 20, "all"),  # no early stopping: every epoch
    ("004-Model1", 10, "all"),
])
def test_epochs_are_the_reports_best_plus_patience_where_it_stops_early(step, epochs, why):
    assert project.epochs_of(load_experiment(resolve_path(step))) == (epochs, why)


@pytest.mark.parametrize("step, trained, evaluated, end, start", [
    ("003-final", 40000, 10000 + 10000, 10000 + 10000, 0),  # batch5: 10,000 validation images
    ("002-CNN5", 49000, 1000 + 1000, 10000 + 1000, 0),  # the first 1,000 test images per epoch
    ("001-A", 49000, 1000 + 10000, 10000 + 10000, 0),
    ("CNN2", 50000, 10000, 10000, 0),  # no validation split
    # Twice an epoch, the training images too, and once before training (eval_at_start).
    ("004-LeNet", 45000, 2 * (5000 + 10000 + 45000), 10000 + 10000, 5000 + 10000 + 45000),
])
def test_images_per_epoch_follow_the_split_the_test_limit_and_the_evaluations(step, trained,
                                                                              evaluated, end, start):
    cfg = load_experiment(resolve_path(step)).config
    assert project.images_of(cfg) == {"trained": trained, "evaluated": evaluated, "end": end,
                                      "start": start}


def test_the_jobs_pool_starts_runs_in_order_as_slots_free_up():
    assert project.makespan([3, 1, 1, 1], 2) == 3
    assert project.makespan([1, 1, 3], 2) == 4  # the third waits for a slot, then runs 3
    assert project.makespan([2, 2], 8) == 2
    assert project.makespan([1, 2, 3], 1) == 6


def test_a_step_is_timed_and_projected_on_the_cpu():
    args = argparse.Namespace(batches=1, seconds=0.01, no_report_loop=False)
    row = project.measure_step("004-Model2", torch.device("cpu"), args)
    assert row.graph is None and not row.captured  # no graph on the CPU
    assert row.report > 0 and row.eager > 0 and row.evaluation > 0
    per_epoch = 704 * row.eager + 120000 * row.evaluation  # 45,000 / 64 batches, two evaluations
    assert row.seconds == pytest.approx(10 * per_epoch + (60000 + 20000) * row.evaluation)
    line = project.step_line(row)
    assert line.startswith("004-Model2") and f"{row.seconds / 60:.1f}" in line


@pytest.mark.parametrize("argv, says", [
    (["--project", "005"], "--project 005: give one of 000, 001, 002, 003, 004 or all"),
    (["--project", "001", "--jobs", "x"], "--jobs x: give whole numbers such as 4,8"),
    (["--project", "001", "--batches", "0"], "--batches must be at least 1 and --seconds above 0"),
])
def test_bad_options_are_refused_in_one_line(argv, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        project.parse_args(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {says} (see python -m benchmarks --project --help)"


def rows(*losses):
    return [{"epoch": str(i + 1), "train_loss": str(v), "seconds": str(9 * i)} for i, v in
            enumerate(losses)]


def test_capture_check_agrees_within_the_tolerance_and_ignores_seconds():
    assert capture_check.compare(rows(1.0, 0.5), rows(1.0005, 0.5), 1e-3, 0)[0]
    agree, lines = capture_check.compare(rows(1.0, 0.5), rows(1.0, 0.51), 1e-3, 1e-4)
    assert not agree and lines[1].startswith("train_loss") and lines[1].endswith("OUTSIDE")
    assert not capture_check.compare(rows(1.0), rows(1.0, 0.5), 1e-3, 0)[0]
