"""Site boilerplate: a paragraph that closes many stories of one source is reported and removed,
and the clusters are redone without it, because it made different stories look like copies.

The scrape is built from the BBC articles of fixtures/run (real text, see its SOURCE.md): one
site whose eight stories all end with the same long paragraph (taken from another article):
six full articles, and two short ones (a headline and one paragraph) that the shared paragraph
makes look contained in the others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedupe import Options, RunOptions, run

from .conftest import FIXTURES

BBC = FIXTURES / "run" / "scrape" / "bbc"
LONG = ["business-215", "business-290", "entertainment-190", "politics-001", "sport-302", "tech-019"]
SHORT = ["entertainment-067", "sport-036"]


def _paragraphs(name: str) -> list[str]:
    return (BBC / f"{name}.txt").read_text("utf-8").strip().split("\n\n")


FOOTER = max(_paragraphs("politics-073"), key=len)  # 191 words


def make_scrape(root: Path) -> Path:
    """The site's eight stories, each closed by FOOTER."""
    site = root / "site"
    site.mkdir(parents=True)
    for name in LONG:
        (site / f"{name}.txt").write_text("\n\n".join([*_paragraphs(name), FOOTER]) + "\n", "utf-8")
    for name in SHORT:
        head, lead = _paragraphs(name)[:2]
        (site / f"{name}.txt").write_text("\n\n".join([head, lead, FOOTER]) + "\n", "utf-8")
    return root


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_scrape(tmp_path_factory.mktemp("boilerplate") / "scrape")


def _lines(report: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in report.read_text("utf-8").splitlines()]


def test_a_closing_paragraph_of_many_stories_is_removed_and_the_stories_kept(scrape, tmp_path):
    summary = run(scrape, tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    assert summary.kept == 8 and summary.boilerplate_removed == 8
    for out in (tmp_path / "out" / "site").iterdir():
        text = out.read_text("utf-8")
        assert FOOTER not in text
        assert text.split("\n\n")[1] in (scrape / "site" / out.name).read_text("utf-8")  # the story itself stays
    [boiler] = [x for x in _lines(tmp_path / "r.jsonl") if x["kind"] == "boilerplate"]
    assert boiler["source"] == "site" and boiler["text"] == FOOTER and boiler["articles"] >= 5


def test_kept_boilerplate_makes_the_short_stories_look_like_copies(scrape, tmp_path):
    # what the second round undoes: with the paragraph left in, the short stories are dropped as contained
    options = Options(run=RunOptions(jobs=1, boilerplate=False))
    summary = run(scrape, tmp_path / "out", options, report=tmp_path / "r.jsonl")
    dropped = {x["doc"] for x in _lines(tmp_path / "r.jsonl") if x["kind"] == "duplicate_document"}
    assert summary.kept == 6 and dropped == {f"site/{name}.txt" for name in SHORT}
