"""Test-session settings: with pytest-xdist, each worker computes on its share of the cores; the
tests' temporary folders live in memory (/dev/shm) when it has room."""
import os
import re
import shutil
import signal
import tempfile

import pytest
import torch

# A session started in the background by a shell (`bash .ci/run &`) inherits SIGINT ignored, and
# so would every process a test starts, which would then never see a Ctrl-C: the tests that send
# one need it handled as at a terminal. (A Python handler here is reset to the default at exec.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores, each with torch's default of every core, would fight for them.
    share = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    torch.set_num_threads(share)
    os.environ["OMP_NUM_THREADS"] = str(share)  # the kit's processes the tests start

# The runs the tests train write checkpoints flushed to disk (fsync) at every epoch: on a disk,
# the report-wide runs wait seconds per run for it. A filesystem in memory answers at once; the
# writes, renames and fsync calls are the same ones. Used only with room for the largest runs
# (a report-wide run writes about 3 GB; two run side by side), never on a user's --basetemp.
MEMORY_FS = "/dev/shm"
MEMORY_FS_ROOM = 8 << 30  # bytes free
PREFIX = "pytest-kit-"  # then the session's pid: a folder whose session is gone is memory lost

_IN_MEMORY = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)  # before pytest's temporary-folder factory reads the option
def pytest_configure(config):
    if config.option.basetemp or os.environ.get("PYTEST_XDIST_WORKER") or not os.path.isdir(MEMORY_FS):
        return  # a worker gets its folder under the controller's
    _remove_leftovers()
    if shutil.disk_usage(MEMORY_FS).free >= MEMORY_FS_ROOM and os.access(MEMORY_FS, os.W_OK):
        config.option.basetemp = config.stash[_IN_MEMORY] = tempfile.mkdtemp(
            prefix=f"{PREFIX}{os.getpid()}-", dir=MEMORY_FS)


def _remove_leftovers():
    """The folders of earlier sessions that have ended: a failed one's (kept for a look until
    now) or a killed one's, which removed nothing."""
    try:
        names = os.listdir(MEMORY_FS)
    except OSError:  # not ours to read: nothing of ours there
        return
    for name in names:
        pid = re.fullmatch(rf"{PREFIX}(\d+)-\w+", name)
        if pid and not _running(int(pid.group(1))):
            shutil.rmtree(os.path.join(MEMORY_FS, name), ignore_errors=True)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def pytest_sessionfinish(session, exitstatus):
    """The in-memory folder holds memory: removed after a session that passed (kept after one
    that failed, for its failed tests' folders, until the next session)."""
    folder = session.config.stash.get(_IN_MEMORY, None)
    if folder is not None and exitstatus == 0:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    folder = config.stash.get(_IN_MEMORY, None)
    if folder is not None and exitstatus != 0:
        terminalreporter.write_line(f"the failed tests' temporary folders are in {folder} "
                                    f"(in memory, until the next pytest session removes it)")


# The longest scopes first, so that the short ones fill the workers' ends: the real Slurm's jobs
# (a minute of waiting on Slurm), then the report-wide runs (pytest-xdist would otherwise send
# them last: by default it orders scopes by their number of tests, and each has one).
FIRST = ("tests/test_slurm.py", "tests/test_acceptance.py")


def pytest_collection_modifyitems(config, items):
    rank = {path: n for n, path in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(FIRST)))  # stable
