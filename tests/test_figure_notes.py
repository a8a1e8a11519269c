"""Every figure says what it shows: its runs' setting, its steps without a run, the loss scale the
report plotted, whole epochs and plain numbers on its axes, legends beside the data.

Read back from the matplotlib figures as they are saved (helpers.drawn_figures), on one tiny
synthetic run of report 002 and one of report 003, rebuilt once.
"""
import contextlib
import io
import os

import pytest

import main
import plotting
import results
from helpers import drawn_figures

RUNS = ("002-DA1", "003-bs16")
NOT_DRAWN = ("002-early-stopping", "002-dropout", "002-dropout-val", "002-vgg", "003-kernels",
             "003-batch_norm", "003-optimizers")
STALE = ("002-vgg", "003-batch_norm")  # files an earlier rebuild left, of figures no run draws now


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """The two runs (40 synthetic images, one epoch), then results.py on reports 002 and 003."""
    out = tmp_path_factory.mktemp("notes") / "runs"
    with drawn_figures() as training:
        for step in RUNS:
            assert main.main([step, "--dataset", "synthetic", "--subset", "40", "--epochs", "1",
                              "--device", "cpu", "--out", str(out)]) == 0
    os.makedirs(out / "results", exist_ok=True)  # main.py has written the pages there
    for name in STALE:
        (out / "results" / f"{name}.png").write_bytes(b"an earlier rebuild's figure")
    printed = io.StringIO()
    with drawn_figures() as seen, contextlib.redirect_stdout(printed):
        assert results.main(["--out", str(out), "--report", "002", "003"]) == 0
    return out, dict(training), dict(seen), printed.getvalue()


def figure(seen, out, name):
    """What was drawn into a run's file (STEP/NAME.png) or a report's (results/NAME.png)."""
    return seen[str(out / (name if "/" in name else f"results/{name}.png"))]


def test_every_figure_says_how_its_runs_differ_from_the_report_s_setting(rebuilt):
    out, _, seen, _ = rebuilt
    two = ["002-DA1/loss_accuracy.png", "003-bs16/loss_accuracy.png", "results/002-DA.png",
           "results/003-augmentation.png", "results/003-batch_sizes.png",
           "results/002-filters.png", "results/003-augmented_samples.png"]
    assert sorted(os.path.relpath(p, out) for p in seen) == sorted([
        "002-DA1/confusion.png", "003-bs16/confusion.png", "003-bs16/error.png",
        *two, *map(plotting.narrow_path, two)])  # their narrow variants (phones) too
    for path, drawn in seen.items():
        assert "not the report's setting: dataset synthetic, subset 40" in drawn["footnote"], path
    da1 = figure(seen, out, "002-DA1/loss_accuracy.png")["footnote"]
    assert "epochs 1 (report: 20)" in da1
    # A note every run shares is said once; one only some have names them.
    batch = figure(seen, out, "003-batch_sizes")["footnote"]
    assert batch.count("dataset synthetic") == 1 and "batch_size" not in batch


def test_the_curves_written_while_training_say_so_too(rebuilt):
    out, training, _, _ = rebuilt
    for step, scale in zip(RUNS, ("200", "64")):
        footnote = figure(training, out, f"{step}/loss_accuracy.png")["footnote"]
        assert "not the report's setting: dataset synthetic, subset 40" in footnote
        assert f"divided by {scale} (its batch size)" in footnote
        confusion = figure(training, out, f"{step}/confusion.png")["footnote"]
        assert "not the report's setting: dataset synthetic, subset 40" in confusion
        assert "divided by" not in confusion  # it plots no loss


def test_figures_of_losses_say_how_the_report_scaled_them_and_the_tables_too(rebuilt):
    out, _, seen, _ = rebuilt
    for name, report, scale in (("002-DA1/loss_accuracy.png", "002", 200),
                                ("003-bs16/loss_accuracy.png", "003", 64)):
        line = f"report {report}'s figures plot it divided by {scale} (its batch size)"
        assert f"loss: the mean cross-entropy per image; {line}" in figure(seen, out, name)["footnote"]
        assert line in (out / "results" / f"{report}.md").read_text()
    for name in ("002-DA", "003-batch_sizes", "003-bs16/error.png"):  # accuracy and error only
        assert "divided by" not in figure(seen, out, name)["footnote"]


def test_a_figure_shows_the_steps_with_a_run_and_names_the_others_in_one_line(rebuilt):
    out, _, seen, _ = rebuilt
    for name, missing in (("002-DA", "002-DA3"), ("002-filters", "002-CNN5, 002-CNN5-BN"),
                          ("003-augmentation", "003-noaug"), ("003-batch_sizes", "003-bs32, 003-final")):
        lines = figure(seen, out, name)["footnote"].splitlines()
        assert f"no run of {missing}: not shown" in lines, name
    legend = figure(seen, out, "003-batch_sizes")["text"]
    assert "003-bs16" in legend and "003-bs32" not in legend.replace("no run of 003-bs32", "")


def test_a_figure_with_no_run_is_not_written_and_an_earlier_file_of_it_is_removed(rebuilt):
    out, _, seen, printed = rebuilt
    for name in NOT_DRAWN:
        path = out / "results" / f"{name}.png"
        assert str(path) not in seen and not path.exists(), name
    for name in STALE:
        path = out / "results" / f"{name}.png"
        assert f"removed {path}: an earlier rebuild's, and no run now draws it" in printed
    table = (out / "results" / "002.md").read_text()
    assert ("- not drawn, no run of their steps: 002-early-stopping.png, 002-dropout.png, "
            "002-vgg.png, 002-vgg-no-DA.png, 002-dropout-val.png") in table
    assert "002-vgg.png](" not in table


def test_whole_epoch_ticks_plain_numbers_and_legends_beside_the_data(rebuilt):
    _, _, seen, _ = rebuilt
    epoch_axes = [(path, ax) for path, drawn in seen.items() for ax in drawn["axes"]
                  if ax["xlabel"] == "epoch"]
    assert len(epoch_axes) >= 8
    for path, ax in epoch_axes:  # one epoch: the tick 1, never 0.945 ... 1.050
        assert ax["xticks"] == [1.0], (path, ax["xticks"])
    for path, drawn in seen.items():
        assert not drawn["legend_over_data"], path
        assert all(ax["offsets"] == ["", ""] for ax in drawn["axes"]), path


def test_a_nearly_flat_loss_is_labelled_in_plain_numbers(tmp_path):
    history = [{"epoch": e, "train_loss": 2.30258 - e * 1e-5, "train_accuracy": 10.0,
                "val_loss": 2.30251 + e * 1e-5, "val_accuracy": 10.0, "test_loss": 2.3025,
                "test_accuracy": 10.0, "seconds": 1.0} for e in (1, 2, 3)]
    with drawn_figures() as seen:
        plotting.plot_loss_accuracy(history, "002-drop0.1", str(tmp_path / "flat.png"), best_epoch=2)
    loss = seen[str(tmp_path / "flat.png")]["axes"][0]
    assert loss["offsets"] == ["", ""] and loss["xticks"] == [1.0, 2.0, 3.0]
