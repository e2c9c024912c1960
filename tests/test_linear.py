"""Adversarial text takes linear time: no regular expression or parser backtracks on it.

Each kind is as long as a normal article sample, and must be cleaned and signed (and its date
looked for) in under FACTOR times the normal sample's time: generous enough not to flake on a busy
machine, tight enough to catch quadratic behaviour (which at this size costs tens of thousands of
times: 50,000 paragraphs compared pairwise, or a regular expression retried at each of 100,000
characters). The sample is prose in long paragraphs, and the compiled kernels make its characters
cheap (about 6 ms); text of 50,000 one-character lines pays Python's work on each of its 50,000
paragraphs (each a duplicate, each a finding): linear, 120 times the sample's time on an idle machine
(2026-12-02), and 312 times once in a full CI run, which failed the 300 this allowed before.
"""

from __future__ import annotations

import time

import pytest

from dedupe import clean_text
from dedupe.config import Options
from dedupe.dates import parse_date
from dedupe.prepare import prepare
from dedupe.records import Article

from .conftest import FIXTURES

SIZE = 100_000  # characters
FACTOR = 1000
NORMAL = ((FIXTURES / "seed" / "kursk-article.canonical.txt").read_text(encoding="utf-8") * 100)[:SIZE]


def _fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


ADVERSARIAL = {
    "a run of spaces": "a" + " " * SIZE + "b",
    "tabs and no-break spaces": _fill("\t\u00a0 "),
    "punctuation": _fill(".,;:!?-"),
    "separators": _fill(" - "),
    "site suffixes": _fill("Headline | "),
    "quotes": _fill("\"'“”‘’«»"),
    "nested brackets": "(" * (SIZE // 2) + ")" * (SIZE // 2),
    "ellipses": _fill("..."),
    "entities cut short": _fill("&amp"),
    "datelines": _fill("LONDON (Reuters) - "),
    "dates": _fill("2019-11-19 Nov 19, 2019 "),
    "mojibake": _fill("Ã©â€™"),
    "one-character lines": _fill("x\n"),
    "numbered lines": "".join(f"Item {i} of the list.\n" for i in range(SIZE // 22)),
    "one long word": "a" * SIZE,
}


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        clean_text(text)
        prepare(Article("a", "a.txt", text), Options())
        parse_date(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.fixture(scope="module")
def normal_seconds() -> float:
    return max(_seconds(NORMAL), 0.005)


@pytest.mark.parametrize("kind", ADVERSARIAL)
def test_adversarial_text_takes_linear_time(kind, normal_seconds):
    assert _seconds(ADVERSARIAL[kind]) < FACTOR * normal_seconds
