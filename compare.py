"""The one comparison of a step's runs with its report: a record per figure, with its verdict and
the one sentence that explains it (compare), and whether the step reproduced, on its headline
figure. Every table, line and page renders these records and decides nothing.

The rules, in the order they are tried (RULES says them in words, README's "Seeds" measures them):
  not comparable  the runs are not in the report's setting (other data, a subset, fewer epochs, no
                  pretrained weights, another precision), or the figure was measured on fewer than
                  MIN_IMAGES images: shown, never judged;
  matches         the runs' mean is within the single-run tolerance of the report's figure, taken
                  as the range of its printed precision ("27%" is 26.5-27.5); the tolerance of an
                  accuracy is 1.96·√2·sigma, sigma its binomial sd on the images it was measured
                  on (a run and the report are two draws), an estimate; losses and epoch numbers
                  have a fixed one. The mean of several runs is judged by one run's tolerance, so
                  adding seeds never makes the verdict harsher;
  consistent with seed noise   the report's figure lies inside the 95% prediction interval for
                  one more run, mean ± t(0.975, n-1)·s·√(1+1/n) (epoch numbers: at least the
                  tolerance, never s alone: three seeds at epoch 20 have s = 0);
  undecided       it lies inside an interval wider than UNDECIDED tolerances: more seeds decide;
  above / below   the report's figure lies outside both.
Minutes are never judged (the report's hardware is not ours).
"""
from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import data
from config import FIGURES, Config, Reported, reported_figures
from experiments import report_of
from experiments.claims import CLAIMS, Claim
from figures.notes import setting
from run_folder import reader
from run_folder.reader import Run

MIN_IMAGES = 100  # a figure measured on fewer images says too little to be judged
Z = 1.96  # two-sided 95% of a normal
UNDECIDED = 3  # an interval wider than this many single-run tolerances decides nothing
MAX_SEEDS = 100  # how far "how many more seeds would decide it" looks

# t(0.975, df), the 95% two-sided quantile of Student's t; between entries, linear in 1/df.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021,
        60: 2.000, 120: 1.980}

# The fixed tolerances, where nothing better than a fixed bound exists.
EPOCH_TOLERANCE = 2.0  # epoch numbers: on a flat validation curve the best epoch moves by a few
LOSS_TOLERANCE = 0.05  # losses: 5% of the report's value (they span 0.04 to 2.7)

# Where each figure is measured: the split whose images it counts ("" for minutes).
SPLIT = {"best_val_accuracy": "val", "best_epoch": "val", "lowest_val_loss": "val",
         "lowest_val_loss_epoch": "val", "val_loss": "val", "val_accuracy": "val",
         "train_accuracy_at_best": "train", "train_loss": "train", "train_accuracy": "train",
         "test_loss": "test", "test_accuracy": "test", "full_test_accuracy": "full test",
         "minutes": ""}
assert set(SPLIT) == set(FIGURES)

# A figure's verdicts (Record.verdict) and a step's (Comparison.verdict).
MATCHES, CONSISTENT, UNDECIDED_WORD = "matches", "consistent with seed noise", "undecided"
ABOVE, BELOW, NOT_COMPARABLE = "above", "below", "not comparable"
NOT_JUDGED, NOT_RUN, NOT_GIVEN = "not judged", "not run", ""  # "": the report gives no figure
VERDICTS = (MATCHES, CONSISTENT, UNDECIDED_WORD, ABOVE, BELOW, NOT_COMPARABLE, NOT_JUDGED, NOT_RUN)
REPRODUCED, NOT_REPRODUCED, NO_FIGURE = "reproduced", "not reproduced", "no figure to compare"
STEP_VERDICTS = (REPRODUCED, NOT_REPRODUCED, UNDECIDED_WORD, NOT_COMPARABLE, NOT_RUN, NO_FIGURE)

RULES = (f"Each figure is judged in this order. *Not comparable*: the runs are not in the report's "
         f"setting (other data, a subset, fewer epochs, no pretrained weights, another precision) "
         f"or the figure was measured on fewer than {MIN_IMAGES} images; shown, never judged. "
         f"*Matches*: the runs' mean is within the single-run tolerance of the report's figure, "
         f"read as the range of its printed precision (27% is 26.5-27.5); for an accuracy the "
         f"tolerance is 1.96·√2·sigma, sigma the binomial sd of an accuracy on the images it was "
         f"measured on (an estimate), for a loss 5% of the report's, for an epoch number "
         f"{EPOCH_TOLERANCE:g} epochs. *Consistent with seed noise*: the report's figure lies inside "
         f"the 95% prediction interval for one more run, mean ± t(0.975, n-1)·s·√(1+1/n) over n "
         f"seeds (an epoch number's at least its tolerance). *Undecided*: it does, but the "
         f"interval is wider than {UNDECIDED} tolerances. *Above* / *below*: outside both. "
         f"Minutes are not judged. A step is *reproduced* when its headline figure matches or is "
         f"consistent with seed noise; its other figures keep their words but do not decide.")


# ---------------------------------------------------------------------------------------------
# What is compared: a run's figures, its setting and how many images each figure counts
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One run as the comparison sees it."""

    name: str  # "seed 2", or "the plain run"
    seeded: bool  # one of several seeds' runs (--seeds)
    figures: Mapping[str, Any]  # summary.summarize's
    notes: tuple[str, ...]  # how its setting differs from the report's (summary.setting_notes)
    images: Mapping[str, int]  # the images of each split its figures count (evaluation_images)
    run: Any = field(default=None, compare=False, repr=False)  # the reader.Run it was read from


def evaluation_images(cfg: Config) -> dict[str, int]:
    """How many images each split of a run holds: train, val, test (as evaluated each epoch), full test."""
    n_train, n_test = data.sizes(cfg.dataset, cfg.subset)
    val = data.held_out(n_train, cfg.val_split, cfg.val_size)
    return {"train": n_train - val, "val": val, "test": min(cfg.test_limit or n_test, n_test),
            "full test": n_test}


def outcome(cfg: Config, figures: Mapping[str, Any], notes: Sequence[str],
            seeded: bool = False, run: Any = None) -> Outcome:
    """A run's Outcome from its configuration, its figures and its setting's notes."""
    return Outcome(f"seed {cfg.seed}" if seeded else "the plain run", seeded, dict(figures),
                   tuple(notes), evaluation_images(cfg), run)


def compare_runs(step: str, step_runs: Sequence[Run], columns: Sequence[str]) -> Comparison:
    """compare() on every run of a step as read back (reader.read_step: a plain run, then seeds),
    against the report's figures as the runs saved them (reader.reported_for)."""
    reported = reader.reported_for(step, step_runs[0] if step_runs else None)
    report = report_of(step)
    return compare(step, [outcome(r.config, r.summary, setting(r), r.seeded, r) for r in step_runs],
                   reported, columns, report.hardware if report else "")


# ---------------------------------------------------------------------------------------------
# The records
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One figure of a step against the report: values, interval, verdict and its sentence."""

    step: str
    figure: str  # a name of config.FIGURES
    headline: bool  # the figure that decides whether the step reproduced
    n: int  # runs compared
    mean: float | None
    sd: float | None  # with two runs or more
    left_out: tuple[str, ...]  # runs not compared, each with why
    reported: Any  # the report's figure as given: a number or a (low, high) range; None: none
    report_range: tuple[float, float] | None  # of its printed precision
    interval: tuple[float, float] | None  # the one the verdict used
    verdict: str  # VERDICTS, or NOT_GIVEN
    sentence: str  # the verdict explained, naming its interval
    measured_on: str  # "val, 1,000 images"
    ours: str  # the runs' figure as every table prints it: 72.00 ± 2.00% (n=3)
    theirs: str  # the report's, as it printed it: 73.6%, 60-65%
    diff: str  # ours minus the report's (for a range, to its nearer end): +1.40, in range

    @property
    def label(self) -> str:
        """The figure's name in tables: best val acc."""
        return FIGURES[self.figure][0]

    @property
    def cell(self) -> str:
        """The difference and the verdict, as a table's diff cell: "-1.50 matches", "-"."""
        if self.verdict in (NOT_RUN, NOT_GIVEN):
            return "-"
        return " ".join(t for t in (self.diff, self.verdict) if t != "-")


@dataclass(frozen=True)
class Comparison:
    """A step's records on its report's columns, and whether it reproduced (on its headline)."""

    step: str
    records: tuple[Record, ...]
    verdict: str  # STEP_VERDICTS
    sentence: str  # why: the headline record's sentence
    n: int
    left_out: tuple[str, ...]
    notes: tuple[str, ...]  # how the compared runs' setting differs from the report's
    compared: tuple[Outcome, ...]  # the runs compared, in the order given

    def __getitem__(self, figure: str) -> Record:
        return next(r for r in self.records if r.figure == figure)

    @property
    def explained(self) -> list[Record]:
        """The records whose verdict has a sentence worth reading: those the report gives a figure for."""
        return [r for r in self.records if r.verdict not in (NOT_GIVEN, NOT_RUN)]

    @property
    def reproduced(self) -> bool | None:
        """True or False when the headline was judged; None when it was not (not run, not comparable)."""
        return {REPRODUCED: True, NOT_REPRODUCED: False}.get(self.verdict)


def compare(step: str, runs: Sequence[Outcome], reported: Reported | None,
            columns: Sequence[str], hardware: str = "") -> Comparison:
    """A step's runs against the report on each of `columns`: a Record per figure, and the step's
    verdict on its headline figure (Reported.decisive). Runs of another setting than the rest are
    left out and named; a plain run beside seeds too (it may repeat one)."""
    chosen, left_out = _choose(runs)
    notes = chosen[0].notes if chosen else ()
    theirs = reported_figures(reported)
    headline = reported.decisive if reported is not None else None
    records = tuple(_record(step, name, chosen, left_out, theirs.get(name), name == headline,
                            hardware) for name in columns)
    if not chosen:
        verdict, sentence = NOT_RUN, "Not run."
    elif headline is None or headline not in columns:
        verdict, sentence = NO_FIGURE, "The report gives no figure for this step to compare with."
    else:
        head = next(r for r in records if r.figure == headline)
        verdict = {MATCHES: REPRODUCED, CONSISTENT: REPRODUCED, ABOVE: NOT_REPRODUCED,
                   BELOW: NOT_REPRODUCED}.get(head.verdict, head.verdict)
        sentence = f"On its headline figure, {head.label}: {head.sentence}"
    return Comparison(step, records, verdict, sentence, len(chosen), left_out, notes, tuple(chosen))


def _choose(runs: Sequence[Outcome]) -> tuple[list[Outcome], tuple[str, ...]]:
    """The runs compared and those left out (with why): seeds before a plain run beside them, and
    of the seeds those in the report's setting, else those of the most common setting."""
    seeded = [r for r in runs if r.seeded]
    pool = seeded or list(runs[:1])
    left = [f"{r.name}: beside the seeds (it may be of another setting or repeat one)"
            for r in runs if r not in pool]
    groups: dict[tuple[str, ...], list[Outcome]] = {}
    for r in pool:
        groups.setdefault(r.notes, []).append(r)
    notes = () if () in groups else max(groups, key=lambda k: len(groups[k]), default=())
    chosen = groups.get(notes, [])
    left += [f"{r.name}: another setting ({', '.join(r.notes) or REPORTS_SETTING})"
             for r in pool if r.notes != notes]
    return chosen, tuple(left)


REPORTS_SETTING = "the report's"


def _record(step: str, name: str, runs: Sequence[Outcome], left_out: tuple[str, ...],
            reported: Any, headline: bool, hardware: str) -> Record:
    """One figure's record: the values of the runs that have it, and its verdict."""
    values = [float(v) for r in runs if isinstance(v := r.figures.get(name), (int, float))
              and math.isfinite(v)]
    n = len(values)
    mean = statistics.fmean(values) if values else None
    sd = statistics.stdev(values) if n > 1 else None
    split = SPLIT[name]
    images = runs[0].images.get(split, 0) if runs and split else 0
    measured = f"{split}, {images:,} images" if split else "wall clock"
    rng = printed_range(name, reported) if reported is not None else None
    texts = dict(ours=ours_text(name, mean, sd, n), theirs=printed(name, reported),
                 diff=difference(mean, reported) if mean is not None and reported is not None
                 and name != "minutes" else "-")
    base = dict(step=step, figure=name, headline=headline, n=n, mean=mean, sd=sd,
                left_out=left_out, reported=reported, report_range=rng, measured_on=measured,
                **texts)
    if not runs:
        return Record(**base, interval=None, verdict=NOT_RUN, sentence="Not run.")
    if reported is None:
        return Record(**base, interval=None, verdict=NOT_GIVEN,
                      sentence="The report gives no figure for it.")
    if not values:
        return Record(**base, interval=None, verdict=NOT_JUDGED,
                      sentence="The runs did not measure it.")
    if name == "minutes":
        where = f" ({hardware})" if hardware else ""
        return Record(**base, interval=None, verdict=NOT_JUDGED,
                      sentence=f"Minutes are not judged: the report's hardware{where} is not ours.")
    if runs[0].notes:
        return Record(**base, interval=None, verdict=NOT_COMPARABLE, sentence=(
            f"Not comparable: the runs are not in the report's setting ({', '.join(runs[0].notes)}); "
            f"no interval is applied."))
    if images < MIN_IMAGES:
        return Record(**base, interval=None, verdict=NOT_COMPARABLE, sentence=(
            f"Not comparable: measured on {images:,} {split} images, fewer than the {MIN_IMAGES} "
            f"a figure needs to be judged; no interval is applied."))
    tol, why = tolerance(name, rng, images, split)
    j = judge(values, rng, tol, discrete=is_epoch(name))
    return Record(**base, interval=j.interval, verdict=j.verdict,
                  sentence=_sentence(name, j, values, rng, reported, tol, why))


# ---------------------------------------------------------------------------------------------
# The rule, on numbers alone (the simulation in tests/test_compare.py calls it directly)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Judgement:
    """A verdict on numbers: the word, the interval it used, and the seeds that would decide it."""

    verdict: str
    interval: tuple[float, float]
    predicted: bool  # the interval is the prediction interval (else the single-run tolerance's)
    more_seeds: int | None = None  # undecided: how many more seeds would narrow it enough


@functools.lru_cache(maxsize=None)  # the error-rate simulation asks for a few df, 10^5 times
def t975(df: int) -> float:
    """Student's t(0.975, df) from T975, linear in 1/df between its entries, 1.96 beyond."""
    if df in T975:
        return T975[df]
    if df > max(T975):
        return Z + (T975[120] - Z) * 120 / df
    lo = max(k for k in T975 if k < df)
    hi = min(k for k in T975 if k > df)
    w = (1 / lo - 1 / df) / (1 / lo - 1 / hi)
    return T975[lo] + w * (T975[hi] - T975[lo])


def half_width(s: float, n: int, tol: float = 0.0, discrete: bool = False) -> float:
    """The half-width of the 95% prediction interval for one more run from n runs of sd s."""
    half = t975(n - 1) * s * math.sqrt(1 + 1 / n)
    return max(half, tol) if discrete else half


def judge(values: Sequence[float], reported: tuple[float, float], tol: float,
          discrete: bool = False) -> Judgement:
    """The verdict on runs' values against the report's range, given the single-run tolerance."""
    n, (low, high) = len(values), reported
    mean = statistics.fmean(values)
    gap = distance(mean, reported)
    if abs(gap) <= tol or n == 1:
        word = MATCHES if abs(gap) <= tol else ABOVE if gap > 0 else BELOW
        return Judgement(word, (low - tol, high + tol), False)
    s = statistics.stdev(values)
    half = half_width(s, n, tol, discrete)
    interval = (mean - half, mean + half)
    if interval[0] > high or interval[1] < low:
        return Judgement(ABOVE if gap > 0 else BELOW, interval, True)
    if 2 * half <= UNDECIDED * tol:
        return Judgement(CONSISTENT, interval, True)
    more = next((m - n for m in range(n + 1, n + MAX_SEEDS)
                 if 2 * half_width(s, m, tol, discrete) <= UNDECIDED * tol), None)
    return Judgement(UNDECIDED_WORD, interval, True, more)


def tolerance(name: str, reported: tuple[float, float], images: int, split: str) -> tuple[float, str]:
    """How far one run may be from the report's figure and still match it, and how it was found."""
    if FIGURES[name][1] == "%":
        p = min(max(sum(reported) / 200, 0.0), 1.0)
        sigma = 100 * math.sqrt(max(p * (1 - p), 1 / images) / images)
        return Z * math.sqrt(2) * sigma, (f"an estimate: 1.96·√2 × {sigma:.2f}, the binomial sd "
                                          f"of an accuracy on {images:,} {split} images")
    if is_epoch(name):
        return EPOCH_TOLERANCE, "fixed for an epoch number"
    return LOSS_TOLERANCE * abs(reported[1]), "fixed: 5% of the report's loss"


def is_epoch(name: str) -> bool:
    """Whether a figure is an epoch number: discrete, never judged by its sd alone."""
    return name.endswith("epoch") or name == "epochs"


def _sentence(name: str, j: Judgement, values: Sequence[float], rng: tuple[float, float],
              reported: Any, tol: float, why: str) -> str:
    """The verdict in one sentence that names the interval it used."""
    n, unit = len(values), FIGURES[name][1]
    theirs = f"the report's {printed(name, reported)}" + (
        f" (read as {rng[0]:.6g}-{rng[1]:.6g})" if rng[0] != rng[1] else "")
    ours = (f"the run's {number(name, values[0])}{unit}" if n == 1 else
            f"the runs' mean {number(name, statistics.fmean(values))}{unit}")
    tolerance_text = f"the single-run tolerance ±{number(name, tol)} ({why})"
    if not j.predicted:
        where = "within" if j.verdict == MATCHES else "outside"
        return f"{j.verdict.capitalize()}: {ours} is {where} {tolerance_text} of {theirs}."
    low, high = (number(name, v) for v in j.interval)
    floor = f", at least ±{number(name, tol)} for an epoch number" if is_epoch(name) else ""
    interval = (f"the 95% prediction interval for one more run, {low}-{high}{unit} (mean ± "
                f"t(0.975, {n - 1})·s·√(1+1/{n}) with s = {number(name, statistics.stdev(values))}"
                f"{floor})")
    if j.verdict in (ABOVE, BELOW):
        side = "below" if j.verdict == ABOVE else "above"
        return (f"{j.verdict.capitalize()}: {theirs} lies {side} {interval}, and {ours} is "
                f"outside {tolerance_text}.")
    if j.verdict == CONSISTENT:
        return (f"Consistent with seed noise: {theirs} lies inside {interval}, though {ours} "
                f"is outside {tolerance_text}.")
    more = (f"about {j.more_seeds} more seed{'s' if j.more_seeds > 1 else ''} at this sd would "
            f"narrow it enough" if j.more_seeds else "no number of seeds would at this sd: the runs vary "
            "more between seeds than the tolerance allows")
    return (f"Undecided: {theirs} lies inside {interval}, which is wider than {UNDECIDED} "
            f"single-run tolerances of ±{number(name, tol)} ({why}); {more}.")


# ---------------------------------------------------------------------------------------------
# Numbers as every renderer prints them
# ---------------------------------------------------------------------------------------------

def number(name: str, value: float) -> str:
    """A value of figure `name` as tables print it: 73.61 (%), 0.8030, 12.3 (epochs)."""
    if is_epoch(name):
        return f"{value:.1f}" if value != int(value) else f"{value:g}"
    return f"{value:.1f}" if name == "minutes" else f"{value:.2f}" if FIGURES[name][1] == "%" \
        else f"{value:.4f}"


def ours_text(name: str, mean: float | None, sd: float | None, n: int) -> str:
    """The runs' figure: 73.61%, or 73.61 ± 0.40% (n=3); "-" without one."""
    if mean is None:
        return "-"
    unit = FIGURES[name][1]
    if sd is None:
        return number(name, mean) + unit
    return f"{number(name, mean)} ± {number(name, sd)}{unit} (n={n})"


def printed(name: str, reported: Any) -> str:
    """The report's figure as it printed it: 27%, 73.6%, 60-65%; "-" when it gives none."""
    if reported is None:
        return "-"
    unit = FIGURES[name][1]
    if isinstance(reported, (tuple, list)):
        return "-".join(_as_printed(v) for v in reported) + unit
    return _as_printed(reported) + unit


def _as_printed(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def printed_range(name: str, reported: Any) -> tuple[float, float]:
    """The report's figure as the range of its printed precision: 27 is 26.5-27.5, 73.6 is
    73.55-73.65; an epoch number is exact; a range (60, 65) widens each end the same way."""
    low, high = reported if isinstance(reported, (tuple, list)) else (reported, reported)
    if is_epoch(name):
        return float(low), float(high)
    return low - _half_unit(low), high + _half_unit(high)


def _half_unit(value: float) -> float:
    text = _as_printed(value)
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return 0.5 * 10 ** -decimals


def distance(value: float, reported: Any) -> float:
    """Value minus the report's figure; for a (low, high) range 0 inside it, else to its nearer end."""
    if isinstance(reported, (tuple, list)):
        low, high = reported
        return 0.0 if low <= value <= high else value - (low if value < low else high)
    return value - reported


def difference(value: float, reported: Any) -> str:
    """Ours minus the report's as tables print it: +1.40, or "in range" inside a range."""
    gap = distance(value, reported)
    return "in range" if isinstance(reported, (tuple, list)) and gap == 0 else f"{gap:+.2f}"


# ---------------------------------------------------------------------------------------------
# The reports' own claims (experiments/claims.py), judged across seeds
# ---------------------------------------------------------------------------------------------

HOLDS, DOES_NOT_HOLD = "holds", "does not hold"
CLAIM_VERDICTS = (HOLDS, DOES_NOT_HOLD, UNDECIDED_WORD, NOT_COMPARABLE, NOT_RUN)
ALIKE = ("precision", "deterministic")  # settings that move every step alike: a claim still stands


@dataclass(frozen=True)
class ClaimRecord:
    """A claim against the runs: its verdict and the sentence that explains it."""

    claim: Claim
    verdict: str  # CLAIM_VERDICTS
    sentence: str

    @property
    def what(self) -> str:
        """The claim in a few words: 001-A-drop0.2 over 001-A, 001-A-drop0.5 on best val acc."""
        c = self.claim
        return f"{c.better} over {', '.join(c.than)} on {FIGURES[c.figure][0]}"


def _settings_of(steps: Sequence[str], comparisons: dict[str, Comparison]) -> str:
    """Each setting of these steps' runs once, with the steps in it: nine sweep steps run alike
    read as one setting, not nine."""
    groups: dict[str, list[str]] = {}
    for s in steps:
        groups.setdefault(", ".join(comparisons[s].notes) or REPORTS_SETTING, []).append(s)
    return "; ".join(f"{', '.join(names)}: {setting}" for setting, names in groups.items())


def judge_claims(report_id: str, comparisons: Mapping[str, Comparison]) -> list[ClaimRecord]:
    """Each claim of a report against its steps' comparisons (compare_runs on every step)."""
    return [judge_claim(c, comparisons) for c in CLAIMS if c.report == report_id]


def judge_claim(claim: Claim, comparisons: Mapping[str, Comparison]) -> ClaimRecord:
    """A claim holds when the better step's figure beats each other's by more than the 95%
    interval of their difference; it does not hold when one difference lies wholly the other way."""
    steps = (claim.better, *claim.than)
    missing = [s for s in steps if s not in comparisons or not comparisons[s].compared]
    if missing:
        return ClaimRecord(claim, NOT_RUN, f"Not run: {', '.join(missing)}.")
    unmeasured = [s for s in steps if not any(claim.figure in o.figures
                                              for o in comparisons[s].compared)]
    if unmeasured:
        return ClaimRecord(claim, NOT_COMPARABLE, f"Not comparable: {', '.join(unmeasured)} did "
                                                  f"not measure {FIGURES[claim.figure][0]}.")
    settings = {comparisons[s].notes for s in steps}
    alike = len(settings) == 1 and all(n.startswith(ALIKE) for n in next(iter(settings)))
    images = min(comparisons[s].compared[0].images.get(SPLIT[claim.figure], 0) for s in steps)
    if not alike or images < MIN_IMAGES:
        why = (f"measured on {images:,} images, fewer than {MIN_IMAGES}" if alike else
               _settings_of(steps, comparisons))
        return ClaimRecord(claim, NOT_COMPARABLE, f"Not comparable: {why}.")
    gaps = [_gap(claim, comparisons[claim.better], comparisons[o]) for o in claim.than]
    word = (DOES_NOT_HOLD if any(hi < 0 for _, _, _, hi, _ in gaps) else
            HOLDS if all(lo > 0 for _, _, lo, _, _ in gaps) else UNDECIDED_WORD)
    way = "higher" if claim.higher else "lower"
    parts = [f"{claim.better} − {o} {d:+.2f} (95% interval {lo:+.2f} to {hi:+.2f}, {how})"
             for o, d, lo, hi, how in gaps]
    return ClaimRecord(claim, word, (
        f"{word.capitalize()}: {claim.better}'s {FIGURES[claim.figure][0]} against "
        f"{'each of ' if len(gaps) > 1 else ''}{', '.join(claim.than)}, {way} being better, "
        f"signed so that above 0 agrees with the report: {'; '.join(parts)}."))


def _gap(claim: Claim, better: Comparison, other: Comparison) -> tuple[str, float, float, float, str]:
    """The better step's mean minus the other's (signed: above 0 agrees with the claim), its 95%
    interval and how it was found: each side's sd its own over seeds, else one run's estimate."""
    sides = [_side(claim.figure, c) for c in (better, other)]
    sign = 1 if claim.higher else -1
    gap = sign * (sides[0][0] - sides[1][0])
    se = math.sqrt(sum(sd ** 2 / n for _, sd, n, _ in sides))
    dfs = [n - 1 for _, _, n, own in sides if own]
    t = t975(min(dfs)) if dfs else Z
    how = (f"t(0.975, {min(dfs)}) with each step's sd over its seeds" if len(dfs) == 2 else
           f"{'t(0.975, ' + str(min(dfs)) + ')' if dfs else '1.96'} with one run's sd estimated "
           "from its evaluation set where a step has no seeds")
    return other.step, gap, gap - t * se, gap + t * se, how


def _side(figure: str, c: Comparison) -> tuple[float, float, int, bool]:
    """A step's mean, sd, n and whether the sd is its own (over seeds) for a claim's difference;
    one run's sd is the single-run tolerance's sigma, and an epoch number's never below it."""
    values = [float(o.figures[figure]) for o in c.compared if figure in o.figures]
    mean = statistics.fmean(values)
    split = SPLIT[figure]
    tol = tolerance(figure, (mean, mean), max(c.compared[0].images.get(split, 1), 1), split)[0]
    sigma = tol / (Z * math.sqrt(2))
    if len(values) < 2:
        return mean, sigma, 1, False
    sd = statistics.stdev(values)
    return mean, max(sd, sigma) if is_epoch(figure) else sd, len(values), True
