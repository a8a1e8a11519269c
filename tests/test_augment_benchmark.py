"""The augmentation benchmark runs end to end on a few images and prints every row it promises.

No speed is asserted: the figures belong in BENCHMARKS.md, measured on a quiet machine.
"""
import re

import pytest
import torch

from benchmarks import augment


def test_augment_benchmark_prints_both_paths_for_every_pipeline(capsys):
    threads = torch.get_num_threads()
    code = augment.main(["--images", "24", "--reps", "2", "--batch-size", "8", "--workers", "0",
                         "--device", "cpu", "--threads", "1"])
    assert torch.get_num_threads() == threads  # given back
    out = capsys.readouterr().out
    assert code == 0, out
    number = r"[\d,]+(\.\d+)?"
    for name in augment.CONFIGS:
        assert f"== {name}:" in out
        assert re.search(rf"^\| {name} \| {number} \| {number} \| {number}x \({number}x - {number}x\) \|$",
                         out, re.M), out
    assert "(b) batched on cpu" in out and "per image" not in out.split("(b)")[1].split("\n")[0]
    for variant in ("(a)", "(b)"):
        assert len(re.findall(rf"^data\s+{re.escape(variant)}\s+{number}\s+{number}$", out, re.M)) == 4
    assert len(re.findall(rf"^data\s+b/a\s+{number}x\s+\(min {number}x, median {number}x, "
                          rf"max {number}x over 2 reps\)", out, re.M)) == 4


@pytest.mark.parametrize("args", [["--config", "DA9"], ["--images", "0"], ["--reps", "0"],
                                  ["--threads", "0"]])
def test_bad_options_are_refused(args, capsys):
    with pytest.raises(SystemExit) as e:
        augment.main(args)
    assert e.value.code == 2
