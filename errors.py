"""The errors the command lines report as one sentence, without a traceback, and Ctrl-C's handling."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from typing import Any, Iterator, NoReturn


class UserError(Exception):
    """A problem the user can fix (a path, an option, a missing file, a full disk); exit code 2."""


class TrainingError(Exception):
    """A run that cannot go on (the loss diverged, the GPU ran out of memory); exit code 1."""


class Interrupted(Exception):
    """Ctrl-C stopped a run; its last finished epoch is saved. Exit code 130, as the shell uses."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2, instead of its usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def first_line(e: BaseException) -> str:
    """An exception's message cut to its first line (its type's name when it has none)."""
    return (str(e).strip() or type(e).__name__).splitlines()[0]


def exit_at_once(signum: int, frame: Any) -> None:
    """A second Ctrl-C: exit now, without cleaning up."""
    os.write(2, b"\ninterrupted again: exiting now\n")
    os._exit(130)


@contextlib.contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends, so that a checkpoint and its record always agree."""
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if caught:  # the second one: do not wait
            exit_at_once(signum, frame)
        caught.append(signum)

    previous = on_sigint(hold)
    try:
        yield
    finally:
        if previous is not None:
            on_sigint(previous)
    if caught:
        raise KeyboardInterrupt


def on_sigint(handler: Any) -> Any:
    """Install a SIGINT handler where Python allows it (the main thread); returns the previous one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)
