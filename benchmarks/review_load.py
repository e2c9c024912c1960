"""How long a review page takes to make and to open, and how large it is, for a run's report.

    .venv/bin/python benchmarks/review_load.py REPORT [--scrape DIR] [--out PAGE.html]

Prints the time to build and write the page (CPU and wall), its size in all and per finding, and,
where Selenium and Debian's chromium/chromedriver are installed, the time headless Chromium takes
from navigation to the first page of rows drawn, and to apply a filter over every row.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dedupe.review import build, render  # noqa: E402


def _browser_seconds(page: Path) -> tuple[float, float] | str:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select
    except ImportError as e:
        return f"skipped (selenium: {e})"
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        return "skipped (no chromium/chromedriver)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        started = time.perf_counter()
        browser.get(page.as_uri())  # returns after the load event: the script has drawn page one
        browser.find_element(By.CSS_SELECTOR, "article.card")
        opened = time.perf_counter() - started
        started = time.perf_counter()
        Select(browser.find_element(By.ID, "kind")).select_by_value("inside")
        browser.find_element(By.ID, "count").text
        filtered = time.perf_counter() - started
        return opened, filtered
    finally:
        browser.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path)
    ap.add_argument("--scrape")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cpu, wall = time.process_time(), time.perf_counter()
    data = build(args.report, args.scrape)
    html = render(data)
    out = args.out or Path(tempfile.mkdtemp(prefix="review-")) / "review.html"
    out.write_text(html, encoding="utf-8")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    findings = sum(len(c["copies"]) for c in data["clusters"]) + len(data["apart"]) + \
        sum(len(r["removed"]) for r in data["removals"]) + len(data["boilerplate"]) + len(data["same_headline"])
    size = out.stat().st_size
    summary = data["summary"]
    print(f"report: {args.report} ({summary['documents']:,} documents, {summary['dropped']:,} dropped)")
    print(f"page: {out}, {size / 1e6:,.1f} MB, {findings:,} findings, {size / max(1, findings):,.0f} bytes a finding")
    print(f"built and written in {wall:.1f} s wall, {cpu:.1f} s CPU")
    shown = _browser_seconds(out)
    if isinstance(shown, str):
        print(f"browser: {shown}")
    else:
        print(f"headless Chromium: first page of rows in {shown[0]:.1f} s; filter over all rows in {shown[1]:.2f} s")
    print(json.dumps({"bytes": size, "findings": findings, "build_wall_s": wall, "build_cpu_s": cpu,
                      "browser": shown}))


if __name__ == "__main__":
    main()
