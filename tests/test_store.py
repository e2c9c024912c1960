"""What a run keeps of each article on disk between its passes: records and signatures.

A run holds a few bytes an article in memory (where each record is), not the records: these
tests fail if a record changes on its way through the file, if the records stay in memory, or
if a run leaves its files behind.
"""

from __future__ import annotations

import gc
import os
import pickle
import tempfile
from array import array

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dedupe import Options, RunOptions, run, spill
from dedupe.records import Article
from dedupe.spill import DocInfo, DocTable, Signatures

from .test_run import article, as_text, write

texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)  # lone surrogates too
keys = st.lists(st.integers(0, 2**64 - 1), max_size=12)


@st.composite
def records(draw: st.DrawFn) -> DocInfo:
    body = draw(keys)
    matching = draw(st.one_of(st.none(), keys))  # None: the same array object, as the spill makes it
    keys_array = array("Q", body)
    return DocInfo(
        article=Article(draw(texts), draw(texts), "", draw(st.none() | texts), draw(st.none() | texts),
                        draw(st.none() | texts), draw(st.none() | st.integers(1, 10**9)), draw(st.none() | texts)),
        shard=draw(st.integers(-1, 1000)), shingle_at=draw(st.integers(0, 2**40)),
        shingle_sizes=array("I", draw(st.lists(st.integers(0, 2**32 - 1), max_size=12))),
        output_at=draw(st.integers(0, 2**40)), output_len=draw(st.integers(0, 2**31)),
        findings_len=draw(st.integers(0, 2**31)), keys=keys_array,
        matching_keys=keys_array if matching is None else array("Q", matching),
        sentences=draw(st.binary(max_size=12)),
        signature=draw(st.none() | st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4).map(
            lambda v: np.array(v, np.uint32))),
        headline_key=draw(st.none() | st.integers(0, 2**64 - 1)), headline=draw(st.none() | texts),
        date=draw(st.none() | st.floats(allow_nan=False)), headline_line=draw(st.booleans()),
        bytes_in=draw(st.integers(0, 2**40)), headlines_removed=draw(st.integers(0, 100)),
        paragraphs_removed=draw(st.integers(0, 100)), order=draw(st.integers(-1, 2**40)), name=draw(texts),
    )


def same(a: DocInfo, b: DocInfo) -> bool:
    sig_a, sig_b = a.signature, b.signature
    plain = [f for f in DocInfo.__slots__ if f != "signature"]
    return (all(getattr(a, f) == getattr(b, f) for f in plain)
            and (sig_a is None) == (sig_b is None) and (sig_a is None or np.array_equal(sig_a, sig_b))
            and (a.matching_keys is a.keys) == (b.matching_keys is b.keys))


@given(st.lists(records(), min_size=1, max_size=8))
def test_records_come_back_as_they_went_in(docs):
    # pickled (a worker's results, a Dask task's) and through the run's file
    assert all(same(d, pickle.loads(pickle.dumps(d))) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        table = DocTable(tmp)
        for d in docs:
            table.append(d)
        assert len(table) == len(docs)
        assert all(same(d, table[i]) for i, d in enumerate(docs))
        assert all(same(d, e) for d, e in zip(docs, table))
        assert same(docs[-1], table[-1]) and [e.order for e in table[1:3]] == [d.order for d in docs[1:3]]
        table.close()


def _doc(n: int, record_id: str | None = None) -> DocInfo:
    keys = array("Q", [n, n + 1])
    return DocInfo(Article(f"f{n}.txt", f"f{n}.txt", "", record_id=record_id), 0, 0, array("I", [3, 4]), 0, 10, 0,
                   keys, keys, b"\x01\x01", None, n, f"headline {n}", None, True, 10, 0, 0, n)


def test_the_table_keeps_its_records_on_disk_not_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "RECORDS_CACHED", 50)
    table = DocTable(str(tmp_path))
    for n in range(3000):
        table.append(_doc(n))
    picked = [table[n].order for n in range(0, 3000, 7)]  # the run asks in any order
    streamed = [d.order for d in table]
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if isinstance(o, DocInfo))
    assert picked == list(range(0, 3000, 7)) and streamed == list(range(3000))
    assert alive <= 50  # the cache, not the 3,000 records
    assert os.path.getsize(table.path) > 3000 * 50
    table.close()


def test_names_are_ids_where_unique_else_paths(tmp_path):
    table = DocTable(str(tmp_path))
    for n, rid in enumerate(["a", "b", "a", None, "c"]):
        table.append(_doc(n, rid))
    assert [d.name for d in table] == [""] * 5  # not named before the run has them all
    table.name()
    assert [d.name for d in table] == ["f0.txt", "b", "f2.txt", "f3.txt", "c"]
    assert table[1].name == "b" and table[2].name == "f2.txt"
    table.close()


def test_signature_columns_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(Signatures, "BLOCK", 7)
    rows = np.random.default_rng(1).integers(0, 2**32, (50, 16), dtype=np.uint64).astype(np.uint32)
    sigs = Signatures(str(tmp_path), 16)
    for r in rows:
        sigs.append(r)
    assert np.array_equal(sigs.columns(4, 9), rows[:, 4:9])
    assert all(np.array_equal(sigs.row(i), rows[i]) for i in [49, 0, 8, 7, 6, 30])
    sigs.append(rows[0])  # appended after reads: seen by the next read
    assert np.array_equal(sigs.columns(0, 16)[-1], rows[0])
    sigs.close()


def test_a_run_leaves_no_files_behind(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    head, paras = article(2)
    root = write(tmp_path / "scrape", {"a.txt": as_text(head, paras), "b/a.txt": as_text(head, paras)})
    summary = run(root, tmp_path / "out", Options(run=RunOptions(jobs=2)), report=tmp_path / "r.jsonl")
    assert (summary.kept, summary.dropped) == (1, 1)
    assert os.listdir(tmp) == []
