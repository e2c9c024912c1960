"""The seed article from the issue: exactly its canonical output, and the findings that explain it."""

from __future__ import annotations

import json

from dedupe import clean_text
from dedupe.cli import main

from .conftest import FIXTURES

SEED = FIXTURES / "seed" / "kursk-article.txt"
CANONICAL = (FIXTURES / "seed" / "kursk-article.canonical.txt").read_text(encoding="utf-8")


def test_cli_prints_exactly_the_canonical_text(runner, tmp_path):
    report = tmp_path / "report.jsonl"
    result = runner.invoke(main, ["clean", str(SEED), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert result.stdout == CANONICAL
    findings = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(f["kind"], f["index"], f["duplicate_of"]) for f in findings] == [
        ("duplicate_headline", 2, 1),
        ("duplicate_paragraph", 8, 5),
        ("duplicate_paragraph", 9, 6),
        ("duplicate_paragraph", 10, 7),
    ]
    assert all(f["doc"] == str(SEED) and f["similarity"] == 1.0 for f in findings)
    assert findings[0]["text"] == "Russia Asserts Total Control Over Kursk Amid Ukrainian Denials"
    assert findings[1]["text"].startswith("In a statement posted on Telegram")


def test_library_result_fields():
    r = clean_text(SEED.read_text(encoding="utf-8"), doc="kursk")
    assert r.text == CANONICAL
    assert r.headline == "Russia Asserts Total Control Over Kursk Amid Ukrainian Denials"
    assert [p.index for p in r.paragraphs] == [0, 3, 4, 5, 6, 7]
    assert r.layout == "lines" and not r.repaired


def test_canonical_is_a_fixed_point():
    assert clean_text(CANONICAL).text == CANONICAL
