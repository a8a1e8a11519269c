"""The errors the command lines report as one sentence, without a traceback."""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn


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
