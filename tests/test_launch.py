"""--jobs N as a user runs it, in real processes: runs at the same time, each with its log.txt, a
failure that does not stop the others, and Ctrl-C that stops every run with its checkpoint kept."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import main
import run_folder
from run_folder import reader
from experiments import load_experiment, resolve_path
from helpers import ROOT, read_metrics
from launch import Task, command, local, resumed

TINY = ["--dataset", "synthetic", "--subset", "128", "--batch-size", "64", "--device", "cpu"]
BROKEN = textwrap.dedent("""\
    from data import TO_NORMALIZED_TENSOR
    reported = None
    train_transform = test_transform = TO_NORMALIZED_TENSOR

    def model(cfg):
        raise RuntimeError("this network does not build")
""")


def test_jobs_run_side_by_side_and_a_failure_does_not_stop_the_others(tmp_path, capsys):
    broken = tmp_path / "Broken.py"
    broken.write_text(BROKEN)
    out = tmp_path / "runs"
    # This process is the parent (as `python main.py ...` would be); the runs are processes.
    code = main.main(["001-A", str(broken), "--jobs", "2", "--epochs", "1", *TINY, "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 2, stdout  # the experiment's fault, as when run alone
    assert "\x1b" not in stdout  # not a terminal: no control codes, one line per change
    assert "running 2, waiting 0" in stdout  # both at once
    assert "done 1, failed 1, running 0, waiting 0" in stdout
    # The failure table names the run and its last line.
    table = stdout[stdout.index("1 run(s) failed"):]
    row = next(line for line in table.splitlines() if line.startswith("| Broken |"))
    assert "| 2 |" in row and "model(cfg) failed (line 6): RuntimeError: this network does not " \
                               "build" in row and str(out / "Broken" / run_folder.LOG) in row
    # Each run's own output is in its folder's log.txt, beginning with the command that made it.
    log = (out / "001-A" / run_folder.LOG).read_text().splitlines()
    assert log[0].startswith(f"$ {sys.executable} {os.path.join(ROOT, 'main.py')} ")
    assert "--set epochs=1" in log[0] and any(" epoch   1/1 " in line for line in log)
    assert (out / "001-A" / "summary.json").is_file() and len(read_metrics(out / "001-A")) == 1
    # Each of the two took its share of the cores: 2 jobs on 2 cores, one thread each.
    threads = max(1, local.cores() // 2)
    assert f"started 001-A ({threads} CPU thread" in stdout
    config = json.loads((out / "001-A" / "config.json").read_text())
    assert config["environment"]["cpu_threads"] == threads
    assert "001-A" in stdout[stdout.index("report 001:"):]


def test_ctrl_c_stops_every_job_each_keeping_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "runs"
    command = ["001-A", "001-A-drop0.2", "001-A-drop0.5", *TINY, "--out", str(out)]
    parent = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), *command, "--jobs",
                               "2", "--epochs", "1000"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
            (out / s / "checkpoint.pt").exists() for s in ("001-A", "001-A-drop0.2")):
        time.sleep(0.1)
    parent.send_signal(signal.SIGINT)  # as Ctrl-C at the terminal: the children are not sent it
    stdout, _ = parent.communicate(timeout=120)
    assert parent.returncode == 130, stdout
    epochs = {}
    for step in ("001-A", "001-A-drop0.2"):
        assert "interrupted during epoch" in (out / step / run_folder.INTERRUPTED).read_text()
        epochs[step] = len(read_metrics(out / step))
        assert epochs[step] >= 1 and (out / step / "checkpoint.pt").is_file()
        assert f"stopped {step}: {step}: interrupted during epoch" in stdout
    assert not (out / "001-A-drop0.5").exists()  # waiting: never started
    row = next(line for line in stdout.splitlines() if line.startswith("| 001-A-drop0.5 |"))
    assert "| not started |" in row, row

    # --resume continues each from its checkpoint (a whole command's resume: tests/test_seeds.py).
    last = max(epochs.values())
    assert main.main([*command[:2], *command[3:], "--resume", "--epochs", str(last)]) == 0
    assert "resuming after epoch" in capsys.readouterr().out
    for step in ("001-A", "001-A-drop0.2"):
        assert reader.run_state(str(out / step), last) == reader.FINISHED


@pytest.mark.parametrize("visible, gpus, expected", [
    ("", None, ["0", "1", "0"]),  # every GPU in turn, several runs on one
    ("4,6", None, ["4", "6", "4"]),  # as CUDA_VISIBLE_DEVICES names them to the children
    ("4,6", [1], ["6", "6", "6"]),  # --gpus 1: the second visible one only
])
def test_runs_are_placed_on_the_gpus_in_turn(visible, gpus, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    exp = load_experiment(resolve_path("001-A"))
    tasks = [Task(exp, exp.config)] * 4
    assert local.slots(tasks, 3, gpus) == expected
    cpu = [Task(exp, dataclasses.replace(exp.config, device="cpu"))] * 4
    assert local.slots(cpu, 3, gpus) == [None] * 3


@pytest.mark.parametrize("resume", [False, True])
def test_every_requeue_of_a_slurm_task_continues_its_run(resume):
    """A task requeued once, twice, ..., by Slurm runs the command its child accepts: the run's
    settings and --resume once, whether or not the command that submitted it had --resume."""
    slurm = pytest.importorskip("launch.slurm")
    exp = load_experiment(resolve_path("001-A"))
    task = Task(exp, dataclasses.replace(exp.config, dataset="synthetic", seed=3, resume=resume,
                                         num_classes=10))  # as main.resolve_config derives it
    tasks = [slurm.RunTask(command(task), command(resumed(task)), ROOT, "log.txt")]
    for _ in range(3):
        tasks.append(tasks[-1].checkpoint().function)
    for n, run_task in enumerate(tasks):
        args = main.build_parser().parse_args(run_task.line[3:])
        child = main.resolve_config(exp, args, main.parse_settings(args.settings, main.given_options(args)))
        assert child == dataclasses.replace(task.cfg, resume=resume or n > 0)


@pytest.mark.parametrize("seeded", [False, True])
def test_a_child_resolves_the_very_same_config(seeded):
    """Every Config field reaches the child process: it is given with --set where it differs."""
    exp = load_experiment(resolve_path("001-A"))
    cfg = dataclasses.replace(exp.config, dataset="synthetic", subset=300, lr=0.0123, seed=3,
                              test_limit=5, val_size=100, compile=True, resume=True,
                              pretrained=True, out="somewhere else", device="cpu",
                              num_classes=10)  # as main.resolve_config derives it
    line = command(Task(exp, cfg, seeded))
    assert line[:3] == [sys.executable, os.path.join(ROOT, "main.py"), os.path.abspath(exp.path)]
    args = main.build_parser().parse_args(line[3:])
    assert args.seeds == ([3] if seeded else None)
    child = main.resolve_config(exp, args, main.parse_settings(args.settings))
    if seeded:  # main.py gives each of --seeds to its run
        child = dataclasses.replace(child, seed=args.seeds[0])
    assert child == cfg
