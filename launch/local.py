"""--jobs N: up to N runs at the same time on this machine, each `python main.py` in a process of
its own, its output in its folder's log.txt.

Each process gets its share of the CPU's cores (OMP_NUM_THREADS; 2 jobs on 2 cores: one thread
each) and, on CUDA, a GPU slot (CUDA_VISIBLE_DEVICES: --gpus, default every visible GPU, in turn;
several runs may share one). The children run in sessions of their own, so that Ctrl-C reaches
this process only: it sends each child one SIGINT and waits, and every run keeps its checkpoint and
its INTERRUPTED.txt, as when it runs alone.
"""
from __future__ import annotations

import collections
import os
import shlex
import signal
import subprocess
import threading
import time
from typing import Any, Sequence

from run_folder import writer
from devices import resolve_device
from errors import UserError, on_sigint
from launch import (DIES_WITH_PARENT, NOT_STARTED, OK, STOPPED, Outcome, Task, child_signals,
                    command, last_line)
from launch.progress import Progress, latest

POLL_S = 0.5  # how often the children are looked at


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def visible_gpus() -> list[str]:
    """The CUDA devices this process sees, as CUDA_VISIBLE_DEVICES names them to a child."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    given = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return given[:count] if given else [str(i) for i in range(count)]


def check_gpus(gpus: Sequence[int] | None, devices: Sequence[str]) -> None:
    """Refuse --gpus that are not there, and a --device cuda:N (each run is given its GPU)."""
    pinned = sorted({d for d in devices if d.startswith("cuda:")})
    if pinned:
        raise UserError(f"--device {pinned[0]} with --jobs or Slurm: each run sees the GPU it is "
                        f"given as cuda; choose GPUs with --gpus {pinned[0].split(':')[1]} (Slurm: "
                        f"--slurm gpus=N) instead")
    if gpus is None:
        return
    visible = visible_gpus()
    if not visible:
        raise UserError(f"--gpus {','.join(map(str, gpus))}: CUDA is not available here; without "
                        f"--gpus the runs share the CPU's cores")
    bad = [g for g in gpus if not 0 <= g < len(visible)]
    if bad:
        raise UserError(f"--gpus {','.join(map(str, gpus))}: there is no GPU {bad[0]}; the GPUs are "
                        f"0 to {len(visible) - 1}")


def slots(tasks: Sequence[Task], jobs: int, gpus: Sequence[int] | None) -> list[str | None]:
    """One slot per run at a time: the GPU (as CUDA_VISIBLE_DEVICES names it) or None on the CPU."""
    n = max(1, min(jobs, len(tasks)))
    if not any(resolve_device(t.cfg.device).type == "cuda" for t in tasks):
        return [None] * n
    visible = visible_gpus()
    chosen = [visible[g] for g in gpus] if gpus else visible
    return [chosen[i % len(chosen)] for i in range(n)]


def start(task: Task, gpu: str | None, threads: int, progress: Progress) -> subprocess.Popen:
    """Start one run: its earlier run set aside (unless resumed), its output into its log.txt."""
    if not task.cfg.resume:
        moved = writer.set_aside(task.dir)  # here, so that log.txt is not moved with it
        if moved:
            progress.event(f"{task.dir} held an earlier run: moved it to {moved}")
    os.makedirs(task.dir, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONUNBUFFERED": "1"}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    line = command(task)
    with open(task.log, "a" if task.cfg.resume else "w") as log:
        log.write(f"$ {shlex.join(line)}\n")
        log.flush()
        # A session of its own: Ctrl-C at the terminal reaches this process, which passes it on once.
        process = subprocess.Popen(line, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, preexec_fn=child_signals)
    where = f"GPU {gpu}" if gpu is not None else f"{threads} CPU thread{'s' * (threads > 1)}"
    progress.event(f"started {task.name} ({where}; {'resumed' if task.cfg.resume else 'new'}), "
                   f"log: {task.log}")
    return process


def run(tasks: Sequence[Task], jobs: int, gpus: Sequence[int] | None,
        progress: Progress | None = None) -> Outcome:
    """Make every task's run, up to `jobs` at a time; a failure does not stop the others."""
    progress = progress or Progress()
    places = slots(tasks, jobs, gpus)
    threads = max(1, cores() // len(places))
    waiting, running = collections.deque(tasks), {}
    outcome = Outcome()
    main_thread = threading.current_thread() is threading.main_thread()
    if not DIES_WITH_PARENT:  # no parent-death signal here: say what a kill -9 of this one leaves
        progress.event("note: if this command is killed (kill -9), its runs go on training: each "
                       "run's process is named in <out>/<step>.lock while it trains")
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c) if main_thread else None  # as Ctrl-C is
    try:
        while waiting or running:
            for slot in [s for s in range(len(places)) if s not in running][:len(waiting)]:
                task = waiting.popleft()
                running[slot] = task, start(task, places[slot], threads, progress)
            for slot, (task, process) in list(running.items()):
                if process.poll() is not None:
                    del running[slot]
                    _ended(task, process.returncode, outcome, progress)
            progress.live({t.name: latest(t.log) for t, _ in running.values()},
                          _counts(outcome, len(running), len(waiting)))
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        _stop([r for r in running.values()], outcome, progress)
        outcome.status.update({t.name: NOT_STARTED for t in waiting})
        outcome.code = 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return outcome


def _ended(task: Task, code: int, outcome: Outcome, progress: Progress) -> None:
    if code == 0:
        outcome.status[task.name] = OK
        progress.event(f"done    {task.name}: {latest(task.log)}")
    else:
        outcome.failed(task, code, last_line(task.log))
        progress.event(f"failed  {task.name} (exit code {code}): {last_line(task.log)}")


def _stop(running: list[tuple[Task, subprocess.Popen]], outcome: Outcome,
          progress: Progress) -> None:
    """Ctrl-C: one SIGINT to every child, then wait for each to save and leave; a second Ctrl-C
    passes a second SIGINT on, which makes them exit at once."""
    progress.event(f"interrupted: stopping {len(running)} running run(s); each keeps its last "
                   f"checkpoint (Ctrl-C again to stop them at once)")

    def again(signum: int, frame: Any) -> None:
        for _, process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    again(signal.SIGINT, None)
    previous = on_sigint(again)
    try:
        for task, process in running:
            process.wait()
            outcome.status[task.name] = OK if process.returncode == 0 else STOPPED
            progress.event(f"stopped {task.name}: {last_line(task.log)}")
    finally:
        if previous is not None:
            on_sigint(previous)


def _counts(outcome: Outcome, running: int, waiting: int) -> str:
    done = sum(s == OK for s in outcome.status.values())
    return (f"done {done}, failed {len(outcome.failures)}, running {running}, "
            f"waiting {waiting}")


def _as_ctrl_c(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
