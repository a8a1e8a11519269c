"""--executor slurm against a real Slurm: the single-node cluster .ci/slurm.sh starts (CI always
does; elsewhere the tests say why they skip)."""
import shutil
import subprocess

import pytest

import main
import results
import run_folder
from run_folder import reader
from helpers import read_metrics, table_rows


def _slurm_answers() -> str:
    """Why Slurm cannot be used here, or "" if it can."""
    if shutil.which("sbatch") is None:
        return "sbatch is not on PATH: .ci/slurm.sh installs and starts a single-node Slurm"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                timeout=5).stdout.split()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"sinfo does not answer ({e})"
    if not any(s.startswith(("idle", "mixed", "allocated")) for s in states):
        return f"no Slurm node is up (sinfo: {' '.join(states) or 'nothing'}); run .ci/slurm.sh"
    return ""


WHY_NOT = _slurm_answers()  # asked once: sinfo waits for a controller that is down
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "-")
pytest.importorskip("submitit")

TINY = ["--dataset", "synthetic", "--subset", "128", "--batch-size", "64", "--device", "cpu",
        "--epochs", "1"]


def test_a_job_array_of_two_seeds_runs_and_is_aggregated(tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs"
    # This process submits and waits, as `python main.py ...` would; the runs are Slurm's.
    code = main.main(["001-A", "--seeds", "0", "1", "--executor", "slurm", "--slurm", "gpus=0",
                      "cpus=1", "time=10", *TINY, "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert "submitted 2 run(s) as Slurm job array " in stdout
    assert "done 2, failed 0, running 0, waiting 0" in stdout
    for seed in (0, 1):
        folder = out / "001-A" / f"seed-{seed}"
        assert reader.run_state(str(folder), 1) == reader.FINISHED
        assert len(read_metrics(folder)) == 1
        log = (folder / run_folder.LOG).read_text()
        assert "(Slurm job " in log.splitlines()[0] and " epoch   1/1 " in log
    row = table_rows(stdout)["001-A"]
    assert row[4].endswith("(n=2)") and row[-1].endswith("seeds 0, 1")
    # The results command reads the cluster's runs as it reads local ones.
    monkeypatch.setattr(results.figures, "of", lambda report: ())  # its figures are tested elsewhere
    assert results.regenerate(str(out), only=["001"])["problems"] == []
    assert table_rows((out / "results" / "001.md").read_text())["001-A"][4] == row[4]


def test_bad_slurm_settings_are_refused_before_anything_is_submitted(tmp_path, capsys):
    for setting, message in (("time=soon", "'soon' is not a valid time"),
                             ("colour=blue", "Unknown argument 'colour'")):
        assert main.main(["001-A", "--executor", "slurm", "--slurm", setting, *TINY,
                          "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "slurm").exists() and not (tmp_path / "001-A").exists()
