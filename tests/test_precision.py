"""--precision and --deterministic: what each computes, records, shows and refuses.

bf16 learns as fp32 does, keeps float32 weights and optimizer state, and resumes exactly; auto
follows the device and the CPU's flags (read from a file here, so any CPU can be pretended);
--deterministic is recorded, applied for its run only, changes nothing the CPU computes, and an
op without a deterministic kernel is named in one sentence.
"""
import dataclasses
import json

import pytest
import torch
from torch import nn

import devices
import main
import train
from config import Config
from errors import UserError
from helpers import config, read_metrics
from summary import setting_notes

CPU = torch.device("cpu")


def tiny(cfg):
    """Batch norm, dropout and a linear head: what the precisions could treat differently."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                         nn.Dropout(0.2), nn.Linear(32 * 4 * 4, cfg.num_classes))


def tiny_step(tmp_path, **changes):
    """002-CNN5's setting (Adam 2e-3, batch 200, a validation split) with the tiny net, CIFAR-10-like."""
    exp, cfg = config("002-CNN5", tmp_path, **{"subset": 512, "epochs": 2, "num_classes": 10,
                                                **changes})
    return dataclasses.replace(exp, model=tiny), cfg


def metrics_without_seconds(run_dir):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_metrics(run_dir)]


# ---- bf16 on the CPU ------------------------------------------------------------------------

def test_bf16_learns_as_fp32_does_with_float32_weights_and_optimizer_state(tmp_path):
    results = {}
    for precision in ("fp32", "bf16"):
        exp, cfg = tiny_step(tmp_path, precision=precision, out=str(tmp_path / precision))
        results[precision] = train.run(train.prepare(exp, cfg))
        run_dir = tmp_path / precision / cfg.step
        assert json.loads((run_dir / "config.json").read_text())["config"]["precision"] == precision
    fp32, bf16 = results["fp32"], results["bf16"]
    # bf16 was used: the same weights, data and order give other losses ...
    assert bf16["train_loss"] != fp32["train_loss"]
    # ... and the same learning. 102 test images: one image is a point, and the test set's own
    # sampling error at ~55% is about 5 points; the two runs share init and data order, so they
    # differ far less. 10 classes: chance is 10%.
    assert fp32["test_accuracy"] > 35 and bf16["test_accuracy"] > 35
    assert abs(bf16["test_accuracy"] - fp32["test_accuracy"]) <= 5
    assert abs(bf16["best_val_accuracy"] - fp32["best_val_accuracy"]) <= 5
    ckpt = torch.load(tmp_path / "bf16" / "002-CNN5" / "checkpoint.pt", weights_only=True)
    saved = [*ckpt["model"].values(), *(t for s in ckpt["optimizer"]["state"].values()
                                        for t in s.values())]
    assert {t.dtype for t in saved if t.is_floating_point()} == {torch.float32}


def test_resume_in_bf16_equals_an_uninterrupted_run(tmp_path):
    # Random crops and dropout: the loader's and torch's generators must both come back.
    exp, cfg = config("CNN5b", tmp_path, subset=64, batch_size=16, epochs=2, precision="bf16")
    exp = dataclasses.replace(exp, model=tiny)
    train.run(train.prepare(exp, dataclasses.replace(cfg, out=str(tmp_path / "whole"))))
    train.run(train.prepare(exp, dataclasses.replace(cfg, epochs=1)))
    train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True)))
    whole = metrics_without_seconds(tmp_path / "whole" / "CNN5b")
    assert len(whole) == 2 and metrics_without_seconds(tmp_path / "runs" / "CNN5b") == whole


def test_resume_refuses_another_precision_and_says_which_to_pass(tmp_path):
    exp, cfg = config("CNN5b", tmp_path, subset=32, precision="bf16")
    exp = dataclasses.replace(exp, model=tiny)
    train.run(train.prepare(exp, cfg))
    with pytest.raises(UserError, match=r"was trained in bf16, but this run would compute in fp32; "
                                        r"add --precision bf16 to resume it as it was"):
        train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True, epochs=2, precision="auto")))


def test_the_command_line_says_bf16_records_it_and_notes_it_against_the_report(tmp_path, capsys):
    assert main.main(["003-final", "--dataset", "synthetic", "--subset", "100", "--epochs", "1",
                      "--precision", "bf16", "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "003-final: 1,211,018 parameters on cpu in bf16 autocast, fp32 weights" in out
    verdict = out.splitlines()[-2]  # above the pages' line: the verdict and its sentence
    assert verdict.startswith("003-final: not comparable.") and "precision bf16" in verdict
    info = json.loads((tmp_path / "003-final" / "config.json").read_text())
    assert info["config"]["precision"] == "bf16" and info["config"]["deterministic"] is False


def test_setting_notes_show_bf16_and_deterministic_not_fp32_or_an_unrecorded_precision():
    step = Config()
    notes = lambda **c: setting_notes(dataclasses.replace(step, **c), step, [], None)  # noqa: E731
    assert "precision bf16" in notes(precision="bf16")
    assert not [n for n in notes(precision="fp32") + notes(precision="auto") if "precision" in n]
    assert "deterministic True" in notes(deterministic=True)


# ---- auto, and the CPU's flags ----------------------------------------------------------------

ZEN3 = "fpu sse2 avx avx2 fma"  # no native bf16
ZEN4 = "fpu sse2 avx avx2 fma avx512f avx512_bf16"
SAPPHIRE_RAPIDS = "fpu sse2 avx avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile"


@pytest.fixture
def cpu_with(monkeypatch, tmp_path):
    """Pretend the CPU's /proc/cpuinfo lists these flags."""
    def pretend(flags):
        path = tmp_path / "cpuinfo"
        path.write_text(f"processor\t: 0\nmodel name\t: pretend\nflags\t\t: {flags}\n\n"
                        f"processor\t: 1\nflags\t\t: {flags}\n")
        real = devices.cpu_flags
        monkeypatch.setattr(devices, "cpu_flags", lambda: real(str(path)))
    return pretend


@pytest.mark.parametrize("flags, native", [(ZEN3, []), (ZEN4, ["avx512_bf16"]),
                                           (SAPPHIRE_RAPIDS, ["amx_bf16", "avx512_bf16"])])
def test_auto_keeps_fp32_on_every_device(cpu_with, flags, native):
    cpu_with(flags)
    assert devices.native_bf16() == native
    # Decided from BENCHMARKS.md's measurements: bf16 is faster where native, but auto keeps the
    # reports' fp32 on a CPU (README, "Precision and determinism").
    assert devices.resolve_precision("auto", CPU) == "fp32"
    assert devices.resolve_precision("auto", torch.device("cuda")) == "fp32"  # the reports'
    assert devices.resolve_precision("bf16", torch.device("cuda")) == "bf16"  # the fast option
    assert devices.resolve_precision("bf16", CPU) == "bf16"
    text = devices.precision_text("bf16", CPU)
    assert ("emulated and slower than fp32" in text) == (not native)
    assert all(flag in text for flag in native)
    # fp32 says where bf16 would be faster, and is plain "fp32" elsewhere: nothing changes there.
    hint = f"fp32 ({', '.join(native)} here: --precision bf16 trains faster)"
    assert devices.precision_text("fp32", CPU) == (hint if native else "fp32")
    assert devices.precision_text("fp32", torch.device("cuda")) == "fp32"


def test_bf16_on_a_cpu_without_native_bf16_runs_and_says_it_will_be_slow(cpu_with, tmp_path,
                                                                            capsys):
    cpu_with(ZEN3)
    exp, cfg = config("CNN5b", tmp_path, subset=32, precision="bf16")
    train.run(train.prepare(dataclasses.replace(exp, model=tiny), cfg))
    assert "bf16 is emulated and slower than fp32 here" in capsys.readouterr().out.splitlines()[0]


def test_the_flags_file_is_read_as_linux_writes_it_and_a_missing_one_reads_as_none(tmp_path):
    assert "fpu" in devices.cpu_flags() or not devices.cpu_flags()  # this machine's, if Linux
    assert devices.cpu_flags(str(tmp_path / "absent")) == frozenset()


def test_bf16_is_refused_on_mps_and_an_unknown_precision_everywhere(capsys):
    with pytest.raises(UserError, match="autocast to bf16 is for cuda and cpu, not mps"):
        devices.resolve_precision("bf16", torch.device("mps"))
    with pytest.raises(SystemExit) as e:
        main.main(["CNN2", "--precision", "fp16"])
    assert e.value.code == 2 and "invalid choice: 'fp16'" in capsys.readouterr().err


# ---- --deterministic ----------------------------------------------------------------------------

class Recording(nn.Sequential):
    """tiny, noting in every forward pass whether torch's deterministic algorithms are on."""

    seen: list = []

    def forward(self, x):
        Recording.seen.append(torch.are_deterministic_algorithms_enabled())
        return super().forward(x)


def test_deterministic_is_recorded_applied_for_its_run_only_and_changes_nothing_on_the_cpu(
        tmp_path):
    ran = {}
    for deterministic in (True, False):
        exp, cfg = tiny_step(tmp_path, subset=256, epochs=1, deterministic=deterministic,
                             out=str(tmp_path / str(deterministic)))
        exp = dataclasses.replace(exp, model=lambda c: Recording(*tiny(c)))
        Recording.seen = []
        train.run(train.prepare(exp, cfg))
        assert Recording.seen and set(Recording.seen) == {deterministic}
        run_dir = tmp_path / str(deterministic) / cfg.step
        assert json.loads((run_dir / "config.json").read_text())["config"]["deterministic"] is \
            deterministic
        ran[deterministic] = metrics_without_seconds(run_dir)
    assert not torch.are_deterministic_algorithms_enabled()
    assert ran[True] == ran[False]  # every figure to the last digit


class Unpooling(nn.Module):
    """A net with MaxUnpool2d, which has no deterministic kernel on any device: in every pass, or
    (like an op whose backward alone has none) only in training, past the check before training."""

    def __init__(self, classes, always):
        super().__init__()
        self.pool, self.unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
        self.fc, self.always = nn.Linear(3 * 32 * 32, classes), always

    def forward(self, x):
        if self.always or self.training:
            x = self.unpool(*self.pool(x))
        return self.fc(x.flatten(1))


@pytest.mark.parametrize("always, when, kept", [
    (True, "before training", "nothing was written"),
    (False, "in epoch 1", "no epoch had finished, so nothing was saved")])
def test_an_op_without_a_deterministic_kernel_is_named_with_the_step_in_one_sentence(
        tmp_path, always, when, kept):
    exp, cfg = config("CNN5b", tmp_path, subset=32, deterministic=True)
    exp = dataclasses.replace(exp, model=lambda c: Unpooling(c.num_classes, always))
    with pytest.raises(UserError) as e:
        train.run(train.prepare(exp, cfg))
    message = str(e.value)
    assert message.startswith("CNN5b: --deterministic: torch ") and "\n" not in message
    assert "no deterministic CPU kernel for max_unpooling2d_forward_out (called from " \
           "tests/test_precision.py:" in message and f", forward, {when}); " in message
    assert message.endswith(f"run without --deterministic; {kept}")
    assert (tmp_path / "runs" / "CNN5b").exists() != always  # refused before anything was written
    train.run(train.prepare(exp, dataclasses.replace(cfg, deterministic=False)))  # runs without it


def test_fp32_on_cuda_is_ieee_float32_and_recorded():
    """torch's cuDNN default runs fp32 convolutions in TF32: a CUDA run turns it off, for cuDNN and
    matrix products, and config.json's environment says so (the flags are settable without a GPU)."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32,
             torch.get_float32_matmul_precision())
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        assert devices.set_float32_math(CPU) == {} and torch.backends.cudnn.allow_tf32  # CPU: untouched
        recorded = devices.set_float32_math(torch.device("cuda"))
        assert recorded == {"cudnn_tf32": False, "matmul_tf32": False}
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved[:2]
        torch.set_float32_matmul_precision(saved[2])
    assert "cudnn_tf32" not in devices.environment(CPU)
