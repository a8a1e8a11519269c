"""capture: which runs replay their training step as a CUDA graph, that the CPU never does, what a
run records and says, the refusals of `capture on`; and, on a CUDA machine only, that a captured
step trains as the eager one does."""
import dataclasses
import json

import pytest
import torch

import capture
import main
import train
from experiments import STEPS, load_experiment, resolve_path
from helpers import config, small

CUDA = torch.device("cuda")  # a device object only: deciding needs no GPU
CPU = torch.device("cpu")


def decide(cfg, device=CUDA):
    return capture.decide(cfg.capture, cfg.optimizer, cfg.compile, cfg.batch_size, cfg.image_size,
                          device)


@pytest.mark.parametrize("step", list(STEPS))
def test_auto_captures_every_cifar_sized_step_with_a_capturable_optimizer_on_cuda(step):
    cfg = load_experiment(resolve_path(step)).config
    captured, said = decide(cfg)
    expected = cfg.image_size == 32 and cfg.optimizer != "adagrad"  # CNN6, 004-ResNet18: 224x224
    assert captured is expected
    assert said.startswith("training step captured as a CUDA graph" if expected
                           else "training step not captured (")


def test_the_rule_reads_batch_size_and_image_size():
    cfg = load_experiment(resolve_path("001-A")).config
    assert decide(cfg) == (True, "training step captured as a CUDA graph (batch 32 of 32x32 "
                                 "images: launch-bound)")
    assert decide(dataclasses.replace(cfg, batch_size=257))[0] is False  # past 256 CIFAR images
    assert decide(dataclasses.replace(cfg, batch_size=256))[0] is True
    assert decide(dataclasses.replace(cfg, batch_size=32, image_size=128)) == (
        False, "training step not captured (batch 32 of 128x128 images: bound by arithmetic, not "
               "launches)")
    assert decide(dataclasses.replace(cfg, capture="on", batch_size=32, image_size=128))[0] is True
    assert decide(dataclasses.replace(cfg, capture="off")) == (
        False, "training step not captured (capture off)")
    assert decide(dataclasses.replace(cfg, compile=True))[0] is False
    assert decide(dataclasses.replace(cfg, optimizer="adagrad"))[0] is False


@pytest.mark.parametrize("setting", ["auto", "off"])
def test_the_cpu_never_captures_and_says_nothing_of_it(setting):
    cfg = dataclasses.replace(load_experiment(resolve_path("001-A")).config, capture=setting)
    assert decide(cfg, CPU) == (False, "")
    assert decide(cfg, torch.device("mps")) == (False, "")


def test_a_cpu_run_builds_no_graph_records_capture_off_and_its_first_line_is_unchanged(
        tmp_path, capsys, monkeypatch):
    def no_graph(*args, **kwargs):
        raise AssertionError("a CUDA graph was made on the CPU")

    monkeypatch.setattr(capture, "GraphedStep", no_graph)
    exp, cfg = config("001-A", tmp_path, subset=64)
    train.run(train.prepare(small(exp), cfg))
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("001-A: ") and "captur" not in first and "graph" not in first
    info = json.loads((tmp_path / "runs" / "001-A" / "config.json").read_text())
    assert info["config"]["capture"] == "off"  # auto, as this run used it


def test_the_first_line_says_the_decision_on_cuda(tmp_path, capsys, monkeypatch):
    # The run itself on the CPU; only the decision is CUDA's, to see where the run says it.
    said = "training step captured as a CUDA graph (batch 32 of 32x32 images: launch-bound)"
    monkeypatch.setattr(capture, "decide", lambda *args: (False, said))
    exp, cfg = config("001-A", tmp_path, subset=64)
    train.run(train.prepare(small(exp), cfg))
    assert f"; {said}" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("args, says", [
    (["001-A", "--device", "cpu", "--set", "capture=on"],
     "error: capture on: a CUDA graph needs a CUDA device, not cpu (use capture auto or off)"),
    (["003-Adagrad", "--set", "capture=on"],
     "error: 003-Adagrad: capture on: adagrad reads its step count on the host every step, which a "
     "CUDA graph cannot hold (capture works with adam, sgd, rmsprop; use capture auto or off)"),
    (["001-A", "--compile", "--set", "capture=on"],
     "error: 001-A: capture on with compile: choose one (compile's mode reduce-overhead makes its "
     "own CUDA graphs); use capture off with compile"),
    (["001-A", "--set", "capture=yes"],
     "error: --set capture=yes: capture 'yes' is not one of auto, on, off"),
])
def test_capture_on_is_refused_where_no_graph_can_be_made(args, says, tmp_path, capsys):
    assert main.main([*args, "--dataset", "synthetic", "--out", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [says]
    assert not (tmp_path / "runs").exists()


def test_capture_off_reaches_the_config():
    exp = load_experiment(resolve_path("001-A"))
    args = main.build_parser().parse_args(["001-A", "--set", "capture=off"])
    assert main.resolve_config(exp, args, main.parse_settings(args.settings, main.given_options(args))
                               ).capture == "off"


# ---------------------------------------------------------------------------------------------
# On CUDA only (benchmarks/gpu_check.sh runs these on a lent GPU)
# ---------------------------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="a CUDA graph needs a GPU")


@needs_cuda
@pytest.mark.parametrize("optimizer, precision", [("sgd", "fp32"), ("adam", "bf16"),
                                                  ("rmsprop", "fp32")])
def test_a_captured_step_trains_as_the_eager_one(optimizer, precision):
    """Same weights and losses over full batches, a short last batch, a changed lr, with dropout."""
    from models import SimpleCNN
    from optimizers import make_optimizer

    cfg = dataclasses.replace(load_experiment(resolve_path("001-A")).config, optimizer=optimizer,
                              lr=1e-3, momentum=0.9 if optimizer != "adam" else 0.0)
    torch.manual_seed(0)
    x = torch.randn(9 * 16 + 5, 3, 32, 32, device=CUDA).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (len(x),), device=CUDA)
    losses, weights = [], []
    for captured in (False, True):
        torch.manual_seed(1)
        model = SimpleCNN(widths=(8, 8, 8, 16), fc_units=32, dropout=0.5).to(CUDA).to(
            memory_format=torch.channels_last)
        optimizer_ = make_optimizer(model, cfg, CUDA)
        step = capture.make_step(model, optimizer_, CUDA, precision, captured)
        torch.cuda.manual_seed(2)
        run = []
        for epoch in range(2):
            for group in optimizer_.param_groups:
                group["lr"] = 1e-3 * 0.5 ** epoch
            for start in range(0, len(x), 16):
                run.append(step(x[start:start + 16], y[start:start + 16])[0].item())
        losses.append(run)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        if captured:
            assert step.replays == 2 * 9 - capture.WARMUP and step.graph is not None
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(weights[1], weights[0], rtol=1e-4, atol=1e-5)
