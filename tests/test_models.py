"""Every report step builds the report's network: parameter count, output shape, a training step."""
import dataclasses

import pytest
import torch

from experiments import REPORT_STEPS, load_experiment, resolve_path
from main import build_parser, resolve_config


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def fc(n_in, n_out):
    return n_in * n_out + n_out


def bn(c):
    return 2 * c  # weight and bias; running statistics are buffers, not parameters


def simple_cnn(w, fc_units=4096, batch_norm=False):
    """The report's CNN2-family layer list, counted by hand."""
    convs = conv(3, w[0], 5) + conv(w[0], w[1], 3) + conv(w[1], w[2], 3) + conv(w[2], w[3], 3)
    norms = sum(bn(c) for c in w) if batch_norm else 0
    return convs + norms + fc(w[3] * 4 * 4, fc_units) + fc(fc_units, 100)


# Read off the report's listings (algorithms 1-8) and torchvision's published ResNet18 size.
EXPECTED_PARAMETERS = {
    "NN1": fc(3072, 4096) + fc(4096, 4096) + fc(4096, 100),
    "CNN2": simple_cnn((32, 32, 32, 64)),
    "CNN3a": simple_cnn((128, 128, 128, 256)),
    "CNN3b": simple_cnn((256, 256, 256, 512)),
    "CNN3c": simple_cnn((512, 512, 512, 1024)),
    "CNN4a": simple_cnn((128, 128, 128, 256), batch_norm=True),
    "CNN4b": simple_cnn((128, 128, 128, 256), fc_units=8192, batch_norm=True),
    "CNN4c": simple_cnn((128, 128, 128, 256), batch_norm=True),
    "CNN5a": simple_cnn((128, 128, 128, 256)),
    "CNN5b": simple_cnn((128, 128, 128, 256)),
    "CNN6": 11_689_512 - fc(512, 1000) + fc(512, 100),
}
RESOLUTION = {step: 224 if step == "CNN6" else 32 for step in REPORT_STEPS}


def build(step, *options):
    exp = load_experiment(resolve_path(step))
    cfg = resolve_config(exp, build_parser().parse_args([step, "--no-pretrained", *options]))
    return exp, cfg, exp.model(cfg)


def test_every_step_has_a_file_and_expectations():
    assert set(EXPECTED_PARAMETERS) == set(REPORT_STEPS)
    assert len(REPORT_STEPS) == 11


@pytest.mark.parametrize("step", REPORT_STEPS)
def test_parameter_count_matches_the_report(step):
    _, _, model = build(step)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == EXPECTED_PARAMETERS[step]


@pytest.mark.parametrize("step", REPORT_STEPS)
def test_output_shape_and_a_training_step(step):
    exp, cfg, model = build(step)
    assert cfg.image_size == RESOLUTION[step]
    torch.manual_seed(0)
    x = torch.randn(2, 3, cfg.image_size, cfg.image_size)
    logits = model.train()(x)
    assert logits.shape == (2, 100)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 99]))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("step", ["CNN2", "CNN6"])
def test_cifar10_gets_a_ten_way_head(step):
    _, cfg, model = build(step, "--dataset", "cifar10")
    assert cfg.num_classes == 10
    assert model.eval()(torch.zeros(1, 3, cfg.image_size, cfg.image_size)).shape == (1, 10)


def test_report_settings_of_cnn6():
    _, cfg, _ = build("CNN6")
    assert (cfg.batch_size, cfg.epochs, cfg.image_size, cfg.lr) == (128, 10, 224, 1e-4)
    exp = load_experiment(resolve_path("CNN6"))
    assert exp.config.pretrained  # --no-pretrained turned it off above, the file asks for weights
    for step in set(REPORT_STEPS) - {"CNN6"}:
        _, cfg, _ = build(step)
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
