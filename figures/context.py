"""The records of the figure table: a Figure (one row), an Option it takes, the Context it is drawn in."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


def results_dir(out: str) -> str:
    """Where the report-level figures and tables go: OUT/results/."""
    return os.path.join(out, "results")


@dataclass(frozen=True)
class Option:
    """A command-line option of results.py that one or more figures take (--tsne-samples, --image)."""

    flag: str  # e.g. "--tsne-samples"; its value is Context.options[key]
    help: str
    type: Callable[[str], Any] = str
    default: Any = None
    metavar: str | None = None
    minimum: int | None = None  # a smaller value is refused before anything is drawn (exit 2)
    # The given value turned once into what the figures use (a path into pixels). A UserError is
    # one problem line, and the figures taking this option are not drawn; the others are.
    read: Callable[[Any], Any] | None = None

    @property
    def key(self) -> str:
        """The option's name in Context.options and on argparse's namespace: tsne_samples."""
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Context:
    """What a figure is given besides its runs: where to write, where the images are, its options."""

    out: str  # the runs folder
    data_dir: str | None = None  # where CIFAR is; None: each run's own --data-dir
    options: Mapping[str, Any] = field(default_factory=dict)  # every Option's value, by Option.key
    report: str = ""  # the figure being drawn, whose report and name give its file (path)
    name: str = ""
    # Lines the report's figures add under its results table (the image they show): one list per
    # report, shared by the contexts made from it with dataclasses.replace.
    notes: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        """Say a line under the report's results table (once, however many runs draw the figure)."""
        if line not in self.notes:
            self.notes.append(line)

    def path(self) -> str:
        """OUT/results/<report>-<name>.png: the file of the report figure being drawn."""
        return os.path.join(results_dir(self.out), f"{self.report}-{self.name}.png")


@dataclass(frozen=True)
class Figure:
    """One figure of a report: a row of figures.FIGURES.

    A step figure (steps given) is drawn for each of those steps' runs into the run's folder:
    draw(run: run_folder.reader.Run, ctx: Context) -> paths written. A report figure (no steps) is drawn once
    into OUT/results/: draw(runs: dict[str, run_folder.reader.Run], ctx) -> paths, runs being the report's
    runs by step. A figure that has nothing to show returns [].
    """

    report: str  # the report's id, "000" ... "004"
    name: str  # unique in its report; a report figure's file is OUT/results/<report>-<name>.png
    number: str  # the report's own figure number ("Fig. 4", "Figs. 6-8"); "" if it has none
    caption: str  # one line: what the report showed there (or, for the kit's own, what it shows)
    draw: Callable[..., list[str]]
    steps: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    # What the report calls a figure it shows but does not number (report 003's "sample images
    # with respective labels"); "" with no number: the kit's own, which follow the report's.
    called: str = ""

    @property
    def heading(self) -> str:
        """How a page names it: its number, what the report calls it, or "The kit's own"."""
        return self.number or (f"The report's \u201c{self.called}\u201d" if self.called
                              else "The kit's own")

    @property
    def the_reports(self) -> bool:
        """Whether the report has this figure (numbered or named), rather than the kit alone."""
        return bool(self.number or self.called)
