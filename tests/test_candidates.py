"""Candidate pairs: articles that share an LSH band and whose whole signatures pass the floor.

The scrape here is made of real lines (fixtures/pool/lines.jsonl): articles of eight lines drawn
at random, so that many pairs share a line or two by chance (as stories on one site share quotes
and standard sentences), plus copies of some of them with a line dropped.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import Options, RunOptions, policy, run
from dedupe.cluster import VERDICTS
from dedupe.policy import (
    AGREE_COLUMNS,
    Floor,
    agreements,
    band_keys,
    candidate_table,
    passing,
    plausible_pairs,
    write_kept,
)
from dedupe.prepare import prepare
from dedupe.records import Article
from dedupe.spill import Signatures

from .conftest import FIXTURES
from .test_run import findings, outputs

LINES = [json.loads(line)["text"] for line in (FIXTURES / "pool" / "lines.jsonl").read_text("utf-8").splitlines()]
PROSE = [t for t in LINES if len(t.split()) >= 12]
ARTICLES, COPIES = 240, 20


def write_chance_scrape(root: Path) -> None:
    """ARTICLES articles of eight real lines each (drawn with seed 7), the first COPIES of them copied
    again with their last line dropped; four articles a folder (a source)."""
    rng = random.Random(7)
    texts = ["\n\n".join(rng.sample(PROSE, 8)) + "\n" for _ in range(ARTICLES)]
    texts += [t.rsplit("\n\n", 2)[0] + "\n" for t in texts[:COPIES]]
    for i, text in enumerate(texts):
        path = root / f"site-{i % (len(texts) // 4)}" / f"{i:03}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def no_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pair that shares a band is a candidate (as before the floor)."""
    monkeypatch.setattr(Floor, "of", classmethod(lambda cls, options: cls(0.0, 0.0, options.signature.num_perm)))


def summary(report: Path) -> dict[str, object]:
    last: dict[str, object] = json.loads(report.read_bytes().splitlines()[-1])
    return last


@pytest.fixture(scope="module")
def chance_scrape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chance") / "scrape"
    write_chance_scrape(root)
    return root


def test_the_floor_leaves_out_chance_pairs_and_finds_every_copy(chance_scrape, tmp_path, monkeypatch):
    options = Options(run=RunOptions(jobs=2))
    floored = run(chance_scrape, tmp_path / "a", options, report=tmp_path / "a.jsonl")
    no_floor(monkeypatch)
    banded = run(chance_scrape, tmp_path / "b", options, report=tmp_path / "b.jsonl")

    assert floored.dropped == banded.dropped == COPIES
    assert outputs(tmp_path / "a") == outputs(tmp_path / "b")
    assert findings(tmp_path / "a.jsonl") == findings(tmp_path / "b.jsonl")
    a, b = summary(tmp_path / "a.jsonl"), summary(tmp_path / "b.jsonl")
    assert a["similarity_merged"] == b["similarity_merged"]
    apart_a, apart_b = a["similarity_not_merged"], b["similarity_not_merged"]
    assert sum(apart_b) - sum(apart_a) >= 250, (apart_a, apart_b)  # type: ignore[arg-type]
    assert apart_a[8:] == apart_b[8:]  # type: ignore[index]  # none left out shares 0.4 (the containment floor)


def _signed(text: str) -> tuple[np.ndarray, int]:
    p = prepare(Article("a", "a.txt", text), Options())
    return p.signature, sum(p.shingle_sizes)


def test_a_short_article_inside_a_long_page_passes_on_its_containment():
    article = "\n\n".join(PROSE[:3]) + "\n"
    page = "\n\n".join(PROSE[:3] + PROSE[10:40]) + "\n"  # the article, and a page of other text
    (sa, na), (sb, nb) = _signed(article), _signed(page)
    agree = np.array([np.count_nonzero(sa == sb)])
    floor = Floor.of(Options())
    assert agree[0] / floor.width < floor.jaccard  # too little of the page to pass as a near copy
    assert floor.passes(agree, np.array([na]), np.array([nb])).tolist() == [True]
    other = _signed("\n\n".join(PROSE[50:53]) + "\n")
    unrelated = np.array([np.count_nonzero(other[0] == sb)])
    assert floor.passes(unrelated, np.array([other[1]]), np.array([nb])).tolist() == [False]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 3 * AGREE_COLUMNS + 3),
    st.data(),
)
def test_agreements_count_equal_values_reading_a_few_columns_at_a_time(articles, width, data):
    values = st.integers(0, 3)  # few values: many equal ones
    sig = np.array(data.draw(st.lists(st.lists(values, min_size=width, max_size=width), min_size=articles,
                                      max_size=articles)), np.uint32)
    pair = st.tuples(st.integers(0, articles - 1), st.integers(0, articles - 1))
    pairs = np.array(data.draw(st.lists(pair, max_size=50)), np.int64).reshape(-1, 2)
    asked = []

    def columns(start: int, stop: int) -> np.ndarray:
        asked.append((start, stop))
        return sig[:, start:stop].copy()

    got = agreements(pairs, columns, width)
    assert got.tolist() == [int(np.count_nonzero(sig[i] == sig[j])) for i, j in pairs]
    assert all(stop - start <= AGREE_COLUMNS for start, stop in asked)
    assert sorted(c for start, stop in asked for c in range(start, stop)) == list(range(width))


def test_plausible_pairs_keeps_the_pairs_that_pass_in_order():
    sig = np.array([[1, 2, 3, 4], [1, 2, 3, 9], [1, 8, 8, 8], [1, 2, 7, 7]], np.uint32)
    pairs = np.array([[0, 1], [0, 2], [0, 3], [1, 2]], np.int32)
    sizes = np.array([10, 10, 10, 1000], np.uint32)
    floor = Floor(0.6, 0.9, 4)  # 3 of 4 values, or (from 2 of 4) nearly all of the smaller set
    got = plausible_pairs(pairs, lambda a, b: sig[:, a:b], sizes, floor)
    assert got.tolist() == [[0, 1], [0, 3]]  # a near copy; a small set inside a large one
    assert plausible_pairs(pairs[:0], lambda a, b: sig[:, a:b], sizes, floor).shape == (0, 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.data(), st.integers(1, 5))
def test_plausible_pairs_taken_a_block_at_a_time_are_those_that_pass_one_by_one(articles, data, block):
    # pairs are compared, and the passing ones copied out, a block at a time (memory of a block, not
    # of an index of the whole): any block size keeps exactly the passing pairs, in order
    width = 8
    sig = np.array(data.draw(st.lists(st.lists(st.integers(0, 2), min_size=width, max_size=width),
                                      min_size=articles, max_size=articles)), np.uint32)
    sizes = np.array(data.draw(st.lists(st.integers(0, 500), min_size=articles, max_size=articles)), np.uint32)
    pair = st.tuples(st.integers(0, articles - 1), st.integers(0, articles - 1))
    pairs = np.array(data.draw(st.lists(pair, max_size=40)), np.int32).reshape(-1, 2)
    floor = Floor(0.4, 0.5, width)
    expected = [[i, j] for i, j in pairs.tolist()
                if floor.passes(np.array([np.count_nonzero(sig[i] == sig[j])]), sizes[[i]], sizes[[j]])[0]]
    with mock.patch.object(policy, "AGREE_PAIRS", block):
        got = plausible_pairs(pairs, lambda a, b: sig[:, a:b], sizes, floor)
        keep = passing(pairs, lambda a, b: sig[:, a:b], sizes, floor)
        with tempfile.TemporaryFile() as spool:  # a run's: the passing pairs spooled, a verdict table made of them
            count = write_kept(spool, pairs, keep)
            table = candidate_table(spool, count)
    assert got.tolist() == expected
    assert got.dtype == pairs.dtype
    assert table.dtype == VERDICTS and np.column_stack([table["i"], table["j"]]).tolist() == expected
    assert not table["duplicate"].any() and not table["similarity"].any()  # verdicts yet to be filled in


@given(st.lists(st.lists(st.integers(0, 3) | st.integers(0, 2**32 - 1), min_size=3, max_size=3), max_size=60))
def test_a_band_s_key_is_shared_by_equal_rows_only(rows):
    band = np.array(rows, np.uint32).reshape(-1, 3)
    keys = band_keys(band)
    assert keys.dtype == np.uint64 and len(keys) == len(band)
    for a in range(len(band)):
        for b in range(len(band)):
            assert (keys[a] == keys[b]) == (band[a] == band[b]).all()


@given(st.lists(st.integers(0, 2**32 - 1), min_size=9, max_size=9), st.integers(0, 8), st.integers(1, 2**32 - 1))
def test_rows_that_differ_in_one_value_never_share_a_key(row, at, change):
    # each value goes in through a bijection of the hash: a difference in one value is never lost
    other = list(row)
    other[at] = (other[at] + change) % 2**32
    a, b = band_keys(np.array([row, other], np.uint32))
    assert a != b


def test_a_band_s_keys_are_computed_block_by_block_as_on_the_whole_band(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 2**32, (1000, 16), dtype=np.uint64).astype(np.uint32)
    sigs = Signatures(str(tmp_path), 16)
    sigs.extend(rows.tobytes())
    monkeypatch.setattr(Signatures, "BLOCK", 64)  # 16 blocks, the last one short
    try:
        for start, stop in ((0, 9), (9, 16), (3, 4)):
            assert np.array_equal(sigs.column_keys(start, stop, band_keys), band_keys(rows[:, start:stop]))
    finally:
        sigs.close()
