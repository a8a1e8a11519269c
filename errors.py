"""The exceptions main.py reports as one sentence, without a traceback."""


class UserError(Exception):
    """A problem the user can fix (a path, an option, a missing file); exit code 2."""


class TrainingError(Exception):
    """A run that cannot go on (the loss diverged); exit code 1."""
