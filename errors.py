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
    """Ctrl-C (exit code 130, as the shell uses) or SIGTERM (143) stopped a run; its last finished
    epoch is saved."""

    def __init__(self, message: str, code: int = 130) -> None:
        super().__init__(message)
        self.code = code


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout, docker stop, systemd, scancel), taken as Ctrl-C is; exit code 143."""


def exit_code(e: BaseException) -> int:
    """The exit code of a command stopped by e: 143 after SIGTERM, 130 after Ctrl-C."""
    return getattr(e, "code", None) or (143 if isinstance(e, Terminated) else 130)


def while_starting() -> None:
    """Ctrl-C or SIGTERM while a command still imports its libraries: one line, no traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) in (signal.default_int_handler, signal.SIG_DFL):
            signal.signal(signum, _stopped_while_starting)


def _stopped_while_starting(signum: int, frame: Any) -> None:
    os.write(2, b"interrupted while starting: nothing was done\n")
    os._exit(128 + signum)


def ctrl_c_and_sigterm() -> None:
    """From now on Ctrl-C raises KeyboardInterrupt and SIGTERM Terminated, where they are not
    ignored (a command started with `nohup` or `&` keeps them ignored)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


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


_DEFERRING: list[bool] = []  # inside a ctrl_c_deferred block: an inner one leaves it to the outer


@contextlib.contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (or a SIGTERM taken as one) until the block ends, so that a checkpoint and its
    record always agree. Inside another such block it does nothing: the outer one holds it."""
    if _DEFERRING:
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if caught:  # the second one: do not wait
            exit_at_once(signum, frame)
        caught.append(signum)

    previous = on_sigint(hold)
    terminate = previous is not None and signal.getsignal(signal.SIGTERM) is _terminate
    if terminate:
        signal.signal(signal.SIGTERM, hold)
    _DEFERRING.append(True)
    try:
        yield
    finally:
        _DEFERRING.clear()
        if previous is not None:
            on_sigint(previous)
        if terminate:
            signal.signal(signal.SIGTERM, _terminate)
    if caught:
        raise Terminated if signal.SIGTERM in caught else KeyboardInterrupt


def on_sigint(handler: Any) -> Any:
    """Install a SIGINT handler where Python allows it (the main thread); returns the previous one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)
