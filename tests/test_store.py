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
from dataclasses import replace
from itertools import groupby
from unittest import mock

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dedupe import Options, RunOptions, run, spill
from dedupe.records import Article, Problem
from dedupe.spill import DocBatch, DocInfo, DocTable, Signatures

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
        shingle_sizes=array("I", draw(st.lists(st.integers(0, 2**28), max_size=12))),  # their sum: a uint32 too
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


@given(st.lists(records(), min_size=1, max_size=8), st.integers(1, 8), st.lists(st.integers(0, 3), min_size=1),
       st.integers(1, 3000))
def test_records_come_back_as_they_went_in(docs, size, shards, block):
    # pickled (a Dask task's), and through the run's file a batch at a time: read back with its run
    # number and the shard its batch was added with, without its signature (the run keeps those apart);
    # read in order, ``block`` bytes of records a read (a record larger than that alone)
    assert all(same(d, pickle.loads(pickle.dumps(d))) for d in docs)
    signed = [replace(d, signature=np.arange(4, dtype=np.uint32)) if d.signature is None else d for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        table = DocTable(tmp)
        expected = []
        for b, k in enumerate(range(0, len(docs), size)):
            shard = shards[b % len(shards)]
            table.extend(DocBatch.of(f"w{shard}", [("f.txt", signed[k : k + size])]), shard)
            expected += [replace(d, signature=None, shard=shard, order=k + n) for n, d in enumerate(docs[k : k + size])]
        assert len(table) == len(docs)
        assert all(same(d, table[i]) for i, d in enumerate(expected))
        with mock.patch.object(spill, "RUN_BLOCK", block):
            assert all(same(d, e) for d, e in zip(expected, table, strict=True))
        assert same(expected[-1], table[-1]) and [e.order for e in table[1:3]] == list(range(1, min(3, len(docs))))
        table.close()


@given(st.lists(records() | st.builds(Problem, texts, texts), max_size=12), st.integers(1, 4), st.data())
def test_a_batch_holds_its_records_columns(items, files, data):
    # what the run appends of a batch without decoding its records: each column is its records' own
    items = [replace(d, signature=np.arange(4, dtype=np.uint32) + n) if isinstance(d, DocInfo) and d.signature is None
             else d for n, d in enumerate(items)]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), min_size=files - 1, max_size=files - 1)))
    batch = DocBatch.of("w", [(f"f{n}", items[a:b]) for n, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(items)]))])
    docs = [d for d in items if isinstance(d, DocInfo)]
    assert batch.files == files and len(batch) == len(docs)
    assert batch.problems == [p for p in items if isinstance(p, Problem)]
    runs = [(path, len(list(group))) for path, group in groupby(d.article.path for d in docs)]
    assert list(zip(batch.paths, batch.path_counts)) == runs
    assert np.array_equal(np.frombuffer(batch.signatures, "<u4").reshape(-1, 4),
                          np.array([d.signature for d in docs], np.uint32).reshape(-1, 4))
    assert batch.dates.tobytes() == array("d", [float("nan") if d.date is None else d.date for d in docs]).tobytes()
    assert list(batch.shingle_counts) == [sum(d.shingle_sizes) for d in docs]
    assert list(batch.keys) == [k for d in docs for k in d.keys] and list(batch.key_counts) == [len(d.keys) for d in docs]
    assert list(batch.id_rows) == [n for n, d in enumerate(docs) if d.article.record_id]
    assert (batch.headlines_removed, batch.paragraphs_removed, batch.bytes_in) == (
        sum(d.headlines_removed for d in docs), sum(d.paragraphs_removed for d in docs), sum(d.bytes_in for d in docs))
    sent = pickle.loads(pickle.dumps(batch))  # as a worker sends it
    assert [_plain(getattr(sent, f)) for f in DocBatch.__slots__] == [_plain(getattr(batch, f)) for f in DocBatch.__slots__]


def _plain(value: object) -> object:
    return value.tobytes() if isinstance(value, array) else value  # NaN dates compare as bytes


def _doc(n: int, record_id: str | None = None) -> DocInfo:
    keys = array("Q", [n, n + 1])
    return DocInfo(Article(f"f{n}.txt", f"f{n}.txt", "", record_id=record_id), 0, 0, array("I", [3, 4]), 0, 10, 0,
                   keys, keys, b"\x01\x01", np.zeros(4, np.uint32), n, f"headline {n}", None, True, 10, 0, 0, n)


def test_the_table_keeps_its_records_on_disk_not_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "RECORDS_CACHED", 50)
    table = DocTable(str(tmp_path))
    for k in range(0, 3000, 100):
        table.extend(DocBatch.of("w", [(f"f{n}.txt", [_doc(n)]) for n in range(k, k + 100)]), 0)
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
    table.extend(DocBatch.of("w", [(f"f{n}.txt", [_doc(n, rid)]) for n, rid in enumerate(["a", "b", "a", None])]), 0)
    table.extend(DocBatch.of("w", [("f4.txt", [_doc(4, "c")])]), 0)
    assert [d.name for d in table] == [""] * 5  # not named before the run has them all
    table.name()
    assert [d.name for d in table] == ["f0.txt", "b", "f2.txt", "f3.txt", "c"]
    assert table[1].name == "b" and table[2].name == "f2.txt"
    table.close()


def test_signature_columns_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(Signatures, "BLOCK", 7)
    rows = np.random.default_rng(1).integers(0, 2**32, (50, 16), dtype=np.uint64).astype(np.uint32)
    sigs = Signatures(str(tmp_path), 16)
    sigs.extend(rows[:20].tobytes())
    sigs.extend(rows[20:].tobytes())
    assert np.array_equal(sigs.columns(4, 9), rows[:, 4:9])
    assert all(np.array_equal(sigs.row(i), rows[i]) for i in [49, 0, 8, 7, 6, 30])
    sigs.extend(rows[0].tobytes())  # appended after reads: seen by the next read
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
