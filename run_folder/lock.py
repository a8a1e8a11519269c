"""One writer per run folder: <run>.lock beside the folder, held while a process trains it.

The lock file holds the holder's pid, host, Slurm task (if any), start time and command; it is
written whole, then linked into place (an atomic create, on NFS too): of two processes that take
it at once, one gets it. It is beside the folder, not in it, so that moving an earlier run aside
never moves it (a seed's, <out>/<step>/seed-<s>.lock, stays with the seeds' folders). A lock whose
holder is gone (a process of this host that no longer runs, or an earlier start of this same Slurm
task, requeued) is taken over with one line; one held by a live process, or by one on another host
(which cannot be asked), is refused in one line naming the holder, before anything is moved.

launch.plan checks every run's folder before anything is moved; launch.run_here holds the lock
while train.run trains it (with --jobs and Slurm, the run's own process does).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from typing import Any, Iterator

from errors import UserError


def path_of(run_dir: str) -> str:
    """The lock file of a run folder: <out>/<step>.lock, or <out>/<step>/seed-<s>.lock."""
    return f"{os.path.normpath(run_dir)}.lock"


def _me() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "job": _slurm_task(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}


def _slurm_task() -> str | None:
    job = os.environ.get("SLURM_JOB_ID")
    return f"{job}.{os.environ.get('SLURM_ARRAY_TASK_ID', '')}" if job else None


def holder(run_dir: str) -> dict[str, Any] | None:
    """What the run folder's lock file says of its holder; None if there is none."""
    return _read(path_of(run_dir))


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            held = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # not ours (ours is never seen half-written): nobody to name
        return {"pid": None, "host": None}
    return held if isinstance(held, dict) else {"pid": None, "host": None}


def _gone(held: dict[str, Any]) -> bool:
    """Whether the holder has certainly stopped: a dead pid of this host, or this Slurm task's
    earlier start (requeued on any node); an unreadable lock of this host counts as gone too."""
    me = _me()
    if held.get("job") and held.get("job") == me["job"]:
        return True
    if held.get("host") not in (me["host"], None):
        return False
    pid = held.get("pid")
    if not isinstance(pid, int) or pid == me["pid"]:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def _refusal(run_dir: str, held: dict[str, Any]) -> UserError:
    who = f"process {held.get('pid')} on {held.get('host')}"
    if held.get("job"):
        who += f" (Slurm job {held['job'].rstrip('.')})"
    since = f" since {held['since']}" if held.get("since") else ""
    if held.get("host") == socket.gethostname():
        how = f"wait for it to finish, or stop it (kill {held.get('pid')}) and add --resume"
    else:
        how = (f"if no run goes on there any more, delete {path_of(run_dir)} and add --resume")
    command = f" ({_shown(held['command'])})" if held.get("command") else ""
    return UserError(f"{run_dir} is being trained by {who}{since}{command}; "
                     f"two runs in one folder would mix their epochs: {how}")


SHOWN = 100  # characters of the holder's command a refusal quotes


def _shown(command: object) -> str:
    """The holder's command as a refusal quotes it: its script by name (a --jobs child's is the
    interpreter's full path, then main.py's), cut to SHOWN characters."""
    words = str(command).split()
    if len(words) > 1 and os.path.basename(words[0]).startswith("python"):
        words = words[1:]
    text = " ".join([os.path.basename(words[0]), *words[1:]]) if words else ""
    return text if len(text) <= SHOWN else text[:SHOWN - 3].rstrip() + "..."


def check(run_dir: str) -> None:
    """Refuse a run folder that another live process trains (before anything is moved)."""
    held = holder(run_dir)
    if held is not None and not _gone(held):
        raise _refusal(run_dir, held)


def take(run_dir: str) -> str | None:
    """Take the folder's lock atomically; returns the line to say when a stale one was taken over.

    UserError if a live process holds it.
    """
    path = path_of(run_dir)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    mine = f"{path}.{os.getpid()}.tmp"
    with open(mine, "w", encoding="utf-8") as f:
        json.dump(_me(), f)
    try:
        return _link(run_dir, mine)
    finally:
        os.remove(mine)


def _link(run_dir: str, mine: str) -> str | None:
    """Link the written lock file `mine` as the folder's lock: an atomic create (NFS too), with its
    content already in it; a stale lock is first renamed away (of two takers, one renames it)."""
    path, said = path_of(run_dir), None
    for _ in range(3):  # a stale lock moved away, then taken; another taker may win in between
        try:
            os.link(mine, path)
            return said
        except FileExistsError:
            pass
        held = holder(run_dir)
        if held is None:
            continue  # released in between
        if not _gone(held):
            raise _refusal(run_dir, held)
        stale = f"{path}.{os.getpid()}.stale"
        try:
            os.rename(path, stale)
        except FileNotFoundError:
            continue  # another taker moved it first
        moved = _read(stale)
        if moved != held:  # another taker's fresh lock, moved in between: put it back, and yield
            with contextlib.suppress(OSError):
                os.link(stale, path)
            os.remove(stale)
            raise _refusal(run_dir, moved or held)
        os.remove(stale)
        said = (f"{run_dir}: took over its lock from process {held.get('pid')} on "
                f"{held.get('host')}, which stopped without releasing it")
    raise _refusal(run_dir, holder(run_dir) or {"pid": None, "host": None})


def release(run_dir: str) -> None:
    """Remove the folder's lock if this process holds it."""
    held = holder(run_dir)
    if held is not None and held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            os.remove(path_of(run_dir))


@contextlib.contextmanager
def held(run_dir: str) -> Iterator[None]:
    """The folder's lock, held for the block and released however it ends."""
    said = take(run_dir)
    if said:
        print(said, flush=True)
    try:
        yield
    finally:
        release(run_dir)
