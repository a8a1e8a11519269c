"""The shared loop: it learns, it resumes exactly, it writes what a run promises, it stops on NaN."""
import dataclasses
import json
import time

import pytest
import torch
from torch import nn

import devices
import kit
import plotting
import run_folder
from run_folder import writer
import train
from errors import Interrupted, TrainingError, UserError
from helpers import config, read_metrics, small


def test_learns_the_synthetic_set_well_above_chance(tmp_path):
    exp, cfg = config("CNN2", tmp_path, subset=1000, batch_size=64, epochs=3, lr=1e-3)
    result = train.run(train.prepare(exp, cfg))
    rows = read_metrics(tmp_path / "runs" / "CNN2")
    # Measured on this kit's CPU (torch 2.14): test accuracy 15.5% (chance 1%: 2 of 200 images),
    # train loss 4.620, 4.554, 3.863. The bounds allow for other CPUs' float rounding: 6 points is
    # 12 of 200 images.
    assert 9.5 <= result["test_accuracy"] <= 21.5
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[0] == pytest.approx(4.620, abs=0.1) and losses[-1] == pytest.approx(3.863, abs=0.3)


def test_resume_gives_the_metrics_of_an_uninterrupted_run(tmp_path):
    # Dropout draws from torch's RNG, CNN5b's crops from the loader's: both must be restored.
    step = "CNN5b"
    exp, cfg = config(step, tmp_path, epochs=3, batch_size=32)
    exp = small(exp)
    train.run(train.prepare(exp, dataclasses.replace(cfg, out=str(tmp_path / "whole"))))
    train.run(train.prepare(exp, dataclasses.replace(cfg, epochs=1)))
    train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True)))
    whole = read_metrics(tmp_path / "whole" / step)
    resumed = read_metrics(tmp_path / "runs" / step)
    assert len(whole) == len(resumed) == 3
    for a, b in zip(whole, resumed):
        assert {k: v for k, v in a.items() if k != "seconds"} == \
               {k: v for k, v in b.items() if k != "seconds"}


def test_same_seed_same_metrics_other_seed_other_metrics(tmp_path):
    exp, cfg = config("CNN5a", tmp_path, batch_size=64)
    exp = small(exp)
    runs = [train.run(train.prepare(exp, dataclasses.replace(cfg, seed=s, out=str(tmp_path / str(i)))))
            for i, s in enumerate((0, 0, 1))]
    assert runs[0]["train_loss"] == runs[1]["train_loss"] != runs[2]["train_loss"]


def test_a_run_leaves_every_promised_file(tmp_path):
    exp, cfg = config("CNN5b", tmp_path, subset=64, epochs=2)
    train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / "CNN5b"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint.pt", "config.json", "confusion.csv", "confusion.png", "experiment.py",
        "loss_accuracy.png", "metrics.csv", "summary.json"]
    rows = read_metrics(run_dir)
    # No validation split, so no validation columns: report 000's metrics.csv as it always was.
    assert list(rows[0]) == [c for c in run_folder.COLUMNS if not c.startswith(("val_", "train_eval_"))]
    assert [r["epoch"] for r in rows] == ["1", "2"]
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["config"]["step"] == "CNN5b" and saved["config"]["epochs"] == 2
    assert saved["parameters"] == 17_791_076 and saved["reported"]["test_accuracy"] == 33
    assert {"torch", "torchvision", "python", "device"} <= set(saved["environment"])
    assert saved["environment"]["kit"] == kit.current()  # the commit that made the run
    assert (run_dir / "experiment.py").read_text() == exp.source
    png = (run_dir / "loss_accuracy.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2
    assert {"model", "optimizer", "rng", "config"} <= set(ckpt)
    assert not list(run_dir.glob("*.tmp"))


def test_final_line_compares_with_the_report(tmp_path, capsys):
    exp, cfg = config("CNN2", tmp_path)
    train.run(train.prepare(exp, cfg))
    line, verdict = capsys.readouterr().out.strip().splitlines()[-2:]
    assert line.startswith("CNN2: train loss") and "| report: train loss 2.146 (" in line
    assert "test acc 30% (" in line and "on a GTX 960M" in line
    assert verdict.startswith("CNN2: not comparable. On its headline figure, test acc: Not "
                              "comparable: the runs are not in the report's setting (dataset "
                              "synthetic")


def test_non_finite_loss_stops_with_epoch_and_batch(tmp_path):
    exp, cfg = config("CNN2", tmp_path, batch_size=64)

    class Diverges(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3 * 32 * 32, 100)
            self.calls = 0

        def forward(self, x):
            self.calls += self.training  # training batches only, not the evaluation
            out = self.layer(x.flatten(1))
            return out * float("nan") if self.calls == 3 else out

    exp = dataclasses.replace(exp, model=lambda cfg: Diverges())
    with pytest.raises(TrainingError, match=r"nan at epoch 1, batch 3"):
        train.run(train.prepare(exp, cfg))
    assert not (tmp_path / "runs" / "CNN2" / "checkpoint.pt").exists()


def _drawn_epochs(monkeypatch, seconds):
    """Record the epochs each curves figure shows; drawing it takes `seconds` more."""
    drawn = []
    draw = plotting.plot_loss_accuracy

    def slow_draw(history, *args, **kwargs):
        time.sleep(seconds)
        drawn.append([row["epoch"] for row in history])
        draw(history, *args, **kwargs)
    monkeypatch.setattr(plotting, "plot_loss_accuracy", slow_draw)
    return drawn


def test_the_curves_are_redrawn_now_and_then_and_always_with_the_last_epoch(tmp_path, monkeypatch):
    # A figure that takes 0.3 s is redrawn after 5.7 s of epochs at the soonest (5% of the time):
    # four fast epochs draw the first and the last.
    drawn = _drawn_epochs(monkeypatch, 0.3)
    exp, cfg = config("CNN2", tmp_path, subset=64, epochs=4)
    train.run(train.prepare(small(exp), cfg))
    assert drawn == [[1], [1, 2, 3, 4]]


def test_a_stopped_run_s_curves_show_every_epoch_saved(tmp_path, monkeypatch):
    drawn = _drawn_epochs(monkeypatch, 0.3)
    exp, cfg = config("CNN2", tmp_path, subset=64, epochs=5)
    epochs = 0
    one_epoch = train.train_one_epoch

    def ctrl_c_in_epoch_4(*args, **kwargs):
        nonlocal epochs
        epochs += 1
        if epochs == 4:
            raise KeyboardInterrupt
        return one_epoch(*args, **kwargs)
    monkeypatch.setattr(train, "train_one_epoch", ctrl_c_in_epoch_4)
    with pytest.raises(Interrupted, match="interrupted during epoch 4; the checkpoint of epoch 3"):
        train.run(train.prepare(small(exp), cfg))
    assert drawn == [[1], [1, 2, 3]]


def test_resume_without_a_checkpoint_says_so(tmp_path):
    exp, cfg = config("CNN2", tmp_path, resume=True)
    with pytest.raises(UserError, match="no checkpoint at .*CNN2.checkpoint.pt"):
        train.run(train.prepare(exp, cfg))


def test_resume_from_a_damaged_checkpoint_names_it(tmp_path):
    exp, cfg = config("CNN2", tmp_path, resume=True)
    path = tmp_path / "runs" / "CNN2" / "checkpoint.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"CNN2.checkpoint.pt is not a readable checkpoint"):
        train.run(train.prepare(exp, cfg))


def test_resume_with_another_architecture_is_refused(tmp_path):
    exp, cfg = config("CNN5b", tmp_path, subset=32)
    train.run(train.prepare(small(exp), cfg))
    with pytest.raises(UserError, match=r"holds another network than .*CNN5b.py's model "
                                        r"\('\(0\): Conv2d\(3, 8, .*' is now '\(0\): Conv2d\(3, 128, "):
        train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True, epochs=2)))


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """A failure while writing leaves the previous checkpoint whole."""
    path = str(tmp_path / "checkpoint.pt")
    writer.save_atomic(path, {"epoch": 1})

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        writer.save_atomic(path, {"epoch": 2})
    assert torch.load(path, weights_only=True) == {"epoch": 1}


def test_auto_device_on_this_machine_and_a_missing_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UserError, match="CUDA is not available"):
        devices.resolve_device("cuda")
