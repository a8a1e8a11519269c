"""--executor slurm against a real Slurm: the single-node cluster .ci/slurm.sh starts (CI always
does; elsewhere the tests say why they skip)."""
import re
import shutil
import subprocess
import time

import pytest
import torch

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


@pytest.mark.parametrize("settings, message", [
    (["time=soon"], "--slurm time=soon: 'soon' is not a valid time"),
    (["colour=blue"], "Unknown argument 'colour'"),
    (["time=0"], "--slurm time=0: time is at least 1 (minute; Slurm would take 0 as no limit"),
    (["gpus=-1"], "--slurm gpus=-1: gpus is at least 0"),
    (["cpus=0"], "--slurm cpus=0: cpus is at least 1"),
    (["mem=0"], "--slurm mem=0: mem is at least 1M"),
    (["gpus=0", "gpus=1"], "--slurm gpus=0 and --slurm gpus=1 both set gpus; give it once"),
    # sbatch's own refusals: its reason quoted, with the fix. The test cluster has no GPUs.
    ([], "sbatch refused the job: Invalid generic resource (gres) specification; on a cluster or "
         "partition without GPUs add --slurm gpus=0"),
    (["gpus=0", "partition=nope"], "sbatch refused the job: invalid partition specified: nope"),
])
def test_bad_slurm_settings_are_refused_before_anything_is_moved(settings, message, tmp_path,
                                                                    capsys):
    earlier = tmp_path / "001-A"
    earlier.mkdir()
    (earlier / run_folder.METRICS).write_text("an earlier run\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = main.main(["001-A", "--executor", "slurm", *(["--slurm", *settings] if settings else []),
                      *TINY, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    if "partition" in settings:
        assert "sinfo -s lists the partitions" in err[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def _until(done, what: str, timeout: float = 240.0) -> None:
    """Wait until done() holds; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.2)


def test_a_resumed_task_preempted_twice_finishes_as_an_uninterrupted_run(tmp_path, capsys):
    """A --resume command's task, preempted twice (the signal Slurm sends before a time limit or a
    preemption), is requeued twice and ends with the metrics of a run never stopped."""
    short = ["001-A", "--dataset", "synthetic", "--subset", "256", "--device", "cpu", "--seed", "3"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the task computes (cpus=1): the same sums in the same order
    try:
        assert main.main([*short, "--epochs", "8", "--out", str(tmp_path / "straight")]) == 0
        out = tmp_path / "runs"
        assert main.main([*short, "--epochs", "2", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    assert main.main([*short, "--epochs", "8", "--out", str(out), "--resume", "--executor", "slurm",
                      "--no-wait", "--slurm", "gpus=0", "cpus=1", "time=10"]) == 0
    job = re.search(r"as Slurm job (\d+)", capsys.readouterr().out).group(1)
    log = out / "001-A" / run_folder.LOG

    def starts() -> list[str]:  # each start's part of log.txt: the command, then what it printed
        return re.split(r"(?m)^\$ ", log.read_text())[1:] if log.exists() else []

    try:
        for restart in (0, 1):  # preempted once it has trained an epoch of its own
            _until(lambda: len(starts()) > restart and re.search(r"(?m)^001-A epoch", starts()[restart]),
                   f"start {restart} of job {job} to train an epoch")
            subprocess.run(["scancel", "--signal=USR2", job], check=True, timeout=30)
            _until(lambda: len(starts()) > restart + 1, f"job {job} to be requeued ({restart + 1})")
        _until(lambda: job not in subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True,
                                                 text=True, timeout=30).stdout.split(),
               f"job {job} to end")
    finally:
        subprocess.run(["scancel", job], timeout=30)  # a failed test leaves nothing in the queue
    parts = starts()
    assert len(parts) == 3, log.read_text()
    assert [f"restart {n})" in p.splitlines()[0] for n, p in enumerate(parts)] == [True] * 3
    assert all(p.splitlines()[0].count("--resume") == 1 for p in parts), log.read_text()
    assert ["interrupted during epoch" in p for p in parts] == [True, True, False], log.read_text()
    assert reader.run_state(str(out / "001-A"), 8) == reader.FINISHED
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert drop(read_metrics(out / "001-A")) == drop(read_metrics(tmp_path / "straight" / "001-A"))
