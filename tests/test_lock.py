"""One writer per run folder (run_folder/lock.py): a second command on a folder that a live process
trains is refused in one line before anything moves, a dead holder's lock is taken over, another
host's is refused naming it, and the children of --jobs die with their parent. The holders are real
processes; none of them imports torch, so each test takes a second or two.
(A run that trains holds its lock and releases it on SIGTERM: test_faults' shell test.)"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import main
from helpers import ROOT
from run_folder import lock

TINY = ["--dataset", "synthetic", "--subset", "256", "--batch-size", "32", "--device", "cpu"]
HOLD = """import sys, time
from run_folder import lock
with lock.held(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holder_s_lock_is_taken_over(
        tmp_path, capsys):
    out = tmp_path / "runs"
    (out / "CNN2").mkdir(parents=True)  # an earlier run, which a new run would move aside
    (out / "CNN2" / "metrics.csv").write_text("epoch\n1\n")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out / "CNN2")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _files(out)
        # Two commands with one --out; a resume beside orphans; a --jobs parent, which moves an
        # earlier run aside itself before its children start.
        for again in ([], ["--resume"], ["--jobs", "2", "--seed", "1"]):
            assert main.main(["CNN2", *TINY, "--epochs", "1", "--out", str(out), *again]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith(
                f"error: {out / 'CNN2'} is being trained by process {holder.pid} on "
                f"{socket.gethostname()} since "), err
            assert f"stop it (kill {holder.pid}) and add --resume" in err[0]
            assert _files(out) == before  # nothing moved, nothing written
    finally:
        holder.kill()  # as kill -9: its lock stays behind
        holder.wait()
    assert main.main(["CNN2", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert (f"{out / 'CNN2'}: took over its lock from process {holder.pid} on "
            f"{socket.gethostname()}, which stopped without releasing it") in said
    assert not (out / "CNN2.lock").exists()  # released when the run ended


def test_a_run_that_fails_releases_its_lock(tmp_path, monkeypatch, capsys):
    import train
    from errors import TrainingError
    out, seen = tmp_path / "runs", []

    def fails(prepared):
        seen.append(lock.holder(prepared.dir)["pid"])
        raise TrainingError("CNN2: the training loss became nan")

    monkeypatch.setattr(train, "run", fails)
    assert main.main(["CNN2", *TINY, "--epochs", "1", "--out", str(out)]) == 1
    assert seen == [os.getpid()] and not (out / "CNN2.lock").exists()


def test_a_lock_of_another_host_is_refused_naming_its_holder(tmp_path, capsys):
    out = tmp_path / "runs"
    out.mkdir()
    held = {"pid": 4242, "host": "node-elsewhere", "job": "917.3", "since": "2026-01-01 10:00:00",
            "command": "main.py CNN2"}
    (out / "CNN2.lock").write_text(json.dumps(held))
    assert main.main(["CNN2", *TINY, "--epochs", "1", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {out / 'CNN2'} is being trained by process 4242 on node-elsewhere (Slurm "
                   f"job 917.3) since 2026-01-01 10:00:00 (main.py CNN2); two runs in one folder "
                   f"would mix their epochs: if no run goes on there any more, delete "
                   f"{out / 'CNN2.lock'} and add --resume"]
    assert _files(out) == ["CNN2.lock"]


def test_a_refusal_quotes_a_long_command_by_its_script_and_cut(tmp_path, capsys):
    # A --jobs child's command: the interpreter's and main.py's full paths, then a --set per field.
    child = (f"{sys.executable} /home/someone/kit/main.py /home/someone/kit/experiments/r001/A.py "
             + " ".join(f"--set field{n}=value{n}" for n in range(20)))
    (tmp_path / "CNN2.lock").write_text(json.dumps({"pid": 4242, "host": "node-elsewhere",
                                                    "command": child}))
    assert main.main(["CNN2", *TINY, "--epochs", "1", "--out", str(tmp_path)]) == 2
    quoted = re.search(r"\((main\.py [^)]*)\)", capsys.readouterr().err).group(1)
    assert quoted.startswith("main.py /home/someone/kit/experiments/r001/A.py --set field0=value0")
    assert len(quoted) <= 100 and quoted.endswith("...")


def test_a_requeued_slurm_task_takes_over_its_own_lock_from_another_node(tmp_path, monkeypatch):
    run = str(tmp_path / "CNN2")
    (tmp_path / "CNN2.lock").write_text(json.dumps({"pid": 4242, "host": "node-before",
                                                    "job": "917.3"}))
    monkeypatch.setenv("SLURM_JOB_ID", "917")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    said = lock.take(run)
    assert said == f"{run}: took over its lock from process 4242 on node-before, which stopped " \
        f"without releasing it"
    assert lock.holder(run)["pid"] == os.getpid()
    lock.release(run)
    assert lock.holder(run) is None


# Each file is written whole, then renamed into place: the test polls for it and reads it at once
# (an open()ed file can exist empty for a moment under load).
CHILD = """import os, signal, sys, time
def say(path, text):
    with open(path + ".part", "w") as f:
        f.write(text)
    os.replace(path + ".part", path)
signal.signal(signal.SIGTERM, lambda *a: (say(sys.argv[1], "SIGTERM"), os._exit(0)))
say(sys.argv[1] + ".ready", str(os.getpid()))
time.sleep(120)
"""
PARENT = """import subprocess, sys, time
from launch import child_signals
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], start_new_session=True,
                 preexec_fn=child_signals)
time.sleep(120)
"""


def test_a_child_of_jobs_is_stopped_when_its_parent_is_killed(tmp_path):
    """kill -9 of a --jobs command: each run gets SIGTERM, which main.py takes as Ctrl-C."""
    said = tmp_path / "said"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(said)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (tmp_path / "said.ready").exists():
        assert parent.poll() is None and time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while not said.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not said.exists():  # still running: stop it here
        os.kill(int((tmp_path / "said.ready").read_text()), signal.SIGKILL)
    assert said.exists() and said.read_text() == "SIGTERM"
