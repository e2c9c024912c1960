"""The review page: built from a real run on the curated scrape, checked as data and in Chromium.

The browser test drives Debian's headless Chromium through Selenium (`.ci/run` installs both);
it is skipped, saying why, where either is missing. Its screenshot is written to
``$DEDUPE_ARTIFACTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from dedupe import Options, RunOptions, run
from dedupe.cli import main
from dedupe.review import build, diff_words, render

from .conftest import FIXTURES

SCRAPE = FIXTURES / "run" / "scrape"
GOLD = json.loads((FIXTURES / "run" / "gold.json").read_text(encoding="utf-8"))
HOSTILE = "</script><script>window.pwned=1</script> </textarea><img src=x onerror=\"window.pwned=2\"> \u202eevil\u202c &amp;"


def _hostile_scrape(tmp_path: Path) -> Path:
    """The curated scrape plus a story and its copy whose text is hostile markup."""
    scrape = tmp_path / "scrape"
    shutil.copytree(SCRAPE, scrape)
    body = ("Officials said the bridge would reopen next month after repairs to its deck and railings. " * 3
            + HOSTILE)
    (scrape / "hostile").mkdir()
    (scrape / "hostile" / "a.txt").write_text(f"Bridge to reopen {HOSTILE}\n\n{body}\n\nMore text follows here.\n", "utf-8")
    (scrape / "hostile" / "b.txt").write_text(f"Bridge reopens soon\n\n{body}\n\nMore text follows here today.\n", "utf-8")
    return scrape


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    tmp = tmp_path_factory.mktemp("review")
    scrape = _hostile_scrape(tmp)
    report = tmp / "report.jsonl"
    run(scrape, tmp / "out", Options(run=RunOptions(jobs=1)), report=report)
    data = build(report)
    page = tmp / "review.html"
    page.write_text(render(data), encoding="utf-8")
    return report, data, page


def test_diff_marks_words_and_shortens_what_is_shared():
    kept = " ".join(f"w{i}" for i in range(100))
    other = kept.replace("w50", "changed")
    d = diff_words(kept, other)
    assert ["-", "w50"] in d and ["+", "changed"] in d
    assert any(op == "~" for op, _ in d)  # long shared runs are left out
    assert sum(len(str(t)) for _, t in d) < len(kept) // 2


def test_data_has_the_summary_and_the_known_clusters(reviewed):
    report, data, _ = reviewed
    summary = json.loads(report.read_text(encoding="utf-8").splitlines()[-1])
    assert data["summary"]["documents"] == summary["documents"] and data["summary"]["dropped"] == summary["dropped"]
    assert data["missing"] == 0
    kept = {c["kept"]: {p["doc"] for p in c["copies"]} for c in data["clusters"]}
    # every gold cluster of several documents is one review cluster: one kept, the rest its copies
    for members in (set(m) for m in GOLD["clusters"] if len(m) > 1):
        (head,) = [k for k in kept if k in members]
        assert kept[head] | {head} == members
    assert data["removals"] and all(r["removed"][0]["of"] for r in data["removals"])


def test_hostile_text_cannot_leave_its_script_element(reviewed):
    _, data, page = reviewed
    html = page.read_text(encoding="utf-8")
    blob = html.split('<script type="application/json" id="review-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in blob and ">" not in blob  # so no "</script>" can end it early
    text = json.dumps(json.loads(blob), ensure_ascii=False)
    for piece in ("</script><script>window.pwned=1</script>", "</textarea><img", "\u202eevil\u202c"):
        assert piece in text  # the text itself is intact (the cleaner decodes its &amp;)
    assert html.count("<script") == 2  # the data element and the page's own code, nothing injected


def test_size_per_finding_stays_small(reviewed):
    _, data, page = reviewed
    findings = sum(len(c["copies"]) for c in data["clusters"]) + len(data["apart"]) + \
        sum(len(r["removed"]) for r in data["removals"])
    template = len(render({"summary": data["summary"], "clusters": [], "apart": [], "removals": [],
                           "boilerplate": [], "same_headline": [], "missing": 0}).encode())
    per = (page.stat().st_size - template) / findings
    assert per < 4096, per  # README: under 4 KB a finding


def test_cli_review_and_run_review(runner, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(SCRAPE), "--out", str(out), "--review", str(tmp_path / "r1.html")])
    assert result.exit_code in (0, 1), result.stderr
    assert "review:" in result.stderr and (tmp_path / "r1.html").exists()
    again = runner.invoke(main, ["review", str(tmp_path / "out.report.jsonl"), "--out", str(tmp_path / "r2.html")])
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "r1.html").read_bytes() == (tmp_path / "r2.html").read_bytes()
    bad = tmp_path / "not-a-report.jsonl"
    bad.write_text('{"kind": "duplicate_document"}\n', encoding="utf-8")
    failed = runner.invoke(main, ["review", str(bad), "--out", str(tmp_path / "r3.html")])
    assert failed.exit_code == 2 and "no summary line" in failed.stderr


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_page_in_headless_chromium(reviewed, tmp_path):
    _, data, page = reviewed
    browser = _browser()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        browser.get(page.as_uri())
        documents = browser.find_element(By.ID, "stat-documents-read").text
        assert str(data["summary"]["documents"]) in documents
        assert str(data["summary"]["dropped"]) in browser.find_element(By.ID, "stat-dropped-as-copies").text
        cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
        total = len(data["clusters"]) + len(data["apart"]) + len(data["removals"]) + len(data["boilerplate"]) \
            + len(data["same_headline"])
        assert len(cards) == min(total, 50)
        first = data["clusters"][0]
        assert first["kept"] in browser.find_element(By.ID, "rows").text  # a known cluster is shown
        # a filter hides rows and shows them again
        Select(browser.find_element(By.ID, "kind")).select_by_value("inside")
        shown = browser.find_elements(By.CSS_SELECTOR, "article.card")
        assert len(shown) == len(data["removals"]) and all(c.get_attribute("data-kind") == "inside" for c in shown)
        Select(browser.find_element(By.ID, "kind")).select_by_value("")
        assert len(browser.find_elements(By.CSS_SELECTOR, "article.card")) == min(total, 50)
        # search finds the hostile story; its markup is shown as text, never run
        box = browser.find_element(By.ID, "search")
        box.send_keys("bridge")
        rows = browser.find_element(By.ID, "rows").text
        assert "</script><script>window.pwned=1</script>" in rows and "</textarea>" in rows
        assert browser.execute_script("return window.pwned === undefined")
        assert not browser.find_elements(By.CSS_SELECTOR, "#rows img, #rows script")
        shot = Path(os.environ.get("DEDUPE_ARTIFACTS", tmp_path)) / "review.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        box.clear()
        box.send_keys(" ")
        box.clear()
        Select(browser.find_element(By.ID, "kind")).select_by_value("cluster")
        browser.set_window_size(1100, 760)
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        assert re.search(r"\d+ of \d+ shown", browser.find_element(By.ID, "count").text)
    finally:
        browser.quit()


def test_review_cleans_with_the_runs_own_options(tmp_path, monkeypatch):
    # the summary line carries the run's cleaning options, and the review uses them, not the defaults
    from dedupe import CleanOptions
    from dedupe import review as review_module

    options = Options(clean=CleanOptions(min_words=20), run=RunOptions(jobs=1))
    run(SCRAPE, tmp_path / "out", options, report=tmp_path / "r.jsonl")
    summary = json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert summary["clean"]["min_words"] == 20
    seen = []
    real = review_module.clean_text
    monkeypatch.setattr(review_module, "clean_text", lambda text, opts, doc: seen.append(opts) or real(text, opts, doc))
    build(tmp_path / "r.jsonl")
    assert seen and {o.min_words for o in seen} == {20}
