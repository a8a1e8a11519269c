"""Report 003: its networks, its split by file, patience 5, the t-SNE snapshots and their figures."""
import dataclasses
import os
import sys

import pytest
import torch

import data
import figures
import results
import run_folder
from run_folder import reader
import train
from early_stopping import EarlyStopping
from experiments import STEPS, load_experiment, resolve_path
from expected import EXPECTED_PARAMETERS

R003 = [s for s, r in STEPS.items() if r.id == "003"]


@pytest.mark.parametrize("step", R003)
def test_parameter_count_and_a_2048_d_latent(step):
    exp = load_experiment(resolve_path(step))
    model = exp.model(dataclasses.replace(exp.config, num_classes=10))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == EXPECTED_PARAMETERS[step]
    cut = next(i for i, m in enumerate(model) if isinstance(m, torch.nn.Flatten)) + 1
    assert model[:cut].eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 2048)
    assert (exp.config.val_split, exp.config.early_stopping, exp.config.patience, exp.config.keep,
            exp.config.snapshots) == ("batch5", "patience", 5, "best", True)


def test_batch5_is_the_last_10000_of_50000_and_a_subset_keeps_the_share():
    train_idx, val_idx = data.split_indices(50000, "batch5", 0, seed=0)
    assert torch.equal(train_idx, torch.arange(40000))  # data_batch_1..4
    assert torch.equal(val_idx, torch.arange(40000, 50000))  # data_batch_5
    train_idx, val_idx = data.split_indices(2000, "batch5", 0, seed=0)
    assert torch.equal(val_idx, torch.arange(1600, 2000))  # a fifth, the last images


def test_patience_5_stops_at_best_plus_5_keeping_the_best():
    # Epoch 3 is the best; an equal value (epoch 5) is no improvement, as in the report's code.
    values = [50.0, 60.0, 70.0, 65.0, 70.0, 69.0, 68.0, 67.0, 99.0]
    stopper = EarlyStopping("patience", "val_accuracy", patience=5)
    for epoch, value in enumerate(values, 1):
        stopper.update(epoch, value)
        if stopper.stopped:
            break
    assert (epoch, stopper.best_epoch, stopper.best) == (8, 3, 70.0)


def test_snapshot_epochs_are_the_first_the_middle_and_the_best():
    assert run_folder.snapshot_epochs(28) == (1, 14, 28)
    assert run_folder.snapshot_epochs(3) == (1, 3)
    assert run_folder.snapshot_epochs(1) == (1,)


def _config(tmp_path, epochs, out, **changes):
    exp = load_experiment(resolve_path("003-final"))
    cfg = dataclasses.replace(exp.config, dataset="synthetic", num_classes=10, subset=60,
                              epochs=epochs, device="cpu", early_stopping="off",
                              out=str(tmp_path / out), **changes)
    return exp, cfg


EPOCHS = 6


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 6-epoch run of 003-final on 48 synthetic images: where the runs are, its folder, and the
    weights after each epoch {epoch: state_dict}, as training left them (not read from the run)."""
    tmp = tmp_path_factory.mktemp("r003")
    after, real = {}, train.train_one_epoch

    def keeping_the_weights(model, *args, **kwargs):
        result = real(model, *args, **kwargs)
        after[len(after) + 1] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return result

    with pytest.MonkeyPatch.context() as m:
        m.setattr(train, "train_one_epoch", keeping_the_weights)
        train.run(train.prepare(*_config(tmp, EPOCHS, "runs")))
    return tmp, tmp / "runs" / "003-final", after


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def test_snapshots_are_pruned_to_the_three_the_figure_uses_and_are_those_epochs(tiny):
    _, run_dir, after = tiny
    best = reader.read_run(str(run_dir)).end["best_epoch"]
    kept = run_folder.snapshot_epochs(best)
    assert sorted(os.listdir(run_dir / run_folder.SNAPSHOTS)) == sorted(f"epoch-{e}.pt" for e in kept)
    assert len(after) == EPOCHS
    for epoch in kept:  # each holds the weights training had after that epoch
        snap = _weights(run_dir / run_folder.SNAPSHOTS / f"epoch-{epoch}.pt")
        assert snap.keys() == after[epoch].keys()
        assert all(torch.equal(snap[k], after[epoch][k]) for k in snap), epoch


def test_tsne_is_drawn_with_its_library_and_points_in_the_title(tiny, monkeypatch):
    tmp, run_dir, _ = tiny
    titles = []
    monkeypatch.setattr("figures.tsne.plot_tsne", lambda panels, classes, title, path, **options:
                        titles.append((len(panels), title)) or open(path, "w").close())
    # The figure alone (results.regenerate draws it among report 003's: the test below).
    tsne_figure, = (f for f in figures.FIGURES if (f.report, f.name) == ("003", "tsne"))
    ctx = figures.Context(str(tmp / "runs"), options=figures.option_values({}))
    assert tsne_figure.draw(reader.read_run(str(run_dir)), ctx) == [str(run_dir / "tsne.png")]
    (n_panels, title), = titles
    best = reader.read_run(str(run_dir)).end["best_epoch"]
    assert n_panels == len(run_folder.snapshot_epochs(best)) + 1  # and the logits at the best epoch
    assert "48 training images" in title and ("openTSNE" in title or "scikit-learn" in title)
    assert "perplexity 15.7 (not 50: only 48 points)" in title and title.count("perplexity") == 1


def test_without_a_tsne_library_the_other_figures_are_drawn_and_one_line_says_what_to_install(
        tiny, monkeypatch):
    tmp, run_dir, _ = tiny
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)
    (run_dir / "tsne.png").unlink(missing_ok=True)
    out = results.regenerate(str(tmp / "runs"), only=["003"])
    problem, = out["problems"]
    assert "\n" not in problem and "pip install openTSNE" in problem and "scikit-learn" in problem
    assert not (run_dir / "tsne.png").exists()
    for name in ("loss_accuracy.png", "error.png"):
        assert str(run_dir / name) in out["written"]
    assert any(p.endswith("003-augmented_samples.png") for p in out["written"])
    assert any(p.endswith("003-optimizers.png") for p in out["written"])
