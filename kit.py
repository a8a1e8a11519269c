"""Which kit this is: its git commit and whether its tracked files differ.

Imports no torch, so `python main.py --version` answers at once.
"""
from __future__ import annotations

import functools
import os
import subprocess
from typing import Any


@functools.lru_cache(maxsize=1)
def current() -> dict[str, Any]:
    """Which kit this is: its git commit, and whether its tracked files differ (git_state)."""
    return git_state(os.path.dirname(os.path.abspath(__file__)))


def git_state(root: str) -> dict[str, Any]:
    """The commit checked out at root and whether tracked files differ from it; outside a git
    checkout (an unpacked archive) {"commit": None, "local_changes": None} and why."""
    def git(*args: str) -> str | None:
        try:  # quick and local; a slow or missing git must not hold up a run
            done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "local_changes": None,
                "note": "not a git checkout (or git is not installed): the commit is unknown"}
    # Untracked files (data/, runs/, a new experiment) are not the kit's: tracked ones decide.
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "local_changes": None if changes is None else bool(changes)}


def text(info: dict[str, Any] | None = None) -> str:
    """The kit in a few words: "kit 1a2b3c4", "kit 1a2b3c4 with local changes", or why unknown."""
    info = current() if info is None else info
    if not info.get("commit"):
        return "kit of unknown commit (not a git checkout)"
    changed = " with local changes" if info.get("local_changes") else ""
    return f"kit {info['commit'][:7]}{changed}"
