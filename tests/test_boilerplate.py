"""Site boilerplate: a paragraph that closes many stories of one source is reported and removed,
and the clusters are redone without it, because it made different stories look like copies.

The scrape is built from the BBC articles of fixtures/run (real text, see its SOURCE.md): one
site whose eight stories all end with the same long paragraph (taken from another article):
six full articles, and two short ones (a headline and one paragraph) that the shared paragraph
makes look contained in the others.
"""

from __future__ import annotations

import json
from array import array
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe import Options, RunOptions, run
from dedupe.cluster import VERDICTS
from dedupe.policy import Cut, Firsts, ParagraphRows, repeated_keys
from dedupe.records import Article
from dedupe.runreport import similarity_bins
from dedupe.spill import DocInfo, DocTable
from dedupe.stores import SortedSpool

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


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_second_round_reuses_verdicts_as_a_fresh_round_would_find_them(tmp_path, monkeypatch, jobs):
    # the second round keeps the first round's verdicts of pairs the cut leaves alone and verifies the
    # rest again (in forked workers with two jobs, here as the clusters ask with one): it must give
    # what verifying every pair again would
    import dedupe.engine as engine

    monkeypatch.setattr(engine, "PARALLEL_PAIRS", 0)
    root = make_scrape(tmp_path / "scrape")
    (root / "wire").mkdir()
    for k in range(2):  # a pair the cut leaves alone
        (root / "wire" / f"{k}.txt").write_text("\n\n".join(_paragraphs("business-120")) + "\n", "utf-8")
    (root / "wire" / "copy.txt").write_text("\n\n".join(_paragraphs(LONG[0])) + "\n", "utf-8")  # a touched one
    rounds = []
    real = engine._Local.clustering

    def spy(self, corpus, candidates, cut, before, first):
        earlier = before.table.copy() if before is not None else None  # the round redoes its rows in place
        result = real(self, corpus, candidates, cut, before, first)
        if before is not None:
            assert result.table is before.table  # no second table held
            rounds.append((earlier, result, corpus.clustering(candidates, cut, None, first)))
        return result

    monkeypatch.setattr(engine._Local, "clustering", spy)
    run(root, tmp_path / "out", Options(run=RunOptions(jobs=jobs)), report=tmp_path / "r.jsonl")
    [(before, result, fresh)] = rounds
    assert result.table.tobytes() == fresh.table.tobytes()
    assert list(result.keeper) == list(fresh.keeper) and result.verdicts == fresh.verdicts
    changed = before["reason"] != result.table["reason"]
    assert changed.any() and (~changed & result.table["duplicate"]).any()  # verdicts redone and kept


def test_the_candidates_are_held_once_as_the_table_their_verdicts_fill(scrape, tmp_path, monkeypatch):
    # at a million articles an array of the candidates (8 bytes a pair: 25 MB) was held beside their
    # verdict table through the first round, and with the first round's kept copies (8 MB) through the
    # second: the candidate step now hands over the verdict table itself, its verdicts blank; the first
    # round fills it in place, the second reads its pairs from it
    import gc
    import weakref

    import dedupe.engine as engine

    real_candidates, real_clustering = engine._Local.candidates, engine._Local.clustering
    watched: dict[str, weakref.ref] = {}
    pairs: list[np.ndarray] = []
    alive: list[bool] = []

    def candidates(self, corpus, first):
        found = real_candidates(self, corpus, first)
        assert found.dtype == VERDICTS  # the pairs as the table to fill: no array of them beside it
        pairs[:] = [np.column_stack([found["i"], found["j"]])]
        return found

    def clustering(self, corpus, candidates, cut, before, first):
        if before is None:
            result = real_clustering(self, corpus, candidates, cut, before, first)
            assert result.table is candidates  # filled in place
            fresh = corpus.clustering(pairs[0].copy(), cut, None, first)  # the same pairs given as rows
            assert result.table.tobytes() == fresh.table.tobytes()
            assert list(result.keeper) == list(fresh.keeper) and result.verdicts == fresh.verdicts
            watched["keeper"] = weakref.ref(result.keeper)
            return result
        gc.collect()
        alive.append(watched["keeper"]() is not None)
        assert np.shares_memory(candidates, before.table) and np.array_equal(candidates, pairs[0])
        return real_clustering(self, corpus, candidates, cut, before, first)

    monkeypatch.setattr(engine._Local, "candidates", candidates)
    monkeypatch.setattr(engine._Local, "clustering", clustering)
    summary = run(scrape, tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    assert summary.kept == 8 and len(pairs[0]) > 0
    assert alive == [False]


def _boilerplate(docs: list[_Doc], keeper: list[int], min_docs: int, size: int) -> tuple[Cut, Firsts]:
    """The boilerplate of these articles and where each is first found, their paragraphs gathered as a
    run gathers them (``size`` articles a batch)."""
    rows = ParagraphRows()
    try:
        for batch in _batches(docs, size):
            rows.add(batch)
        return rows.boilerplate(rows.often(min_docs), keeper, min_docs)
    finally:
        rows.close()


def _batches(docs: list[_Doc], size: int) -> Iterator[SimpleNamespace]:
    """The articles as pass one's batches give them to :class:`ParagraphRows`, ``size`` articles a
    batch: their keys one article after the other, and one path for each run of articles of one path."""
    for k in range(0, len(docs), size):
        part = docs[k : k + size]
        paths, runs = [], array("I")
        for d in part:
            if paths and paths[-1] == d.article.path:
                runs[-1] += 1
            else:
                paths.append(d.article.path)
                runs.append(1)
        yield SimpleNamespace(keys=array("Q", [key for d in part for key in d.keys]),
                              key_counts=array("I", [len(d.keys) for d in part]), paths=paths, path_counts=runs)


class _Doc:
    """What the boilerplate count reads of an article: its path, paragraph keys and edge paragraphs."""

    edge = DocInfo.edge

    def __init__(self, path: str, keys: list[int]) -> None:
        self.article = Article(path, path, "")
        self.keys = array("Q", keys)


@given(st.lists(st.tuples(st.sampled_from(["a/x.txt", "b/y.txt", "top.txt"]),
                          st.lists(st.integers(0, 12) | st.integers(0, 2**64 - 1), max_size=9)), max_size=30),
       st.data(), st.integers(1, 4), st.integers(1, 7))
def test_boilerplate_counts_the_stories_each_edge_paragraph_of_a_source_closes(articles, data, min_docs, size):
    docs = [_Doc(path, keys) for path, keys in articles]
    keeper = [data.draw(st.integers(0, n)) for n in range(len(docs))]  # copies point at an earlier article
    stories: dict[tuple[str, int], set[int]] = defaultdict(set)
    for n, d in enumerate(docs):
        for i in d.edge:
            stories[(d.article.path.split("/")[0] if "/" in d.article.path else "", d.keys[i])].add(keeper[n])
    expected = {k: len(v) for k, v in stories.items() if len(v) >= min_docs}
    firsts: Firsts = {}  # the first article in run order, and its first edge paragraph, of each
    for n, d in enumerate(docs):
        for i in d.edge:
            src = d.article.path.split("/")[0] if "/" in d.article.path else ""
            if (src, d.keys[i]) in expected:
                firsts.setdefault((src, d.keys[i]), (n, i))
    assert _boilerplate(docs, keeper, min_docs, size) == (expected, firsts)
    with mock.patch.object(ParagraphRows, "BLOCK", 3), mock.patch.object(SortedSpool, "HELD", 4):
        assert _boilerplate(docs, keeper, min_docs, size) == (expected, firsts)  # rows in blocks of 3, keys spooled


@given(st.lists(st.tuples(st.sampled_from(["a/x.txt", "b/y.txt", "top.txt"]), st.lists(st.integers(0, 9), max_size=9)),
                max_size=20),
       st.sets(st.tuples(st.sampled_from(["a", "b", "", "c"]), st.integers(0, 9)), max_size=6), st.integers(1, 8),
       st.integers(1, 5))
def test_the_articles_a_cut_touches_are_those_with_a_paragraph_it_cuts(articles, cut, block, size):
    # any paragraph, not only an edge one: bodies are compared without every cut paragraph
    docs = [_Doc(path, keys) for path, keys in articles]
    expected = [any((d.article.path.split("/")[0] if "/" in d.article.path else "", k) in cut for k in d.keys)
                for d in docs]
    rows = ParagraphRows()
    try:
        with mock.patch.object(ParagraphRows, "BLOCK", block):
            for batch in _batches(docs, size):
                rows.add(batch)
            touched = rows.touched({c: 5 for c in cut}, len(docs))
    finally:
        rows.close()
    assert touched.tolist() == expected


def test_paragraph_rows_added_after_a_read_follow_the_earlier_ones():
    held = ParagraphRows()
    try:
        with mock.patch.object(ParagraphRows, "BLOCK", 2):
            held.add(next(_batches([_Doc("a/x.txt", [1, 2, 3]), _Doc("b/y.txt", [4])], 2)))
            next(held.rows())  # a read left part way
            held.add(next(_batches([_Doc("a/z.txt", [5, 6])], 1)))
            rows = np.concatenate(list(held.rows()))
        assert rows["key"].tolist() == [1, 2, 3, 4, 5, 6] and rows["doc"].tolist() == [0, 0, 0, 1, 2, 2]
        assert [list(held.sources)[s] for s in rows["source"].tolist()] == ["a", "a", "a", "b", "a", "a"]
    finally:
        held.close()


@given(st.dictionaries(st.integers(0, 3) | st.integers(2**63, 2**64 - 1), st.integers(1, 7), max_size=8),
       st.integers(1, 4), st.integers(1, 9))
def test_repeated_keys_are_the_values_held_min_docs_times(counts, parts, min_docs):
    # parts as SortedSpool gives them: each sorted, all the copies of a value in one part, some shorter than min_docs
    by_part = [sorted(v for v in counts if v % parts == p) for p in range(parts)]
    arrays = [np.repeat(np.array(vs, np.uint64), [counts[v] for v in vs]).view(np.int64) for vs in by_part]
    assert repeated_keys(arrays, min_docs) == {v for v, n in counts.items() if n >= min_docs}


@pytest.mark.parametrize("paragraphs", range(1, 10))
def test_a_run_with_fewer_edge_paragraphs_than_boilerplate_needs_finds_none(tmp_path, paragraphs):
    # one article: 1 to 9 edge paragraphs against min_docs 5 (3 of them once failed the count)
    site = tmp_path / "scrape" / "site"
    site.mkdir(parents=True)
    body = [p for name in LONG for p in _paragraphs(name)[1:]][:paragraphs]
    (site / "a.txt").write_text("\n\n".join([_paragraphs(LONG[0])[0], *body]) + "\n", "utf-8")
    summary = run(tmp_path / "scrape", tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    assert summary.kept == 1 and summary.boilerplate_removed == 0
    assert (tmp_path / "out" / "site" / "a.txt").read_text("utf-8").count("\n\n") == paragraphs


def test_a_run_finds_boilerplate_and_what_it_touches_from_its_rows_not_its_records(tmp_path, monkeypatch):
    # the paragraph rows are gathered as articles are added: the boilerplate count and the articles the
    # cut touches (for the second clustering round) read no record
    root = make_scrape(tmp_path)
    reads, during = [0], {}
    real_read, real_run = DocTable._read, DocTable.run

    def read(self, i):
        reads[0] += 1
        return real_read(self, i)

    def run_of(self, start, stop):
        reads[0] += stop - start
        return real_run(self, start, stop)

    def counted(name):
        real = getattr(ParagraphRows, name)

        def step(self, *args):
            before = reads[0]
            found = real(self, *args)
            during[name] = (reads[0] - before, found)
            return found

        monkeypatch.setattr(ParagraphRows, name, step)

    monkeypatch.setattr(DocTable, "_read", read)
    monkeypatch.setattr(DocTable, "run", run_of)
    counted("boilerplate")
    counted("touched")
    run(root, tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    (boiler_reads, found), (touched_reads, touched) = during["boilerplate"], during["touched"]
    # FOOTER closes all eight; the first round's clusters made the two short ones copies of long ones
    assert boiler_reads == 0 and list(found[0].values()) == [len(LONG)]
    assert touched_reads == 0 and touched.all()  # every article of the site loses FOOTER


def test_pass_two_holds_the_similarity_bins_not_the_verdict_table(scrape, tmp_path, monkeypatch):
    # a million articles give millions of verdict rows: once clustered, only their bins are kept
    import dedupe.engine as engine

    tables, written = [], []
    real_clustering, real_write = engine._Local.clustering, engine._Local.write_outputs

    def clustering(self, *args):
        result = real_clustering(self, *args)
        tables.append(result.table)
        return result

    def write_outputs(self, corpus, result, *args):
        written.append(result)
        return real_write(self, corpus, result, *args)

    monkeypatch.setattr(engine._Local, "clustering", clustering)
    monkeypatch.setattr(engine._Local, "write_outputs", write_outputs)
    run(scrape, tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    [result] = written
    assert result.table is None and len(tables) == 2
    last = _lines(tmp_path / "r.jsonl")[-1]
    assert result.bins == similarity_bins(tables[-1]["similarity"], tables[-1]["duplicate"])
    assert list(result.bins) == [last["similarity_merged"], last["similarity_not_merged"]]
    assert sum(map(sum, result.bins)) == len(tables[-1]) > 0
