"""Invariants over generated articles built from real lines and headlines (fixtures/pool).

Cleaning is idempotent; no paragraph that is not a duplicate is lost; kept paragraphs keep
their input order; the headline appears at most once; a long paragraph that appears twice
comes out once.
"""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from dedupe import CleanOptions, clean_text

from .conftest import FIXTURES

_WORD = re.compile(r"\w+")
MIN_WORDS = CleanOptions().min_words


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _pool() -> list[str]:
    """Real lines, sentence-like, pairwise unrelated (so none is a duplicate of another)."""
    lines = [
        " ".join(json.loads(x)["text"].split())
        for x in (FIXTURES / "pool" / "lines.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    chosen: list[str] = []
    for line in lines:
        w = _words(line)
        if line[-1] in ".!?\"”’。" and all(len(w & _words(c)) < 0.5 * min(len(w), len(_words(c))) for c in chosen):
            chosen.append(line)
    return chosen


POOL = _pool()
HEADLINES = [h for h in (FIXTURES / "pool" / "headlines.txt").read_text(encoding="utf-8").splitlines() if h]


@st.composite
def articles(draw):
    """(headline or None, distinct paragraphs in order, damaged text)."""
    paras = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=10, unique=True))
    headline = draw(st.none() | st.sampled_from(HEADLINES))
    seq = list(paras)
    summary = False
    for op in draw(st.lists(st.sampled_from(["para", "block", "headline", "caps", "suffix", "summary"]), max_size=4)):
        if op == "para":
            p = draw(st.sampled_from(paras))
            seq.insert(draw(st.integers(seq.index(p) + 1, len(seq))), p)
        elif op == "block" and len(paras) >= 2:
            start = draw(st.integers(0, len(paras) - 2))
            seq.extend(paras[start : start + draw(st.integers(2, len(paras) - start))])
        elif op == "summary" and paras[0].rstrip("\"”’").endswith("."):
            seq.insert(0, paras[0])  # a lead that reads as a sentence, not as a title
            summary = True
    top = [headline] if headline else []
    if headline:
        ops = draw(st.lists(st.sampled_from(["copy", "caps", "suffix"]), max_size=2, unique=True))
        variants = {"copy": headline, "caps": headline.upper(), "suffix": headline + " | BBC News"}
        top += [variants[o] for o in ops]
    sep = draw(st.sampled_from(["\n", "\n\n", "\n\n\n", "\r\n"]))
    if summary and headline:
        body = [seq[0]] + top + seq[1:]  # a summary above the headline
    else:
        body = top + seq
    return headline, paras, sep.join(body) + sep


@given(articles())
def test_idempotent(case):
    _, _, text = case
    once = clean_text(text).text
    assert clean_text(once).text == once


@given(articles())
def test_nothing_unique_lost_and_order_kept(case):
    headline, paras, text = case
    r = clean_text(text)
    blocks = r.text.rstrip("\n").split("\n\n")
    positions = [blocks.index(p) for p in paras]  # raises if a unique paragraph was lost
    body = [pos for p, pos in zip(paras, positions) if p != r.headline]  # the headline moves up
    assert body == sorted(body)
    if headline:
        assert blocks[0] == headline == r.headline


@given(articles())
def test_headline_at_most_once(case):
    headline, _, text = case
    if headline:
        lines = clean_text(text).text.split("\n")
        variants = {headline, headline.upper(), headline + " | BBC News"}
        assert sum(line in variants for line in lines) == 1


@given(articles())
def test_long_paragraph_seen_twice_comes_out_once(case):
    _, paras, text = case
    blocks = clean_text(text).text.rstrip("\n").split("\n\n")
    for p in paras:
        if len(_WORD.findall(p)) >= MIN_WORDS and text.count(p) == 2:
            assert blocks.count(p) == 1, p
