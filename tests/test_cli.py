"""main.py as a user meets it: errors are one line with exit code 2, --summary, several steps."""
import dataclasses
import os
import subprocess
import sys
import textwrap
import urllib.error

import pytest
import torch

import cifar
import data
import kit
import main
from config import DERIVED, QUICK_START, Config
from experiments import REPORTS
from models import resnet
from expected import EXPECTED_PARAMETERS
from helpers import ROOT, cli, error_line, one_line_error, table_rows

RUN_FILES = {"checkpoint.pt", "config.json", "experiment.py", "loss_accuracy.png", "metrics.csv",
             "confusion.csv", "confusion.png"}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No CIFAR download is possible, and nothing is fetched even where a network is."""
    for name, spec in list(cifar.SPECS.items()):
        missing = "file://" + str(tmp_path / "unreachable" / spec.archive)
        monkeypatch.setitem(cifar.SPECS, name, dataclasses.replace(spec, url=missing))
    data.load_dataset.cache_clear()
    yield
    data.load_dataset.cache_clear()


def test_missing_experiment_path():
    line = one_line_error(cli("experiments/CNN9.py"))
    assert "experiments/CNN9.py does not exist" in line and "--list" in line
    assert "did you mean CNN4c or CNN4b or CNN4a?" in one_line_error(cli("CNN4x"))


def test_file_that_is_not_an_experiment(tmp_path):
    path = tmp_path / "notes.py"
    path.write_text("model = None\n")
    line = one_line_error(cli(str(path)))
    assert "is not an experiment" in line and "train_transform, test_transform, reported" in line


def test_experiment_that_raises_on_import(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("import torch\n\nx = torch.zeros(2) + torch.zeros(3)\n")
    assert main.main([str(path)]) == 2
    line = error_line(capsys.readouterr().err)
    assert str(path) in line and "line 3" in line and "RuntimeError" in line


@pytest.mark.parametrize("args, expected", [
    (["--epochs", "0"], "--epochs: epochs 0 must be at least 1"),
    (["--batch-size", "-4"], "--batch-size: batch_size -4 must be at least 1"),
    (["--lr", "0"], "--lr: lr 0.0 must be above 0"),
    (["--lr", "fast"], "--lr: lr takes a number, not 'fast'"),
    (["--subset", "many"], "--subset: subset takes a whole number or none, not 'many'"),
    (["--dataset", "imagenet"], "choose from 'cifar100', 'cifar10', 'synthetic'"),
    (["--device", "tpu"], "device 'tpu' is not one of auto, cpu, cuda, cuda:N, mps"),
    (["--workers", "-1"], "--workers: workers -1 must be at least 0"),
])
def test_bad_option_values(args, expected, capsys):
    with pytest.raises(SystemExit) as exit:
        main.main(["CNN2", *args])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]


def test_bad_option_value_from_a_shell():
    line = one_line_error(cli("CNN2", "--dataset", "imagenet"))
    assert "--dataset" in line


def test_subset_larger_than_the_dataset(capsys):
    assert main.main(["CNN2", "--dataset", "synthetic", "--subset", "50001"]) == 2
    assert "--subset 50001 is out of range" in capsys.readouterr().err


def test_unavailable_cuda_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main.main(["CNN2", "--device", "cuda", "--summary"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_summary_prints_parameters_without_touching_data(tmp_path, capsys):
    data_dir = tmp_path / "no-data"
    assert main.main(["CNN4b", "--summary", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"trainable parameters: {EXPECTED_PARAMETERS['CNN4b']:,}" in out.splitlines()
    assert "output: (1, 100)" in out
    assert not data_dir.exists()


def test_summary_of_all_lists_every_step_in_report_order(offline, capsys):
    assert main.main(["all", "--summary"]) == 0
    out = capsys.readouterr().out
    headers = [line.split()[1] for line in out.splitlines() if line.startswith("== ")]
    counts = [int(line.split()[-1].replace(",", "")) for line in out.splitlines()
              if line.startswith("trainable parameters: ")]
    assert headers == [s for r in REPORTS for s in r.steps]
    assert counts == [EXPECTED_PARAMETERS[s] for s in headers]


def test_offline_without_cifar_says_what_to_do(offline, tmp_path, capsys):
    assert main.main(["CNN2", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "cifar-100-python.tar.gz" in err[0] and "--dataset synthetic" in err[0]
    assert str(tmp_path / "data") in err[0]


def test_missing_imagenet_weights_name_the_file_and_directory(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    code = main.main(["CNN6", "--dataset", "synthetic", "--subset", "8", "--epochs", "1",
                      "--out", str(tmp_path / "runs")])
    assert code == 2
    err = capsys.readouterr().err
    assert "resnet18-f37072fd.pth" in err and str(tmp_path / "torch" / "hub" / "checkpoints") in err
    assert "--no-pretrained" in err


def test_imagenet_weights_placed_in_the_cache_load_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("tried to download"))
    reference = resnet.resnet18(weights=None)
    os.makedirs(os.path.dirname(resnet.weights_path()))
    torch.save(reference.state_dict(), resnet.weights_path())
    model = resnet.resnet18_finetune(num_classes=100, pretrained=True)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert model.fc.out_features == 100


def test_one_failing_step_does_not_stop_the_others(tmp_path, capsys):
    broken = tmp_path / "Broken.py"
    broken.write_text(textwrap.dedent("""\
        from config import Reported
        from data import TO_NORMALIZED_TENSOR
        reported = None
        train_transform = test_transform = TO_NORMALIZED_TENSOR

        def model(cfg):
            raise RuntimeError("this network does not build")
    """))
    code = main.main([str(broken), "CNN2", "--dataset", "synthetic", "--subset", "32",
                      "--epochs", "1", "--out", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 2  # the experiment's fault, reported by file and line
    assert "Broken.py: model(cfg) failed (line 7): RuntimeError: this network does not build" in err
    rows = table_rows(out)
    assert rows["Broken"][1] == "failed" and rows["CNN2"][3] == "1"
    assert RUN_FILES <= set(os.listdir(tmp_path / "runs" / "CNN2"))


# ---- answers before any import of the training side ------------------------------------------

NO_TORCH = """
import sys
import main
try:
    code = main.main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(code, sorted(m for m in ("torch", "torchvision", "matplotlib") if m in sys.modules))
"""


@pytest.mark.parametrize("args, code", [
    (["--help"], 0), (["--list"], 0), (["--set", "help"], 0), (["--version"], 0), ([], 2),
    (["CNN2", "--epochs", "0"], 2), (["CNN2", "--optimizer", "adamw"], 2),
    (["CNN2", "--set", "momentum=1"], 2), (["CNN2", "--seeds", "1", "--seed", "2"], 2),
], ids=["help", "list", "set-help", "version", "no-step", "bad-value", "bad-choice", "bad-set", "seed-twice"])
def test_answers_that_need_no_data_import_neither_torch_nor_matplotlib(args, code):
    result = subprocess.run([sys.executable, "-c", NO_TORCH, *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == f"{code} []", result.stderr


def test_help_reads_in_groups_with_examples_and_the_set_keys_are_one_option_away(capsys):
    with pytest.raises(SystemExit):
        main.main(["--help"])
    text = capsys.readouterr().out
    titles = ["what to run:", "the step's settings (default: the step's own):", "seeds and resume:",
              "speed and precision:", "many runs and Slurm:", "examples"]
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)
    assert QUICK_START in text.split("examples")[1]
    assert main.main(["--set", "help"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:] if line}
    settable = [f.name for f in dataclasses.fields(Config) if f.name not in DERIVED]
    assert set(settable) <= set(rows)
    assert rows["momentum"].split()[1:] == ["0.0", "a", "number,", "at", "least", "0", "and",
                                            "below", "1"]
    assert rows["val_split"].split()[1:] == ["none", "none,", "random,", "last,", "batch5"]
    assert rows["test_limit"].endswith("at least 1, or none")


def test_version_names_the_kits_commit(capsys):
    with pytest.raises(SystemExit) as e:
        main.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"python main.py: {kit.text()}\n"
