"""The weight of the results pages as a browser loads them: bytes fetched on opening (the page,
its stylesheet, the images in view or near it) and in all (every section opened, every image
loaded), and the page's height, at one window width, in headless Chromium through Selenium.

Bytes are the files' sizes on disk (the pages are local files: the browser reports no transfer
sizes for them). Nothing here asserts a weight; the figures are in BENCHMARKS.md, "The pages".

Run: python -m benchmarks.pages --out runs --report 002 --width 1280
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from typing import Any, Sequence
from urllib.parse import urlparse
from urllib.request import url2pathname

from errors import OneLineParser, UserError
from figures.context import results_dir

# The files the page has fetched so far: itself and each resource the browser asked for.
FETCHED = ("return [location.href, ...performance.getEntriesByType('resource')"
           ".map(e => e.name)]")
OPEN_ALL = ("document.querySelectorAll('details').forEach(d => d.open = true);"
            "document.querySelectorAll('img').forEach(i => i.loading = 'eager');")
SETTLED = "return [...document.images].every(i => i.complete)"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The benchmark's command line."""
    p = OneLineParser(prog="python -m benchmarks.pages", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs", help="the runs folder results.py wrote (default: runs)")
    p.add_argument("--report", nargs="+", default=["000", "001", "002", "003", "004"],
                   metavar="ID", help="the reports' pages to weigh (default: all five)")
    p.add_argument("--width", type=int, default=1280, help="window width in px (default: 1280)")
    return p.parse_args(argv)


def browser(width: int) -> Any:
    """Headless Chromium (Debian's chromium and chromium-driver) at this width, 900 px high."""
    from selenium import webdriver

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        raise UserError("no chromium or chromedriver: Debian's apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},900"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def _bytes(urls: Sequence[str]) -> int:
    paths = {url2pathname(urlparse(u).path) for u in urls if u.startswith("file:")}
    return sum(os.path.getsize(p) for p in paths if os.path.isfile(p))


def _settle(driver: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not driver.execute_script(SETTLED) and time.monotonic() < deadline:
        time.sleep(0.1)


def weigh(driver: Any, page: str, width: int) -> dict[str, int]:
    """One page's bytes fetched on opening, in all, and its height in px at this width."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1,
                            "mobile": width < 600})
    driver.get("file://" + os.path.abspath(page))  # returns once the page's load event fired
    time.sleep(1)  # lazy images near the first screen are asked for after the first layout
    eager = _bytes(driver.execute_script(FETCHED))
    # The height once every image in view of a scroll has loaded, the sections still closed.
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager');")
    _settle(driver)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    images = driver.execute_script("return document.images.length")
    driver.execute_script(OPEN_ALL)
    _settle(driver)
    every = driver.execute_script(FETCHED) + driver.execute_script(
        "return [...document.images].map(i => i.currentSrc)")
    return {"eager": eager, "total": _bytes(every), "height": height, "images": images}


def main(argv: Sequence[str] | None = None) -> int:
    """Weigh each page asked for; one line each."""
    args = parse_args(argv)
    try:
        driver = browser(args.width)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        for report in args.report:
            page = os.path.join(results_dir(args.out), f"{report}.html")
            if not os.path.isfile(page):
                print(f"{report}: no page ({page}); python results.py --out {args.out} writes it")
                continue
            w = weigh(driver, page, args.width)
            print(f"{report} at {args.width} px: {w['eager'] / 1e6:.2f} MB on opening, "
                  f"{w['total'] / 1e6:.2f} MB with every section open, {w['height']:,} px high, "
                  f"{w['images']} images")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
