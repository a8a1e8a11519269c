"""Many runs of one command: each (step, seed) a Task, planned once, then run by an executor.

    launch/__init__.py  Task, plan (with --resume: what is finished, started or new), the command
                        line that makes one run alone, the outcome and its failure table, the
                        plan's line and the busy machine's; run_here: the runs one after the
                        other in this process (no --jobs), each with the time the rest needs
    launch/executor.py  which of these runs a command's tasks, from --jobs, --gpus, --executor,
                        --slurm and --no-wait, checked against each other and --seeds
    launch/local.py     --jobs N: a pool of processes over the CPU's cores or GPU slots
    launch/slurm.py     --executor slurm: one Slurm job array through submitit (imported only then)
    launch/progress.py  the live lines: one per running run, and the counts

The package imports nothing of the kit's training at module level (torch, run_folder, train, config):
the functions that plan and run import it. So a Slurm task's own process, which unpickles a
launch.slurm.RunTask and only waits for its run's process, stays small for the hours it waits.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from config import Config
    from experiments import Experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, "main.py")
OK, FAILED, STOPPED, NOT_STARTED = "ok", "failed", "stopped (Ctrl-C)", "not started"
PR_SET_PDEATHSIG = 1  # Linux's prctl option: the signal a process gets when its parent dies
DIES_WITH_PARENT = sys.platform.startswith("linux")  # whether child_signals makes a child die with it


@dataclass(frozen=True)
class Task:
    """One run of a command: a step under its resolved config, as a plain run or one of --seeds."""

    exp: Experiment
    cfg: Config  # cfg.seed is the run's; cfg.resume: continue from its checkpoint
    seeded: bool = False  # one of --seeds: its folder is <out>/<step>/seed-<seed>/
    # train.prepare's record of it, made once by main.py for the runs of this process (run_here);
    # a run in a process of its own (--jobs, Slurm) prepares itself there.
    prepared: Any = field(default=None, compare=False, repr=False)

    @property
    def dir(self) -> str:
        """The run's folder."""
        import run_folder
        return run_folder.run_dir(self.cfg.out, self.cfg.step, self.cfg.seed if self.seeded else None)

    @property
    def name(self) -> str:
        """How the console names it: 001-A, or 001-A seed 2."""
        return f"{self.cfg.step} seed {self.cfg.seed}" if self.seeded else self.cfg.step

    @property
    def log(self) -> str:
        """Where its output goes when it runs in a process of its own."""
        import run_folder
        return os.path.join(self.dir, run_folder.LOG)


def plan(exps: Sequence[Experiment], cfgs: Sequence[Config],
         seeds: Sequence[int] | None) -> tuple[list[Task], list[Task]]:
    """Each step once per seed (or once): the runs to make, and with --resume those already finished.

    With --resume each run is taken as it is found (reader.run_state): finished, it is skipped (not
    trained again, not moved aside); started, it is resumed from its checkpoint; new, it is started.
    """
    from run_folder import lock, reader
    todo, finished = [], []
    for exp, cfg in zip(exps, cfgs):
        for seed in seeds if seeds is not None else [None]:
            task = Task(exp, cfg if seed is None else dataclasses.replace(cfg, seed=seed),
                        seed is not None)
            lock.check(task.dir)  # another process trains it: refused before anything is moved
            if cfg.resume:
                state = reader.run_state(task.dir, cfg.epochs)
                if state == reader.FINISHED:
                    _check_finished(task)
                    finished.append(task)
                    continue
                task = dataclasses.replace(task, cfg=dataclasses.replace(
                    task.cfg, resume=state == reader.STARTED))
            todo.append(task)
    return todo, finished


def _check_finished(task: Task) -> None:
    """Refuse to count a finished run made with other data (another --subset, --dataset, a seed that
    drew its data) as this command's: one line, as a started run of them is refused by --resume."""
    from errors import UserError
    from run_folder import checkpoint, reader
    differs = checkpoint.differences(dataclasses.asdict(reader.read_info(task.dir)[1]), task.cfg)
    if differs:
        raise UserError(f"--resume: {task.dir} is a finished run of {differs[0]}, but this command "
                        f"asks for {differs[1]}; give its options to count it, or run without "
                        f"--resume to train it again (the old run is moved aside)")


def command(task: Task) -> list[str]:
    """The main.py command line that makes this one run in a process of its own.

    Every Config field that differs from the experiment's own is given with --set, so that the
    child resolves the very same configuration, whatever fields Config has; resume as --resume,
    which the child takes as main.py always does (finished: said and skipped; started: resumed).
    """
    from config import DERIVED, Config
    line = [sys.executable, MAIN, os.path.abspath(task.exp.path)]
    if task.seeded:
        line += ["--seeds", str(task.cfg.seed)]
    for f in dataclasses.fields(Config):
        value = getattr(task.cfg, f.name)
        if f.name in DERIVED or f.name == "resume" or (task.seeded and f.name == "seed"):
            continue
        if value != getattr(task.exp.config, f.name):
            line += ["--set", f"{f.name}={value}"]
    return line + ["--resume"] * task.cfg.resume


def resumed(task: Task) -> Task:
    """The task as a requeue runs it again: with --resume, whatever it was started with."""
    return dataclasses.replace(task, cfg=dataclasses.replace(task.cfg, resume=True))


def child_signals(ignore_usr2: bool = False) -> None:
    """In a child before it runs main.py: SIGINT as the default, so that its Ctrl-C handling works
    even when this process was started with SIGINT ignored (nohup, `cmd &` in a script), as the
    child would inherit that; SIGUSR2 ignored under Slurm (only the task's own process acts on it).
    On Linux the child gets SIGTERM, which main.py takes as Ctrl-C, when this process dies (kill -9):
    a run never goes on training without the command that started it (elsewhere: DIES_WITH_PARENT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if ignore_usr2:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    if DIES_WITH_PARENT:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Outcome:
    """How each task of a command ended, by Task.name; what failed, and the command's exit code."""

    status: dict[str, str] = field(default_factory=dict)  # OK, FAILED, STOPPED or NOT_STARTED
    failures: list[tuple[Task, int, str]] = field(default_factory=list)  # task, exit code, last line
    code: int = 0

    def failed(self, task: Task, code: int, last: str) -> None:
        """Record a run that ended with a non-zero exit code."""
        self.status[task.name] = FAILED
        self.failures.append((task, code, last))
        self.code = max(self.code, code if code in (1, 2) else 1)


def failure_table(failures: Sequence[tuple[Task, int, str]]) -> str:
    """The runs that failed, each with its exit code, the last line it wrote and its log."""
    lines = ["| run | exit code | last line | log |", "|---|---|---|---|"]
    lines += [f"| {t.name} | {code} | {last.replace('|', '/')} | {t.log} |"
              for t, code, last in failures]
    return "\n".join(lines)


def tail_lines(path: str) -> list[str]:
    """The non-empty lines at the end of a text file (its last 8 KB), [] if it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 8192))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line.strip() for line in tail.replace("\r", "\n").splitlines() if line.strip()]


def last_line(path: str) -> str:
    """The last non-empty line of a text file, or "" if there is none."""
    lines = tail_lines(path)
    return lines[-1] if lines else ""


def plan_line(tasks: Sequence[Task], how: str, where: Sequence[str]) -> str:
    """What a command of several runs is about to do: how many runs, of what, how and on what."""
    names = list(dict.fromkeys(t.name for t in tasks))
    shown = ", ".join(names[:3]) + (f", ... {names[-1]}" if len(names) > 4 else
                                    "".join(f", {n}" for n in names[3:]))
    return (f"plan: {len(tasks)} runs ({shown}), {how} on {', '.join(where)}; each epoch's line "
            f"ends with its step's time left" + ("" if how != "one after the other" else
                                                  " and the later runs' at its pace"))


def busy_line(cores: int | None = None) -> str:
    """One line when the machine is already busier than its cores before anything trains here,
    saying what helps; "" otherwise (or where the load average is unknown)."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # Windows
        return ""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if load <= (cores or 1):
        return ""
    return (f"note: this machine is already busy (load {load:.1f} on {cores} cores), so training on "
            f"its CPU is slower than it can be; fewer threads per run help (OMP_NUM_THREADS=1 "
            f"python main.py ...: BENCHMARKS.md, \"A busy CPU and threads\"), or wait for the load to fall")


def _estimate(tasks: Sequence[Task], seconds: float, units: float) -> str:
    """The time the given runs need at the pace of those done (seconds per epoch and image)."""
    import data
    import summary
    if not units:
        return ""
    left = seconds / units * sum(t.cfg.epochs * data.sizes(t.cfg.dataset, t.cfg.subset)[0]
                                 for t in tasks)
    hedge = "at most " if any(t.cfg.early_stopping != "off" for t in tasks) else "about "
    which = "this run" if len(tasks) == 1 else f"this run and the {len(tasks) - 1} after it"
    return f" ({which}: {hedge}{summary.duration(left)} at the pace so far)"


def _later(tasks: Sequence[Task], k: int) -> Any:
    """The runs after the k-th (1-based) as its epoch lines estimate them (summary.Later)."""
    import data
    from summary import Later
    images = [data.sizes(t.cfg.dataset, t.cfg.subset)[0] for t in tasks]
    return Later(len(tasks) - k, sum(t.cfg.epochs * n for t, n in zip(tasks[k:], images[k:]))
                 / images[k - 1], any(t.cfg.early_stopping != "off" for t in tasks[k:]))


def run_here(tasks: list[Task]) -> Outcome:
    """The runs one after the other in this process, as a command without --jobs makes them; each
    task as main.py prepared it (Task.prepared)."""
    import data
    import train
    from errors import Interrupted, TrainingError, UserError, exit_code
    from run_folder import lock
    outcome = Outcome()
    seconds = units = 0.0  # the runs done so far: their time, and their epochs x images
    for k, task in enumerate(tasks, 1):
        if len(tasks) > 1:
            print(f"run {k} of {len(tasks)}: {task.name}{_estimate(tasks[k - 1:], seconds, units)}",
                  flush=True)
        try:
            with lock.held(task.dir):  # one writer per run folder, released however the run ends
                figures = train.run(dataclasses.replace(task.prepared, later=_later(tasks, k)))
            outcome.status[task.name] = OK
            seconds += 60 * figures["minutes"]
            units += figures["epochs"] * data.sizes(task.cfg.dataset, task.cfg.subset)[0]
        except (Interrupted, KeyboardInterrupt) as e:  # Ctrl-C or SIGTERM stops this run and the rest
            print(e if isinstance(e, Interrupted) else f"{task.name}: interrupted while it was being "
                  f"set up; nothing was trained", file=sys.stderr)
            outcome.status[task.name] = STOPPED
            outcome.code = exit_code(e)
            break
        except (UserError, TrainingError) as e:
            print(f"error: {e}", file=sys.stderr)
            outcome.failed(task, 2 if isinstance(e, UserError) else 1, str(e))
        except Exception as e:  # a bug: show where, and go on with the other runs
            traceback.print_exc()
            outcome.failed(task, 1, f"{type(e).__name__}: {e}")
    return outcome


def step_status(tasks: Sequence[Task], outcome: Outcome) -> dict[str, str]:
    """Each step's status for the tables: ok if any of its runs is, else the first other status;
    a step none of whose runs has one is left out (the tables say "not run", as they always did)."""
    status: dict[str, str] = {}
    for task in tasks:
        mine = outcome.status.get(task.name)
        if mine is not None and (task.cfg.step not in status or mine == OK):
            status[task.cfg.step] = mine
    return status
