"""The results pages (pages/): what they show against the runs, escaping, links; then each page in
a real browser (headless Chromium through Selenium): images loaded, no console error, one table row
per step, every local link resolves, no sideways scroll at 390 px, screenshots saved.

The browser test skips without chromium, chromedriver or selenium, naming what is missing, unless
PAGES_BROWSER=required (CI, .ci/browser.sh), where it fails instead. Screenshots go to
$PAGES_SCREENSHOTS, default the test's own temporary folder.
"""
import csv
import dataclasses
import json
import os
import re
import shutil
import sys
import time
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import markupsafe
import numpy as np
import pytest
import torch

import compare
import kit
import figures
import pages
import plotting
import results
from run_folder import reader, writer
import train
from errors import UserError
from experiments import REPORTS
from helpers import config

# A tiny run of report 001 and one of report 004, trained; the other steps' runs are 001-A's
# copied under their names (no training): 001's softmax figure, report 002's and 003's own
# figure kinds (Fig. 4's filters, Figs. 6-8, 9, 10; 003's augmented samples, error, sweeps and
# t-SNE), and 004's step table with its eleven figures filled (it must still fit 1280 px).
STEPS = ("001-A", "004-LeNet")
COPIED = ("001-A-drop0.2", "002-CNN5", "002-ES-acc", "002-DA3", "002-drop0.3", "003-bs16",
          "003-final", "004-Model1", "004-Model2")
WEIGHTS = ("001-A-drop0.2", "002-CNN5")  # a checkpoint of their own network: softmax, filters
TSNE_SAMPLES = 20  # 003-final's t-SNE: 2 images a class, a second (it is checked, not studied)
BY_ID = {r.id: r for r in REPORTS}


def shrunk(step, base):
    """A step's experiment and the config this module runs it with: 001's (and the copies') on
    120 synthetic images, 2 of which validate (a figure never judged); 004's on 200."""
    return config(step, base, subset=200 if step.startswith("004") else 120,
                  num_classes=10)  # CIFAR-10's, as main.py sets


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The two runs, one epoch each, and the copies, then `python results.py` (every report's
    page: those without runs say so)."""
    base = tmp_path_factory.mktemp("pages")
    for step in STEPS:
        train.run(train.prepare(*shrunk(step, base)))
    out = base / "runs"
    for step in COPIED:
        copy_run(out / "001-A", step, base, weights=step in WEIGHTS)
    # 001-A's one epoch is the best: the t-SNE's one snapshot is 003-final's network at its start.
    exp, cfg = shrunk("003-final", base)
    writer.save_snapshot(str(out / "003-final"), 1, exp.model(cfg))
    # Every report: the pages of those without runs too.
    result = results.regenerate(str(out), options={"tsne_samples": TSNE_SAMPLES})
    assert result["problems"] == []
    return out


def copy_run(source, step, base, weights=False):
    """A run of `step` in the module's setting with source's history and files; with weights, a
    checkpoint of step's own network at its start (for a figure that draws its filters)."""
    run_dir = source.parent / step
    # Not its experiment.py: the step's own file in experiments/ is read instead.
    shutil.copytree(source, run_dir, ignore=shutil.ignore_patterns("*.png", "best.pt",
                                                                  "experiment.py"))
    exp, cfg = shrunk(step, base)
    info = json.loads((run_dir / "config.json").read_text())
    info["config"] = dataclasses.asdict(cfg)
    info["reported"] = dataclasses.asdict(exp.reported) if exp.reported else None
    (run_dir / "config.json").write_text(json.dumps(info))
    if weights:
        model = exp.model(cfg)
        torch.save({"model": model.state_dict(), "epoch": 1}, run_dir / "checkpoint.pt")


class Page(HTMLParser):
    """A page's tables (class, body rows of cell texts), images, links and figure captions."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.images, self.links, self.captions = [], [], [], []
        self._cell = self._row = None
        self._in_body = self._in_caption = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"class": attrs.get("class", ""), "rows": []})
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag in ("a", "link") and "href" in attrs:
            self.links.append(attrs["href"])
        elif tag == "figcaption" and attrs.get("class") != "card":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None
        elif tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_caption:
            self.captions[-1] += data

    def table(self, cls):
        return next(t["rows"] for t in self.tables if cls in t["class"].split())


def read_page(out, name):
    return Page((out / "results" / name).read_text(encoding="utf-8"))


def runs_of(out, step):
    return reader.read_step(str(out), step)


def metrics(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


# ---- what the pages show --------------------------------------------------------------------

def test_the_step_table_has_a_row_per_step_and_the_runs_figures_beside_the_reports(site):
    page = read_page(site, "001.html")
    rows = page.table("steps")
    report = BY_ID["001"]
    assert [r[0] for r in rows] == list(report.steps)
    # A cell per figure the report gives (001 gives all four of its columns for some step).
    assert len(rows[0]) == 3 + len(report.columns)
    history = metrics(site / "001-A")
    best = max(r["val_accuracy"] for r in history)
    val = compare.evaluation_images(runs_of(site, "001-A")[0].config)["val"]
    # Synthetic data: the values and the reason, never a verdict or a difference.
    assert rows[0][1].startswith("not comparable dataset synthetic, subset 120")
    assert rows[0][3] == f"{best:.2f}% not comparable report 73.6% val, {val:,} images"
    assert rows[0][2] == "1" and rows[2][2] == "not run" and rows[2][3] == "- report 76.2%"
    test = metrics(site / "001-A-drop0.2")[-1]["test_accuracy"]
    assert rows[1][-1].startswith(f"{test:.2f}% not comparable report 74.95% test, ")


def test_a_report_with_runs_shows_its_figures_in_order_then_curves_and_confusion(site):
    page = read_page(site, "001.html")
    mine = figures.of("001")
    labels = [c.split(":")[0].strip() for c in page.captions[:len(mine)]]
    assert labels == [f.heading for f in mine]
    for name in ("001-samples.png", "001-dropout.png", "../001-A-drop0.2/softmax.png",
                 "../001-A/loss_accuracy.png", "../001-A/confusion.png",
                 "../001-A-drop0.2/confusion.png"):
        assert name in page.images, name
    assert "../001-A/metrics.csv" in page.links and "../001-A/summary.json" in page.links
    classes = page.table("classes")
    accuracy = json.loads((site / "001-A" / "summary.json").read_text())["per_class_accuracy"]
    assert [r[0] for r in classes] == list(BY_ID["001"].steps)
    assert classes[0][1:] == ["-" if v is None else f"{v:.1f}" for v in accuracy.values()]
    assert classes[2][1:] == ["not run"]
    environment = page.table("environment")
    assert [r[0] for r in environment] == list(BY_ID["001"].steps)
    assert environment[0][1].startswith("cpu") and environment[2][1:] == ["not run"]
    assert environment[0][2] == kit.text()  # the kit that trained the run
    footer = (site / "results" / "001.html").read_text(encoding="utf-8").split("<footer>")[1]
    assert f"({kit.text()})" in footer  # and the one that wrote the page


def test_step_curves_are_set_two_to_a_row_and_every_other_figure_alone():
    """On a wide screen consecutive step curves with a narrow variant share a row, two at most
    (an odd last one alone, full width); any other figure, or curves without a narrow variant,
    is a row of its own."""
    def fig(name, curves=True, narrow=True):
        return {"id": name, "curves": curves, "images": [{"narrow": {"src": "x"} if narrow else None}]}

    shown = [fig("a"), fig("b"), fig("c"), fig("filters", curves=False), fig("d"), fig("e"),
             fig("f", narrow=False), fig("g")]
    rows = [[f["id"] for f in row] for row in pages.side_by_side(shown)]
    assert rows == [["a", "b"], ["c"], ["filters"], ["d", "e"], ["f"], ["g"]]


def test_seeds_are_captioned_as_their_mean_or_as_an_image_each(site, tmp_path):
    """A step figure drawn once for all seeds (their mean curves) says so; one drawn per seed
    (the softmax bars) says each image is one seed's, never that it is their mean."""
    out = tmp_path / "runs"
    for seed in (0, 1):
        shutil.copytree(site / "001-A", out / "001-A" / f"seed-{seed}")
        info = json.loads((out / "001-A" / f"seed-{seed}" / "config.json").read_text())
        info["config"]["seed"] = seed
        (out / "001-A" / f"seed-{seed}" / "config.json").write_text(json.dumps(info))
        shutil.copy(site / "001-A" / "loss_accuracy.png", out / "001-A" / f"seed-{seed}" / "softmax.png")
    mean = out / "001-A" / "seeds_loss_accuracy.png"
    shutil.copy(site / "001-A" / "loss_accuracy.png", mean)
    by_name = {f.name: f for f in figures.of("001")}
    curves = next(f for f in by_name.values() if f.steps == ("001-A",))
    softmax = dataclasses.replace(curves, name="softmax", number="", called="")
    per_seed = [str(out / "001-A" / f"seed-{s}" / "softmax.png") for s in (0, 1)]
    pages.write_pages(str(out), {"001": [(curves, [str(mean)]), (softmax, per_seed)]})
    captions = read_page(out, "001.html").captions
    both = [c for c in captions if "001-A, ours" in c]
    assert "the mean of 2 seeds with their band" in both[0] and "image per seed" not in both[0]
    assert "an image per seed" in both[1] and "mean" not in both[1]
    assert all("seed 0 · seed 1" in " ".join(c.split()) for c in both)


def test_a_report_without_runs_says_so_and_shows_no_figure(site):
    text = (site / "results" / "000.html").read_text(encoding="utf-8")
    page = Page(text)
    assert "no runs yet" in text and "python main.py 000" in text
    assert page.images == [] and 'id="figures"' not in text
    assert all(r[1] == "not run" for r in page.table("steps"))
    assert [r[0] for r in page.table("steps")] == list(BY_ID["000"].steps)


def test_each_reports_page_shows_its_readings_from_docs(site):
    for report in REPORTS:  # report 000, without a folder of its own, too
        readings = pages.readings(report.id)
        assert readings.startswith("Sources: ") and "\n## " not in readings
        text = (site / "results" / f"{report.id}.html").read_text(encoding="utf-8")
        assert str(markupsafe.escape(readings.splitlines()[-1])) in text, report.id


def test_the_index_counts_each_reports_runs(site):
    rows = read_page(site, "index.html").table("reports")
    assert [r[0].split()[0] for r in rows] == [r.id for r in REPORTS]
    counts = {r[0].split()[0]: r[1] for r in rows}
    assert counts == {"000": "0 of 11", "001": "2 of 6", "002": "4 of 23", "003": "2 of 11",
                      "004": "3 of 4"}
    assert rows[0][2] == "no runs" and rows[1][2] == "0 of 0 judged, 2 not comparable"
    assert rows[1][3] == "dataset synthetic (every run); subset 120 (every run); epochs 1 (every run)"


def test_every_link_is_relative_and_leads_to_a_file_and_no_page_needs_javascript(site):
    folder = site / "results"
    for name in ["index.html", *(f"{r.id}.html" for r in REPORTS)]:
        assert "<script" not in (folder / name).read_text(encoding="utf-8")
        page = read_page(site, name)
        for link in page.links + page.images:
            assert "://" not in link and not link.startswith("/"), (name, link)
            assert (folder / unquote(link.split("#")[0])).is_file(), (name, link)


def test_markdown_embeds_the_figures_as_images(site):
    text = (site / "results" / "001.md").read_text()
    assert "![../001-A/loss_accuracy.png](../001-A/loss_accuracy.png)" in text
    assert "](001-dropout.png)" in text and "- [" not in text


def test_everything_from_a_run_or_an_experiment_is_escaped(site, tmp_path):
    out = tmp_path / "runs"
    shutil.copytree(site / "001-A", out / "001-A")
    script = '<script>alert("{}")</script>'
    info = json.loads((out / "001-A" / "config.json").read_text())
    info["environment"]["device_name"] = script.format("device")
    info["reported"]["note"] = script.format("note")
    info["config"]["step"] = script.format("step")
    (out / "001-A" / "config.json").write_text(json.dumps(info))
    end = json.loads((out / "001-A" / "summary.json").read_text())
    end["per_class_accuracy"] = {"<img src=x onerror=alert(1)>": 50.0}
    (out / "001-A" / "summary.json").write_text(json.dumps(end))
    pages.write_pages(str(out), {"001": None})
    text = (out / "results" / "001.html").read_text(encoding="utf-8")
    assert "<script" not in text and "<img src=x" not in text
    for what in ("device", "note", "step"):
        assert f"&lt;script&gt;alert(&#34;{what}&#34;)&lt;/script&gt;" in text, what
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_main_writes_the_pages_after_training_and_results_draws_the_figures(site, tmp_path):
    page = (site / "results" / "001.html").read_text(encoding="utf-8")
    assert "001-dropout.png" in page  # drawn by results.py
    out = tmp_path / "runs"
    shutil.copytree(site / "001-A", out / "001-A")
    pages.write_pages(str(out), {"001": None})  # what main.py does after training 001-A
    text = (out / "results" / "001.html").read_text(encoding="utf-8")
    assert "python results.py</code> draws them" in text and "001-dropout.png" not in text
    # Only the page of the report trained; the index links no page that is not there.
    assert sorted(os.listdir(out / "results")) == ["001.html", "index.html", "style.css"]
    index = (out / "results" / "index.html").read_text(encoding="utf-8")
    assert 'href="001.html"' in index and 'href="002.html"' not in index


def test_without_jinja2_the_pages_are_refused_in_one_line(site, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # as if it were not installed
    pages.templates.cache_clear()
    try:
        with pytest.raises(UserError, match=r"^the results pages need Jinja2: pip install -e \. "
                                            r"\(or pip install jinja2\)$"):
            pages.write_pages(str(tmp_path), {"001": None})
    finally:
        pages.templates.cache_clear()


def test_results_redraws_the_confusion_figure_from_its_csv(site, tmp_path):
    run_dir = tmp_path / "001-A"
    shutil.copytree(site / "001-A", run_dir)
    (run_dir / "confusion.png").unlink()
    run = reader.read_run(str(run_dir))
    assert results._confusion(run) == [str(run_dir / "confusion.png")]
    assert (run_dir / "confusion.png").read_bytes().startswith(b"\x89PNG")
    names, matrix = reader.read_confusion(str(run_dir))
    assert names == list(run.end["per_class_accuracy"])
    assert sum(map(sum, matrix)) == 24  # the 120 images' 24 test images


# ---- what the figure of a hundred classes shows ---------------------------------------------

def test_a_hundred_classes_show_their_most_confused_pairs():
    counts = np.zeros((100, 100), dtype=int)
    np.fill_diagonal(counts, 50)
    counts[3, 7], counts[9, 2], counts[1, 1] = 9, 12, 80
    counts[4, 5] = counts[6, 5] = 9
    assert plotting.most_confused(counts, 3) == [(9, 2), (3, 7), (4, 5)]
    assert plotting.most_confused(counts, 20) == [(9, 2), (3, 7), (4, 5), (6, 5)]


# ---- in a real browser ----------------------------------------------------------------------

def chrome():
    """A headless Chromium through Selenium, or a skip (a failure under PAGES_BROWSER=required)."""
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if missing:
        reason = f"no {', '.join(missing)}: Debian's apt-get install chromium chromium-driver"
        if os.environ.get("PAGES_BROWSER") == "required":
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def screenshot(driver, width, path):
    """The whole page at this width (the height of its content) as a PNG, its closed sections
    closed and its lazy images loaded, as a reader who scrolls down sees it (a full-page capture
    does not scroll: lazy images below the first screen were blank boxes)."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    loaded_images(driver, opened=False)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
    driver.save_screenshot(str(path))


def loaded_images(driver, seconds=20, opened=True):
    """Every image of the page with whether it loaded, once the closed sections are opened
    (unless not `opened`) and the lazy images asked for (a grader who opens everything sees them
    all)."""
    if opened:
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true);")
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager');")
    state = "return [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])"
    deadline = time.monotonic() + seconds
    images = driver.execute_script(state)
    while not all(ok for _, ok in images) and time.monotonic() < deadline:
        time.sleep(0.1)
        images = driver.execute_script(state)
    return images


# Elements wider than the viewport, outside a scroll box whose verdicts are in view without
# scrolling (a table may scroll sideways only if what it decides is seen first).
OVERFLOW = """
const width = window.innerWidth, bad = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if ((r.width === 0 && r.height === 0) || (r.right <= width + 1 && r.left >= -1)) continue;
  const box = e.closest('.scroll'), verdicts = box && box.querySelector('.verdicts');
  if (verdicts && verdicts.getBoundingClientRect().right <= box.getBoundingClientRect().right + 1)
    continue;
  bad.push(`${e.tagName}.${e.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
}
return bad.slice(0, 5);
"""
# The report's figures whose 12-pt text is drawn under 9 px high on the screen (a figure drawn
# at plotting.DPI, shown scaled to the page's width): on a phone, a narrow variant or none.
SMALL_TEXT = """
return [...document.querySelectorAll("figure.report-figure img")]
  .filter(i => i.naturalWidth && i.clientWidth / i.naturalWidth * arguments[0] * 12 / 72 < 9)
  .map(i => `${i.currentSrc.split('/').pop()} ${i.clientWidth}/${i.naturalWidth}`);
"""
# Step tables whose content is wider than their box (a figure hidden to the right).
CUT_TABLES = """
return [...document.querySelectorAll('table.steps')].map(t => t.closest('.scroll'))
  .filter(b => b && b.scrollWidth > b.clientWidth + 1).map(b => [b.scrollWidth, b.clientWidth]);
"""


def test_every_page_in_a_real_browser(site, tmp_path):
    shots = os.environ.get("PAGES_SCREENSHOTS") or str(tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    shown = {}  # each page's report figures as a phone shows them
    driver = chrome()
    try:
        for name, rows in [("index", len(REPORTS)), *((r.id, len(r.steps)) for r in REPORTS)]:
            path = site / "results" / f"{name}.html"
            for width in (1280, 390):
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                       {"width": width, "height": 900, "deviceScaleFactor": 1,
                                        "mobile": width < 600})
                driver.get(path.as_uri())
                screenshot(driver, width, os.path.join(shots, f"{name}-{width}.png"))
                assert [src for src, ok in loaded_images(driver) if not ok] == [], name
                # Everything opened: still nothing wider than the screen, every figure in view.
                assert driver.execute_script(OVERFLOW) == [], (name, width)
                if width == 1280:
                    assert driver.execute_script(CUT_TABLES) == [], name
                else:
                    assert driver.execute_script(SMALL_TEXT, plotting.DPI) == [], name
                    shown[name] = driver.execute_script(
                        "return [...document.querySelectorAll('figure.report-figure img')]"
                        ".map(i => i.currentSrc.split('/').pop())")
            tables = driver.execute_script(
                "return [...document.querySelectorAll('table')].map(t => t.tBodies[0].rows.length)")
            assert tables and all(n == rows for n in tables), (name, tables)
            labels = driver.execute_script(
                "return [...document.querySelectorAll('.fig-label')].map(e => e.textContent)")
            numbers = [int(re.match(r"Figs?\. (\d+)", t).group(1)) for t in labels
                       if t.startswith("Fig")]
            assert numbers == sorted(numbers), (name, labels)  # the report's order
            cells = driver.execute_script(
                "return [...document.querySelectorAll('td.fig')].map(e => e.innerText)")
            for cell in cells:  # a figure on a handful of images is never judged
                few = re.search(r"(\d+) images?$", cell)
                if few and int(few.group(1)) < compare.MIN_IMAGES:
                    assert "not comparable" in cell and "matches" not in cell, (name, cell)
            links = driver.execute_script("return [...document.querySelectorAll("
                                          "'a[href], img[src], link[href]')].map(e => e.href || e.src)")
            for link in links:
                url = urlparse(link)
                assert url.scheme == "file", (name, link)  # nothing from the network
                assert os.path.isfile(url2pathname(url.path)), (name, link)
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == [], (name, errors)
        page = driver.execute_script("return document.body.innerText")  # 004, the last one
        assert "test, 40 images" in page
        driver.get((site / "results" / "001.html").as_uri())
        assert "val, 2 images" in driver.execute_script("return document.body.innerText")
    finally:
        driver.quit()
    assert len([f for f in os.listdir(shots) if re.fullmatch(r".+-(1280|390)\.png", f)]) >= 12
    # The rule above held for each kind of figure: 002's and 003's own too, by their narrow variant.
    for name, image in (("002", "002-filters"), ("002", "002-early-stopping"), ("002", "002-DA"),
                        ("002", "002-dropout"), ("003", "003-augmented_samples"),
                        ("003", "003-augmentation"), ("003", "tsne"), ("004", "loss_accuracy")):
        assert f"{image}.narrow.png" in shown[name], (name, image, shown[name])
