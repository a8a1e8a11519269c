"""Bad input, as a specification: what each Config field accepts and the exact sentence that refuses
the rest, in one literal table; the refusals that involve two fields or two options; one end-to-end
case per entry path (an option, --set, an experiment file, results.py's options): one line, exit 2,
and an earlier run's folder left as it was.

The table is checked in milliseconds through the parse and check every entry path shares
(config.parse_value, config.check_value; an experiment file's values through check_config). Each
range is pinned at its edges: loosening or tightening one fails a row.
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
import train
from config import CHOICES, DERIVED, RANGES, Config, check_config, check_value, field_type, parse_value
from errors import UserError
from experiments import load_experiment
from helpers import ROOT, error_line, files
from run_folder import reader, writer

TINY = os.path.join(ROOT, "tests", "tiny_step.py")
STEP = "tiny_step"
OK = None  # the value is accepted
HUGE = "1" + "0" * 30
FIELDS = [f.name for f in dataclasses.fields(Config) if f.name not in DERIVED]
OPTIONS = {a.dest: a.option_strings[0] for a in main.build_parser()._actions
           if a.dest in FIELDS and a.option_strings and a.nargs != 0}  # those that take a value
BASE = {"dataset": "synthetic", "subset": "64", "epochs": "1", "device": "cpu"}
PATHS = ("data_dir", "out")  # names of folders: synthetic data reads none, the run's is --out

# ---------------------------------------------------------------------------------------------
# Each field: (field, text as typed) -> OK, or the sentence that refuses it
# ---------------------------------------------------------------------------------------------

VALUES = [
    ("dataset", "cifar10", OK),
    ("dataset", "synthetic", OK),
    ("dataset", "imagenet", "dataset 'imagenet' is not one of cifar100, cifar10, synthetic"),
    ("data_dir", "some/folder", OK),
    ("data_dir", "", "data_dir must not be empty"),
    ("subset", "0", "subset 0 must be at least 1 (or none)"),
    ("subset", "1", OK),
    ("subset", HUGE, OK),  # refused with the dataset's size (CONFIGS)
    ("subset", "none", OK),
    ("subset", "abc", "subset takes a whole number or none, not 'abc'"),
    ("image_size", "0", "image_size 0 must be at least 1 and at most 1024"),
    ("image_size", "1", OK),
    ("image_size", "1024", OK),
    ("image_size", "1025", "image_size 1025 must be at least 1 and at most 1024"),
    ("epochs", "0", "epochs 0 must be at least 1"),
    ("epochs", "1", OK),
    ("epochs", HUGE, OK),  # early stopping or Ctrl-C ends such a run
    ("epochs", "1.5", "epochs takes a whole number, not '1.5'"),
    ("epochs", "", "epochs takes a whole number, not ''"),
    ("batch_size", "0", "batch_size 0 must be at least 1"),
    ("batch_size", "-4", "batch_size -4 must be at least 1"),
    ("batch_size", "1", OK),
    ("batch_size", HUGE, OK),  # one batch of every image
    ("optimizer", "sgd", OK),
    ("optimizer", "SGD", "optimizer 'SGD' is not one of adam, sgd, adagrad, rmsprop"),
    ("lr", "0", "lr 0.0 must be above 0"),
    ("lr", "-1", "lr -1.0 must be above 0"),
    ("lr", "1e-300", OK),
    ("lr", "1e30", OK),  # diverges: said in one line when it does (test_accepted_values_train)
    ("lr", "abc", "lr takes a number, not 'abc'"),
    ("lr", "nan", "lr nan must be a finite number above 0"),
    ("lr", "inf", "lr inf must be a finite number above 0"),
    ("momentum", "-1e-9", "momentum -1e-09 must be at least 0 and below 1"),
    ("momentum", "0", OK),
    ("momentum", "0.999999", OK),
    ("momentum", "1", "momentum 1.0 must be at least 0 and below 1"),
    ("momentum", "2", "momentum 2.0 must be at least 0 and below 1"),
    ("momentum", "-inf", "momentum -inf must be a finite number at least 0 and below 1"),
    ("weight_decay", "-1e-9", "weight_decay -1e-09 must be at least 0"),
    ("weight_decay", "0", OK),
    ("weight_decay", "1e30", OK),
    ("weight_decay", "nan", "weight_decay nan must be a finite number at least 0"),
    ("lr_decay", "0", "lr_decay 0.0 must be above 0 and at most 1"),
    ("lr_decay", "1e-300", OK),
    ("lr_decay", "1", OK),
    ("lr_decay", "1.000001", "lr_decay 1.000001 must be above 0 and at most 1"),
    ("val_split", "last", OK),
    ("val_split", "val", "val_split 'val' is not one of none, random, last, batch5"),
    ("val_size", "-1", "val_size -1 must be at least 0"),
    ("val_size", "0", OK),  # with val_split none; random and last need one (CONFIGS)
    ("val_size", HUGE, OK),  # refused with the dataset's size (CONFIGS)
    ("val_transform", "train", OK),
    ("val_transform", "", "val_transform '' is not one of test, train"),
    ("early_stopping", "window", OK),
    ("early_stopping", "on", "early_stopping 'on' is not one of off, patience, baseline, window"),
    ("monitor", "val_loss", OK),
    ("monitor", "loss", "monitor 'loss' is not one of val_accuracy, val_loss"),
    ("patience", "0", "patience 0 must be at least 1"),
    ("patience", "1", OK),
    ("patience", HUGE, OK),
    ("min_delta", "-1e-9", "min_delta -1e-09 must be at least 0"),
    ("min_delta", "0", OK),
    ("min_delta", "1e30", OK),
    ("keep", "best", OK),
    ("keep", "first", "keep 'first' is not one of last, best"),
    ("test_limit", "0", "test_limit 0 must be at least 1 (or none)"),
    ("test_limit", "-1", "test_limit -1 must be at least 1 (or none)"),
    ("test_limit", "1", OK),
    ("test_limit", HUGE, OK),
    ("test_limit", "None", OK),
    ("test_limit", "1.5", "test_limit takes a whole number or none, not '1.5'"),
    ("eval_every", "0", "eval_every 0.0 must be above 0 and at most 1"),
    ("eval_every", "1e-300", OK),  # evaluates after every batch (train._pauses)
    ("eval_every", "1", OK),
    ("eval_every", "1.000001", "eval_every 1.000001 must be above 0 and at most 1"),
    ("eval_every", "inf", "eval_every inf must be a finite number above 0 and at most 1"),
    ("eval_at_start", "yes", OK),
    ("eval_at_start", "0", OK),
    ("eval_at_start", "maybe", "eval_at_start takes true or false, not 'maybe'"),
    ("pretrained", "false", OK),
    ("pretrained", "", "pretrained takes true or false, not ''"),
    ("seed", "-1", "seed -1 must be at least 0 and at most 4294967295"),
    ("seed", "0", OK),
    ("seed", "4294967295", OK),
    ("seed", "4294967296", "seed 4294967296 must be at least 0 and at most 4294967295"),
    ("seed", "abc", "seed takes a whole number, not 'abc'"),
    ("device", "cpu", OK),
    ("device", "cuda:1", OK),
    ("device", "foo", "device 'foo' is not one of auto, cpu, cuda, cuda:N, mps"),
    ("device", "cuda:x", "device 'cuda:x' is not one of auto, cpu, cuda, cuda:N, mps"),
    ("device", "", "device '' is not one of auto, cpu, cuda, cuda:N, mps"),
    ("out", "abc", OK),
    ("out", "", "out must not be empty"),
    ("resume", "true", OK),
    ("resume", "2", "resume takes true or false, not '2'"),
    ("workers", "-1", "workers -1 must be at least 0 and at most 64"),
    ("workers", "0", OK),
    ("workers", "64", OK),
    ("workers", "65", "workers 65 must be at least 0 and at most 64"),
    ("compile", "no", OK),
    ("compile", "off", "compile takes true or false, not 'off'"),
    ("precision", "bf16", OK),
    ("precision", "fp16", "precision 'fp16' is not one of auto, bf16, fp32"),
    ("capture", "off", OK),
    ("capture", "yes", "capture 'yes' is not one of auto, on, off"),
    ("deterministic", "true", OK),
    ("deterministic", "on", "deterministic takes true or false, not 'on'"),
    ("snapshots", "true", OK),
    ("snapshots", "none", "snapshots takes true or false, not 'none'"),
]


def refusal(key, text):
    """What parsing and checking `text` for field `key` says: None (accepted) or its sentence."""
    try:
        check_value(key, parse_value(key, text))
    except UserError as e:
        return str(e)
    return None


def test_each_value_is_accepted_or_refused_as_the_table_says():
    wrong = [(key, text, expected, said) for key, text, expected in VALUES
             if (said := refusal(key, text)) != expected]
    assert not wrong, "\n".join(f"{k}={t!r}: expected {e!r}, got {s!r}" for k, t, e, s in wrong)


def test_the_table_pins_every_field_and_every_ranges_edges():
    """Each field has an accepted row and a refused one; each bound of config.RANGES has a row at
    it, and a row just past it on the other side (an unbounded side: a huge value, accepted)."""
    rows = {}
    for key, text, expected in VALUES:
        rows.setdefault(key, []).append((text, expected))
    for key in FIELDS:
        kind, _ = field_type(key)
        assert kind in (bool, int, float, str), key
        if kind in (int, float):
            assert key in RANGES, f"{key}: add its valid range to config.RANGES"
        if kind is str:
            assert key in CHOICES or key in PATHS or key == "device", f"{key}: add it to CHOICES"
        said = [e for _, e in rows.get(key, [])]
        assert OK in said and any(e is not OK for e in said), f"{key}: add its rows to VALUES"
    for key, bounds in RANGES.items():
        numbers = {float(t): e for t, e in rows[key] if re.fullmatch(r"-?[\d.]+(e-?\d+)?", t)}
        for bound, exclusive, outside in ((bounds.low, bounds.above, -1), (bounds.high, bounds.below, 1)):
            if bound is None:  # unbounded: a huge value on that side is accepted
                assert any(e is OK and n * outside > 1e6 for n, e in numbers.items()), (key, outside)
                continue
            assert bound in numbers, f"{key}: no row at its bound {bound}"
            assert (numbers[bound] is OK) != exclusive, f"{key}: the row at {bound}"
            assert any(n * outside > bound * outside and e is not OK for n, e in numbers.items()) \
                or exclusive, f"{key}: no refused row past {bound}"
            assert any(n * outside < bound * outside and e is OK for n, e in numbers.items()) \
                or not exclusive, f"{key}: no accepted row inside {bound}"


def test_each_option_sets_its_field_as_set_does():
    """--lr 0.5 and --set lr=0.5 give the same config, for every field with an option."""
    exp = load_experiment(TINY)
    for key, flag in OPTIONS.items():
        text = next(t for k, t, e in VALUES if k == key and e is OK)
        by_option = main.build_parser().parse_args([TINY, f"{flag}={text}"])
        by_set = main.build_parser().parse_args([TINY, f"--set={key}={text}"])
        cfg = main.resolve_config(exp, by_option)
        assert cfg == main.resolve_config(exp, by_set, main.parse_settings(by_set.settings))
        assert getattr(cfg, key) == parse_value(key, text), key


# ---------------------------------------------------------------------------------------------
# Refusals of two fields together (an experiment file's values too), and of two options
# ---------------------------------------------------------------------------------------------

CONFIGS = [  # tiny_step's config (cifar10, val_split random, val_size 5000) with these changes
    ({"subset": 50000}, OK),
    ({"subset": 50001}, "--subset 50001 is out of range: cifar10 has 50000 training images"),
    ({"dataset": "synthetic", "subset": 50001},
     "--subset 50001 is out of range: synthetic has 50000 training images"),
    ({"val_split": "batch5"}, OK),
    ({"dataset": "cifar100", "val_split": "batch5"}, "tiny_step: val_split batch5 is CIFAR-10's fifth "
     "training file; cifar100 has one training file (use random or last)"),
    ({"val_size": 49999}, OK),
    ({"val_size": 0}, "tiny_step: val_size 0 must be between 1 and 49999 for val_split random"),
    ({"val_split": "last", "val_size": 50000},
     "tiny_step: val_size 50000 must be between 1 and 49999 for val_split last"),
    ({"val_split": "none", "early_stopping": "off", "keep": "last"}, OK),
    ({"val_split": "none", "early_stopping": "off"}, "tiny_step: keep best needs a validation split; "
     "set val_split (one of random, last, batch5) and val_size"),
    ({"val_split": "none", "keep": "last"}, "tiny_step: early_stopping patience needs a validation "
     "split; set val_split (one of random, last, batch5) and val_size"),
    # An experiment file's own values: typed as Python, not parsed from text.
    ({"lr": "0.1"}, "tiny_step: lr must be a number, not str '0.1'"),
    ({"epochs": 2.5}, "tiny_step: epochs must be int, not float 2.5"),
    ({"eval_at_start": 1}, "tiny_step: eval_at_start must be bool, not int 1"),
    ({"subset": 0}, "tiny_step: subset 0 must be at least 1 (or none)"),
    ({"lr": 0.0}, "tiny_step: lr 0.0 must be above 0"),
]


def test_each_config_is_accepted_or_refused_as_the_table_says():
    base = dataclasses.replace(load_experiment(TINY).config, step=STEP, num_classes=10)
    wrong = []
    for change, expected in CONFIGS:
        try:
            check_config(dataclasses.replace(base, **change))
            said = None
        except UserError as e:
            said = str(e)
        if said != expected:
            wrong.append(f"{change}: expected {expected!r}, got {said!r}")
    assert not wrong, "\n".join(wrong)


COMMANDS = [  # main.py's options besides the step, and what refuses them (parse_settings)
    (["--set", "lr=0.1"], OK),
    (["--set", "test_limit=0"], "--set test_limit=0: test_limit 0 must be at least 1 (or none)"),
    (["--set", "lr"], "--set lr: expected KEY=VALUE; the keys are " + ", ".join(FIELDS)),
    (["--set", "lrate=1"], "--set lrate=1: no setting 'lrate'; the keys are " + ", ".join(FIELDS)),
    (["--set", "num_classes=5"], "--set num_classes=5: no setting 'num_classes'; the keys are "
     + ", ".join(FIELDS)),
    (["--epochs", "1", "--set", "epochs=0"], "--epochs 1 and --set epochs=0 both set epochs; give it once"),
    (["--lr", "0.1", "--set", "lr=0.2"], "--lr 0.1 and --set lr=0.2 both set lr; give it once"),
    (["--set", "lr=0.1", "--set", "lr=0.2"], "--set lr=0.1 and --set lr=0.2 both set lr; give it once"),
    (["--resume", "--set", "resume=true"], "--resume and --set resume=true both set resume; give it once"),
    (["--no-pretrained", "--set", "pretrained=true"],
     "--no-pretrained and --set pretrained=true both set pretrained; give it once"),
    (["--dataset", "synthetic", "--set", "dataset=cifar10"],
     "--dataset synthetic and --set dataset=cifar10 both set dataset; give it once"),
]


def test_each_command_is_accepted_or_refused_as_the_table_says():
    wrong = []
    for argv, expected in COMMANDS:
        args = main.build_parser().parse_args([TINY, *argv])
        try:
            main.parse_settings(args.settings, main.given_options(args))
            said = None
        except UserError as e:
            said = str(e)
        if said != expected:
            wrong.append(f"{argv}: expected {expected!r}, got {said!r}")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------------------------
# Each entry path, end to end: one line, exit 2, nothing of an earlier run touched
# ---------------------------------------------------------------------------------------------

def call(entry, args):
    """An entry point's exit code, argparse's own exit included."""
    try:
        return entry(args)
    except SystemExit as e:
        return e.code


def command(out, *extra, step=TINY):
    """The step on a little synthetic data, writing to out."""
    return [step, *(f"--{k.replace('_', '-')}={v}" for k, v in BASE.items()), f"--out={out}", *extra]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished run of tiny_step, the folder it is in and its files; a folder to run from."""
    tmp = tmp_path_factory.mktemp("inputs")
    out = str(tmp / "runs")
    assert main.main(command(out)) == 0
    os.makedirs(tmp / "cwd")
    return tmp, out, files(out)


def bad_experiment(tmp):
    """tiny_step as an experiment file whose own config has lr 0."""
    path = tmp / "cwd" / f"{STEP}.py"
    path.write_text(open(TINY).read().replace("lr=0.01", "lr=0.0"))
    return str(path)


@pytest.mark.parametrize("how, says", [
    ("option", "error: argument --lr: lr 0.0 must be above 0 (see python main.py --help)"),
    ("--set", "error: --set momentum=1: momentum 1.0 must be at least 0 and below 1"),
    ("experiment file", "error: tiny_step: lr 0.0 must be above 0"),
])
def test_each_entry_path_refuses_in_one_line_before_anything_is_touched(how, says, earlier,
                                                                         monkeypatch, capsys):
    tmp, out, before = earlier
    monkeypatch.chdir(tmp / "cwd")
    monkeypatch.setattr(train, "run", lambda *a, **k: pytest.fail("it trained"))
    argv = {"option": command(out, "--lr=0"), "--set": command(out, "--set=momentum=1"),
            "experiment file": command(out, step=bad_experiment(tmp))}[how]
    assert call(main.main, argv) == 2
    assert error_line(capsys.readouterr().err) == says
    assert files(out) == before  # not moved aside, nothing written


@pytest.mark.parametrize("argv, says", [
    (["--tsne-samples=0"], "--tsne-samples 0 must be at least"),
    (["--tsne-samples=abc"], "argument --tsne-samples: invalid"),
    (["--report=005"], "argument --report: invalid choice: '005'"),
    (["--out="], "--out is empty"),
])
def test_results_options_refuse_in_one_line_before_anything_is_touched(argv, says, earlier, capsys):
    _, out, before = earlier
    assert call(results.main, [f"--out={out}", "--report=001", *argv]) == 2
    assert says in error_line(capsys.readouterr().err)
    assert files(out) == before


# ---------------------------------------------------------------------------------------------
# What the checks accept trains: the edges that broke training before (issue 20)
# ---------------------------------------------------------------------------------------------

TRAINED = [("batch_size", HUGE), ("lr", HUGE), ("lr", "1e-300"), ("momentum", "0"),
           ("weight_decay", "1e30"), ("lr_decay", "1e-300"), ("patience", HUGE),
           ("min_delta", "1e30"), ("test_limit", HUGE), ("eval_every", "1e-300"), ("workers", "0")]


@pytest.mark.parametrize("key, text", TRAINED, ids=[k for k, _ in TRAINED])
def test_accepted_values_train(key, text, tmp_path, capsys):
    assert refusal(key, text) is None
    out = str(tmp_path / "runs")
    code = main.main(command(out, f"--set={key}={text}"))
    err = capsys.readouterr().err
    if code == 1:  # a rate or a decay so large that training diverges: said so, in one line
        assert "try a lower --lr" in error_line(err)
    else:
        assert code == 0 and "Traceback" not in err, err
        assert os.path.isfile(os.path.join(out, STEP, "summary.json"))


# ---------------------------------------------------------------------------------------------
# Names, files and folders
# ---------------------------------------------------------------------------------------------

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


def test_an_evaluation_interval_below_one_batch_evaluates_after_every_batch():
    """eval_every 1e-9 took minutes and 1e-310 a traceback: the pauses no longer loop over 1/eval_every."""
    for every, n in [(0.5, 4), (0.25, 10), (0.3, 7), (0.1, 3), (0.05, 20), (1, 5), (0.01, 7)]:
        assert train._pauses(every, n) == sorted(
            {round(k * every * n) for k in range(1, math.ceil(1 / every))} - {0, n})
    assert train._pauses(1e-310, 3) == [1, 2]
