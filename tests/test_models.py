"""Every report step builds the report's network: parameter count, output shape, a training step."""
import dataclasses

import pytest
import torch

import data
from expected import EXPECTED_PARAMETERS
from experiments import REPORT_STEPS, REPORTS, STEPS, load_experiment, resolve_path
from main import build_parser, resolve_config

ALL_STEPS = list(STEPS)


def config_of(step, *options):
    exp = load_experiment(resolve_path(step))
    return exp, resolve_config(exp, build_parser().parse_args([step, "--no-pretrained", *options]))


def build(step, *options):
    exp, cfg = config_of(step, *options)
    return exp, cfg, exp.model(cfg)


def test_every_step_has_a_file_and_expectations():
    assert set(EXPECTED_PARAMETERS) == set(ALL_STEPS)
    for report in REPORTS:
        for step in report.steps:
            exp = load_experiment(resolve_path(step))
            assert exp.config.step == step and exp.config.dataset == report.dataset, step


@pytest.mark.parametrize("step", ALL_STEPS)
def test_parameter_count_matches_the_layers(step):
    with torch.device("meta"):  # shapes without values: the count needs no weights
        _, _, model = build(step)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == EXPECTED_PARAMETERS[step]


@pytest.mark.parametrize("step", ALL_STEPS)
def test_output_shape_and_a_training_step(step):
    exp, cfg, model = build(step)
    classes = data.NUM_CLASSES[STEPS[step].dataset]
    torch.manual_seed(0)
    x = torch.randn(2, 3, cfg.image_size, cfg.image_size)
    logits = model.train()(x)
    assert logits.shape == (2, classes)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, classes - 1]))
    loss.backward()
    assert torch.isfinite(loss)
    trainable = [p for p in model.parameters() if p.requires_grad]  # a frozen backbone has none
    assert trainable and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable)


@pytest.mark.parametrize("step", ["CNN2", "CNN6"])
def test_cifar10_gets_a_ten_way_head(step):
    _, cfg, model = build(step, "--dataset", "cifar10")
    assert cfg.num_classes == 10
    assert model.eval()(torch.zeros(1, 3, cfg.image_size, cfg.image_size)).shape == (1, 10)


def test_report_settings_of_cnn6():
    _, cfg = config_of("CNN6")
    assert (cfg.batch_size, cfg.epochs, cfg.image_size, cfg.lr) == (128, 10, 224, 1e-4)
    exp = load_experiment(resolve_path("CNN6"))
    assert exp.config.pretrained  # --no-pretrained turned it off above, the file asks for weights
    for step in set(REPORT_STEPS) - {"CNN6"}:
        _, cfg = config_of(step)
        assert (cfg.batch_size, cfg.epochs, cfg.image_size, cfg.lr) == (256, 20, 32, 1e-4)


def test_cnn4c_dropout_is_on_in_training_and_off_in_evaluation():
    _, _, model = build("CNN4c")
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    b = model(x)
    assert not torch.allclose(a, b)
    # Only the dropout differs between the two training passes: switching it off makes them equal.
    model.dropout.p = 0.0
    assert torch.allclose(model(x), model(x))


def test_nn1_hidden_layers_are_sigmoids():
    _, _, model = build("NN1")
    model.classifier = torch.nn.Identity()
    h = model(torch.randn(8, 3, 32, 32) * 10)
    assert h.shape == (8, 4096)
    assert (h > 0).all() and (h < 1).all()


def test_resolve_config_keeps_experiment_settings_unless_overridden():
    exp = load_experiment(resolve_path("CNN6"))
    cfg = resolve_config(exp, build_parser().parse_args(["CNN6", "--epochs", "3"]))
    assert (cfg.epochs, cfg.batch_size, cfg.pretrained, cfg.step) == (3, 128, True, "CNN6")
    assert cfg == dataclasses.replace(exp.config, epochs=3)
