"""Early stopping on a validation figure, by the three rules the reports use.

Every rule sees one value per evaluation and answers two questions: is this the best so far (the
weights go to best.pt), and should training stop? The rules differ in small ways that change
where a run ends, so each is written out as its report's code had it:

  off       never stops; an evaluation is the best when it beats every earlier one by more than
            min_delta (the first always does).
  patience  report 003: as off, and stops once `patience` evaluations in a row were not the best,
            so a run ends at its best epoch + patience.
  baseline  report 002: the first evaluation only sets the baseline and is not an improvement
            (the counter is 1 after it, and the kept weights stay the untrained ones until an
            improvement); an improvement beats the best by at least min_delta; stops when the
            counter reaches `patience`.
  window    report 004's starter code: stops when the last `patience` values never improve, each
            one no better than the one before it. The best is tracked as for off.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

RULES = ("off", "patience", "baseline", "window")
MONITORS = {"val_accuracy": "max", "val_loss": "min"}  # the figures to watch, and which way is better


@dataclass
class EarlyStopping:
    """The state of one rule over a run; `update` takes each evaluation's value in turn."""

    rule: str = "off"
    monitor: str = "val_accuracy"
    patience: int = 5
    min_delta: float = 0.0
    best: float | None = None  # the best value so far (for baseline: the first one, until beaten)
    # The epoch (or the evaluation within one: 1.5) whose weights are kept; 0: the starting weights.
    best_epoch: float = 0
    counter: int = 0  # evaluations since the last improvement
    values: list[float] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self) -> None:
        assert self.rule in RULES and self.monitor in MONITORS, (self.rule, self.monitor)

    def _gain(self, value: float) -> float:
        """How much better value is than the best so far (positive: better)."""
        assert self.best is not None
        return value - self.best if MONITORS[self.monitor] == "max" else self.best - value

    def update(self, epoch: float, value: float) -> bool:
        """Take one evaluation's value; returns whether it is the new best (save its weights).

        A rule that has stopped takes no more values (the loop may still finish the epoch).
        """
        assert not math.isnan(value), "a NaN never reaches early stopping: the loop stops first"
        if self.stopped:
            return False
        self.values.append(value)
        if self.rule == "baseline":
            if self.best is None:  # the first evaluation: a baseline, not an improvement
                self.best, self.counter = value, 1
                self.stopped = self.counter >= self.patience  # patience 1 stops here
                return False
            gain = self._gain(value)
            improved = gain > 0 and gain >= self.min_delta
        else:
            improved = self.best is None or self._gain(value) > self.min_delta
        if improved:
            self.best, self.best_epoch, self.counter = value, epoch, 0
        else:
            self.counter += 1
        if self.rule in ("patience", "baseline"):
            self.stopped = self.counter >= self.patience
        elif self.rule == "window" and len(self.values) >= self.patience:
            last = self.values[-self.patience:]
            sign = 1 if MONITORS[self.monitor] == "min" else -1  # non-decreasing loss, non-increasing accuracy
            self.stopped = all(sign * (b - a) >= 0 for a, b in zip(last, last[1:]))
        return improved

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to go on after --resume, as plain data for the checkpoint."""
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EarlyStopping:
        """The rule as a checkpoint saved it."""
        return cls(**state)
