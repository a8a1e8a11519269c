"""The one comparison (compare.py): the rules on hand-written values, their error rates on honest
reports simulated by the thousand, and every renderer showing the same record."""
import dataclasses
import html
import json
import math
import re

import numpy as np
import pytest

import compare
import pages
import pages.markdown
from run_folder import reader
from compare import ABOVE, BELOW, CONSISTENT, MATCHES, NOT_COMPARABLE, NOT_JUDGED, UNDECIDED_WORD
from config import Config, Reported
from experiments import STEPS, load_experiment, resolve_path
from helpers import table_rows
from summary import compare_line

VAL = {"train": 49000, "val": 1000, "test": 10000, "full test": 10000}  # report 001's splits


def runs_of(values, figure="best_val_accuracy", notes=(), **more):
    return [compare.Outcome(f"seed {i}", True, {figure: v, "epochs": 20, **more}, tuple(notes), VAL)
            for i, v in enumerate(values)]


def one(values, reported, figure="best_val_accuracy", **kw):
    return compare.compare("001-A", runs_of(values, figure, **kw), Reported(**{figure: reported}),
                           [figure])[figure]


# ---- the rules, on hand-written values -------------------------------------------------------

def test_the_report_figure_is_the_range_of_its_printed_precision():
    assert compare.printed_range("test_accuracy", 27) == (26.5, 27.5)
    assert compare.printed_range("best_val_accuracy", 73.6) == pytest.approx((73.55, 73.65))
    assert compare.printed_range("test_accuracy", (60, 65)) == (59.5, 65.5)
    assert compare.printed_range("best_epoch", 12) == (12, 12)  # an epoch number is exact
    assert compare.printed("test_accuracy", 27) == "27%" and compare.printed("train_loss", 2.682) == "2.682"


def test_the_single_run_tolerance_follows_from_the_evaluation_set():
    tol, why = compare.tolerance("best_val_accuracy", (73.55, 73.65), 1000, "val")
    sigma = 100 * math.sqrt(0.736 * 0.264 / 1000)
    assert tol == pytest.approx(1.96 * math.sqrt(2) * sigma) and "estimate" in why and "1,000 val" in why
    assert compare.tolerance("test_accuracy", (43.5, 44.5), 10000, "test")[0] == pytest.approx(1.376, abs=1e-3)
    assert compare.tolerance("best_epoch", (12, 12), 1000, "val") == (2.0, "fixed for an epoch number")


@pytest.mark.parametrize("values, reported, word", [
    ([74.1], 74.95, MATCHES),  # the paradox: one run matches ...
    ([74.1, 74.3], 74.95, MATCHES),  # ... and two seeds beside it no longer say "below"
    ([60.0], 73.6, BELOW), ([80.0], 73.6, ABOVE),
    ([69.1, 69.5], 73.6, CONSISTENT),  # outside the tolerance, inside the prediction interval
    ([66.0, 69.0], 73.6, UNDECIDED_WORD),  # inside an interval wider than 3 tolerances
    ([60.0, 61.0, 62.0], 73.6, BELOW),
    ([73.0], (60, 65), ABOVE), ([66.0], (60, 65), MATCHES),
])
def test_the_verdict_in_order(values, reported, word):
    record = one(values, reported)
    assert record.verdict == word, record.sentence
    assert record.sentence.startswith(word.capitalize())


def test_an_epoch_number_is_never_judged_by_its_sd_alone():
    # The paradox: three seeds at epoch 20 (s = 0) against 18; one run at 20 matches.
    assert one([20, 20, 20], 18, "best_epoch").verdict == one([20], 18, "best_epoch").verdict == MATCHES
    record = one([23, 23, 23], 18, "best_epoch")
    assert record.verdict == ABOVE and record.interval == (21.0, 25.0)  # at least ± 2 epochs


def test_each_sentence_names_its_interval():
    assert "single-run tolerance ±3.86" in one([72.0], 73.6).sentence
    record = one([69.1, 69.5], 73.6)
    low, high = record.interval
    assert f"95% prediction interval for one more run, {low:.2f}-{high:.2f}%" in record.sentence
    assert "t(0.975, 1)" in record.sentence
    assert "more seed" in one([66.0, 69.0], 73.6).sentence  # undecided: how many would decide it


def test_minutes_are_never_judged_and_another_setting_is_not_comparable():
    record = one([3.0], 100, "minutes")
    assert record.verdict == NOT_JUDGED and record.diff == "-" and record.cell == "not judged"
    record = one([73.6], 73.6, notes=["dataset synthetic"])
    assert record.verdict == NOT_COMPARABLE and "dataset synthetic" in record.sentence
    few = [dataclasses.replace(o, images={**VAL, "val": 99}) for o in runs_of([73.6])]
    record = compare.compare("001-A", few, Reported(best_val_accuracy=73.6), ["best_val_accuracy"])
    assert record["best_val_accuracy"].verdict == NOT_COMPARABLE and "99 val images" in record.sentence


def test_runs_of_mixed_settings_are_never_pooled_silently():
    plain = compare.Outcome("the plain run", False, {"best_val_accuracy": 10.0}, (), VAL)
    seeds = runs_of([73.0, 74.0]) + [dataclasses.replace(runs_of([20.0], notes=["subset 256"])[0],
                                                         name="seed 9")]
    c = compare.compare("001-A", [plain, *seeds], Reported(best_val_accuracy=73.6), ["best_val_accuracy"])
    assert c.n == 2 and c["best_val_accuracy"].mean == 73.5
    assert [why.split(":")[0] for why in c.left_out] == ["the plain run", "seed 9"]
    assert "subset 256" in c.left_out[1]


def test_a_step_is_decided_on_its_headline_figure_alone():
    rep = Reported(best_val_accuracy=73.6, test_accuracy=90.0)
    assert rep.decisive == "best_val_accuracy"
    c = compare.compare("001-A", runs_of([73.0], test_accuracy=70.0), rep,
                        ["best_val_accuracy", "test_accuracy"])
    assert c["test_accuracy"].verdict == BELOW and c.verdict == compare.REPRODUCED
    c = compare.compare("001-A", runs_of([60.0]), rep, ["best_val_accuracy"])
    assert c.verdict == compare.NOT_REPRODUCED and c.sentence.startswith("On its headline figure")


def test_a_headline_names_a_figure_the_report_gives():
    assert Reported(test_accuracy=30, best_epoch=3, headline="best_epoch").decisive == "best_epoch"
    for bad in ({"headline": "best_accuracy"}, {"headline": "test_loss", "test_accuracy": 30}):
        with pytest.raises(AssertionError):
            Reported(**bad)


# ---- the reports' own claims -----------------------------------------------------------------

def step(name, values, notes=(), figure="best_val_accuracy"):
    outs = [compare.Outcome(f"seed {i}", True, {figure: v, "epochs": 20}, tuple(notes), VAL)
            for i, v in enumerate(values)]
    return compare.compare(name, outs, Reported(), [figure])


DROPOUT = {"001-A-drop0.2": [78.0, 77.5, 78.2], "001-A": [73.0, 73.5, 74.0],
           "001-A-drop0.5": [76.0, 76.5, 75.8], "001-A-drop0.8": [62.0, 63.0]}


@pytest.mark.parametrize("change, word", [
    ({}, compare.HOLDS),
    ({"001-A-drop0.5": [79.0, 79.4, 79.2]}, compare.DOES_NOT_HOLD),  # one step beats it, clearly
    ({"001-A-drop0.2": [76.5]}, UNDECIDED_WORD),  # one run against 76.1: within its noise
    ({"001-A": None}, compare.NOT_RUN),
])
def test_a_claim_is_judged_across_seeds(change, word):
    values = {**DROPOUT, **change}
    found = {s: step(s, v) for s, v in values.items() if v is not None}
    (record,) = compare.judge_claims("001", found)
    assert record.verdict == word and record.sentence.startswith(word.capitalize())
    if word in (compare.HOLDS, compare.DOES_NOT_HOLD, UNDECIDED_WORD):
        assert "95% interval" in record.sentence


def test_a_claim_stands_when_every_step_moved_alike_and_not_otherwise():
    alike = {s: step(s, v, notes=["precision bf16"]) for s, v in DROPOUT.items()}
    assert compare.judge_claims("001", alike)[0].verdict == compare.HOLDS
    one_synthetic = {**alike, "001-A": step("001-A", DROPOUT["001-A"], notes=["dataset synthetic"])}
    record = compare.judge_claims("001", one_synthetic)[0]
    assert record.verdict == NOT_COMPARABLE and "dataset synthetic" in record.sentence


# ---- the error rates, on honest reports simulated by the thousand ---------------------------

SIGMA = 100 * math.sqrt(0.75 * 0.25 / 1000)  # an accuracy near 75% on 1,000 images: 1.37 points
DRAWS = 2000


def simulate(n, shift=0.0, seed=0, draws=DRAWS):
    """The verdicts on `draws` honest reports: the report's figure is one more run of the same
    normal as the seeds (its sd the binomial bound), printed to one decimal; shift moves it."""
    rng = np.random.default_rng(seed)
    runs_ = rng.normal(75.0, SIGMA, size=(draws, n))
    reports = np.round(rng.normal(75.0 - shift * SIGMA, SIGMA, size=draws), 1)
    tol = compare.tolerance("best_val_accuracy", (75.0, 75.0), 1000, "val")[0]
    return [compare.judge(list(v), compare.printed_range("best_val_accuracy", float(r)), tol).verdict
            for v, r in zip(runs_, reports)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10])
def test_honest_reports_are_called_above_or_below_at_most_6_percent_of_the_time(n):
    verdicts = simulate(n, seed=n)
    assert sum(v in (ABOVE, BELOW) for v in verdicts) / DRAWS <= 0.06


@pytest.mark.parametrize("n", [2, 3, 5])
def test_the_prediction_interval_alone_holds_one_more_honest_run_95_percent_of_the_time(n):
    """Without the tolerance (tol near 0) only the interval speaks: mean ± 2 std would miss the
    report 28% of the time at n = 2, 19% at n = 3."""
    rng = np.random.default_rng(100 + n)
    values, reports = rng.normal(0, 1, size=(DRAWS, n)), rng.normal(0, 1, size=DRAWS)
    missed = sum(compare.judge(list(v), (r, r), 1e-9).verdict in (ABOVE, BELOW)
                 for v, r in zip(values, reports)) / DRAWS
    assert 0.035 <= missed <= 0.065


def test_an_honest_step_is_not_reproduced_at_most_6_percent_of_the_time():
    """A step of four figures (as report 003's), decided on its headline alone."""
    rng = np.random.default_rng(7)
    rep_figures = ("best_val_accuracy", "test_accuracy", "train_accuracy_at_best", "best_epoch")
    failed = 0
    for _ in range(500):
        values = rng.normal(0, 1, size=(4, 3))
        seeds = [compare.Outcome(f"seed {i}", True, {
            "best_val_accuracy": 75 + SIGMA * values[0, i], "test_accuracy": 74 + 0.43 * values[1, i],
            "train_accuracy_at_best": 85 + 0.16 * values[2, i], "best_epoch": 20 + round(2 * values[3, i])},
            (), {**VAL, "val": 1000}) for i in range(3)]
        report = rng.normal(0, 1, size=4)
        rep = Reported(best_val_accuracy=round(75 + SIGMA * report[0], 2),
                       test_accuracy=round(74 + 0.43 * report[1], 2),
                       train_accuracy_at_best=round(85 + 0.16 * report[2], 2),
                       best_epoch=20 + round(2 * report[3]))
        failed += compare.compare("003-final", seeds, rep, rep_figures).verdict == compare.NOT_REPRODUCED
    assert failed / 500 <= 0.06


def test_a_real_shift_of_four_sigma_is_caught_at_five_seeds():
    verdicts = simulate(5, shift=4.0, seed=11)
    assert sum(v == ABOVE for v in verdicts) / DRAWS >= 0.70  # the runs lie above the report


# ---- every renderer shows the same record ---------------------------------------------------

def write_run(folder, cfg, best_val, epochs, reported):
    """A finished run's folder as train.run leaves it (no weights): metrics, config, summary."""
    folder.mkdir(parents=True)
    rows = ["epoch,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,test_accuracy,seconds"]
    for e in range(1, epochs + 1):
        val = best_val if e == 12 else best_val - 1 - e / 100
        rows.append(f"{e},0.5,80.0,0.9,{val},0.95,70.0,3.0")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    info = {"config": dataclasses.asdict(cfg), "parameters": 890410,
            "reported": {k: v for k, v in dataclasses.asdict(reported).items() if v not in (None, "")},
            "environment": {"device": "cpu", "torch": "2", "torchvision": "0", "python": "3"}}
    (folder / "config.json").write_text(json.dumps(info))
    (folder / "summary.json").write_text(json.dumps({"epochs": epochs, "stopped_early": False,
                                                     "best_epoch": 12}))


@pytest.mark.parametrize("values", [[72.9, 73.4, 74.1], [68.5, 69.0, 68.8]])  # matches; below
def test_the_console_the_markdown_and_the_page_show_the_same_numbers_and_words(tmp_path, values):
    exp = load_experiment(resolve_path("001-A"))
    out = tmp_path / "runs"
    for seed, v in enumerate(values):
        cfg = dataclasses.replace(exp.config, seed=seed, out=str(out))
        write_run(out / "001-A" / f"seed-{seed}", cfg, v, cfg.epochs, exp.reported)
    by_step = {"001-A": reader.read_step(str(out), "001-A")}
    c = compare.compare_runs("001-A", by_step["001-A"], STEPS["001-A"].columns)
    console = pages.markdown.tables(["001-A"], by_step, {})
    markdown = pages.markdown.results_markdown(STEPS["001-A"], by_step, [], str(out))
    pages.write_pages(str(out), {"001": None})
    page = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "",  # the page's text, not its tags
                                                   (out / "results" / "001.html").read_text())))
    judged = [r for r in c.records if r.verdict not in ("", "not run")]
    assert judged and c.verdict in compare.STEP_VERDICTS
    for text in (console, markdown, page):
        flat = " ".join(text.split())
        assert c.verdict in flat and " ".join(c.sentence.split()) in flat
        for r in judged:
            assert r.ours in flat and r.theirs in flat and r.cell in flat, r.figure
            assert " ".join(r.sentence.split()) in flat, r.figure
    # The report's claims come first, in the same words, on the .md and the page.
    every = {s: compare.compare_runs(s, by_step.get(s, []), STEPS[s].columns) for s in STEPS["001-A"].steps}
    (claim,) = compare.judge_claims("001", every)
    assert claim.verdict == compare.NOT_RUN  # 001-A-drop0.2 has no run
    for text, table in ((markdown, "| step |"), (page, "The steps beside the report")):
        assert text.index("The report's claims") < text.index(claim.what) < text.index(table)
        assert claim.sentence in text and claim.claim.says in text
    # One run's end-of-run line renders the same record as the tables.
    single = compare.compare_runs("001-A", by_step["001-A"][:1], STEPS["001-A"].columns)
    line = compare_line(single, by_step["001-A"][0].summary, STEPS["001-A"].columns, STEPS["001-A"])
    assert f"best val acc 73.6% ({single['best_val_accuracy'].cell})" in line
    assert line.endswith(single.sentence)


def test_the_console_tables_fit_120_columns_and_never_set_minutes_beside_the_reports(tmp_path):
    """004 gives ten figures (a 400-column table whole): the console splits it by figure, each
    part starting with the step, the parts together the .md's row; 000's minutes are ours alone."""
    out, by_step = tmp_path / "runs", {}
    for step in ("CNN2", "004-LeNet"):
        exp = load_experiment(resolve_path(step))
        cfg = dataclasses.replace(exp.config, out=str(out), dataset="synthetic", subset=600)
        write_run(out / step, cfg, 60.0, cfg.epochs, exp.reported)
        by_step[step] = reader.read_step(str(out), step)
    console = pages.markdown.tables(list(by_step), by_step, {})
    lines = [line for line in console.splitlines() if line.startswith("|")]
    assert max(map(len, lines)) <= pages.markdown.CONSOLE_WIDTH == 120
    every = {s: compare.compare_runs(s, by_step[s], STEPS[s].columns) for s in by_step}
    md = {s: table_rows(pages.markdown.results_table([every[s]], STEPS[s].columns))[s]
          for s in by_step}
    rows = table_rows(console)
    assert sum(line.startswith("| step |") for line in lines) > 2  # 004's, split
    assert rows["004-LeNet"] == md["004-LeNet"]
    minutes = md["CNN2"].index(every["CNN2"]["minutes"].ours)  # ours, the report's, "not judged"
    assert rows["CNN2"] == md["CNN2"][:minutes + 1] + md["CNN2"][minutes + 3:]
    assert "| minutes | report |" not in console and "| minutes |" in console


def test_one_run_of_the_reports_setting_is_judged_by_the_console_line(tmp_path):
    summary = {"best_val_accuracy": 72.0, "best_epoch": 12, "val_accuracy": 71.0, "minutes": 1.0,
               "epochs": 20}
    run = compare.outcome(Config(dataset="cifar10", val_split="random", val_size=1000), summary, [])
    c = compare.compare("001-A", [run], Reported(best_val_accuracy=73.6, best_epoch=12), ["best_val_accuracy", "best_epoch"])
    line = compare_line(c, summary, ("best_val_accuracy", "best_epoch"), STEPS["001-A"])
    assert "best val acc 73.6% (-1.60 matches)" in line and "001-A: reproduced." in line


if __name__ == "__main__":  # python -m tests.test_compare: the rates README's "Seeds" quotes
    for n in (1, 2, 3, 5, 10):
        v = simulate(n, seed=n, draws=20000)
        print(f"n = {n:2}: above/below {sum(x in (ABOVE, BELOW) for x in v) / len(v):.1%} of honest "
              f"reports, undecided {v.count(UNDECIDED_WORD) / len(v):.1%}")
    for n in (3, 5, 10):
        v = simulate(n, shift=4.0, seed=11, draws=20000)
        print(f"a shift of 4 sigma at n = {n:2}: caught {v.count(ABOVE) / len(v):.1%}")
