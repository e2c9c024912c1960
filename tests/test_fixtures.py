"""Labelled fixture cases: real articles (BBC, scraper outputs, the seed) with their expected canonical text.

Each case in fixtures/clean/cases.jsonl names its damage, its source and how many headline and
paragraph copies must be reported as removed; the expected output is NAME.canonical.txt.
"""

from __future__ import annotations

import json

import pytest

from dedupe import clean_text
from dedupe.io import decode

from .conftest import FIXTURES

CASES_DIR = FIXTURES / "clean"
CASES = [json.loads(line) for line in (CASES_DIR / "cases.jsonl").read_text(encoding="utf-8").splitlines()]


def test_cases_cover_every_damage_kind():
    kinds = {k for case in CASES for k in case["damage"]}
    assert len(CASES) >= 30
    assert kinds >= {
        "duplicate_headline", "headline_suffix", "headline_as_body", "headline_caps", "lead_summary",
        "truncated_summary", "repeated_block", "near_duplicate_paragraph", "mojibake", "html_entities",
        "control_chars", "nfd", "hard_wrapped", "one_per_line", "blank_line_blocks", "legit_repeat", "link_repeat",
        "scraper_repeat",
    }
    assert sum(case["name"].startswith("ext-") for case in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case):
    raw = (CASES_DIR / f"{case['name']}.txt").read_bytes()
    expected = (CASES_DIR / f"{case['name']}.canonical.txt").read_text(encoding="utf-8")
    text, _ = decode(raw, case["name"])
    result = clean_text(text, doc=case["name"])
    assert result.text == expected
    kinds = [f.kind for f in result.findings]
    assert kinds.count("duplicate_headline") == case["duplicate_headlines"]
    assert kinds.count("duplicate_paragraph") == case["duplicate_paragraphs"]
    assert clean_text(result.text).text == expected  # canonical text is a fixed point
