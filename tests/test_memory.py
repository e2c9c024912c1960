"""What a long run does to stay small: freed heap pages go back to the OS between its steps, its
listing is made a folder at a time and held compactly, and an index add spools its band rows to files."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe.formats import Paths, iter_inputs, kind_of, list_inputs
from dedupe.memory import _TRIM, give_back_memory
from dedupe.stores import SortedSpool


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux") or _TRIM is None, reason="glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_os():
    # what a step's temporaries leave: most of 60 MB of heap freed, a few blocks still in use
    # scattered through it, so the heap cannot shrink from its top
    blocks = [bytes(1000) + bytes([k % 256]) for k in range(60_000)]
    kept = blocks[::50]
    del blocks
    before = _rss_mb()
    assert give_back_memory()
    assert before - _rss_mb() > 30
    assert len(kept) == 1200


class _Table(np.ndarray):  # a verdict table that a weakref can watch
    pass


def test_a_clustering_round_s_verdict_table_is_freed_with_its_verifier():
    # a verifier that cached its verdicts through an lru_cache of its own bound method was a
    # reference cycle: the verdict table of every candidate pair lived on past the step, until
    # the next full collection
    import gc
    import weakref

    from dedupe.cluster import VERDICTS, Verdicts, Verifier
    from dedupe.config import RunOptions

    table = np.zeros(1000, VERDICTS).view(_Table)
    verifier = Verifier(lambda i: np.empty(0, np.uint32), lambda i: [], [None] * 10, RunOptions(),
                        Verdicts.of_sorted(table))
    assert verifier.verify(3, 4).reason == "no_body"  # a pair compared and cached
    held = weakref.ref(table)
    was_enabled = gc.isenabled()
    gc.disable()  # no collection: only reference counts free it
    try:
        del table, verifier
        assert held() is None
    finally:
        if was_enabled:
            gc.enable()


def test_a_clustering_round_s_bodies_are_freed_with_it():
    # Bodies cached shingles and words through lru_caches of its own bound methods: a reference
    # cycle that kept every cached array and word list past the step until a full collection
    import gc
    import weakref
    from types import SimpleNamespace

    from dedupe.policy import Bodies

    class Texts:
        def paragraphs(self, d):
            return [np.array([3, 1, 2], np.uint32), np.array([2, 5], np.uint32)]

        def output(self, d):
            return "Storm hits coast\n\nHigh winds cut power to homes.\n"

    doc = SimpleNamespace(keys=[1], headline_line=True, article=SimpleNamespace(path="a.txt"))
    bodies = Bodies([doc, doc], Texts(), {})
    assert bodies.shingles(0).tolist() == [1, 2, 3, 5]  # cached
    assert bodies.words(1) == [["High", "winds", "cut", "power", "to", "homes"]]  # cached
    held = weakref.ref(bodies)
    was_enabled = gc.isenabled()
    gc.disable()  # no collection: only reference counts free it
    try:
        del bodies
        assert held() is None
    finally:
        if was_enabled:
            gc.enable()


def test_a_step_s_reference_cycles_are_collected_before_the_trim():
    import gc
    import weakref

    class Node:
        pass

    node = Node()
    node.me, node.array = node, np.zeros(1000).view(_Table)
    held = weakref.ref(node.array)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del node
        give_back_memory(collect=False)
        assert held() is not None
        give_back_memory(collect=True)
        assert held() is None
    finally:
        if was_enabled:
            gc.enable()


def test_a_run_lets_its_listing_go_after_pass_one(tmp_path):
    # a million paths held about 30 MB: nothing after pass one needs more of the listing than its length
    import gc
    import weakref

    from dedupe import Options, RunOptions, engine
    from dedupe.policy import ParagraphRows

    scrape = tmp_path / "scrape"
    for n, text in enumerate(["Storm hits the coast.\n\nHigh winds cut power to homes.\n", "Rates rise.\n"] * 2):
        (scrape / f"s{n % 2}").mkdir(parents=True, exist_ok=True)
        (scrape / f"s{n % 2}" / f"{n}.txt").write_text(text, "utf-8")
    listings: list[weakref.ref[Paths]] = []
    held_after_pass_one: list[bool] = []
    inputs, often = engine._Local.inputs, ParagraphRows.often

    def listing(self: engine._Local, problems: list) -> Paths:
        paths = inputs(self, problems)
        listings.append(weakref.ref(paths))
        return paths

    def right_after_pass_one(self: ParagraphRows, min_docs: int) -> set[int]:
        gc.collect()
        held_after_pass_one.append(listings[0]() is not None)
        return often(self, min_docs)

    with mock.patch.object(engine._Local, "inputs", listing), \
            mock.patch.object(ParagraphRows, "often", right_after_pass_one):
        summary = engine.run(scrape, tmp_path / "out", Options(run=RunOptions(jobs=1)))
    assert summary.files == 4 and summary.documents == 4  # its length still counted
    assert held_after_pass_one == [False]


def test_the_records_a_step_decoded_are_let_go_before_the_next(tmp_path):
    # the records' cache (decoded records a step read, and the heap they pin) was held from writing
    # through the index add: 14 MB of its start at 100,000 articles
    from dedupe import Options, RunOptions, engine
    from dedupe.corpus import Corpus
    from dedupe.index import Index

    scrape = tmp_path / "scrape"
    scrape.mkdir()
    for n, text in enumerate(["Storm hits the coast.\n\nHigh winds cut power to homes across the region today.\n",
                              "Rates rise.\n\nThe bank raised its main rate by half a point on Tuesday.\n"] * 2):
        (scrape / f"{n}.txt").write_text(text, "utf-8")
    corpora: list[Corpus] = []
    cached: dict[str, int] = {}
    real_init, real_write = Corpus.__init__, engine._write_outputs

    def init(self: Corpus, *args: object) -> None:
        real_init(self, *args)
        corpora.append(self)

    def write(*args: object) -> object:
        done = real_write(*args)
        cached["after writing"] = corpora[0].docs._get.cache_info().currsize
        return done

    with Index.open(str(tmp_path / "index.sqlite")) as index:
        real_add = index.add_entries

        def add(entries: object) -> None:
            cached["at the index add"] = corpora[0].docs._get.cache_info().currsize
            real_add(entries)

        with mock.patch.object(Corpus, "__init__", init), mock.patch.object(engine, "_write_outputs", write), \
                mock.patch.object(index, "add_entries", add):
            summary = engine.run(scrape, tmp_path / "out", Options(run=RunOptions(jobs=1)), index=index)
    assert summary.dropped == 2
    assert cached["after writing"] > 0 and cached["at the index add"] == 0


def _listed_at_once(root: str) -> list[str]:
    """The listing as it was made before it was made a folder at a time: every path, then sorted."""
    found: list[str] = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        folder = os.path.relpath(dirpath, root).replace(os.sep, "/")
        prefix = "" if folder == "." else folder + "/"
        found.extend(prefix + name for name in files if not name.startswith(".") and kind_of(name) is not None)
    return sorted(found)


# names whose order as path prefixes differs from their order alone: "a" < "a b" < "a-b" < "a.txt", but
# "a-b/..." < "a.txt" < "a/..." < "ab"
_NAMES = st.sampled_from(["a", "a b", "a-b", "a.txt", "a.md", "ab", "b", "B", ".hid", "é", "x.json", "z.jsonl", "y.csv"])


@given(st.lists(st.lists(_NAMES, min_size=1, max_size=4), max_size=25))
def test_the_listing_made_a_folder_at_a_time_is_the_sorted_listing(paths):
    with tempfile.TemporaryDirectory() as tmp:
        for parts in paths:
            target = Path(tmp, *parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    target.write_text("x")
            except OSError:  # a name already taken by a file (or a folder) on the way
                continue
        expected = _listed_at_once(tmp)
        assert list(iter_inputs(tmp)) == expected == list_inputs(tmp)


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_the_listing_passes_over_symlinked_folders_and_names_what_it_cannot_list(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "file.txt").symlink_to(tmp_path / "real" / "a.txt")
    problems: list = []
    assert list(iter_inputs(tmp_path, problems)) == ["file.txt", "real/a.txt"] == _listed_at_once(str(tmp_path))
    assert list(iter_inputs(tmp_path / "missing", problems)) == []
    [problem] = problems
    assert problem.source == "." and "cannot list this folder" in problem.reason  # the folder asked for


@given(st.lists(st.text(st.characters(exclude_categories=())), max_size=40), st.data())
def test_a_compact_listing_reads_as_the_list_it_holds(paths, data):
    # lone surrogates included: the names of files that are not UTF-8, as Python lists them
    listing = Paths(paths)
    assert len(listing) == len(paths) and list(listing) == paths
    start, stop = data.draw(st.integers(-50, 50)), data.draw(st.integers(-50, 50))
    assert listing[start:stop] == paths[start:stop]
    if paths:
        k = data.draw(st.integers(-len(paths), len(paths) - 1))
        assert listing[k] == paths[k]
    with pytest.raises(IndexError):
        listing[len(paths)]


def test_spooled_values_at_the_parts_edges_go_to_the_part_they_open():
    edges = [(p - 8) << 60 for p in range(SortedSpool.PARTS)]
    values = sorted({v for e in edges for v in (e - 1, e, e + 1) if -(2**63) <= v < 2**63} | {2**63 - 1})
    with mock.patch.object(SortedSpool, "HELD", 1):
        spool = SortedSpool()
        spool.add(np.array(values[::-1], np.int64))
        parts = [p.tolist() for p in spool.sorted_parts()]
    assert [p[0] for p in parts] == edges  # each part starts at its edge...
    assert [v for p in parts for v in p] == values  # ...and holds every value up to the next one


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=40), st.integers(1, 5))
def test_the_similarity_bins_summed_a_block_at_a_time_are_the_whole_table_s(pairs, block):
    from dedupe import runreport

    similarity = np.array([s for s, _ in pairs], np.float64)
    duplicate = np.array([d for _, d in pairs], bool)
    expected = ([0] * runreport.SIMILARITY_BINS, [0] * runreport.SIMILARITY_BINS)
    for s, d in pairs:
        expected[0 if d else 1][min(runreport.SIMILARITY_BINS - 1, int(s * runreport.SIMILARITY_BINS))] += 1
    with mock.patch.object(runreport, "BINS_BLOCK", block):
        assert runreport.similarity_bins(similarity, duplicate) == expected


@given(st.lists(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30), max_size=8), st.integers(1, 40))
def test_spooled_values_come_back_sorted_part_by_part(batches, held):
    # an index's band rows: past HELD of them in temporary files, read back one sorted part at a time
    with mock.patch.object(SortedSpool, "HELD", held):
        spool = SortedSpool()
        for values in batches:
            spool.add(np.array(values, np.int64))
        parts = list(spool.sorted_parts())
    assert np.concatenate(parts).tolist() == sorted(v for values in batches for v in values)
    if sum(map(len, batches)) >= held:
        assert len(parts) == SortedSpool.PARTS  # not all in memory at once
