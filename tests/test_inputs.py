"""Bad input, every time: each Config field through the command line, results.py's options, and the
refusals of issue 20, each before anything of an earlier run is touched.

Every field is given, as its option (where it has one) and through --set, the values users get
wrong. Each case either runs (the value reaches the run's config, and every value that changes
what is trained is trained: tests/tiny_step.py, one epoch) or stops with exit 2, one line on stderr
and no traceback, leaving an earlier finished run of the same step as it was: no file changed,
nothing moved aside. The cases come from dataclasses.fields(Config), so a new field is covered.
"""
import dataclasses
import math
import os
import re
import shutil

import pytest

import main
import results
import run_folder
from run_folder import reader, writer
import train
from config import CHOICES, DERIVED, RANGES, Config, check_config, check_value, field_type, parse_value
from errors import UserError
from experiments import load_experiment
from helpers import ROOT, error_line, files

TINY = os.path.join(ROOT, "tests", "tiny_step.py")
STEP = "tiny_step"
# The values users get wrong, as they type them.
VALUES = {"wrong type": "abc", "zero": "0", "negative": "-1", "huge": "1" + "0" * 30,
          "tiny": "1e-9", "nan": "nan", "inf": "inf", "-inf": "-inf", "empty": ""}
FIELDS = [f.name for f in dataclasses.fields(Config) if f.name not in DERIVED]
OPTIONS = {a.dest: a.option_strings[0] for a in main.build_parser()._actions
           if a.dest in FIELDS and a.option_strings and a.nargs != 0}  # those that take a value
BASE = {"dataset": "synthetic", "subset": "64", "epochs": "1", "device": "cpu"}
PATHS = ("data_dir", "out")  # names of folders: synthetic data reads none, the run's is --out


def call(entry, args):
    """An entry point's exit code, argparse's own exit included."""
    try:
        return entry(args)
    except SystemExit as e:
        return e.code


def command(key, how, text, out):
    """tiny_step with BASE and --out, and `key` given `text` by its option or by --set."""
    args = [TINY] + [f"{OPTIONS[k]}={v}" for k, v in {**BASE, "out": out}.items() if k != key]
    return args + [f"{OPTIONS[key]}={text}" if how == "option" else f"--set={key}={text}"]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished run of tiny_step, the folder it is in and its files; a folder to run from."""
    tmp = tmp_path_factory.mktemp("inputs")
    out = str(tmp / "runs")
    assert main.main(command("epochs", "option", "1", out)) == 0
    os.makedirs(tmp / "cwd")
    return tmp, out, files(out)


# ---------------------------------------------------------------------------------------------
# Every field, every value
# ---------------------------------------------------------------------------------------------

def test_every_field_has_its_check():
    """A number needs its range in config.RANGES; a string its choices, unless it names a folder."""
    for key in FIELDS:
        kind, _ = field_type(key)
        assert kind in (bool, int, float, str), key
        if kind in (int, float):
            assert key in RANGES, f"{key}: add its valid range to config.RANGES"
        if kind is str:
            assert key in CHOICES or key in PATHS or key == "device", f"{key}: add it to CHOICES"


CASES = [(key, how, name) for key in FIELDS for how in ("--set", "option")
         if how == "--set" or key in OPTIONS for name in VALUES]


@pytest.mark.parametrize("key, how, name", CASES, ids=["-".join(c) for c in CASES])
def test_every_field_runs_or_is_refused_in_one_line(key, how, name, earlier, monkeypatch, capsys):
    tmp, out, before = earlier
    monkeypatch.chdir(tmp / "cwd")  # an accepted --out abc is a folder here
    started = []
    monkeypatch.setattr(train, "run", lambda exp, cfg, seeded=False: started.append(cfg))  # trained below
    monkeypatch.setattr(main, "_pages", lambda trained: None)  # written after training, not before
    code = call(main.main, command(key, how, VALUES[name], out))
    err = capsys.readouterr().err
    if code == 2:
        error_line(err)
        assert not started
    else:
        assert code == 0 and "Traceback" not in err, err
        assert len(started) == 1 and getattr(started[0], key) == parse_value(key, VALUES[name])
    assert files(out) == before  # not moved aside, nothing written


def accepted():
    """Each (field, value) of the grid the checks accept that trains differently from tiny_step."""
    exp = load_experiment(TINY)
    base = dataclasses.replace(exp.config, dataset="synthetic", subset=64, epochs=1, device="cpu",
                               num_classes=10)
    cases = {}
    for key in FIELDS:
        for name, text in VALUES.items():
            try:
                value = parse_value(key, text)
                check_value(key, value)
                cfg = dataclasses.replace(base, **{key: value})
                check_config(cfg)
            except UserError:
                continue
            # epochs: a huge number is valid (early stopping or Ctrl-C ends such a run), not tried.
            if cfg != base and key not in PATHS and key != "epochs":
                cases.setdefault((key, value), name)
    return [(key, name) for (key, _), name in cases.items()]


def test_the_grid_accepts_values_that_change_training():
    """The values trained below include the edges that broke training before (issue 20)."""
    assert {("lr", "huge"), ("batch_size", "huge"), ("test_limit", "huge"),
            ("eval_every", "tiny"), ("momentum", "zero")} <= set(accepted())


@pytest.mark.parametrize("key, name", accepted(), ids=["-".join(c) for c in accepted()])
def test_every_accepted_value_trains(key, name, tmp_path, capsys):
    out = str(tmp_path / "runs")
    code = main.main(command(key, "--set", VALUES[name], out))
    err = capsys.readouterr().err
    if code == 1:  # a rate or a decay so large that training diverges: said so, in one line
        assert "try a lower --lr" in error_line(err)
    else:
        assert code == 0 and "Traceback" not in err, err
        assert os.path.isfile(os.path.join(out, STEP, "summary.json"))


RESULT_OPTIONS = [a.option_strings[0] for a in results.build_parser()._actions
                  if a.option_strings and a.dest != "help"]


@pytest.mark.parametrize("flag", RESULT_OPTIONS)
@pytest.mark.parametrize("name", VALUES)
def test_results_options_run_or_are_refused_in_one_line(flag, name, tmp_path, capsys):
    # One report without runs: the options are under test, not the drawing.
    os.makedirs(tmp_path / "runs")
    base = {"--out": str(tmp_path / "runs"), "--report": "001"}
    args = [f"{k}={v}" for k, v in base.items() if k != flag] + [f"{flag}={VALUES[name]}"]
    code = call(results.main, args)
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        error_line(err)


# ---------------------------------------------------------------------------------------------
# The issue's reproductions, each refused before the earlier run is touched
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (["--set", "test_limit=0"], "--set test_limit=0: test_limit 0 must be at least 1 (or none)"),
    (["--set", "test_limit=-1"], "test_limit -1 must be at least 1"),
    (["--set", "batch_size=0"], "batch_size 0 must be at least 1"),
    (["--set", "batch_size=-4"], "batch_size -4 must be at least 1"),
    (["--batch-size", "0"], "batch_size 0 must be at least 1"),
    (["--set", "device=foo"], "device 'foo' is not one of auto, cpu, cuda, cuda:N, mps"),
    (["--set", "epochs=0"], "epochs 0 must be at least 1"),
    (["--set", "momentum=2"], "momentum 2.0 must be at least 0 and below 1"),
    (["--set", "lr_decay=0"], "lr_decay 0.0 must be above 0 and at most 1"),
    (["--set", "workers=-1"], "workers -1 must be at least 0 and at most 64"),
    (["--workers", "-1"], "workers -1 must be at least 0 and at most 64"),
    (["--epochs", "1", "--set", "epochs=0"],
     "--epochs 1 and --set epochs=0 both set epochs; give it once"),
    (["--lr", "0.1", "--set", "lr=0.2"], "--lr 0.1 and --set lr=0.2 both set lr; give it once"),
    (["--set", "lr=0.1", "--set", "lr=0.2"], "--set lr=0.1 and --set lr=0.2 both set lr; give it once"),
    (["--resume", "--set", "resume=true"], "--resume and --set resume=true both set resume"),
])
def test_issue_inputs_are_refused_before_anything_is_touched(args, says, earlier, capsys):
    _, out, before = earlier
    code = call(main.main, [TINY, "--dataset", "synthetic", "--subset", "64", "--out", out, *args])
    assert code == 2 and says in error_line(capsys.readouterr().err)
    assert files(out) == before


def test_an_option_and_set_for_the_same_key_with_summary(capsys):
    assert main.main(["001-A", "--dataset", "synthetic", "--set", "dataset=cifar10", "--summary"]) == 2
    line = error_line(capsys.readouterr().err)
    assert "--dataset synthetic and --set dataset=cifar10 both set dataset" in line


def test_the_same_step_twice_runs_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = str(tmp_path / "runs")
    code = main.main([TINY, "tests/tiny_step.py", "tests/../tests/tiny_step.py", "--dataset",
                      "synthetic", "--subset", "64", "--device", "cpu", "--out", out])
    assert code == 0
    output = capsys.readouterr().out
    assert f"{STEP} is named 3 times in the command; it runs once" in output
    assert output.count(f"{STEP} epoch   1/1") == 1 and sorted(os.listdir(out)) == ["results", STEP]


def test_two_files_that_are_one_step_are_refused(tmp_path, capsys):
    other = tmp_path / "tiny_step.py"
    shutil.copy(TINY, other)
    assert main.main([TINY, str(other), "--summary"]) == 2
    assert "are both step tiny_step" in error_line(capsys.readouterr().err)


def test_data_dir_that_is_a_file_is_refused(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    code = main.main([TINY, "--dataset", "cifar10", "--data-dir", str(afile), "--subset", "64",
                      "--out", str(tmp_path / "runs")])
    assert code == 2
    assert f"{afile} is a file, not a folder" in error_line(capsys.readouterr().err)
    assert not (tmp_path / "runs" / STEP).exists()


@pytest.mark.parametrize("name, says", [
    ("experiments/r001", "experiments/r001 is the folder of report 001: give 001 for all its steps"),
    ("cnn2", "did you mean CNN2?"),
    ("003-FINAL", "did you mean 003-final?"),
    ("tests", "tests is a folder, not an experiment file"),
])
def test_names_that_are_folders_or_in_another_case(name, says, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main.main([name, "--summary"]) == 2
    assert says in error_line(capsys.readouterr().err)


def test_a_model_that_does_not_fit_the_image_size_is_one_line_with_summary(capsys):
    assert main.main(["CNN2", "--summary", "--set", "image_size=8"]) == 2
    assert "cannot take a 8x8 image" in error_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------------
# results.py: what it cannot write, Ctrl-C, a damaged checkpoint said once
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def copied(earlier, tmp_path):
    """A copy of the earlier run's folder of runs, to damage."""
    out = tmp_path / "runs"
    shutil.copytree(earlier[1], out)
    return out


def test_results_folder_that_is_a_file(copied, capsys):
    shutil.rmtree(copied / "results", ignore_errors=True)  # the pages main.py wrote
    (copied / "results").write_text("")
    assert results.main(["--out", str(copied), "--report", "001"]) == 2
    assert "results is a file" in error_line(capsys.readouterr().err)


def test_results_out_that_cannot_be_written(copied, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(results.tempfile, "TemporaryFile", refuse)
    assert results.main(["--out", str(copied), "--report", "001"]) == 2
    line = error_line(capsys.readouterr().err)
    assert f"cannot write to {copied / 'results'} (Permission denied)" in line


def test_a_figure_path_that_is_a_folder_is_one_line_and_the_rest_is_drawn(copied, capsys):
    curves = copied / STEP / "loss_accuracy.png"
    os.remove(curves)
    os.makedirs(curves)
    assert results.main(["--out", str(copied)]) == 2
    out, err = capsys.readouterr()
    assert f"{curves} is a folder" in error_line(err)
    assert "other.md" in out and os.path.isfile(copied / "results" / "001.md")


def test_results_out_that_is_a_file(tmp_path, capsys):
    afile = tmp_path / "afile.txt"
    afile.write_text("")
    assert results.main(["--out", str(afile)]) == 2
    assert f"--out {afile} is a file, not a folder of runs" in error_line(capsys.readouterr().err)


def test_ctrl_c_in_results_is_one_line_and_130(copied, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reader, "read_run", interrupt)  # while the first run is read (read_step)
    assert results.main(["--out", str(copied), "--report", "001"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "interrupted: the figures and tables written so far are kept; run results.py again to redo "
        "them all"]


def fake_run(out, step, checkpoint=b""):
    """A run folder of `step` on synthetic data as results.py reads it, with the given checkpoint.pt."""
    import json
    from experiments import resolve_path
    exp = load_experiment(resolve_path(step))
    cfg = dataclasses.replace(exp.config, step=step, dataset="synthetic", num_classes=10, subset=10)
    folder = os.path.join(out, step)
    os.makedirs(folder)
    writer.write_metrics(os.path.join(folder, run_folder.METRICS), [
        {"epoch": 1, "train_loss": 2.0, "train_accuracy": 10.0, "val_loss": 2.0,
         "val_accuracy": 10.0, "test_loss": 2.0, "test_accuracy": 10.0, "seconds": 1.0}])
    with open(os.path.join(folder, run_folder.CONFIG), "w") as f:
        json.dump({"config": dataclasses.asdict(cfg), "parameters": 1, "reported": None}, f)
    with open(os.path.join(folder, run_folder.CHECKPOINT), "wb") as f:
        f.write(checkpoint)


@pytest.mark.parametrize("content, says", [(b"", "is empty"), (b"garbage" * 100, "is damaged")],
                         ids=["empty", "garbage"])
def test_a_damaged_checkpoint_is_said_once_without_the_mmap_hint(content, says, tmp_path, capsys):
    out = tmp_path / "runs"
    fake_run(out, "004-ResNet18", content)  # two figures read its checkpoint
    assert results.main(["--out", str(out), "--report", "004"]) == 2
    line = error_line(capsys.readouterr().err)
    assert says in line and "mmap" not in line and "checkpoint.pt" in line


@pytest.mark.parametrize("change, says", [
    ({"lr": "0.1"}, "lr must be a number, not str '0.1'"),
    ({"epochs": 2.5}, "epochs must be int, not float 2.5"),
    ({"eval_at_start": 1}, "eval_at_start must be bool, not int 1"),
    ({"subset": 0}, "subset 0 must be at least 1 (or none)"),
])
def test_an_experiment_files_own_values_are_checked_too(change, says):
    cfg = dataclasses.replace(load_experiment(TINY).config, **change)
    with pytest.raises(UserError, match=re.escape(f"tiny_step: {says}")):
        check_config(cfg)


def test_an_evaluation_interval_below_one_batch_evaluates_after_every_batch():
    """eval_every 1e-9 took minutes and 1e-310 a traceback: the pauses no longer loop over 1/eval_every."""
    for every, n in [(0.5, 4), (0.25, 10), (0.3, 7), (0.1, 3), (0.05, 20), (1, 5), (0.01, 7)]:
        assert train._pauses(every, n) == sorted(
            {round(k * every * n) for k in range(1, math.ceil(1 / every))} - {0, n})
    assert train._pauses(1e-310, 3) == [1, 2]
