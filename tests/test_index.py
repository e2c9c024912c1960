"""The persistent "seen before?" index, on SQLite and on a real Redis server.

Real text: BBC articles of fixtures/clean and the unrelated real lines of fixtures/pool.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedupe import Options, RunOptions, SignatureOptions, engine, run
from dedupe.corpus import Corpus
from dedupe.errors import IndexFileError
from dedupe.index import Index
from dedupe.records import Match

from .redis_server import redis_server
from .test_properties import HEADLINES, POOL
from .test_run import article, as_text, findings, outputs, syndicated, write

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from redis_server(tmp_path_factory.mktemp("redis"))


@pytest.fixture(params=["sqlite", "redis"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    return request.getfixturevalue("redis_url") + f"#{request.node.name}"


def test_an_index_opens_at_a_path_given_as_a_path(tmp_path):
    # a scraper holds its paths as pathlib.Path: Index.open took only a str (AttributeError: startswith)
    head, paras = article(0)
    with Index.open(tmp_path / "index.sqlite") as index:
        index.add("site-a/story.txt", as_text(head, paras))
    with Index.open(str(tmp_path / "index.sqlite")) as index:
        assert index.check("site-b/copy.txt", as_text(head, paras)).duplicate_of == "site-a/story.txt"


def test_check_adds_new_articles_and_names_the_copy(target):
    with Index.open(target) as index:
        head, paras = article(0)
        first = index.check("site-a/story.txt", as_text(head, paras))
        assert not first.duplicate and first.duplicate_of is None
        copy = index.check("site-b/wire.txt", syndicated(head, paras))
        assert copy.duplicate and copy.duplicate_of == "site-a/story.txt"
        assert copy.matches[0].rule in {"near", "paragraphs"} and copy.matches[0].similarity >= 0.7
        other = index.check("site-c/other.txt", as_text(*article(1)))
        assert not other.duplicate
        assert [m.id for m in index.query(as_text(head, paras))] == ["site-a/story.txt"]
        assert index.query(as_text(*article(2))) == []
        assert index.stats().articles == 2


def test_an_index_is_empty_until_an_article_is_added_and_after_the_last_expires(target):
    with Index.open(target) as index:
        assert index.is_empty()
        index.add("old", as_text(*article(4)), date="2004-01-05")
        assert not index.is_empty()
        assert index.expire("2005-01-01") == 1 and index.is_empty()


def test_same_id_again_is_seen_before_or_an_update(target):
    with Index.open(target) as index:
        head, paras = article(3)
        assert not index.check("a.txt", as_text(head, paras)).duplicate
        again = index.check("a.txt", as_text(head, paras))
        assert again.duplicate and again.duplicate_of == "a.txt"  # seen before
        assert not index.check("a.txt", as_text(head, paras[:-2] + [paras[-1] + " Updated."])).duplicate  # an edit
        assert index.stats().articles == 1


def test_expire_removes_older_entries(target):
    with Index.open(target) as index:
        index.add("old", as_text(*article(4)), date="2004-01-05")
        index.add("new", as_text(*article(5)), date="2005-06-01")
        assert index.expire("2005-01-01") == 1
        assert index.stats().articles == 1
        assert index.query(as_text(*article(4))) == []
        assert [m.id for m in index.query(as_text(*article(5)))] == ["new"]


def test_entries_added_in_batches_are_found_and_replace_by_id(target, monkeypatch):
    import dedupe.stores

    monkeypatch.setattr(dedupe.stores, "REDIS_BATCH", 3)  # several transactions on Redis, one on SQLite
    with Index.open(target) as index:
        texts = {f"doc{i}": as_text(*article(i)) for i in range(7)}
        index.add_entries(index._prepare(k, v, None, None) for k, v in texts.items())
        assert index.stats().articles == 7
        for k, v in texts.items():
            assert [m.id for m in index.query(v)] == [k]
        index.add_entries([index._prepare("doc0", texts["doc1"], None, None)])  # same id: replaced
        assert index.stats().articles == 7 and [m.id for m in index.query(texts["doc0"])] == []
        assert sorted(m.id for m in index.query(texts["doc1"])) == ["doc0", "doc1"]


def test_an_id_added_twice_in_one_call_keeps_the_later_entry_and_no_stray_rows(tmp_path, monkeypatch):
    import dedupe.stores

    monkeypatch.setattr(dedupe.stores, "PUT_BATCH", 2)  # replaced within a batch and across batches
    monkeypatch.setattr(dedupe.stores.SortedSpool, "HELD", 60)  # band rows through temporary files
    path = tmp_path / "index.sqlite"
    with Index.open(str(path)) as index:
        index.add_entries([index._prepare("old", as_text(*article(6)), None, None)])
        texts = [as_text(*article(i)) for i in range(6)]
        ids = ["a", "a", "b", "old", "b", "c"]  # "a" twice in a batch, "b" across two, "old" from before
        index.add_entries(index._prepare(doc_id, texts[k], None, None) for k, doc_id in enumerate(ids))
        assert index.stats().articles == 4
        assert [m.id for m in index.query(texts[1])] == ["a"] and index.query(texts[0]) == []
        assert [m.id for m in index.query(texts[4])] == ["b"] and index.query(texts[2]) == []
        assert [m.id for m in index.query(texts[3])] == ["old"] and index.query(as_text(*article(6))) == []
    with sqlite3.connect(path) as db:
        for table in ("bands", "leads"):
            assert db.execute(f"SELECT count(*) FROM {table} WHERE n NOT IN (SELECT n FROM docs)").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM bands").fetchone()[0] == 4 * 25


def test_an_sqlite_index_holds_a_page_cache_of_the_set_size(tmp_path):
    # the index's own memory in a run (its B-trees are far larger than any cache: the OS caches the file)
    from dedupe.stores import PAGE_CACHE_KIB

    with Index.open(str(tmp_path / "index.sqlite")) as index:
        assert index.store.db.execute("PRAGMA cache_size").fetchone() == (-PAGE_CACHE_KIB,)
        assert PAGE_CACHE_KIB <= 8192


def test_queries_in_batches_answer_as_one_at_a_time(target, monkeypatch):
    # A run asks the index about every article it holds, QUERY_BATCH a statement (SQLite) or a
    # round trip (Redis): the answers must be those of asking one entry at a time, in order.
    import dedupe.index

    monkeypatch.setattr(dedupe.index, "QUERY_BATCH", 3)  # several batches, the last one short
    with Index.open(target) as index:
        index.add_entries(index._prepare(f"doc{i}", as_text(*article(i)), None, None) for i in range(4))
        head, paras = article(0)
        asked = [
            index._prepare("copy", syndicated(head, paras), None, None),  # near
            index._prepare("doc1", as_text(*article(1)), None, None),  # itself: seen before
            index._prepare("new", as_text(*article(8)), None, None),  # not held
            index._prepare("head", head, None, None),  # no body: never matched
            index._prepare("lead", as_text("Other headline", paras[:3]), None, None),  # a truncated copy
            index._prepare("two", as_text(*article(2)) + "\n" + as_text(*article(3)), None, None),
            index._prepare("doc2", as_text(*article(9)), None, None),  # doc2's id, another body: an edit
        ]
        one_by_one = [index.query_entry(e) for e in asked]
        assert list(index.query_entries(iter(asked))) == one_by_one
        assert [[(m.id, m.rule) for m in found] for found in one_by_one] == [
            [("doc0", "paragraphs")], [("doc1", "exact")], [], [], [("doc0", "paragraphs")],
            [("doc2", "paragraphs"), ("doc3", "paragraphs")], [],
        ]
        assert list(index.query_entries([])) == []


def test_ids_with_lone_surrogates_are_held_as_escapes(target):
    # A file name that is not UTF-8 (read with surrogateescape) or a JSON id with a lone surrogate:
    # SQLite and Redis take only UTF-8, so the index holds such an id as "\\udcXX" text.
    odd = "caf\udce9/\ud800.txt"
    with Index.open(target) as index:
        assert not index.check(odd, as_text(*article(7))).duplicate
        again = index.check(odd, as_text(*article(7)))
        assert again.duplicate and again.duplicate_of == "caf\\udce9/\\ud800.txt"  # seen before, not an edit
        assert [m.id for m in index.query(as_text(*article(7)))] == ["caf\\udce9/\\ud800.txt"]
        assert index.stats().articles == 1


def test_a_run_indexes_a_file_whose_name_is_not_utf8(tmp_path):
    scrape = tmp_path / "scrape"
    scrape.mkdir()
    (scrape / "a.txt").write_text(as_text(*article(1)), encoding="utf-8")
    with open(bytes(scrape) + b"/caf\xe9.txt", "wb") as f:
        f.write(as_text(*article(2)).encode("utf-8"))
    idx = tmp_path / "index.sqlite"
    with Index.open(str(idx)) as index:
        run(scrape, tmp_path / "out1", Options(run=RunOptions(jobs=1)), report=tmp_path / "r1.jsonl", index=index)
        assert index.stats().articles == 2
        second = run(scrape, tmp_path / "out2", Options(run=RunOptions(jobs=1)), report=tmp_path / "r2.jsonl",
                     index=index)
    assert second.kept == 0 and second.dropped == 2


def test_other_settings_are_an_error_not_a_mismatch(target):
    Index.open(target).close()
    with pytest.raises(IndexFileError, match="num_perm=128 \\(asked for 64\\)"):
        Index.open(target, Options(signature=SignatureOptions(num_perm=64)))


def test_corrupt_or_foreign_files_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all " * 100)
    with pytest.raises(IndexFileError, match="not a dedupe index") as e:
        Index.open(str(junk))
    assert "\n" not in str(e.value)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(IndexFileError, match="not a dedupe index"):
        Index.open(str(foreign))
    with pytest.raises(IndexFileError, match="cannot reach the Redis server"):
        Index.open("redis://127.0.0.1:1/0")


def test_a_new_process_finds_what_the_last_one_added(target):
    head, paras = article(6)
    code = (
        "import sys; from dedupe.index import Index\n"
        "with Index.open(sys.argv[1]) as ix:\n"
        "    v = ix.check(sys.argv[2], sys.stdin.read())\n"
        "    print(v.duplicate_of or 'new')\n"
    )
    def run(doc_id: str, text: str) -> str:
        out = subprocess.run([sys.executable, "-c", code, target, doc_id], input=text, text=True,
                             capture_output=True, cwd=ROOT, check=True)
        return out.stdout.strip()

    assert run("first.txt", as_text(head, paras)) == "new"
    assert run("second.txt", syndicated(head, paras)) == "first.txt"


def _racer(target: str, seed: int, texts: list[str], barrier, results) -> None:  # type: ignore[no-untyped-def]
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    out = []
    barrier.wait(timeout=60)  # all four open the index at once too
    with Index.open(target) as index:
        for n in order:
            v = index.check(f"p{seed}-{n}", texts[n])
            out.append((n, v.duplicate, v.duplicate_of))
    results.put((seed, out))


def test_four_processes_racing_keep_each_story_once(target):
    bodies = [line for line in POOL if not re.search("rights reserved|©|copyright", line, re.IGNORECASE)]
    texts = [f"{HEADLINES[n % len(HEADLINES)]}\n\n{bodies[n]}\n" for n in range(200)]  # 200 unrelated stories
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(target, seed, texts, barrier, results)) for seed in range(4)]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0  # no "database is locked" (or anything else) escaped
    for n in range(len(texts)):
        verdicts = [(seed, dup, of) for seed, rows in got.items() for m, dup, of in rows if m == n]
        winners = [seed for seed, dup, _ in verdicts if not dup]
        assert len(winners) == 1, (n, verdicts)
        assert all(of == f"p{winners[0]}-{n}" for _, dup, of in verdicts if dup)
    with Index.open(target) as index:
        assert index.stats().articles == len(texts)


def test_stored_16_bit_signatures_estimate_what_the_full_ones_do(tmp_path):
    """Entries keep each MinHash value's low 16 bits (b-bit minwise hashing): the index's estimate of
    a pair's Jaccard is the full signatures' estimate (chance agreements of 1 in 65,536 taken out),
    and an entry costs well under a kilobyte."""
    import numpy as np

    from dedupe.index import _estimate
    from dedupe.prepare import prepare
    from dedupe.records import Article

    options = Options()
    texts = []
    for n in range(12):
        head, paras = article(n)
        texts += [as_text(head, paras), syndicated(head, paras), as_text(head, paras[: max(1, len(paras) // 2)])]
    preps = [prepare(Article(str(i), "x.txt", t), options) for i, t in enumerate(texts)]
    with Index.open(str(tmp_path / "i.sqlite")) as index:
        entries = [index.entry(p) for p in preps]
        assert all(len(e.signature) == 2 * options.signature.num_perm for e in entries)
        for a in range(len(preps)):
            for b in range(a + 1, len(preps)):
                full = float(np.mean(preps[a].signature == preps[b].signature))
                agree = np.frombuffer(entries[a].signature, "<u2") == np.frombuffer(entries[b].signature, "<u2")
                assert abs(_estimate(float(np.mean(agree))) - full) <= 1 / options.signature.num_perm
    sizes = [len(e.signature) + len(e.paragraphs) + 4 * (len(e.bands) + len(e.leads)) for e in entries]
    assert max(sizes) < 600


def test_a_backend_failing_while_the_index_opens_is_an_index_error(tmp_path, monkeypatch):
    # a Redis server that goes between the settings' write and their read, a disk error: one
    # IndexFileError naming the index (the CLI's one-line message, exit 2), not a traceback
    from dedupe.stores import SQLiteStore

    def failing(self, settings):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SQLiteStore, "save_settings", failing)
    target = str(tmp_path / "new.sqlite")
    with pytest.raises(IndexFileError, match="the index failed: disk I/O error") as caught:
        Index.open(target)
    assert caught.value.target == target


def _fill_day_one(tmp_path: Path, index: Index) -> Path:
    """Day one's six stories into ``index``; returns day two's scrape: wire copies of three, three new."""
    day1 = write(tmp_path / "day1", {f"a/{n}.txt": as_text(*article(n)) for n in range(6)})
    run(day1, tmp_path / "out1", Options(run=RunOptions(jobs=1)), report=tmp_path / "r1.jsonl", index=index)
    return write(tmp_path / "day2", {**{f"b/{n}.txt": syndicated(*article(n)) for n in (0, 2, 4)},
                                     **{f"b/{n}.txt": as_text(*article(n)) for n in (6, 7, 8)}})


def test_a_run_on_two_jobs_asks_the_index_in_its_workers(target, tmp_path, monkeypatch):
    # each worker through a connection of its own; the copies dropped, and the report, as on one job
    monkeypatch.setattr(engine, "PARALLEL_LOOKUPS", 2)
    for t in (target, target + "-1"):
        with Index.open(t) as index:
            day2 = _fill_day_one(tmp_path, index)
    opened = tmp_path / "opened"
    real = Index.open.__func__  # type: ignore[attr-defined]

    def open_(cls: type[Index], at: str, options: Options | None = None) -> Index:
        with open(opened, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(cls, at, options)  # type: ignore[no-any-return]

    monkeypatch.setattr(Index, "open", classmethod(open_))
    sizes = []
    real_seen = engine._Local.seen_before

    def seen(self: engine._Local, corpus: Corpus, index: Index) -> dict[int, Match]:
        found = real_seen(self, corpus, index)  # the run's files as long as what it wrote: no worker wrote to them
        sizes.append((os.path.getsize(corpus.docs.path), corpus.docs._at[-1]))
        sizes.append((os.path.getsize(corpus.signatures.path), corpus.signatures.rows * corpus.signatures.width * 4))
        return found

    monkeypatch.setattr(engine._Local, "seen_before", seen)
    for jobs, t in ((2, target), (1, target + "-1")):
        with Index.open(t) as index:
            run(day2, tmp_path / f"out-{jobs}", Options(run=RunOptions(jobs=jobs)),
                report=tmp_path / f"r-{jobs}.jsonl", index=index)
        if jobs == 2:
            assert len(set(opened.read_text().split()) - {str(os.getpid())}) == 2  # the two workers
    assert sorted(outputs(tmp_path / "out-2")) == ["b/6.txt", "b/7.txt", "b/8.txt"]
    assert all(size == written for size, written in sizes) and len(sizes) == 4
    assert outputs(tmp_path / "out-2") == outputs(tmp_path / "out-1")
    assert findings(tmp_path / "r-2.jsonl") == findings(tmp_path / "r-1.jsonl")


def test_an_index_in_memory_is_asked_in_the_run_itself(tmp_path, monkeypatch):
    # no worker can open another connection to it: a worker's own would see an empty index
    monkeypatch.setattr(engine, "PARALLEL_LOOKUPS", 2)
    with Index.open(":memory:") as index:
        day2 = _fill_day_one(tmp_path, index)
        run(day2, tmp_path / "out2", Options(run=RunOptions(jobs=2)), report=tmp_path / "r2.jsonl", index=index)
    assert sorted(outputs(tmp_path / "out2")) == ["b/6.txt", "b/7.txt", "b/8.txt"]


def test_an_index_error_in_a_worker_reaches_the_run_whole():
    e = pickle.loads(pickle.dumps(IndexFileError("redis://x/0#news", "the index failed: gone")))
    assert (type(e), e.target, e.problem, str(e)) == (
        IndexFileError, "redis://x/0#news", "the index failed: gone", "redis://x/0#news: the index failed: gone")
