"""Report 002: CNN_5's sizes and init, its early-stopping rule, the first-N test set, VGG11_bn's
frozen features and its offline weights error."""
import dataclasses
import json
import textwrap
import urllib.error

import pytest
import torch
from torch import nn

import augment
import main
import optimizers
import train
from early_stopping import EarlyStopping
from errors import UserError
from experiments import load_experiment, resolve_path
from experiments.r002.common import cnn5
from figures import load
from expected import EXPECTED_PARAMETERS
from models import vgg


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_cnn5_has_the_reports_parameter_counts():
    assert trainable(cnn5()) == 7_678_474 == EXPECTED_PARAMETERS["002-CNN5"]
    assert trainable(cnn5(batch_norm=True)) == 7_682_826 == EXPECTED_PARAMETERS["002-CNN5-BN"]
    assert cnn5(dropout=0.3)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_linear_layers_start_at_n_0_0001_with_zero_bias_and_convolutions_keep_pytorchs():
    torch.manual_seed(0)
    model = cnn5()
    linear = model[-1]
    assert isinstance(linear, nn.Linear) and torch.equal(linear.bias, torch.zeros(10))
    assert 0.8e-3 < linear.weight.std().item() < 1.2e-3  # 5,120 draws of N(0, 0.001^2)
    assert model[0].weight.std().item() > 0.05  # PyTorch's default: uniform, bound 1/sqrt(27)
    scratch = load_experiment(resolve_path("002-VGG-scratch"))
    head = [m for m in scratch.model(scratch.config) if isinstance(m, nn.Linear)]
    assert len(head) == 3 and all(m.weight.std().item() < 2e-3 and not m.bias.any() for m in head)


def baseline(monitor="val_accuracy"):
    return EarlyStopping("baseline", monitor, patience=10, min_delta=1e-5)


def test_the_first_epoch_only_sets_the_baseline():
    es = baseline()
    assert es.update(1, 50.0) is False
    assert (es.counter, es.best_epoch, es.best, es.stopped) == (1, 0, 50.0, False)
    assert es.update(2, 49.0) is False and (es.counter, es.best_epoch) == (2, 0)
    assert es.update(3, 51.0) is True and (es.counter, es.best_epoch, es.best) == (0, 3, 51.0)


def test_an_improvement_is_at_least_the_tolerance():
    es = baseline()
    es.update(1, 50.0)
    assert es.update(2, 50.0 + 0.5e-5) is False and es.best_epoch == 0  # below 1e-5
    assert es.update(3, 50.0 + 2e-5) is True and es.best_epoch == 3
    loss = baseline("val_loss")
    loss.update(1, 1.0)
    assert loss.update(2, 1.0 - 0.5e-5) is False
    assert loss.update(3, 1.0 - 2e-5) is True and loss.best_epoch == 3


def test_training_stops_when_the_counter_reaches_ten():
    es = baseline()
    for epoch, value in enumerate([60.0, 61.0] + [61.0] * 9, start=1):  # best at 2, then 9 flat
        es.update(epoch, value)
        assert not es.stopped, epoch
    es.update(12, 60.5)  # the tenth epoch without an improvement
    assert es.stopped and (es.counter, es.best_epoch) == (10, 2)
    flat = baseline()
    for epoch in range(1, 11):  # never improving: epoch 1 counts, so it stops after epoch 10
        flat.update(epoch, 50.0)
    assert flat.stopped and flat.best_epoch == 0


def test_the_early_stopping_steps_use_the_reports_rule():
    for step, monitor in (("002-ES-loss", "val_loss"), ("002-ES-acc", "val_accuracy"),
                          ("002-ES-BN-acc", "val_accuracy")):
        cfg = load_experiment(resolve_path(step)).config
        assert (cfg.early_stopping, cfg.monitor, cfg.patience, cfg.min_delta, cfg.keep) == \
            ("baseline", monitor, 10, 1e-5, "best"), step


def test_test_limit_tests_the_first_n_images_each_epoch_and_records_the_whole_set(
        tmp_path, monkeypatch):
    seen_images, sizes = [], []
    make_loader, evaluate = augment.make_loader, train.evaluate

    def recording_loader(images, labels, *args, **kwargs):
        seen_images.append(images.clone())
        return make_loader(images, labels, *args, **kwargs)

    def counting_evaluate(model, loader, device, *args):
        sizes.append(sum(len(y) for _, y in loader))
        return evaluate(model, loader, device, *args)

    monkeypatch.setattr(augment, "make_loader", recording_loader)
    monkeypatch.setattr(train, "evaluate", counting_evaluate)
    step = tmp_path / "Tiny.py"
    step.write_text(textwrap.dedent("""\
        from torch import nn
        from config import Config
        from data import TO_NORMALIZED_TENSOR
        reported = None
        config = Config(dataset="cifar10", batch_size=8, val_split="last", val_size=1000,
                        test_limit=5)
        train_transform = test_transform = TO_NORMALIZED_TENSOR
        def model(cfg):
            return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, cfg.num_classes))
        """))
    out = tmp_path / "runs"
    assert main.main([str(step), "--dataset", "synthetic", "--subset", "100", "--epochs", "2",
                      "--out", str(out)]) == 0
    ds = __import__("data").load_dataset("synthetic", "data", 100, 0, 10)
    assert len(ds.test_labels) == 20
    assert any(torch.equal(x, ds.test_images[:5]) for x in seen_images)  # exactly the first 5
    assert any(torch.equal(x, ds.test_images) for x in seen_images)  # and, at the end, all 20
    # per epoch: validation (2 of 100 held out), test (5); at the end: all 20, then best.pt's test
    assert sizes == [2, 5, 2, 5, 20, 5]
    end = json.loads((out / "Tiny" / "summary.json").read_text())
    assert 0 <= end["full_test_accuracy"] <= 100


def test_partial_vgg_trains_only_its_head():
    exp = load_experiment(resolve_path("002-VGG-partial"))
    cfg = dataclasses.replace(exp.config, pretrained=False, num_classes=10)
    model = exp.model(cfg)
    features = model[0]
    assert not any(p.requires_grad for p in features.parameters())
    head = [p for m in list(model)[1:] for p in m.parameters()]
    assert all(p.requires_grad for p in head)
    optimizer = optimizers.make_optimizer(model, cfg, torch.device("cpu"))
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert in_optimizer == {id(p) for p in head}
    assert trainable(model) == EXPECTED_PARAMETERS["002-VGG-partial"] == 398_090
    assert (cfg.lr, cfg.lr_decay, cfg.epochs) == (0.01, 0.99, 40)


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_missing_vgg_weights_offline_name_the_file_and_folder(no_network, tmp_path, capsys):
    with pytest.raises(UserError) as e:
        vgg.vgg11_bn_head(pretrained=True)
    assert "vgg11_bn-6002323d.pth" in str(e.value) and str(no_network) in str(e.value)
    assert "--no-pretrained" in str(e.value)
    code = main.main(["002-VGG-full", "--dataset", "synthetic", "--subset", "8", "--epochs", "1",
                      "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "vgg11_bn-6002323d.pth" in err[0]


def test_pretrained_vgg_takes_the_features_of_torchvision_s_file(no_network):
    # A file in torchvision's layout (features.*, then the classifier the head replaces).
    layout = vgg.make_layers(vgg.cfgs["A"], batch_norm=True).state_dict()
    ours = {f"features.{k}": torch.randn_like(v, dtype=torch.float) if v.is_floating_point() else v
            for k, v in layout.items()}
    no_network.mkdir(parents=True)
    torch.save({**ours, "classifier.6.weight": torch.zeros(1000, 4)},
               no_network / "vgg11_bn-6002323d.pth")
    features = vgg.vgg11_bn_head(pretrained=True)[0].state_dict()
    assert list(features) == list(layout)
    assert all(torch.equal(v, ours[f"features.{k}"]) for k, v in features.items())


def test_vgg_from_scratch_starts_as_torchvision_s():
    # torchvision's VGG: convolutions He-normal over fan-out, zero biases, BatchNorm at 1 and 0.
    convs = [m for m in vgg.vgg11_bn_head(pretrained=False)[0] if isinstance(m, nn.Conv2d)]
    for conv in convs:
        he = (2 / (conv.out_channels * 9)) ** 0.5
        assert conv.weight.std().item() == pytest.approx(he, rel=0.1) and not conv.bias.any()


def test_figures_of_a_pretrained_vgg_run_never_download(no_network, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("tried to download"))
    exp = load_experiment(resolve_path("002-VGG-full"))
    model, label = load.untrained_model(exp, exp.config)
    assert "random initialization" in label and str(no_network) in label
    assert isinstance(model[0][0], nn.Conv2d)
