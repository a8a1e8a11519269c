"""What is read back from a run's files (run_folder/reader.py: metrics.csv, config.json,
summary.json) is checked once, at reading: a damaged file is one line naming it, from both
`main.py --resume` and `results.py`, never a traceback where a value is used (a figure, a page)."""
import json
import shutil

import pytest

import main
import results

STEP = "001-A"  # with a validation split: summary.json has a best epoch, the figures draw it
TINY = ["--dataset", "synthetic", "--subset", "256", "--epochs", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "runs"
    assert main.main([STEP, *TINY, "--out", str(out)]) == 0
    return out


def _json(path, **changes):
    content = json.loads(path.read_text())
    content.update(changes)
    path.write_text(json.dumps(content))


def _config(path, **changes):
    content = json.loads(path.read_text())
    content["config"].update(changes)
    path.write_text(json.dumps(content))


def _metrics(path, column, value):
    header, first, *rest = path.read_text().splitlines()
    cells = first.split(",")
    cells[header.split(",").index(column)] = value
    path.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")


SUMMARY_DAMAGE = {  # the three, and a file that is no JSON at all
    "epochs a string": (lambda d: _json(d / "summary.json", epochs="3"),
                        'epochs is "3", not a whole number of epochs'),
    "best_epoch a string": (lambda d: _json(d / "summary.json", best_epoch="x"),
                            'best_epoch is "x", not an epoch number'),
    "per_class_accuracy a list": (lambda d: _json(d / "summary.json", per_class_accuracy=[1, 2]),
                                  "per_class_accuracy is [1, 2], not each class's name"),
    "not JSON": (lambda d: (d / "summary.json").write_text('{"epochs": 2,'), "not readable JSON"),
}
OTHER_DAMAGE = {
    "a setting of the wrong type": (lambda d: _config(d / "config.json", lr="fast"),
                                    "config.json is damaged: lr must be a number, not str "
                                    "'fast'"),
    "an environment that is no object": (lambda d: _json(d / "config.json", environment=[1]),
                                         "config.json is damaged: environment is [1]"),
    "an accuracy out of range": (lambda d: _metrics(d / "metrics.csv", "test_accuracy", "250"),
                                 "metrics.csv is not a readable metrics file (ValueError: line 2: "
                                 "test_accuracy 250.0 is not a percentage)"),
    "a loss that is no number": (lambda d: _metrics(d / "metrics.csv", "train_loss", "nan"),
                                 "line 2: train_loss nan is not a loss"),
}


def _damaged_copy(finished, tmp_path, damage):
    out = tmp_path / "runs"
    shutil.copytree(finished / STEP, out / STEP)
    damage(out / STEP)
    return out


@pytest.mark.parametrize("case", SUMMARY_DAMAGE)
def test_resume_says_a_damaged_summary_in_one_line(case, finished, tmp_path, capsys):
    damage, says = SUMMARY_DAMAGE[case]
    out = _damaged_copy(finished, tmp_path, damage)
    assert main.main([STEP, *TINY, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {out / STEP / 'summary.json'} is damaged"), err
    assert says in err[0]


@pytest.mark.parametrize("case", [*SUMMARY_DAMAGE, *OTHER_DAMAGE])
def test_results_says_a_damaged_file_in_one_line_and_draws_the_rest(case, finished, tmp_path,
                                                                     capsys):
    damage, says = {**SUMMARY_DAMAGE, **OTHER_DAMAGE}[case]
    out = _damaged_copy(finished, tmp_path, damage)
    assert results.main(["--out", str(out), "--report", "001"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {out / STEP}") and says in err[0], err
    assert "Traceback" not in captured.err
    assert (out / "results" / "001.md").exists()  # the report's page, without the damaged run
