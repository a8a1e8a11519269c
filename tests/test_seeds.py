"""Several seeds of a step (--seeds): their folders, the spread and the verdict against the report,
one seed shown as a plain run is, and --resume on a whole command."""
import contextlib
import io
import math
import os
import re
import textwrap
import time

import pytest
import torch

import launch
import main
import pages.markdown
import results
import run_folder
from run_folder import reader, writer
import summary
from helpers import read_metrics, table_rows

TINY = ["--dataset", "synthetic", "--subset", "128", "--batch-size", "64", "--device", "cpu"]


# ---- the spread, on hand-written values (the verdict is tests/test_compare.py's) ---------------

def test_spread_is_the_mean_the_sample_std_and_the_extremes():
    s = summary.spread([70.0, 72.0, 74.0])
    assert (s.mean, s.std, s.n, s.low, s.high) == (72.0, 2.0, 3, 70.0, 74.0)
    assert summary.spread([5.0]).std == 0.0


def test_mean_history_over_the_epochs_every_run_reached():
    a = [{"epoch": 1, "loss": 1.0, "acc": 10.0}, {"epoch": 2, "loss": 0.5, "acc": 30.0}]
    b = [{"epoch": 1, "loss": 3.0, "acc": 20.0}]  # stopped after one epoch
    mean, low, high = summary.mean_history([a, b])
    assert mean == [{"epoch": 1, "loss": 2.0, "acc": 15.0}]
    assert low == [{"epoch": 1, "loss": 1.0, "acc": 10.0}]
    assert high == [{"epoch": 1, "loss": 3.0, "acc": 20.0}]


# ---- --seeds end to end -----------------------------------------------------------------------

TINY_STEP = textwrap.dedent("""\
    \"\"\"A narrow CNN outside the reports, whose report states a final training loss of 1.0.\"\"\"
    from config import Reported
    from data import TO_NORMALIZED_TENSOR
    from models import SimpleCNN

    reported = Reported(train_loss=1.0)
    train_transform = test_transform = TO_NORMALIZED_TENSOR

    def model(cfg):
        return SimpleCNN(widths=(8, 8, 8, 16), fc_units=32, num_classes=cfg.num_classes)
""")


@pytest.fixture
def tiny(tmp_path):
    """An experiment file outside the reports' table, quick to train."""
    path = tmp_path / "Tiny.py"
    path.write_text(TINY_STEP)
    return str(path)


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """Tiny with --seeds 0 1 for 2 epochs, on a machine said to be busy: the runs, and what it printed."""
    path = tmp_path_factory.mktemp("seeds") / "Tiny.py"
    path.write_text(TINY_STEP)
    out, printed = path.parent / "runs", io.StringIO()
    with pytest.MonkeyPatch.context() as m, contextlib.redirect_stdout(printed):
        m.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))
        assert main.main([str(path), "--seeds", "0", "1", "--epochs", "2", *TINY, "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_seeds_have_their_own_folders_and_the_table_aggregates_them(two_seeds, monkeypatch):
    out, printed = two_seeds
    step = out / "Tiny"
    assert not (step / "metrics.csv").exists()  # no plain run: each seed in its own folder
    assert (step / run_folder.SEEDS_CURVES).is_file()
    losses = []
    for seed in (0, 1):
        config = reader.read_run(str(step / f"seed-{seed}")).config
        assert config.seed == seed
        losses.append(float(read_metrics(step / f"seed-{seed}")[-1]["train_loss"]))
    assert losses[0] != losses[1]  # the seed changed the run
    mean, std = (losses[0] + losses[1]) / 2, abs(losses[0] - losses[1]) / math.sqrt(2)
    row = table_rows(printed)["Tiny"]
    assert row[10] == f"{mean:.4f} ± {std:.4f} (n=2)"  # train loss, the report's own figure
    assert row[11] == "1.0" and row[12] == f"{mean - 1:+.2f} not comparable"  # a subset
    assert row[1] == "not comparable" and row[-1].endswith("seeds 0, 1")

    # results.py reads them back as one step outside the table: neither seed is a step of its own.
    monkeypatch.setattr(results.figures, "of", lambda report: ())  # the reports' (empty) figures
    regenerated = results.regenerate(str(out))
    assert regenerated["problems"] == [] and regenerated["runs"] == ["Tiny"]
    rows = table_rows((out / "results" / "other.md").read_text())
    assert list(rows) == ["Tiny"] and rows["Tiny"] == row


def test_several_runs_say_the_plan_each_run_k_of_n_and_the_time_left(two_seeds):
    lines = two_seeds[1].splitlines()
    assert lines[0].startswith("plan: 2 runs (Tiny seed 0, Tiny seed 1), one after the other on "
                               "cpu; ")
    assert lines[1].startswith("note: this machine is already busy (load 99.0 on ")
    assert "OMP_NUM_THREADS=1" in lines[1]
    assert lines[2] == "run 1 of 2: Tiny seed 0"  # nothing measured yet: no estimate
    second = [line for line in lines if line.startswith("run 2 of 2: Tiny seed 1 (this run: about ")]
    assert len(second) == 1 and second[0].endswith(" at the pace so far)")
    epochs = [line for line in lines if " epoch " in line]
    assert len(epochs) == 4
    # From the first epoch on: the step's time left, then the later runs' at this run's pace.
    assert re.search(r"s  ~\d+ (s|min) left, then ~\d+ (s|min) for the 1 run after it$", epochs[0])
    assert re.search(r"s  then ~\d+ (s|min) for the 1 run after it$", epochs[1])
    assert re.search(r"s  ~\d+ (s|min) left$", epochs[2])
    assert epochs[3].endswith("s")  # the last epoch of the last run: nothing left


def test_time_left_is_the_mean_epoch_times_the_epochs_to_come():
    rows = [{"epoch": 1, "seconds": 20.0}, {"epoch": 1.5}, {"epoch": 2, "seconds": 40.0}]
    assert summary.time_left(rows, 22, early_stopping=False) == "~10 min left"
    assert summary.time_left(rows, 3, early_stopping=True) == "at most 30 s left"
    assert summary.time_left(rows, 2, early_stopping=False) == ""
    later = summary.Later(runs=3, epochs=6.5, at_most=False)  # 6.5 epochs at 30 s each
    assert summary.time_left(rows, 3, False, later) == \
        "~30 s left, then ~3 min for the 3 runs after it"
    assert summary.time_left(rows, 2, False, later._replace(runs=1, at_most=True)) == \
        "then at most 3 min for the 1 run after it"
    assert summary.duration(100 * 3600) == "100.0 h"


def test_a_busy_machine_is_said_only_when_its_load_exceeds_its_cores(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 0.0, 0.0))
    assert launch.busy_line(cores=2) == ""
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 0.0, 0.0))
    assert launch.busy_line(cores=2).startswith("note: this machine is already busy (load 2.5 on 2 ")


def test_one_seed_reads_as_a_plain_run_does(tiny, tmp_path):
    rows = []
    for out, seeds in ((tmp_path / "plain", []), (tmp_path / "seeded", ["--seeds", "0"])):
        assert main.main([tiny, *seeds, "--epochs", "1", *TINY, "--out", str(out)]) == 0
        several = reader.read_step(str(out), "Tiny")
        assert len(several) == 1 and several[0].seeded == bool(seeds)
        columns = summary.DEFAULT_COLUMNS
        table = pages.markdown.results_table(
            pages.markdown.comparisons(["Tiny"], {"Tiny": several}, columns), columns)
        rows.append(table_rows(table)["Tiny"])
    assert (tmp_path / "seeded" / "Tiny" / "seed-0" / "summary.json").is_file()
    assert rows[0] == rows[1] and "±" not in " ".join(rows[0])


def test_a_plain_run_set_aside_leaves_the_seeds_where_they_are(tmp_path):
    step = tmp_path / "CNN2"
    for folder in (step, step / "seed-0", step / "seed-1-20250101-120000"):
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text("epoch\n1\n")
    (step / run_folder.SEEDS_CURVES).write_bytes(b"png")
    moved = writer.set_aside(str(step))
    assert run_folder.SET_ASIDE.fullmatch(os.path.basename(moved))
    assert sorted(os.listdir(moved)) == ["metrics.csv"]
    assert sorted(os.listdir(step)) == sorted([run_folder.SEEDS_CURVES, "seed-0", "seed-1-20250101-120000"])
    # A step's folders: the plain run, then each seed's; a set-aside seed folder is not one.
    assert reader.step_dirs(str(tmp_path), "CNN2") == [str(step), str(step / "seed-0")]


# ---- --resume on a whole command ---------------------------------------------------------------

def test_resume_takes_each_run_as_it_finds_it(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the second of three steps, then the same command with --resume: the first is not
    trained again, the second continues from its checkpoint, the third starts."""
    steps = []
    for name in ("First", "Second", "Third"):
        (tmp_path / f"{name}.py").write_text(TINY_STEP)
        steps.append(str(tmp_path / f"{name}.py"))
    out = tmp_path / "runs"
    command = [*steps, "--epochs", "2", *TINY, "--out", str(out)]
    real_step, calls = torch.optim.Adam.step, []

    def ctrl_c_in_the_second_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2 * 2 + 2 + 1:  # 2 batches an epoch: Second's first batch of epoch 2
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", ctrl_c_in_the_second_step)
    assert main.main(command) == 130
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    first, second, third = (out / s for s in ("First", "Second", "Third"))
    assert (second / run_folder.INTERRUPTED).exists() and not third.exists()
    assert [reader.run_state(str(d), 2) for d in (first, second, third)] == ["finished", "started", "new"]
    before = {f: os.stat(first / f).st_mtime_ns for f in os.listdir(first)}
    time.sleep(0.01)
    capsys.readouterr()

    assert main.main([*command, "--resume"]) == 0
    out_text = capsys.readouterr().out
    assert "First: --resume: already has 2 epochs (--epochs 2); nothing was changed" in out_text
    assert {f: os.stat(first / f).st_mtime_ns for f in os.listdir(first)} == before
    assert "Second: " in out_text and "resuming after epoch 1" in out_text
    assert not (second / run_folder.INTERRUPTED).exists() and len(read_metrics(second)) == 2
    assert len(read_metrics(third)) == 2
    assert [reader.run_state(str(d), 2) for d in (first, second, third)] == ["finished"] * 3
    assert not [d for d in os.listdir(out) if run_folder.SET_ASIDE.fullmatch(d)]  # nothing moved aside
    assert list(table_rows(out_text)) == ["First", "Second", "Third"]  # all three in the table
    # A larger --epochs continues a finished run, as --resume always did.
    assert reader.run_state(str(first), 3) == "started"


# ---- options that contradict each other ---------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--seeds", "0", "0"], "--seeds: seed 0 is given twice"),
    (["--seeds", "0", "1", "--seed", "2"], "--seeds and --seed both set the seed"),
    (["--gpus", "0"], "--gpus places the runs of --jobs N"),
    (["--jobs", "0"], "argument --jobs: '0' is not a whole number of runs from 1 to 64"),
    (["--jobs", "100000"], "argument --jobs: '100000' is not a whole number of runs from 1 to 64"),
    (["--seeds", "-1"], "argument --seeds: seed -1 must be at least 0"),
    (["--seed", "-1"], "argument --seed: seed -1 must be at least 0"),
    (["--jobs", "2", "--gpus", "0"], "--gpus 0: CUDA is not available here"),
    (["--jobs", "2", "--device", "cuda:1"], "--device cuda:1 with --jobs or Slurm"),
    (["--executor", "slurm", "--jobs", "2"], "--jobs with --executor slurm"),
    (["--slurm", "time=10"], "--slurm goes with --executor slurm"),
    (["--epochs", "1", "--set", "epochs=2"], "--epochs 1 and --set epochs=2 both set epochs"),
])
def test_contradictory_options_are_refused_in_one_line(args, message, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if "--device" in args:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    try:
        code = main.main(["001-A", *args, *TINY[:4], "--out", str(tmp_path)])
    except SystemExit as e:  # the parser's refusal of an option's value
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert os.listdir(tmp_path) == []  # refused before anything was written


def test_slurm_without_submitit_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "submitit", None)  # as if not installed
    monkeypatch.delitem(__import__("sys").modules, "launch.slurm", raising=False)
    # `from launch import slurm` takes the package's attribute when an earlier test imported it
    monkeypatch.delattr(__import__("launch"), "slurm", raising=False)
    assert main.main(["001-A", "--executor", "slurm", *TINY, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install submitit" in err[0], err
