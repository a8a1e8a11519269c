"""python results.py --tensorboard: every run's metrics.csv as TensorBoard event files.

Read back with TensorBoard's own reader: each scalar at its epoch equals metrics.csv's value, a
resumed run is one continuous curve, a seed's run has its own folder, evaluations within an epoch
get steps of their own, writing again replaces rather than doubles; without the package, one line.
"""
import builtins
import os

import pytest

import main
import results
from helpers import error_line
from run_folder.reader import read_history

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package is not installed (pip install tensorboard; CI has it)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny_step.py")
SMALL = ["--dataset", "synthetic", "--subset", "64", "--device", "cpu"]


def scalars(logdir):
    """{tag: [(step, value), ...]} of every event file in logdir (not its subfolders)."""
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def test_a_resumed_run_and_a_seed_are_written_as_continuous_curves(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main.main([TINY, *SMALL, "--epochs", "1", "--out", str(out)]) == 0
    assert main.main([TINY, *SMALL, "--epochs", "3", "--set", "patience=5", "--resume",
                      "--out", str(out)]) == 0
    assert main.main([TINY, *SMALL, "--epochs", "2", "--seeds", "7", "--out", str(out)]) == 0
    capsys.readouterr()
    assert results.main(["--out", str(out), "--tensorboard"]) == 0
    said = capsys.readouterr().out
    for run_dir, epochs in ((out / "tiny_step", 3), (out / "tiny_step" / "seed-7", 2)):
        logdir = out / "tensorboard" / run_dir.relative_to(out)
        assert f"wrote {logdir}" in said
        got = scalars(logdir)
        rows = read_history(run_dir / "metrics.csv")  # as floats, independent of the writer
        assert len(rows) == epochs
        for column, tag in (("train_loss", "loss/train"), ("val_accuracy", "accuracy/val"),
                            ("test_loss", "loss/test"), ("seconds", "seconds/epoch")):
            assert [s for s, _ in got[tag]] == list(range(1, epochs + 1))  # one curve, no gap
            assert [v for _, v in got[tag]] == pytest.approx([r[column] for r in rows], rel=1e-6)

    # Written again: the same curves, not two of each.
    before = scalars(out / "tensorboard" / "tiny_step")
    assert results.main(["--out", str(out), "--tensorboard"]) == 0
    assert scalars(out / "tensorboard" / "tiny_step") == before
    assert len(os.listdir(out / "tensorboard" / "tiny_step")) == 2  # one event file, seed-7/


def test_evaluations_within_an_epoch_get_steps_of_their_own(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main.main([TINY, *SMALL, "--epochs", "2", "--set", "eval_every=0.5",
                      "--set", "eval_at_start=true", "--set", "patience=9", "--out", str(out)]) == 0
    assert results.main(["--out", str(out), "--tensorboard"]) == 0
    rows = read_history(out / "tiny_step" / "metrics.csv")
    assert [r["epoch"] for r in rows] == [0, 0.5, 1, 1.5, 2]
    got = scalars(out / "tensorboard" / "tiny_step")
    assert got["accuracy/val"] == [(round(2 * r["epoch"]), pytest.approx(r["val_accuracy"]))
                                   for r in rows]  # in half epochs: 0, 1, 2, 3, 4
    assert [s for s, _ in got["loss/train"]] == [2, 4]  # the training loss is an epoch's


def test_without_tensorboard_one_line_and_nothing_written(tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs"
    assert main.main([TINY, *SMALL, "--out", str(out)]) == 0
    before = sorted(p for p in os.listdir(out))
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith(("tensorboard", "torch.utils.tensorboard")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    capsys.readouterr()
    assert results.main(["--out", str(out), "--tensorboard"]) == 2
    assert "--tensorboard needs the tensorboard package" in error_line(capsys.readouterr().err)
    assert sorted(os.listdir(out)) == before  # no figures, no pages, no tensorboard/
