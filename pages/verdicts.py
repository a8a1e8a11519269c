"""Each step's figures against the report's, as the pages show them: the runs' value, the report's,
the difference and the verdict in words (VERDICTS).

The rules are summary.py's: several seeds are judged by summary.verdict (the report's figure within
the runs' spread), a single run by summary.tolerance (TOLERANCE); this module applies them to a
step's runs on the report's columns, for the step tables of pages/templates/.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from config import Reported, reported_figures
from summary import ABOVE, BELOW, difference, distance, figure_text, spread, tolerance, verdict

if TYPE_CHECKING:
    from run_folder.reader import Run

VERDICTS = ("matches", "within", "above", "below", "not compared")  # "within": several runs' spread


@dataclass(frozen=True)
class FigureResult:
    """One figure of a step: the runs' value (mean, and std when there are several), the report's,
    their difference and the verdict (VERDICTS)."""

    name: str
    reported: Any  # a number or a (low, high) range; None when the report gives none
    mean: float | None  # None when no run has this figure
    std: float | None  # with two runs or more
    n: int
    difference: float | None  # mean minus report; for a range 0 inside it, else to its nearer end
    verdict: str

    @property
    def ours(self) -> str:
        """The runs' figure as tables print it: 73.61%, or 73.61% ± 0.40 (n=3)."""
        if self.mean is None:
            return "-"
        text = figure_text(self.name, self.mean)
        return text if self.std is None else f"{text} ± {self.std:.2f} (n={self.n})"

    @property
    def theirs(self) -> str:
        """The report's figure as tables print it, "-" when it gives none."""
        return "-" if self.reported is None else figure_text(self.name, self.reported)

    @property
    def diff(self) -> str:
        """The difference as the Markdown tables print it (summary.difference)."""
        if self.mean is None or self.reported is None:
            return "-"
        return difference(self.mean, self.reported)


def step_result(runs: Sequence[Run], reported: Reported | None,
                columns: Sequence[str]) -> dict[str, FigureResult]:
    """A step's runs (one per seed; none if not run) against the report, on each of `columns`.

    Several runs: mean ± std, and the verdict of summary.verdict (the report's figure within the
    runs' spread, or the runs above or below it). One run: "matches" within summary.TOLERANCE of
    the report's figure (of its range), else "above" or "below". Minutes are "not compared" (the
    report's hardware is not ours), and so is a figure the report or the runs lack.
    """
    theirs = reported_figures(reported)
    out = {}
    for name in columns:
        values = [v for r in runs if (v := r.summary.get(name)) is not None]
        rep = theirs.get(name)
        s = spread(values) if values else None
        diff = distance(s.mean, rep) if s is not None and rep is not None else None
        if diff is None or name == "minutes":
            word = "not compared"
        elif s.n > 1:
            word = verdict(s, rep)
        else:
            word = "matches" if abs(diff) <= tolerance(name, rep) else ABOVE if diff > 0 else BELOW
        out[name] = FigureResult(name, rep, s.mean if s else None, s.std if s and s.n > 1 else None,
                                 len(values), diff, word)
    return out


def reproduced(results: dict[str, FigureResult]) -> bool | None:
    """Whether every compared figure of a step matches (or is within the spread); None if none is compared."""
    compared = [r.verdict for r in results.values() if r.verdict != "not compared"]
    return all(v in ("matches", "within") for v in compared) if compared else None
