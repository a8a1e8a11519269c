"""The five-report machinery of the loop: optimizers, lr decay, validation splits, early stopping,
best.pt and summary.json, resume with validation, the errors of --set, and CIFAR-10's statistics."""
import csv
import dataclasses
import json
import os
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from torch import nn

import cifar
import data
import main
import optimizers
import run_folder
import train
from config import Config
from early_stopping import EarlyStopping
from errors import UserError
from experiments import load_experiment, resolve_path
from experiments.r001 import common
from models import SimpleCNN


def setup(tmp_path, step="001-A", **changes):
    """A step on synthetic data with a narrow CNN that keeps dropout: the loop is under test."""
    exp = load_experiment(resolve_path(step))
    exp = dataclasses.replace(exp, model=lambda cfg: SimpleCNN(
        widths=(8, 8, 8, 16), fc_units=64, dropout=0.5, num_classes=cfg.num_classes))
    cfg = dataclasses.replace(exp.config, dataset="synthetic", num_classes=10, subset=200,
                              epochs=1, device="cpu", out=str(tmp_path / "runs"), lr=0.01)
    return exp, dataclasses.replace(cfg, **changes)


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return [{k: float(v) for k, v in row.items() if v != "" and k != "seconds"}
                for row in csv.DictReader(f)]


def read_summary(run_dir):
    with open(os.path.join(run_dir, run_folder.SUMMARY)) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Optimizers and the learning rate's decay
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kind", [("adam", torch.optim.Adam), ("sgd", torch.optim.SGD),
                                        ("adagrad", torch.optim.Adagrad),
                                        ("rmsprop", torch.optim.RMSprop)])
def test_each_optimizer_gets_the_config_and_only_trainable_parameters(name, kind):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].requires_grad_(False)  # a frozen layer, as a frozen backbone
    cfg = Config(optimizer=name, lr=0.03, momentum=0.7, weight_decay=0.002)
    optimizer = optimizers.make_optimizer(model, cfg, torch.device("cpu"))
    assert type(optimizer) is kind
    (group,) = optimizer.param_groups
    assert group["lr"] == 0.03 and group["weight_decay"] == 0.002
    if name in ("sgd", "rmsprop"):
        assert group["momentum"] == 0.7
    assert [id(p) for p in group["params"]] == [id(p) for p in model[2].parameters()]


def test_the_lr_of_epoch_e_is_lr_times_decay_to_the_e_minus_1(tmp_path, monkeypatch):
    exp, cfg = setup(tmp_path, subset=100, epochs=3, lr=0.04, lr_decay=0.5)
    seen = []
    one_epoch = train.train_one_epoch

    def spy(model, loader, optimizer, device, desc, **kwargs):
        seen.append([g["lr"] for g in optimizer.param_groups])
        return one_epoch(model, loader, optimizer, device, desc, **kwargs)

    monkeypatch.setattr(train, "train_one_epoch", spy)
    train.run(train.prepare(exp, cfg))
    assert seen == [[0.04], [0.02], [0.01]]


# ---------------------------------------------------------------------------------------------
# Validation splits
# ---------------------------------------------------------------------------------------------

def test_no_split_trains_on_everything():
    train_idx, val_idx = data.split_indices(500, "none", 1000, 0)
    assert train_idx.tolist() == list(range(500)) and len(val_idx) == 0


def test_random_split_is_seeded_disjoint_and_covers_all():
    train_idx, val_idx = data.split_indices(50000, "random", 1000, 3)
    assert len(val_idx) == 1000 and len(train_idx) == 49000
    assert sorted(train_idx.tolist() + val_idx.tolist()) == list(range(50000))
    assert torch.equal(val_idx, data.split_indices(50000, "random", 1000, 3)[1])
    assert not torch.equal(val_idx, data.split_indices(50000, "random", 1000, 4)[1])
    assert val_idx.tolist() != list(range(49000, 50000))  # not the last 1,000


def test_last_split_holds_out_the_last_images():
    train_idx, val_idx = data.split_indices(50000, "last", 2000, 0)
    assert val_idx.tolist() == list(range(48000, 50000))
    assert train_idx.tolist() == list(range(48000))


def test_batch5_is_the_last_10000_and_a_subset_keeps_its_share():
    train_idx, val_idx = data.split_indices(50000, "batch5", 0, 0)
    assert val_idx.tolist() == list(range(40000, 50000)) and len(train_idx) == 40000
    train_idx, val_idx = data.split_indices(500, "batch5", 0, 0)
    assert val_idx.tolist() == list(range(400, 500)) and train_idx.tolist() == list(range(400))


def test_a_split_as_large_as_the_training_set_is_refused():
    with pytest.raises(UserError, match="leaves nothing to train on"):
        data.split_indices(10, "random", 50000, 0)
    with pytest.raises(UserError, match="leaves nothing to train on"):
        data.split_indices(10, "last", 49000, 0)  # 49,000 of 50,000 is 10 of 10
    assert len(data.split_indices(10, "last", 45000, 0)[1]) == 9


# ---------------------------------------------------------------------------------------------
# Early stopping on hand-written sequences
# ---------------------------------------------------------------------------------------------

def feed(rule, values, **kw):
    """Each value in turn until the rule stops; the epochs that were the best, and the rule."""
    stopper = EarlyStopping(rule, **kw)
    best = []
    for epoch, value in enumerate(values, 1):
        if stopper.update(epoch, value):
            best.append(epoch)
        if stopper.stopped:
            break
    return best, stopper


def test_off_never_stops_and_tracks_the_best():
    best, s = feed("off", [50, 60, 55, 60, 58, 40, 30, 20, 10, 5], patience=2)
    assert not s.stopped and len(s.values) == 10
    assert best == [1, 2] and s.best == 60 and s.best_epoch == 2  # equal is no improvement


def test_patience_stops_at_best_plus_patience():
    best, s = feed("patience", [50, 60, 55, 59, 58, 70], patience=3)
    assert s.stopped and len(s.values) == 5 == s.best_epoch + 3 and best == [1, 2]
    best, s = feed("patience", [2.0, 1.5, 1.6, 1.4, 1.41, 1.42], monitor="val_loss", patience=2)
    assert s.stopped and s.best_epoch == 4 and len(s.values) == 6 and best == [1, 2, 4]
    _, s = feed("patience", [50, 50.5, 50.8], patience=2, min_delta=1.0)
    assert s.stopped and s.best_epoch == 1  # gains under min_delta do not count


def test_baseline_first_value_is_only_a_baseline():
    s = EarlyStopping("baseline", patience=3, min_delta=1.0)
    assert not s.update(1, 50) and s.counter == 1 and s.best_epoch == 0 and s.best == 50
    assert not s.update(2, 50.5) and s.counter == 2 and s.best_epoch == 0  # under min_delta
    assert s.update(3, 51) and s.counter == 0 and s.best_epoch == 3  # exactly min_delta counts
    assert not s.update(4, 51) and not s.update(5, 40) and not s.stopped
    assert not s.update(6, 51.9) and s.stopped and s.counter == 3 and s.best_epoch == 3
    _, s = feed("baseline", [50, 49, 48], patience=3)
    assert s.stopped and len(s.values) == 3 and s.best_epoch == 0  # untrained weights kept


def test_window_stops_when_the_last_values_never_improve():
    best, s = feed("window", [1.0, 0.8, 0.9, 0.85, 0.86, 0.86, 0.9, 0.7],
                   monitor="val_loss", patience=3)
    assert s.stopped and len(s.values) == 6 and s.best_epoch == 2 and best == [1, 2]
    _, s = feed("window", [50, 60, 55, 57, 56, 56, 54, 70], patience=3)
    assert s.stopped and len(s.values) == 6  # 57, 56, 56: non-increasing accuracy
    _, s = feed("window", [50, 40, 45, 30, 35], patience=3)
    assert not s.stopped and s.best_epoch == 1  # never two falls in a row


@pytest.mark.parametrize("rule", ["off", "patience", "baseline", "window"])
def test_early_stopping_state_round_trips(rule):
    values = [50, 52, 51, 51.5, 49, 53, 52, 52, 51]
    whole = EarlyStopping(rule, patience=3, min_delta=0.5)
    part = EarlyStopping(rule, patience=3, min_delta=0.5)
    for epoch, value in enumerate(values, 1):
        whole.update(epoch, value)
        if epoch <= 4:
            part.update(epoch, value)
            if epoch == 4:
                part = EarlyStopping.from_state(json.loads(json.dumps(part.state_dict())))
        else:
            part.update(epoch, value)
    assert part == whole


# ---------------------------------------------------------------------------------------------
# best.pt and summary.json
# ---------------------------------------------------------------------------------------------

def test_best_pt_holds_the_best_validation_epoch(tmp_path):
    exp, cfg = setup(tmp_path, epochs=4, keep="best", lr=0.05)
    result = train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / cfg.step
    assert not [n for n in os.listdir(run_dir) if n.endswith(".tmp")]
    history = read_metrics(run_dir)
    accuracies = [r["val_accuracy"] for r in history]
    best_epoch = accuracies.index(max(accuracies)) + 1  # the first of equals
    best = torch.load(run_dir / run_folder.BEST, weights_only=True)
    summary = read_summary(run_dir)
    assert best["epoch"] == summary["best_epoch"] == result["best_epoch"] == best_epoch
    # The test set seen with best.pt's weights at the end is the test set of that epoch.
    at_best = history[best_epoch - 1]
    assert summary["best_test_accuracy"] == pytest.approx(at_best["test_accuracy"], abs=1e-9)
    assert summary["best_test_loss"] == pytest.approx(at_best["test_loss"], rel=1e-5)
    assert result["test_accuracy"] == summary["best_test_accuracy"]  # keep="best"
    if best_epoch != len(history):
        last = torch.load(run_dir / run_folder.CHECKPOINT, weights_only=True)["model"]
        assert any(not torch.equal(best["model"][k], last[k]) for k in last)


def test_keep_last_reports_the_last_epoch_on_the_test_set(tmp_path):
    exp, cfg = setup(tmp_path, epochs=2)
    result = train.run(train.prepare(exp, cfg))
    assert result["test_accuracy"] == read_metrics(tmp_path / "runs" / cfg.step)[-1]["test_accuracy"]


def test_best_pt_starts_as_the_starting_weights(tmp_path, monkeypatch):
    # baseline with patience 1 stops after the first evaluation, which is no improvement.
    exp, cfg = setup(tmp_path, epochs=3, early_stopping="baseline", patience=1)
    start = {}
    one_epoch = train.train_one_epoch

    def spy(model, *args, **kwargs):
        start.setdefault("model", {k: v.clone() for k, v in model.state_dict().items()})
        return one_epoch(model, *args, **kwargs)

    monkeypatch.setattr(train, "train_one_epoch", spy)
    result = train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / cfg.step
    best = torch.load(run_dir / run_folder.BEST, weights_only=True)
    assert best["epoch"] == 0 == result["best_epoch"] and result["epochs"] == 1
    assert read_summary(run_dir)["stopped_early"] is True
    assert all(torch.equal(best["model"][k], v) for k, v in start["model"].items())


# ---------------------------------------------------------------------------------------------
# Resume with validation
# ---------------------------------------------------------------------------------------------

def test_resume_with_validation_and_early_stopping_equals_one_run(tmp_path):
    exp, cfg = setup(tmp_path, epochs=2, early_stopping="patience", patience=5, keep="best")
    train.run(train.prepare(exp, dataclasses.replace(cfg, out=str(tmp_path / "whole"))))
    train.run(train.prepare(exp, dataclasses.replace(cfg, epochs=1)))
    train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True)))
    whole, resumed = tmp_path / "whole" / cfg.step, tmp_path / "runs" / cfg.step
    assert read_metrics(whole) == read_metrics(resumed)
    assert len(read_metrics(whole)) == 2 and "val_accuracy" in read_metrics(whole)[0]
    assert read_summary(whole) == read_summary(resumed)
    a = torch.load(whole / run_folder.CHECKPOINT, weights_only=True)["early_stopping"]
    b = torch.load(resumed / run_folder.CHECKPOINT, weights_only=True)["early_stopping"]
    assert a == b


@pytest.fixture(scope="module")
def _one_epoch_on_100(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("loop")
    exp, cfg = setup(tmp, subset=100)
    train.run(train.prepare(exp, cfg))
    return os.path.join(cfg.out, cfg.step)


@pytest.mark.parametrize("change, word", [({"val_split": "last"}, "val_split"),
                                          ({"optimizer": "adam"}, "optimizer"),
                                          ({"val_size": 2000}, "val_size")])
def test_resume_under_another_split_or_optimizer_is_refused(_one_epoch_on_100, tmp_path, change, word):
    exp, cfg = setup(tmp_path, subset=100)
    shutil.copytree(_one_epoch_on_100, os.path.join(cfg.out, cfg.step))  # as train.run(cfg) leaves it
    with pytest.raises(UserError) as e:
        train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True, **change)))
    message = str(e.value)
    assert "\n" not in message and word in message and "--resume" in message
    others = {"val_split", "optimizer", "val_size"} - {word}
    assert not any(f"{k} " in message for k in others)


# ---------------------------------------------------------------------------------------------
# Errors: one line, exit 2, nothing trained
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["--optimizer", "foo"], "invalid choice: 'foo'"),
    (["--set", "optimizer=foo"], "optimizer 'foo' is not one of adam, sgd, adagrad, rmsprop"),
    (["--set", "learning_rate=0.1"], "no setting 'learning_rate'; the keys are dataset,"),
    (["--set", "val_split=middle"], "val_split 'middle' is not one of none, random, last, batch5"),
    (["--subset", "10", "--set", "val_size=49000"], "leaves nothing to train on"),
    (["--set", "val_split=none", "--set", "early_stopping=patience"],
     "early_stopping patience needs a validation split"),
    (["--set", "val_split=none", "--set", "keep=best"], "keep best needs a validation split"),
    (["--set", "patience=abc"], "patience takes a whole number, not 'abc'"),
    (["--set", "lr=nan"], "lr nan must be a finite number above 0"),
    (["--set", "momentum=-1"], "momentum -1.0 must be at least 0 and below 1"),
    (["--set", "patience=0"], "patience 0 must be at least 1"),
    (["--set", "lr"], "--set lr: expected KEY=VALUE"),
])
def test_bad_settings_are_one_line_and_train_nothing(args, expected, tmp_path, capsys):
    out = tmp_path / "runs"
    argv = ["001-A", "--dataset", "synthetic", "--subset", "50", "--out", str(out), *args]
    try:
        code = main.main(argv)
    except SystemExit as e:  # argparse's choices
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not out.exists() or not os.listdir(out)  # --out may be probed; no run folder


def test_unknown_set_key_lists_the_valid_keys(capsys):
    assert main.main(["001-A", "--set", "colour=red"]) == 2
    err = capsys.readouterr().err
    for key in ("optimizer", "val_split", "early_stopping", "patience", "lr_decay", "keep"):
        assert key in err
    assert "num_classes" not in err  # derived, not settable


def test_set_values_reach_the_config(tmp_path):
    settings = main.parse_settings(["lr_decay=0.9", "patience=3", "early-stopping=window",
                                    "subset=none", "pretrained=yes"])
    assert settings == {"lr_decay": 0.9, "patience": 3, "early_stopping": "window", "subset": None,
                        "pretrained": True}


# ---------------------------------------------------------------------------------------------
# CIFAR-10 on disk, or not
# ---------------------------------------------------------------------------------------------

def test_missing_cifar10_offline_names_the_archive_and_folder(monkeypatch, tmp_path, capsys):
    def urlopen(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    data.load_dataset.cache_clear()
    folder = tmp_path / "data"
    try:
        assert main.main(["001-A", "--data-dir", str(folder), "--out", str(tmp_path / "runs")]) == 2
    finally:
        data.load_dataset.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cifar-10-python.tar.gz" in err[0] and str(folder) in err[0]
    assert "--dataset synthetic" in err[0] and not (tmp_path / "runs" / "001-A").exists()


def test_channel_stats_is_numpys_mean_and_std_over_the_pixels():
    images = data.synthetic(300, 10, seed=5, num_classes=10).train_images
    images[0, 1] = 255  # extremes too
    images[1, 2] = 0
    mean, std = data.channel_stats(images)
    pixels = images.numpy().transpose(1, 0, 2, 3).reshape(3, -1) / 255
    np.testing.assert_allclose(mean, np.mean(pixels, axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(std, np.std(pixels, axis=1), rtol=0, atol=1e-12)
    # The order of the images does not change them.
    assert data.channel_stats(images.flip(0)) == (mean, std)


def test_channel_stats_of_cifar10_are_the_reports():
    if not os.path.isdir(os.path.join("data", cifar.SPECS["cifar10"].folder)):
        pytest.skip("CIFAR-10 is not in data/")
    images = data.load_cifar(cifar.SPECS["cifar10"], "data", download=False).train_images
    mean, std = data.channel_stats(images)
    np.testing.assert_allclose(mean, common.PUBLISHED_MEAN, rtol=0, atol=1e-12)
    np.testing.assert_allclose(std, common.PUBLISHED_STD, rtol=0, atol=1e-12)
    assert tuple(round(m, 4) for m in mean) == common.MEAN
    assert tuple(round(s, 3) for s in std) == common.STD
