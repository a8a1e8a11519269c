"""results.py: every figure and results table rebuilt from two small synthetic runs, training nothing."""
import csv
import dataclasses
import hashlib
import os
import shutil

import pytest
import torch

import run_folder
from run_folder import reader
import results
import cifar
import main
import plotting
import train
from cifar_fixtures import write_cifar
from errors import UserError
from figures import load, r000, tiles
from experiments import REPORT_STEPS, REPORTS, STEPS, load_experiment, resolve_path
from models import resnet
from expected import EXPECTED_PARAMETERS
from helpers import drawn_figures, full_disk

# The two steps the report draws kernels for, each shrunk to a few images and one or two epochs.
RUNS = {"CNN2": ["--subset", "64", "--epochs", "2", "--batch-size", "16"],
        "CNN6": ["--subset", "8", "--epochs", "1", "--batch-size", "8", "--no-pretrained"]}
KEPT = ("checkpoint.pt", "metrics.csv", "config.json", "experiment.py")  # a run's record


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """CNN2 and CNN6 trained on synthetic data; also the first conv's weights each run started from."""
    out = tmp_path_factory.mktemp("report") / "runs"
    starts = {}
    one_epoch = train.train_one_epoch

    def record_start(model, loader, optimizer, device, desc, **kwargs):
        starts.setdefault(desc.split()[0], load.first_conv(model).weight.detach().clone())
        return one_epoch(model, loader, optimizer, device, desc, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "train_one_epoch", record_start)
        for step, options in RUNS.items():
            code = main.main([step, "--dataset", "synthetic", "--device", "cpu", "--out", str(out),
                              *options])
            assert code == 0
    return out, starts


@pytest.fixture(scope="module")
def regenerated(trained):
    """results.regenerate on those runs, with every way of training made to fail loudly."""
    out, _ = trained
    before = {p: sha256(p) for p in out.rglob("*") if p.name in KEPT}

    def refuse(*args, **kwargs):
        raise AssertionError("regeneration tried to train")

    with pytest.MonkeyPatch.context() as mp, drawn_figures() as seen:
        for owner, name in ((train, "run"), (train, "train_one_epoch"), (torch.optim.Adam, "step"),
                            (torch.Tensor, "backward")):
            mp.setattr(owner, name, refuse)
        result = results.regenerate(str(out))
    return out, before, {**result, "drawn": dict(seen)}


def table_rows(text):
    """results.md's table as {step: [cells]}."""
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows
            if cells[0].strip() != "step"}


def test_every_figure_and_results_md_are_written(regenerated):
    out, _, result = regenerated
    assert result["problems"] == []
    expected = [out / s / "loss_accuracy.png" for s in RUNS] + \
               [out / s / f for s in RUNS for f in ("kernels.png", "feature_maps.png")] + \
               [out / "results" / "000-overview.png"]
    for path in expected:
        assert str(path) in result["written"]
        png = path.read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000, path
    assert (out / "results" / "000.md").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["CNN2", "CNN6", "results"]


def test_overview_stars_the_runs_outside_the_report_s_setting_and_says_how(regenerated):
    out, _, result = regenerated
    overview = result["drawn"][str(out / "results" / "000-overview.png")]
    assert overview["footnote"].replace("\n", " ") == (  # wrapped to the figure's width
        "* not the report's setting: dataset synthetic; CNN2: subset 64, batch_size 16, epochs 2 "
        "(report: 20); CNN6: subset 8, batch_size 8, pretrained False, epochs 1 (report: 10)")
    acc = {s: float(reader.read_run(str(out / s)).history[-1]["test_accuracy"]) for s in RUNS}
    assert all(f"{a:.1f}% *" in overview["text"] for a in acc.values())
    kernels = result["drawn"][str(out / "CNN6" / "kernels.png")]
    assert "trained: after epoch 1" in kernels["text"]  # CNN6 trains every layer
    assert result["drawn"][str(out / "CNN6" / "loss_accuracy.png")]["axes"][0]["xticks"] == [1.0]


def test_results_md_lists_every_step_and_matches_the_metrics(regenerated):
    out, _, _ = regenerated
    text = (out / "results" / "000.md").read_text()
    rows = table_rows(text)
    assert list(rows) == list(REPORT_STEPS)
    for step in REPORT_STEPS:
        cells, reported = rows[step], load_experiment(resolve_path(step)).reported
        assert cells[5] == f"{reported.train_loss:g}" and cells[8] == f"{reported.test_accuracy:g}%"
        assert cells[11] == f"{reported.minutes:g}"
        if step not in RUNS:
            assert cells[1] == "not run" and cells[3] == cells[4] == "-"
            continue
        with open(out / step / "metrics.csv") as f:
            metrics = list(csv.DictReader(f))
        loss, acc = float(metrics[-1]["train_loss"]), float(metrics[-1]["test_accuracy"])
        minutes = sum(float(r["seconds"]) for r in metrics) / 60
        assert cells[1] == "not comparable"  # synthetic data, fewer epochs
        assert cells[2] == f"{EXPECTED_PARAMETERS[step]:,}"
        assert cells[3] == str(len(metrics))
        assert cells[4] == f"{loss:.4f}"
        assert cells[6] == f"{loss - reported.train_loss:+.2f} not comparable"
        assert cells[7] == f"{acc:.2f}%" and cells[9] == f"{acc - reported.test_accuracy:+.2f} not comparable"
        assert cells[10] == f"{minutes:.1f}" and cells[12] == "not judged"  # other hardware
        assert cells[13].startswith("cpu")
        assert "dataset synthetic" in cells[14] and f"epochs {len(metrics)} (report:" in cells[14]
    assert "not run: NN1, CNN3a" in text and "(../CNN2/kernels.png)" in text


def test_kernel_and_feature_grids_have_a_tile_per_channel(trained):
    out, _ = trained
    counts = {}
    for step in RUNS:
        run = reader.read_run(str(out / step))
        counts[step] = r000.plot_first_layer(run)
    assert counts == {"CNN2": {"kernels": [32, 32], "feature_maps": [32, 32]},
                     "CNN6": {"kernels": [64, 64], "feature_maps": [64, 64]}}


def test_regeneration_trains_nothing_and_leaves_the_runs_as_they_were(regenerated):
    out, before, result = regenerated
    assert len(before) == 2 * len(KEPT)
    assert {p: sha256(p) for p in before} == before
    assert result["problems"] == []  # every figure was made with training switched off


def test_before_is_the_run_s_starting_weights_and_after_its_checkpoint(trained):
    out, starts = trained
    for step in RUNS:
        run = reader.read_run(str(out / step))
        exp = run.experiment()
        before, label = load.untrained_model(exp, run.config)
        after, _ = load.trained_model(exp, run)
        assert torch.equal(load.first_conv(before).weight, starts[step]), step
        ckpt = torch.load(out / step / "checkpoint.pt", weights_only=True)
        name = "conv1.0.weight" if step == "CNN2" else "conv1.weight"
        assert torch.equal(load.first_conv(after).weight, ckpt["model"][name])
        assert not torch.equal(load.first_conv(after).weight, starts[step])
        assert f"seed {run.config.seed}" in label


def test_feature_maps_see_the_first_test_image_at_the_model_s_resolution(trained):
    out, _ = trained
    for step, side in (("CNN2", 32), ("CNN6", 224)):
        run = reader.read_run(str(out / step))
        exp = run.experiment()
        image, label, name = load.first_test_image(run.config)
        x = load.model_input(image, label, exp.test_transform, run.config.seed)
        assert x.shape == (1, 3, side, side)
        shown = load.for_display(x[0], exp.test_transform)
        resized = torch.nn.functional.interpolate(image.float(), size=side, mode="bilinear",
                                                  antialias=True)[0] / 255
        assert (shown - resized).abs().max() < 0.02  # normalization undone: the image's own colours
        model, _ = load.trained_model(exp, run)
        maps = load.first_conv_outputs(model, x)
        with torch.no_grad():
            assert torch.allclose(maps, load.first_conv(model)(x)[0])
        assert name == f"class_{int(label):02d}"


def test_cifar_test_image_is_read_from_disk_and_never_downloaded(monkeypatch, tmp_path):
    monkeypatch.setattr(cifar.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("regeneration tried to download"))
    cfg = dataclasses.replace(load_experiment(resolve_path("CNN2")).config, step="CNN2",
                              data_dir=str(tmp_path / "data"), subset=20)
    with pytest.raises(UserError, match="--data-dir") as e:
        load.first_test_image(cfg)
    assert "cifar-100-python" in str(e.value)
    written = write_cifar(tmp_path / "data", cifar.CIFAR100, n_train=5, n_test=3, seed=1)
    image, label, name = load.first_test_image(cfg)
    assert image.reshape(-1).tolist() == written["test_data"][0].tolist()
    assert int(label) == written["test_labels"][0] and name == written["names"][int(label)]


def test_grid_shape_and_mosaic_place_tile_k_at_row_k_over_columns():
    assert tiles.grid_shape(32) == (4, 8) and tiles.grid_shape(64) == (8, 8)
    assert tiles.grid_shape(1) == (1, 1) and tiles.grid_shape(3) == (2, 2)
    squares = torch.rand(11, 3, 2)
    image, placed = tiles.mosaic(squares, gap=1)
    rows, cols = tiles.grid_shape(11)
    assert placed == 11 and image.shape == (rows * 4 - 1, cols * 3 - 1)
    for k in range(11):
        r, c = divmod(k, cols)
        assert (image[r * 4:r * 4 + 3, c * 3:c * 3 + 2] == squares[k].numpy()).all()


def test_kernel_tiles_scale_each_kernel_alone_and_keep_rgb_order():
    weight = torch.zeros(2, 3, 1, 1)
    weight[0, :, 0, 0] = torch.tensor([1.0, 2.0, 3.0])
    weight[1, :, 0, 0] = torch.tensor([-50.0, 50.0, 0.0])
    rgb = tiles.kernel_tiles(weight)
    assert rgb.shape == (2, 1, 1, 3)
    assert rgb[0, 0, 0].tolist() == [0.0, 0.5, 1.0] and rgb[1, 0, 0].tolist() == [0.0, 1.0, 0.5]


def test_a_tile_figures_title_and_footnote_clear_every_label(monkeypatch, tmp_path):
    """CNN2's kernels and feature maps, wide and narrow: the title is above everything else drawn
    and the footnote below it, as the PNG has them (a panel's title once touched the title and
    the lowest "channel = ..." label ran into the footnote)."""
    from matplotlib.figure import Figure

    real, gaps = Figure.draw, {}

    def spy(fig, renderer):
        real(fig, renderer)  # the last draw of a figure is savefig's: read the extents it drew
        title, footnote = (next(t for t in fig.texts if t.get_text() == said)
                           for said in (fig.get_suptitle(), fig.get_supxlabel()))
        rest = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]  # drawn ticks
        rest += [t.get_window_extent(renderer) for t in fig.texts if t not in (title, footnote)]
        gaps[fig] = (title.get_window_extent(renderer).y0 - max(b.y1 for b in rest),
                     min(b.y0 for b in rest) - footnote.get_window_extent(renderer).y1)

    monkeypatch.setattr(Figure, "draw", spy)
    weights = [("before", torch.randn(32, 3, 5, 5)), ("after", torch.randn(32, 3, 5, 5))]
    maps = [("before", torch.randn(32, 14, 14)), ("after", torch.randn(32, 14, 14))]
    note = "CNN2: dataset synthetic, subset 64, epochs 2 (report: 20)"
    tiles.plot_kernels(weights, "CNN2: the first convolution's 32 kernels (5x5x3), before and after",
                       str(tmp_path / "k.png"), footnote=note, narrow=True)
    tiles.plot_feature_maps(torch.rand(3, 32, 32), "test image 0\nat 32x32", maps,
                            "CNN2: the first convolution's 32 output channels (14x14)",
                            str(tmp_path / "m.png"), footnote=note, narrow=True)
    assert len(gaps) == 4 and all(min(gap) > 0 for gap in gaps.values()), list(gaps.values())


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.id)
def test_every_step_of_a_report_has_its_own_look(report):
    looks = {tuple(sorted(plotting.step_style(s, report.steps).items())) for s in report.steps}
    assert len(looks) == len(report.steps)


def test_pretrained_before_is_imagenet_or_says_why_not(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("regeneration tried to download"))
    exp = load_experiment(resolve_path("CNN6"))
    cfg = dataclasses.replace(exp.config, pretrained=True)
    _, label = load.untrained_model(exp, cfg)
    assert "not in" in label and str(tmp_path / "torch") in label.replace("\n", "")
    imagenet = resnet.resnet18(weights=None)
    os.makedirs(os.path.dirname(resnet.weights_path()))
    torch.save(imagenet.state_dict(), resnet.weights_path())
    model, label = load.untrained_model(exp, cfg)
    assert label == "before fine-tuning: ImageNet weights"
    assert torch.equal(load.first_conv(model).weight, imagenet.conv1.weight)


def test_command_line_rebuilds_a_folder_and_names_a_broken_checkpoint(trained, tmp_path, capsys):
    out, _ = trained
    shutil.copytree(out / "CNN2", tmp_path / "CNN2")
    assert results.main(["--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    assert f"wrote {tmp_path / 'CNN2' / 'kernels.png'}" in stdout
    assert f"1 of {len(STEPS)} steps have a run" in stdout

    (tmp_path / "CNN2" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "CNN2" / "kernels.png").unlink()
    assert results.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "checkpoint.pt" in err[0]
    assert not (tmp_path / "CNN2" / "kernels.png").exists()
    assert (tmp_path / "CNN2" / "loss_accuracy.png").exists()
    assert (tmp_path / "results" / "000.md").exists()


def test_a_full_disk_leaves_every_page_and_figure_as_it_was(trained, tmp_path, monkeypatch,
                                                            capsys):
    """Pages, tables and figures are written to a temporary file and renamed: a full disk leaves
    the previous ones whole (never 0 bytes), and each line names the file."""
    out, _ = trained
    shutil.copytree(out / "CNN2", tmp_path / "CNN2")
    monkeypatch.setattr(results.figures, "of", lambda report: ())  # the pages' own figures suffice
    assert results.main(["--out", str(tmp_path), "--report", "001"]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(before.values()) and any(p.suffix == ".html" for p in before)
    assert any(p.suffix == ".png" for p in before)
    with full_disk(monkeypatch, tmp_path):
        assert results.main(["--out", str(tmp_path), "--report", "001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(str(tmp_path) in line and "No space left on device" in line
                       and ".tmp" not in line for line in err), err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_command_line_without_runs_says_so(tmp_path, capsys):
    assert results.main(["--out", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere/ does not exist" in err[0] and "main.py" in err[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert results.main(["--out", str(empty)]) == 0
    for report in REPORTS:
        rows = table_rows((empty / "results" / f"{report.id}.md").read_text())
        assert list(rows) == list(report.steps) and all(r[1] == "not run" for r in rows.values())
    assert not list((empty / "results").glob("*.png"))  # no figure of no run


def test_runs_moved_aside_are_left_out_and_an_interrupted_run_is_marked(trained, tmp_path):
    out, _ = trained
    shutil.copytree(out / "CNN2", tmp_path / "CNN2")
    shutil.copytree(out / "CNN2", tmp_path / "CNN2-20261123-101500")  # as train.py sets one aside
    (tmp_path / "CNN2" / run_folder.INTERRUPTED).write_text("interrupted during epoch 3\n")
    results.regenerate(str(tmp_path))
    rows = table_rows((tmp_path / "results" / "000.md").read_text())
    assert list(rows) == list(REPORT_STEPS)
    assert "interrupted (Ctrl-C)" in rows["CNN2"][-1]
