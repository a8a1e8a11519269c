"""One best epoch everywhere, and --resume that checks before it changes anything (issue 20).

Report 004's loop evaluates before training and within epochs; early stopping sees every one of
those evaluations, and the epoch it picks is the same on the console's `*`, in the final line,
summary.json, best.pt and the results table. --resume refuses a run it cannot finish (best.pt
missing or damaged) before training, and says in one line when there is nothing left to train,
changing no file.
"""
import os
import re
import shutil

import pytest
import torch

import compare
import main
import results
import run_folder
from config import Config, Reported
from experiments import REPORTS, STEPS
from errors import UserError
from run_folder import reader, writer
from helpers import ROOT, error_line, files, table_rows
from summary import compare_line, summarize

TINY = os.path.join(ROOT, "tests", "tiny_step.py")
SMALL = ["--dataset", "synthetic", "--subset", "64", "--device", "cpu"]


# ---------------------------------------------------------------------------------------------
# Report 004: one best epoch, also when it falls within an epoch
# ---------------------------------------------------------------------------------------------

def test_the_best_evaluation_within_an_epoch_is_the_best_epoch_everywhere(tmp_path, capsys):
    out = tmp_path / "runs"
    # Evaluations at 0, 0.25, 0.5, 0.75 and 1; with this rate the best is the one at 0.5 (CPU).
    assert main.main(["004-LeNet", "--dataset", "synthetic", "--subset", "200", "--epochs", "1",
                      "--batch-size", "16", "--lr", "0.2", "--device", "cpu", "--set",
                      "eval_every=0.25", "--out", str(out)]) == 0
    console = [l for l in capsys.readouterr().out.splitlines() if not l.startswith("pages: ")]
    run = reader.read_run(str(out / "004-LeNet"))
    best = torch.load(out / "004-LeNet" / run_folder.BEST, weights_only=True)["epoch"]
    assert best == 0.5  # within the epoch: the case the issue found split three ways
    starred = [float(re.search(r"epoch +([\d.]+)", line).group(1)) for line in console
               if "%*" in line]
    assert starred[-1] == best  # the last `*` is the best
    assert run.end["best_epoch"] == run.best_epoch == run.summary["best_epoch"] == best
    assert f"best epoch {best:g}," in console[-2]  # the last line is the verdict's sentence
    # best.pt holds that evaluation's weights: the test set seen with them at the end is its row's.
    row = next(r for r in run.history if r["epoch"] == best)
    assert run.end["best_test_accuracy"] == pytest.approx(row["test_accuracy"], abs=1e-9)
    assert results.main(["--out", str(out), "--report", "004"]) == 0
    columns = next(r for r in REPORTS if r.id == "004").columns
    cells = table_rows((out / "results" / "004.md").read_text())["004-LeNet"]
    assert cells[4 + 3 * columns.index("best_epoch")] == f"{best:g}"


def test_the_evaluation_before_training_can_be_the_best(tmp_path, capsys):
    """The issue's case: the starting weights validate best (here: a rate too small to change them)."""
    out = tmp_path / "runs"
    assert main.main(["004-LeNet", "--dataset", "synthetic", "--subset", "64", "--epochs", "1",
                      "--lr", "1e-12", "--device", "cpu", "--out", str(out)]) == 0
    console = [l for l in capsys.readouterr().out.splitlines() if not l.startswith("pages: ")]
    run = reader.read_run(str(out / "004-LeNet"))
    assert [line.split()[2] for line in console if "%*" in line] == ["0"]
    assert torch.load(out / "004-LeNet" / run_folder.BEST, weights_only=True)["epoch"] == 0
    assert run.end["best_epoch"] == run.summary["best_epoch"] == 0 and "best epoch 0," in console[-2]


def test_a_summary_without_its_end_picks_the_best_evaluation():
    history = [{"epoch": 0, "val_loss": 2.0, "val_accuracy": 10.0, "test_accuracy": 9.0},
               {"epoch": 0.5, "val_loss": 0.5, "val_accuracy": 40.0, "test_accuracy": 38.0},
               {"epoch": 1, "train_loss": 1.0, "train_accuracy": 50.0, "val_loss": 0.7,
                "val_accuracy": 30.0, "test_loss": 0.8, "test_accuracy": 31.0, "seconds": 60.0}]
    assert summarize(history)["best_epoch"] == 0.5
    assert summarize(history, {"best_epoch": 0.5})["best_epoch"] == 0.5
    # A run that ended says which weights it kept; nothing reads the epoch otherwise.
    assert summarize(history, {"best_epoch": 0})["best_epoch"] == 0


def test_a_step_whose_report_gives_no_figure_still_says_what_differs():
    """004-ResNet18's report gives figures only: the line still names the setting's differences."""
    summary = {"best_val_accuracy": 40.0, "minutes": 0.1, "epochs": 1}
    run = compare.outcome(Config(), summary, ["dataset synthetic", "pretrained False"])
    line = compare_line(compare.compare("004-ResNet18", [run], Reported(), ("best_val_accuracy",)),
                        summary, ("best_val_accuracy",), STEPS["004-ResNet18"])
    assert line.endswith("(not the report's setting: dataset synthetic, pretrained False)")
    mine = compare.compare("mine", [run], None, ("best_val_accuracy",))
    assert "not the report's" not in compare_line(mine, summary, ("best_val_accuracy",), None)


# ---------------------------------------------------------------------------------------------
# --resume: checked before training, nothing changed when there is nothing to do
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Two finished runs of tiny_step: one of 1 epoch, one that stopped early at epoch 2."""
    tmp = tmp_path_factory.mktemp("resume")
    assert main.main([TINY, *SMALL, "--out", str(tmp / "one")]) == 0
    # A rate too small to change the validation figures: no improvement after epoch 1.
    assert main.main([TINY, *SMALL, "--epochs", "4", "--lr", "1e-12", "--set", "patience=1",
                      "--out", str(tmp / "stopped")]) == 0
    assert reader.read_run(str(tmp / "stopped" / "tiny_step")).end["stopped_early"]
    return tmp


def copy_of(finished, name, tmp_path):
    shutil.copytree(finished / name, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("damage, says", [
    ("missing", "there is no"), ("empty", "is empty"), ("truncated", "is damaged"),
])
def test_resume_refuses_a_run_whose_best_pt_it_cannot_read_before_training(
        damage, says, finished, tmp_path, capsys):
    out = copy_of(finished, "one", tmp_path)
    best = out / "tiny_step" / run_folder.BEST
    whole = best.read_bytes()
    if damage == "missing":
        os.remove(best)
    else:
        best.write_bytes(b"" if damage == "empty" else whole[:len(whole) // 2])
    before = files(out)
    assert main.main([TINY, *SMALL, "--epochs", "2", "--resume", "--out", str(out)]) == 2
    line = error_line(capsys.readouterr().err)
    assert says in line and str(best) in line and "run without --resume" in line
    assert files(out) == before  # summary.json kept, nothing trained


@pytest.mark.parametrize("name, args, says", [
    ("one", ["--epochs", "1", "--lr", "0.5"],
     "tiny_step: --resume: already has 1 epoch (--epochs 1); nothing was changed: give a larger "
     "--epochs to train on"),
    ("stopped", ["--epochs", "6", "--set", "patience=1", "--lr", "1e-12"],
     "tiny_step: --resume: already stopped early at epoch 2 (its best was epoch 1); nothing was "
     "changed: run without --resume to train it again (the old run is moved aside)"),
])
def test_resume_with_nothing_left_says_so_and_changes_nothing(name, args, says, finished, tmp_path,
                                                              capsys):
    out = copy_of(finished, name, tmp_path)
    before = files(out)
    assert main.main([TINY, *SMALL, *args, "--resume", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.strip().splitlines() == [says]
    assert files(out) == before  # config.json not rewritten with settings that never applied


@pytest.mark.parametrize("args, differs", [
    (["--subset", "128"], "subset 64, but this command asks for subset 128"),
    (["--seed", "1"], "seed 0, but this command asks for seed 1"),  # synthetic data: its seed
])
def test_resume_does_not_count_a_finished_run_of_other_data(args, differs, finished, tmp_path,
                                                            capsys):
    out = copy_of(finished, "one", tmp_path)
    before = files(out)
    assert main.main([TINY, *SMALL, *args, "--resume", "--out", str(out)]) == 2  # the last --subset
    assert error_line(capsys.readouterr().err) == (
        f"error: --resume: {out / 'tiny_step'} is a finished run of {differs}; give its options to "
        f"count it, or run without --resume to train it again (the old run is moved aside)")
    assert files(out) == before


def test_a_resume_counts_the_room_its_own_files_take(finished, tmp_path, monkeypatch):
    """A disk left with what a run was admitted with, less what the run wrote (its checkpoint and
    best.pt): its --resume is admitted too."""
    out = copy_of(finished, "one", tmp_path)
    run = reader.read_run(str(out / "tiny_step"))
    model, usage = run.experiment().model(run.config), shutil.disk_usage(tmp_path)

    def admitted(free):
        monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=free))
        try:
            writer.check_free_space(str(tmp_path / "new"), model)
        except UserError:
            return False
        return True

    low, high = 0, 1 << 40  # the least free space a new run of it is admitted with
    while low < high:
        low, high = (low, (low + high) // 2) if admitted((low + high) // 2) else \
            ((low + high) // 2 + 1, high)
    written = sum((out / "tiny_step" / f).stat().st_size for f in ("checkpoint.pt", "best.pt"))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=low - written))
    assert main.main([TINY, *SMALL, "--epochs", "2", "--resume", "--out", str(out)]) == 0


def test_too_little_space_is_refused_before_the_earlier_run_is_moved(finished, tmp_path,
                                                                     monkeypatch, capsys):
    out = copy_of(finished, "one", tmp_path)
    before = files(out)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1 << 20))
    assert main.main([TINY, *SMALL, "--out", str(out)]) == 2
    assert "MB free on its disk" in error_line(capsys.readouterr().err)
    assert files(out) == before


def test_a_rule_that_stopped_takes_no_more_values():
    """A stop decided within an epoch: the epoch is finished for its checkpoint, the best stays."""
    from early_stopping import EarlyStopping
    s = EarlyStopping("patience", patience=1)
    assert s.update(0.5, 50.0) and not s.update(1, 40.0) and s.stopped
    assert not s.update(1.5, 90.0) and s.best_epoch == 0.5 and s.values == [50.0, 40.0]


def test_resume_refuses_fewer_epochs_than_a_started_run_has(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main.main([TINY, *SMALL, "--epochs", "2", "--out", str(out)]) == 0
    os.remove(out / "tiny_step" / "summary.json")  # as if stopped after its last epoch: started
    before = files(out)
    capsys.readouterr()
    assert main.main([TINY, *SMALL, "--epochs", "1", "--resume", "--out", str(out)]) == 2
    assert error_line(capsys.readouterr().err) == (
        f"error: --resume: {out / 'tiny_step' / run_folder.CHECKPOINT} has 2 epochs trained, more "
        f"than --epochs 1; give --epochs 2 to finish it as it is, or more to train on")
    assert files(out) == before  # nothing trained, config.json not rewritten
