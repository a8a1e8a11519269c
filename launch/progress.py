"""The live view of many runs: one line per running run (step, seed, epoch, latest figure) and the
counts done / failed / running / waiting.

On a terminal the block of live lines is redrawn in place; otherwise (a file, a pipe, CI) a line is
printed only when it changes, without control codes, so that the log reads top to bottom.
"""
from __future__ import annotations

import re
import shutil
import sys
from typing import Mapping, TextIO

from launch import tail_lines

EPOCH = re.compile(r"\sepoch\s+(\d+)/(\d+)\s")  # summary.epoch_line's "001-A epoch   3/20  ..."
FIGURE = re.compile(r"(val|test) loss \S+ acc\s*([\d.]+)%")


def latest(log: str) -> str:
    """What a run's log says of it now: "epoch 3/20, val acc 61.20%", or "starting"."""
    for line in reversed(tail_lines(log)):
        epoch = EPOCH.search(f" {line}")
        if epoch is not None:
            figures = dict(FIGURE.findall(line))
            split = "val" if "val" in figures else "test"
            figure = f", {split} acc {figures[split]}%" if split in figures else ""
            return f"epoch {epoch.group(1)}/{epoch.group(2)}{figure}"
    return "starting"


class Progress:
    """Prints the events of a pool of runs and keeps its live lines up to date."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.drawn = 0  # live lines on the screen below the events (terminal only)
        self.shown: dict[str, str] = {}  # what was printed last for each live line (no terminal)
        self.block: list[str] = []  # the live lines on the screen (terminal)

    def event(self, text: str) -> None:
        """A line that stays: a run started, finished or failed."""
        self._clear()
        print(text, file=self.stream, flush=True)

    def live(self, running: Mapping[str, str], counts: str) -> None:
        """The running runs' lines ({name: latest(log)}) and the counts, redrawn or printed if changed."""
        lines = {name: f"  {name}: {text}" for name, text in running.items()}
        lines["counts"] = f"  {counts}"
        if not self.tty:
            for key, line in lines.items():
                if self.shown.get(key) != line:
                    print(line, file=self.stream)
            self.shown = {**self.shown, **lines}
            self.stream.flush()
            return
        if self.drawn and list(lines.values()) == self.block:
            return  # unchanged: no redraw, no flicker
        self._clear()
        self.block = list(lines.values())
        width = max(20, shutil.get_terminal_size().columns - 1)  # a wrapped line would not be erased
        self.stream.write("".join(f"{line[:width]}\n" for line in lines.values()))
        self.stream.flush()
        self.drawn = len(lines)

    def _clear(self) -> None:
        if self.tty and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")  # up to the block's first line, erase below
        self.drawn = 0
