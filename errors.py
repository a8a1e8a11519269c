"""The exceptions main.py reports as one sentence, without a traceback."""


class UserError(Exception):
    """A problem the user can fix (a path, an option, a missing file, a full disk); exit code 2."""


class TrainingError(Exception):
    """A run that cannot go on (the loss diverged, the GPU ran out of memory); exit code 1."""


class Interrupted(Exception):
    """Ctrl-C stopped a run; its last finished epoch is saved. Exit code 130, as the shell uses."""
