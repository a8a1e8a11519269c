"""--executor slurm: the command's runs as one Slurm job array, through submitit.

Each array task is a RunTask: `python main.py` for one (step, seed) in a process of its own, its
output in the run's log.txt, as with --jobs. When Slurm preempts a task or its time limit nears,
submitit calls RunTask.checkpoint: the run is stopped as Ctrl-C stops it (its last finished epoch is
kept) and the task is requeued with --resume, which continues it. This module imports submitit; main.py
imports it only for --executor slurm, and says what to install when it is missing.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from typing import Any, Callable, Sequence

import submitit

from errors import UserError, first_line
from launch import (NOT_STARTED, OK, ROOT, Outcome, Task, child_signals, command, last_line,
                    resumed)
from launch.progress import Progress, latest


def minutes(text: str) -> int:
    """A Slurm time as minutes: 90, 1:30:00 (H:MM:SS), 30:00 (MM:SS) or 2-00:00:00 (D-HH:MM:SS)."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not match:
        raise ValueError(text)
    days, a, b, c = (int(g) if g else 0 for g in match.groups())
    if match.group(4) is not None:  # H:MM:SS
        return days * 1440 + a * 60 + b + (c > 0)
    if match.group(3) is not None:  # MM:SS, or D-HH:MM
        return days * 1440 + (a * 60 + b if match.group(1) else a + (b > 0))
    return days * 1440 + (a * 60 if match.group(1) else a)


def gigabytes(text: str) -> float:
    """Memory as GB: 16, 16G, 16GB or 500M."""
    match = re.fullmatch(r"([\d.]+)\s*([MG]?)B?", text.upper())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) / (1024 if match.group(2) == "M" else 1)


# --slurm KEY: submitit's parameter, how its value is read, the default (None: the cluster's) and
# the least value Slurm takes as meant (None: any).
PARAMETERS: dict[str, tuple[str, Callable[[str], Any], Any, Any]] = {
    "partition": ("slurm_partition", str, None, None),
    "time": ("timeout_min", minutes, 240, 1),  # a run that needs longer is requeued and resumed
    "gpus": ("gpus_per_node", int, 1, 0),  # 0: none
    "cpus": ("cpus_per_task", int, 4, 1),  # the run's threads (OMP_NUM_THREADS)
    "mem": ("mem_gb", gigabytes, None, 1 / 1024),
    "account": ("slurm_account", str, None, None),
    "qos": ("slurm_qos", str, None, None),
    "constraint": ("slurm_constraint", str, None, None),
    "exclude": ("slurm_exclude", str, None, None),
    "parallel": ("slurm_array_parallelism", int, None, 1),  # the most runs at once
    "name": ("name", str, "cifar-reports", None),
}
LEAST_SHOWN = {"time": "1 (minute; Slurm would take 0 as no limit at all)", "mem": "1M"}
POLL_S = 1.0  # how often the runs' result files and logs are looked at
QUEUE_POLL_S = 5.0  # how often squeue is asked which tasks are pending or running


def settings(pairs: Sequence[str]) -> dict[str, Any]:
    """--slurm KEY=VALUE pairs over the defaults, each read and checked: a bad value, one below its
    least or a key given twice is a UserError."""
    values = {key: default for key, (_, _, default, _) in PARAMETERS.items()}
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not text:
            raise UserError(f"--slurm {pair}: expected KEY=VALUE, e.g. --slurm partition=gpu")
        if key in given:
            raise UserError(f"--slurm {given[key]} and --slurm {pair} both set {key}; give it once")
        given[key] = pair
        try:
            values[key] = PARAMETERS[key][1](text) if key in PARAMETERS else text
        except ValueError:
            raise UserError(f"--slurm {pair}: {text!r} is not a valid {key}") from None
        least = PARAMETERS[key][3] if key in PARAMETERS else None
        if least is not None and values[key] < least:
            raise UserError(f"--slurm {pair}: {key} is at least {LEAST_SHOWN.get(key, least)}")
    return values


def prepare(pairs: Sequence[str], out: str) -> Any:
    """A submitit executor for Slurm with the --slurm settings, checked before anything is submitted.

    Its jobs are submitted held: run() releases them once the earlier runs are set aside.
    """
    if shutil.which("sbatch") is None:
        raise UserError("--executor slurm: sbatch is not on PATH here; run the command where jobs "
                        "are submitted to your cluster (its login node)")
    given = {PARAMETERS[k][0] if k in PARAMETERS else f"slurm_{k}": v
             for k, v in settings(pairs).items() if v is not None and not (k == "gpus" and v == 0)}
    executor = submitit.AutoExecutor(folder=os.path.join(out, "slurm", "%j"), cluster="slurm")
    try:  # the kit's modules must import in the job, wherever the command was given
        executor.update_parameters(**given, slurm_setup=[f"export PYTHONPATH={shlex.quote(ROOT)}"
                                                         f"${{PYTHONPATH:+:$PYTHONPATH}}"],
                                   slurm_additional_parameters={"hold": True})
    except (NameError, ValueError, TypeError) as e:
        raise UserError(f"--slurm: {first_line(e)[:300]} (the kit's keys: "
                        f"{', '.join(PARAMETERS)})") from None
    return executor


# sbatch's reasons for refusing a job, and what to do about each.
REFUSALS = (
    (r"gres|gpu", "on a cluster or partition without GPUs add --slurm gpus=0 (sinfo -o '%P %G' "
                  "lists each partition's GPUs)"),
    (r"partition", "sinfo -s lists the partitions; choose one with --slurm partition=NAME"),
    (r"time limit", "sinfo -s gives each partition's time limit; choose --slurm time= within it"),
    (r"memory", "choose a smaller --slurm mem= (sinfo -o '%P %m' gives each partition's)"),
    (r"account|qos|association", "sacctmgr show associations user=$USER lists your accounts "
                                 "and QOS; choose them with --slurm account= qos="),
)


def refused(e: BaseException) -> UserError:
    """sbatch's refusal as one sentence: its own reason, and the fix when the reason names one."""
    reasons = [line.split("error:", 1)[-1].strip() for line in str(e).splitlines()
               if "error" in line.lower()] or [first_line(e)]
    reason = "; ".join(dict.fromkeys(r for r in reasons if r))[:300]
    fix = next((fix for pattern, fix in REFUSALS if re.search(pattern, reason, re.I)),
               "check the --slurm settings")
    return UserError(f"sbatch refused the job: {reason}; {fix}; nothing was submitted or moved")


def _submit(executor: Any, tasks: Sequence[Task]) -> list[Any]:
    """Submit the tasks (held); sbatch's refusal is a UserError, with submitit's files removed."""
    folder = os.path.join(tasks[0].cfg.out, "slurm")
    before = set(os.listdir(folder)) if os.path.isdir(folder) else None
    try:
        with contextlib.redirect_stderr(io.StringIO()), executor.batch():  # submitit prints sbatch's
            return [executor.submit(RunTask(command(t), command(resumed(t)), os.getcwd(), t.log))
                    for t in tasks]
    except submitit.core.utils.FailedJobError as e:
        for name in set(os.listdir(folder)) - (before or set()) if os.path.isdir(folder) else ():
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))
        with contextlib.suppress(OSError):
            if before is None:
                os.rmdir(folder)
        raise refused(e) from None


class RunTask(submitit.helpers.Checkpointable):
    """One run as a Slurm array task: main.py in a process of its own, its output in its log.txt.

    line starts the run; requeued (launch.command of launch.resumed) continues it, as every
    requeue of it runs, however many times it is preempted.
    """

    def __init__(self, line: list[str], requeued: list[str], cwd: str, log: str) -> None:
        self.line, self.requeued, self.cwd, self.log = line, requeued, cwd, log
        self.process: subprocess.Popen | None = None

    def __call__(self) -> int:
        """Run it; returns its exit code (0: done)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if os.environ.get("SLURM_CPUS_PER_TASK"):  # the task's share of the node, not all its cores
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = os.environ["SLURM_CPUS_PER_TASK"]
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        with open(self.log, "a") as log:
            log.write(f"$ {shlex.join(self.line)}  (Slurm job {os.environ.get('SLURM_JOB_ID', '?')}, "
                      f"restart {os.environ.get('SLURM_RESTART_COUNT', '0')})\n")
            log.flush()
            # Slurm signals every process of the task before its time limit: only this one, whose
            # submitit handler calls checkpoint(), should act on it.
            self.process = subprocess.Popen(
                self.line, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=functools.partial(child_signals, True))
            while self.process.poll() is None:  # not wait(): checkpoint() may run in between
                time.sleep(1)
        return self.process.returncode

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Preempted or near its time limit: stop the run as Ctrl-C does, requeue it with --resume."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 60  # it saves nothing new: the last epoch is on disk
            while self.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        again = RunTask(self.requeued, self.requeued, self.cwd, self.log)
        return submitit.helpers.DelayedSubmission(again)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "process": None}  # a process does not pickle; a requeue starts one


def run(tasks: Sequence[Task], executor: Any, wait: bool = True,
        progress: Progress | None = None) -> Outcome:
    """Submit every task as one job array; then wait for them, showing progress, unless not `wait`."""
    from run_folder import writer
    progress = progress or Progress()
    if not tasks:
        return Outcome()
    jobs = _submit(executor, tasks)
    array = jobs[0].job_id.split("_")[0]
    try:  # accepted and held: only now is an earlier run moved, before a task can start
        for task in tasks:
            if not task.cfg.resume:
                moved = writer.set_aside(task.dir)  # so that the new log.txt is not moved with it
                if moved:
                    progress.event(f"{task.dir} held an earlier run: moved it to {moved}")
                os.makedirs(task.dir, exist_ok=True)
                open(task.log, "w").close()
    except BaseException as e:
        subprocess.run(["scancel", array], capture_output=True, timeout=60)
        if isinstance(e, OSError):
            raise UserError(f"{task.dir}: cannot set the earlier run aside or write its log.txt "
                            f"({e.strerror or e}); Slurm job {array} was cancelled") from None
        raise
    _release(array)
    out = tasks[0].cfg.out
    what = f"job array {array}" if len(jobs) > 1 else f"job {array}"
    progress.event(f"submitted {len(jobs)} run(s) as Slurm {what} (submitit's files: "
                   f"{os.path.join(out, 'slurm', array)}{'_*' * (len(jobs) > 1)}/); each run's "
                   f"output is in its log.txt")
    if not wait:
        progress.event(f"follow them with: squeue -j {array}\nwhen they have ended: python "
                       f"results.py --out {out}\n(then, the same command with --resume submits "
                       f"again only what did not finish)")
        return Outcome()
    return _wait(list(zip(tasks, jobs)), array, progress)


def _release(array: str) -> None:
    """Let the held tasks start; a UserError if they are still held after it."""
    release = subprocess.run(["scontrol", "release", array], capture_output=True, text=True,
                             timeout=60)
    if release.returncode == 0:  # it also fails for a task that is released but cannot run yet
        return
    reasons = subprocess.run(["squeue", "-h", "-r", "-j", array, "-o", "%r"], capture_output=True,
                             text=True, timeout=60).stdout
    if "held" in reasons.lower():
        raise UserError(f"Slurm job {array} was submitted held and scontrol could not release it "
                        f"({first_line(release.stderr or 'no reason given')}); scontrol release "
                        f"{array} starts it, scancel {array} drops it")


def _wait(pending: list[tuple[Task, Any]], array: str, progress: Progress) -> Outcome:
    """Until every task has a result or has left the queue without one; Ctrl-C leaves them running."""
    outcome, states, asked, gone = Outcome(), {}, 0.0, set()
    try:
        while pending:
            if time.monotonic() - asked >= QUEUE_POLL_S:
                states, asked = _queue(array), time.monotonic()
            for task, job in list(pending):
                lost = states is not None and job.job_id not in states
                if job.paths.result_pickle.exists() or (lost and job.job_id in gone):
                    pending.remove((task, job))
                    _ended(task, job, outcome, progress)
                elif lost:
                    gone.add(job.job_id)  # gone once: its result file may still be on its way
            running = {t.name: latest(t.log) for t, j in pending
                       if (states or {}).get(j.job_id) in ("RUNNING", "COMPLETING")}
            progress.live(running, f"done {sum(s == OK for s in outcome.status.values())}, failed "
                          f"{len(outcome.failures)}, running {len(running)}, waiting "
                          f"{len(pending) - len(running)}")
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        progress.event(f"interrupted: the runs go on in Slurm (squeue -j {array} shows them, "
                       f"scancel {array} stops them, each keeping its last checkpoint); python "
                       f"results.py reads what they leave, and once they have ended the same "
                       f"command with --resume submits again only what did not finish")
        outcome.status.update({t.name: NOT_STARTED for t, _ in pending})
        outcome.code = 130
    return outcome


def _ended(task: Task, job: Any, outcome: Outcome, progress: Progress) -> None:
    try:
        code = job.result() if job.paths.result_pickle.exists() else None
    except Exception as e:  # the task itself failed (submitit's FailedJobError)
        code, why = 1, first_line(e)
    else:
        why = last_line(task.log) if code is not None else (
            f"left the queue without a result (cancelled, out of memory or a failed node); see "
            f"{job.paths.stderr}")
    if code == 0:
        outcome.status[task.name] = OK
        progress.event(f"done    {task.name}: {latest(task.log)}")
    else:
        outcome.failed(task, code or 1, why)
        progress.event(f"failed  {task.name} (exit code {code or 1}): {why}")


def _queue(array: str) -> dict[str, str] | None:
    """The array's tasks still in the queue, {job id: state}; None if squeue could not say."""
    try:
        listing = subprocess.run(["squeue", "-h", "-r", "-j", array, "-o", "%i %T"],
                                 capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:  # an array that has left the queue altogether is an unknown id
        return {} if "Invalid job id" in listing.stderr else None
    return dict(line.split() for line in listing.stdout.splitlines() if len(line.split()) == 2)
