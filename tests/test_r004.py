"""Report 004: its networks' sizes, ResNet18's frozen layers, the evaluation cadence, the --image figures."""
import csv
import os
import re

import pytest
import torch
from PIL import Image

import figures.tiles
from figures import r004
import main
import optimizers
import results
from run_folder import reader
import train
from expected import EXPECTED_PARAMETERS, R004_LENET
from helpers import drawn_figures
from experiments import load_experiment, resolve_path
from main import build_parser, resolve_config
from errors import UserError
from summary import summarize

STEPS_004 = ("004-LeNet", "004-Model1", "004-Model2", "004-ResNet18")


def build(step, *options):
    exp = load_experiment(resolve_path(step))
    cfg = resolve_config(exp, build_parser().parse_args([step, "--no-pretrained", *options]))
    return exp, cfg, exp.model(cfg)


def rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


# ---- the networks ----------------------------------------------------------------------------

@pytest.mark.parametrize("step", STEPS_004)
def test_every_step_has_the_hand_counted_size(step):
    _, _, model = build(step)
    assert optimizers.trainable_parameters(model) == EXPECTED_PARAMETERS[step]


def test_lenet_has_390410_parameters_and_says_the_report_printed_390400():
    exp, _, model = build("004-LeNet")
    assert optimizers.trainable_parameters(model) == R004_LENET == 390_410
    assert exp.reported.parameters == 390_400
    assert "10 biases" in exp.reported.note and "390,410" in exp.reported.note


def test_resnet18_trains_layer4_and_fc_only_and_the_optimizer_gets_only_those():
    _, cfg, model = build("004-ResNet18")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {n for n, _ in model.named_parameters() if n.startswith(("layer4.", "fc."))}
    assert {n.split(".")[0] for n in trained} == {"layer4", "fc"}
    assert sum(".conv" in n or "downsample.0" in n for n in trained) == 5  # "the last five"
    optimizer = optimizers.make_optimizer(model, cfg, torch.device("cpu"))
    given = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert given == {id(p) for n, p in model.named_parameters() if n in trained}


def test_model1_and_model2_start_from_xavier_weights_and_zero_biases():
    for step in ("004-Model1", "004-Model2"):
        _, _, model = build(step)
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in, fan_out = m.weight[0].numel(), m.weight.shape[0] * m.weight[0, 0].numel()
                bound = (6 / (fan_in + fan_out)) ** 0.5  # xavier_uniform_'s
                assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound
                assert not m.bias.any()


# ---- the evaluation cadence -----------------------------------------------------------------

def test_half_epoch_cadence_adds_rows_at_0_0_5_1_1_5_2(tmp_path):
    # 80 images: 72 train, 8 validation; batch 18 gives 4 batches, an evaluation after the 2nd.
    assert main.main(["004-LeNet", "--dataset", "synthetic", "--subset", "80", "--epochs", "2",
                      "--batch-size", "18", "--device", "cpu", "--out", str(tmp_path)]) == 0
    got = rows(tmp_path / "004-LeNet")
    assert [float(r["epoch"]) for r in got] == [0, 0.5, 1, 1.5, 2]
    assert all(r["train_eval_loss"] and r["val_loss"] and r["test_accuracy"] for r in got)
    assert [bool(r["seconds"]) for r in got] == [False, False, True, False, True]  # whole epochs
    run = reader.read_run(str(tmp_path / "004-LeNet"))
    assert run.summary["epochs"] == 2
    lowest = min(run.history, key=lambda r: r["val_loss"])
    assert run.summary["lowest_val_loss_epoch"] == lowest["epoch"]
    assert run.summary["test_accuracy_4th_last"] == run.history[-4]["test_accuracy"]


def test_an_odd_batch_count_still_evaluates_at_the_nominal_half_and_prints_it(tmp_path, capsys):
    # Batch 15 gives 5 batches: the evaluation after the 2nd is 2/5 = 0.4 of the data, called 0.5.
    assert main.main(["004-LeNet", "--dataset", "synthetic", "--subset", "80", "--epochs", "1",
                      "--batch-size", "15", "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert [r["epoch"] for r in rows(tmp_path / "004-LeNet")] == ["0", "0.5", "1"]
    out = capsys.readouterr().out
    assert "004-LeNet epoch   0.5  evaluation in eval mode: train loss" in out


def test_default_runs_evaluate_once_per_epoch_and_train_as_before(tmp_path, monkeypatch):
    calls = []
    real = train.train_one_epoch
    monkeypatch.setattr(train, "train_one_epoch", lambda *a, **k: calls.append(len(a)) or real(*a, **k))
    assert main.main(["004-LeNet", "--dataset", "synthetic", "--subset", "80", "--epochs", "2",
                      "--batch-size", "18", "--device", "cpu", "--out", str(tmp_path),
                      "--set", "eval_every=1", "--set", "eval_at_start=false"]) == 0
    got = rows(tmp_path / "004-LeNet")
    assert [r["epoch"] for r in got] == ["1", "2"]
    assert "train_eval_loss" not in got[0]
    assert calls == [5, 5]  # no evaluation callback handed to the epoch


def test_summary_of_fractional_rows():
    history = [{"epoch": 0, "val_loss": 2.0, "val_accuracy": 10.0, "test_accuracy": 9.0},
               {"epoch": 0.5, "val_loss": 0.5, "val_accuracy": 40.0, "test_accuracy": 38.0},
               {"epoch": 1, "train_loss": 1.0, "train_accuracy": 50.0, "val_loss": 0.7,
                "val_accuracy": 30.0, "test_loss": 0.8, "test_accuracy": 31.0, "seconds": 60.0}]
    s = summarize(history, {"best_epoch": 0.5})  # early stopping sees every evaluation
    assert (s["lowest_val_loss"], s["lowest_val_loss_epoch"]) == (0.5, 0.5)
    assert (s["best_val_accuracy"], s["best_epoch"]) == (40.0, 0.5)
    assert s["epochs"] == 1 and s["minutes"] == 1.0 and s["test_accuracy"] == 31.0


# ---- the figures, with and without --image --------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """004-ResNet18 and 004-Model1, each a few synthetic images for one epoch."""
    out = tmp_path_factory.mktemp("r004") / "runs"
    for step in ("004-ResNet18", "004-Model1"):
        assert main.main([step, "--dataset", "synthetic", "--subset", "10", "--epochs", "1",
                          "--no-pretrained", "--device", "cpu", "--out", str(out)]) == 0
    return out


OTHERS = ("004-ResNet18/kernels_by_colour.png", "004-ResNet18/loss_accuracy.png",
          "004-Model1/loss_accuracy.png", "results/004-losses.png", "results/004.md")
ACTIVATIONS = ("004-ResNet18/activations_conv1.png", "004-ResNet18/activations_layer4.png")


def regenerate(out, *args):
    for name in OTHERS + ACTIVATIONS:
        if os.path.exists(out / name):
            os.remove(out / name)
    return results.main(["--out", str(out), "--report", "004", *args])


def test_default_image_draws_every_figure(trained):
    with drawn_figures() as seen:
        assert regenerate(trained) == 0
    assert all(os.path.isfile(trained / name) for name in OTHERS + ACTIVATIONS)
    conv1, layer4, kernels = (seen[str(trained / "004-ResNet18" / name)] for name in (
        "activations_conv1.png", "activations_layer4.png", "kernels_by_colour.png"))
    # --no-pretrained: conv1 is frozen at its random start, never "trained"; layer4 trains.
    frozen = "frozen, never trained: its random initialization (seed 0)"
    assert frozen in conv1["text"] and "trained: after epoch" not in conv1["text"]
    assert frozen in kernels["title"] and "trained: after epoch 1" in layer4["text"]
    first = conv1["title"].splitlines()[0]
    image = re.search(r"for (test image 0 of synthetic \(class_\d\d\))$", first).group(1)
    assert layer4["title"].splitlines()[0].endswith(f"for {image}")
    assert f"show {image}." in (trained / "results" / "004.md").read_text()
    for path, drawn in seen.items():
        footnote = " ".join(drawn["footnote"].split())  # as read, not as wrapped to the width
        assert "not the report's setting: dataset synthetic, subset 10" in footnote, path
        assert ("pretrained False" in footnote) == ("004-Model1" not in path), path


def bad_image(tmp_path, kind):
    path = tmp_path / ("zebra.jpg" if kind != "folder" else "photos")
    if kind == "text renamed .jpg":
        path.write_text("not a picture\n")
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind, says", [
    ("missing", "does not exist"),
    ("text renamed .jpg", "is not an image PIL can read (UnidentifiedImageError)"),
    ("folder", "is a folder, not an image file"),
])
def test_a_bad_image_is_one_sentence_naming_it(tmp_path, kind, says):
    path = bad_image(tmp_path, kind)
    with pytest.raises(UserError) as e:
        r004.read_image(str(path))
    assert str(e.value) == f"--image {path} {says}"


def test_a_bad_image_is_one_line_exit_2_and_the_other_figures_are_drawn(trained, tmp_path, capsys):
    """As for each kind of bad image above: read_image's UserError, however raised, is handled once."""
    path = bad_image(tmp_path, "text renamed .jpg")
    code = regenerate(trained, "--image", str(path))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and str(path) in err[0], err
    assert all(os.path.isfile(trained / name) for name in OTHERS)
    assert not any(os.path.exists(trained / name) for name in ACTIVATIONS)


def test_image_is_resized_to_224_and_maps_are_112_and_7_and_another_replaces_it(
        trained, tmp_path, monkeypatch):
    path = tmp_path / "stripes.png"
    pixels = torch.zeros(30, 50, 3, dtype=torch.uint8)
    pixels[:, ::4, 0] = 255
    Image.fromarray(pixels.numpy()).save(path)
    seen = []
    real = figures.tiles.plot_feature_maps

    def spy(image, label, panels, title, out, **options):
        seen.append((tuple(image.shape), tuple(panels[0][1].shape), label))
        return real(image, label, panels, title, out, **options)

    with monkeypatch.context() as m:
        m.setattr(figures.tiles, "plot_feature_maps", spy)
        assert regenerate(trained, "--image", str(path)) == 0
    assert [s[:2] for s in seen] == [((3, 224, 224), (64, 112, 112)), ((3, 224, 224), (64, 7, 7))]
    assert "stripes.png" in seen[0][2]
    assert all(os.path.isfile(trained / name) for name in OTHERS + ACTIVATIONS)
    assert "show stripes.png (--image)." in (trained / "results" / "004.md").read_text()

    # Another image: its figures replace the first's, under the same names, and say which it is.
    Image.fromarray(pixels.flip(0).numpy()).save(tmp_path / "dots.png")
    ctx = figures.Context(str(trained), options={"image": r004.read_image(str(tmp_path / "dots.png"))})
    with drawn_figures() as drawn:
        r004.activations(reader.read_run(str(trained / "004-ResNet18")), ctx)
    for name in ACTIVATIONS:
        assert drawn[str(trained / name)]["title"].splitlines()[0].endswith("for dots.png"), name
    assert sorted(p.name for p in (trained / "004-ResNet18").glob("activations*")) == [
        "activations_conv1.narrow.png", "activations_conv1.png", "activations_layer4.narrow.png",
        "activations_layer4.png"]  # each with its narrow variant, for a phone
    assert ctx.notes == ["Figs. 8-9 (activations_conv1.png, activations_layer4.png of "
                         "004-ResNet18) show dots.png (--image)"]
