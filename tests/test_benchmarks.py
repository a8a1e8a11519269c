"""The speed benchmark runs end to end on a few images and prints every row it promises.

No speed is asserted: the figures belong in BENCHMARKS.md, measured on a quiet machine.
"""
import re

import pytest
import torch

from benchmarks import measure, precision, speed, startup
from experiments import load_experiment, resolve_path
from models import SimpleCNN


def test_benchmark_prints_both_loops_side_by_side(capsys):
    code = speed.main(["--step", "CNN2", "--images", "16", "--reps", "2", "--batch-size", "8",
                       "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    for label in ("(a) report: DataLoader (2 workers)", "(b) ours: batched on cpu",
                  "FLOPs per image", "peak: float32"):
        assert label in out
    number = r"[\d,]+(\.\d+)?"
    for what in ("data", "train"):
        for variant in ("(a)", "(b)"):
            assert re.search(rf"^{what}\s+{re.escape(variant)}\s+{number}\s+{number}", out, re.M), out
        ratio = re.search(rf"^{what}\s+b/a\s+{number}x\s+\(min ({number})x, median ({number})x, "
                          rf"max ({number})x over 2 reps\)", out, re.M)
        assert ratio, out
        low, mid, high = (float(ratio.group(i).replace(",", "")) for i in (2, 4, 6))
        assert 0 < low <= mid <= high
    assert re.search(r"^train\s+\(b\)\s+.*%$", out, re.M)  # achieved FLOP/s and share of peak


def test_benchmark_times_both_precisions_side_by_side_against_their_own_peaks(capsys, monkeypatch):
    # Peaks 10x apart, given (measure_peak has its own test): each variant's share must use its own.
    given, asked = {torch.float32: 20e9, torch.bfloat16: 2e9}, []
    monkeypatch.setattr(speed, "measure_peak", lambda device, dtype: asked.append(dtype) or given[dtype])
    code = speed.main(["--step", "CNN2", "--images", "8", "--reps", "2", "--batch-size", "8",
                       "--device", "cpu", "--what", "train", "--precision", "fp32,bf16",
                       "--workers", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert asked == [torch.float32, torch.bfloat16]
    peak = re.search(r"peak: float32 ([\d,.]+) GFLOP/s, bfloat16 ([\d,.]+) GFLOP/s", out)
    assert peak, out
    peaks = {"fp32": float(peak.group(1).replace(",", "")),
             "bf16": float(peak.group(2).replace(",", ""))}
    assert peaks == {"fp32": 20, "bf16": 2}
    assert "each variant's own precision's: (a) fp32, (b) fp32, (b) bf16" in out
    assert "fp32 and bf16 autocast, fp32 weights" in out and "CPU flags: " in out
    number = r"[\d,]+(?:\.\d+)?"
    for variant, kind in (("(a)", "fp32"), ("(b) fp32", "fp32"), ("(b) bf16", "bf16")):
        row = re.search(rf"^train\s+{re.escape(variant)}\s+{number}\s+{number}\s+({number})\s+"
                        rf"(\d+)%$", out, re.M)
        assert row, out
        achieved, share = float(row.group(1).replace(",", "")), int(row.group(2))
        # Against its own precision's peak, not the other's (the figures are printed rounded).
        other_kind = "bf16" if kind == "fp32" else "fp32"
        own, other = (100 * achieved / peaks[k] for k in (kind, other_kind))
        # The printed figures' rounding: GFLOP/s to 0.1 (a lot of an emulated bf16 peak under 1),
        # the peak to 3 significant figures, the share to 1%.
        assert abs(own - share) <= 1 + 100 * 0.05 / peaks[kind] + 0.01 * share, (variant, out)
        assert abs(own - share) < abs(other - share), (variant, out)
    for label in ("fp32/a", "bf16/a", "bf16/fp32"):
        assert re.search(rf"^train\s+{label}\s+{number}x\s+\(min", out, re.M), out


def test_peak_is_measured_in_bf16_too(monkeypatch):
    """float32's is measured by the benchmark above; bfloat16's products here, each taken to last
    a second: a CPU that emulates bf16 takes minutes for the sizes a real measurement reaches."""
    ran = []

    def one_second(fn, device):
        ran.append(fn())
        return 1.0

    monkeypatch.setattr(measure, "timed", one_second)
    assert measure.measure_peak(torch.device("cpu"), torch.bfloat16) == 2 * 256 ** 3
    assert len(ran) >= 4 and all(c.dtype == torch.bfloat16 and c.shape == (256, 256) for c in ran)


def test_step_benchmark_prints_both_precisions_per_step(capsys):
    assert precision.main(["--step", "001-A", "--reps", "1", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "CPU flags: " in out
    number = r"[\d,]+"
    assert re.search(rf"^001-A\s+4\s+{number}\s+{number}\s+{number}\s+{number}\s+"
                     rf"\d+\.\d\dx\s+\d+\.\d\dx$", out, re.M), out


def test_flop_count_matches_the_layers_by_hand():
    model = SimpleCNN(widths=(4, 4, 4, 8), fc_units=16, num_classes=10)
    forward, step = measure.count_flops(model, 32)
    convs = 2 * (14 * 14 * 4 * 3 * 25 + 12 * 12 * 4 * 4 * 9 + 10 * 10 * 4 * 4 * 9
                 + 8 * 8 * 8 * 4 * 9)
    fcs = 2 * (8 * 4 * 4 * 16 + 16 * 10)
    assert forward == convs + fcs
    # Backward: weight gradients everywhere, input gradients everywhere but the first layer.
    first_conv = 2 * 14 * 14 * 4 * 3 * 25
    assert step == 3 * forward - first_conv


def test_report_loader_hands_pil_images_to_the_steps_transforms():
    exp = load_experiment(resolve_path("CNN5b"))
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    loader = measure.report_loader(images, torch.arange(6), exp, 3, workers=0, seed=0)
    x, y = next(iter(loader))
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32 and len(y) == 3


@pytest.mark.parametrize("args", [["--what", "model"], ["--images", "0"], ["--reps", "0"],
                                  ["--precision", "fp32,fp16"]])
def test_bad_options_are_refused(args, capsys):
    with pytest.raises(SystemExit) as e:
        speed.main(args)
    assert e.value.code == 2


def test_unknown_step_is_refused_before_timing(capsys):
    assert speed.main(["--step", "CNN9", "--device", "cpu"]) == 2
    assert "CNN9" in capsys.readouterr().err


def test_startup_benchmark_times_each_answer_that_needs_no_data(capsys):
    assert startup.main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["python -c pass (the floor)", "python main.py --help",
                                              "python main.py --list", "python main.py --version"]
    assert all(re.fullmatch(r"\| `[^`]+` \| \d+\.\d\d s \| \d+\.\d\d - \d+\.\d\d s \|", r) for r in rows)
    assert "load average before" in out
    with pytest.raises(SystemExit):
        startup.main(["--runs", "0"])
