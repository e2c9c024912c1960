"""Invariants over generated articles built from real lines and headlines (fixtures/pool).

Cleaning is idempotent; no paragraph that is not a duplicate is lost; kept paragraphs keep
their input order; the headline appears at most once; a long paragraph that appears twice
comes out once. ``dedupe run`` keeps exactly one copy of each story. The tests marked ``slow``
check these on 10,000 generated documents each (the README's test command runs them).
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import CleanOptions, Options, RunOptions, clean_text, run

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


# --- the slow job: 10,000 generated documents each ----------------------------------------------

DOCUMENTS = 10_000


@pytest.mark.slow
@settings(max_examples=DOCUMENTS, deadline=None, suppress_health_check=list(HealthCheck))
@given(articles())
def test_cleaner_invariants_on_ten_thousand_documents(case):
    # idempotent, nothing unique lost, order kept, headline at most once: every document
    test_idempotent.hypothesis.inner_test(case)
    test_nothing_unique_lost_and_order_kept.hypothesis.inner_test(case)
    test_headline_at_most_once.hypothesis.inner_test(case)
    test_long_paragraph_seen_twice_comes_out_once.hypothesis.inner_test(case)


@st.composite
def scrapes(draw):
    """Stories of disjoint pool paragraphs, each on 1-4 sites: some as wire copies (another
    headline, a dateline, a credit line, re-wrapped), which are the same story."""
    order = draw(st.permutations(range(len(POOL))))
    stories, at = [], 0
    for _ in range(draw(st.integers(6, 10))):
        size = draw(st.integers(3, 5))
        if at + size > len(order):
            break
        stories.append((draw(st.sampled_from(HEADLINES)), [POOL[i] for i in order[at : at + size]]))
        at += size
    files = {}
    for n, (head, paras) in enumerate(stories):
        for copy in range(draw(st.integers(1, 4))):
            if copy == 0:
                text = "\n\n".join([head, *paras]) + "\n"
            else:
                agency = draw(st.sampled_from(["Reuters", "AP", "AFP"]))
                body = [f"LONDON ({agency}) - {paras[0]}", *paras[1:], "Reporting by Jane Doe; Editing by John Roe"]
                other = draw(st.sampled_from(HEADLINES))
                text = other + "\n\n" + "\n".join(textwrap.fill(p, 70, initial_indent="   ") for p in body) + "\n"
            files[f"site-{copy}/{n:02d}.txt"] = text
    return stories, files


@pytest.mark.slow
@settings(max_examples=DOCUMENTS // 15, deadline=None, suppress_health_check=list(HealthCheck))
@given(scrapes())
def test_run_keeps_exactly_one_copy_of_each_story(tmp_path_factory, scrape):
    # about 15 documents an example: 10,000 in all. Copies of a story have the same body (the
    # dateline and credit line are not compared), so exactly one is kept, never none, never two
    stories, files = scrape
    root = tmp_path_factory.mktemp("scrape")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    out = root.parent / (root.name + "-out")
    summary = run(root, out, Options(run=RunOptions(jobs=1)), report=root.parent / (root.name + ".jsonl"))
    kept = {p.relative_to(out).as_posix() for p in out.rglob("*.txt")}
    for n in range(len(stories)):
        copies = {rel for rel in files if rel.endswith(f"/{n:02d}.txt")}
        assert len(copies & kept) == 1, (n, sorted(copies), sorted(kept))
    assert summary.kept == len(stories) and summary.documents == len(files)
