"""`dedupe run` on scrape directories built from real BBC articles (fixtures/clean, see its SOURCE.md).

The report contract, every input format, determinism across --jobs and listing order, the
cluster rules (no chaining, templated look-alikes, time window) and broken input.
"""

from __future__ import annotations

import gzip
import json
import random
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe import Options, RunOptions, run
from dedupe.cli import main

from .conftest import FIXTURES

BBC = sorted(
    p for p in (FIXTURES / "clean").glob("*.canonical.txt") if not p.name.startswith(("ext-", "kursk"))
)


def article(n: int) -> tuple[str, list[str]]:
    """The n-th real BBC article of the fixtures: (headline, paragraphs)."""
    head, *paras = BBC[n].read_text(encoding="utf-8").strip().split("\n\n")
    return head, paras


def findings(report: Path) -> bytes:
    """A report without its last line, the run summary (which names the folders the run used)."""
    lines = report.read_bytes().splitlines(keepends=True)
    assert json.loads(lines[-1])["kind"] == "summary"
    return b"".join(lines[:-1])


def as_text(head: str, paras: list[str]) -> str:
    return "\n\n".join([head, *paras]) + "\n"


def syndicated(head: str, paras: list[str], agency: str = "Reuters") -> str:
    """A wire copy: another headline, a dateline, a credit line, the last paragraph dropped, re-wrapped."""
    body = [f"LONDON ({agency}) - {paras[0]}", *paras[1:-1], "Reporting by Jane Doe; Editing by John Roe"]
    wrapped = "\n".join(textwrap.fill(p, 70, initial_indent="   ") for p in body)
    return f"UPDATE 1-{head.upper()}\n\n{wrapped}\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return root


def report(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def scrape(tmp_path: Path) -> Path:
    a, b, c = article(0), article(1), article(2)
    return write(tmp_path / "scrape", {
        "site-a/story.txt": as_text(*a),
        "site-b/2005/wire-copy.txt": syndicated(*a),
        "site-b/other.txt": as_text(*b),
        "site-c/other-again.md": as_text(*c),
    })


def test_run_keeps_one_copy_and_reports_the_contract(runner, scrape, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(scrape), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert sorted(outputs(out)) == ["site-a/story.txt", "site-b/other.txt", "site-c/other-again.md"]
    head, paras = article(0)
    assert (out / "site-a/story.txt").read_text(encoding="utf-8") == as_text(head, paras)
    rep = report(tmp_path / "out.report.jsonl")  # the default report sits beside OUT_DIR
    (dup,) = [r for r in rep if r["kind"] == "duplicate_document"]
    assert dup["doc"] == "site-b/2005/wire-copy.txt" and dup["duplicate_of"] == "site-a/story.txt"
    assert 0.7 <= dup["similarity"] <= 1 and dup["reason"] in {"near_duplicate", "contained"}
    (differs,) = [r for r in rep if r["kind"] == "headline_differs"]
    assert differs["doc"] == dup["doc"] and differs["kept_headline"] == head
    assert "1 dropped as copies" in result.stderr and "4 articles read: 3 kept" in result.stderr


def test_report_path_option_and_summary(scrape, tmp_path):
    summary = run(scrape, tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    assert (summary.documents, summary.kept, summary.dropped, summary.exit_code) == (4, 3, 1, 0)
    assert summary.bytes_in > summary.bytes_out > 0
    assert not (tmp_path / "out.report.jsonl").exists() and (tmp_path / "r.jsonl").exists()


def test_outputs_identical_whatever_jobs_and_listing_order(tmp_path):
    files = {f"site-{i % 3}/{i:02d}.txt": as_text(*article(i)) for i in range(12)}
    files.update({f"copies/{i:02d}.txt": syndicated(*article(i), agency="AP") for i in range(0, 12, 3)})
    names = list(files)
    results = []
    for n, (jobs, seed) in enumerate([(1, 0), (2, 1), (2, 2)]):
        random.Random(seed).shuffle(names)  # files created in another order: another listing order
        root = write(tmp_path / f"scrape{n}", {k: files[k] for k in names})
        run(root, tmp_path / f"out{n}", Options(run=RunOptions(jobs=jobs)), report=tmp_path / f"r{n}.jsonl")
        results.append((outputs(tmp_path / f"out{n}"), findings(tmp_path / f"r{n}.jsonl")))
    assert results[0] == results[1] == results[2]
    assert len(results[0][0]) == 12  # the four wire copies dropped


def test_jsonl_gz_and_json_inputs(tmp_path):
    (h0, p0), (h1, p1), (h2, p2) = article(3), article(4), article(5)
    recs = [
        {"id": "r1", "title": h0, "text": "\n\n".join([h0, *p0]), "url": "https://a.example/1", "date": "2005-01-03"},
        {"id": "r2", "title": h1, "text": "\n\n".join(p1) + "\n\n" + p1[0], "lang": "en"},
        {"id": "r3", "title": h0 + " | Wire", "text": "\n\n".join(p0), "date": "2005-01-04"},
    ]
    gz = gzip.compress("".join(json.dumps(r) + "\n" for r in recs[:2]).encode())
    root = write(tmp_path / "scrape", {
        "feed.jsonl": "".join(json.dumps(r) + "\n" for r in recs),
        "zz-archive/feed.jsonl.gz": gz,
        "one.json": json.dumps({"title": h2, "text": "\n\n".join(p2), "extra": [1, 2]}),
    })
    out = tmp_path / "out"
    summary = run(root, out, Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    assert summary.exit_code == 0
    kept = [json.loads(line) for line in (out / "feed.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in kept] == ["r1", "r2"]  # r3 is a copy of r1
    assert kept[0]["text"] == "\n\n".join(p0)  # the headline copy in the text field is gone
    assert kept[1]["text"] == "\n\n".join(p1) and kept[1]["lang"] == "en"  # repeated lead gone, fields kept
    assert kept[0]["url"] == "https://a.example/1" and list(kept[0]) == list(recs[0])
    assert not (out / "zz-archive/feed.jsonl.gz").exists()  # both records copy feed.jsonl's (path order)
    one = json.loads((out / "one.json").read_text(encoding="utf-8"))
    assert one["extra"] == [1, 2] and one["text"] == "\n\n".join(p2)
    rep = report(tmp_path / "r.jsonl")
    dups = {r["doc"]: r["duplicate_of"] for r in rep if r["kind"] == "duplicate_document"}
    # ids r1 and r2 occur twice in the run, so those records go by path#line; r3 by its id
    assert dups == {"r3": "feed.jsonl#1", "zz-archive/feed.jsonl.gz#1": "feed.jsonl#1",
                    "zz-archive/feed.jsonl.gz#2": "feed.jsonl#2"}
    # each line says where both articles are: input file and record line
    where = {r["doc"]: (r["path"], r.get("line"), r["duplicate_of_path"], r.get("duplicate_of_line"))
             for r in rep if r["kind"] == "duplicate_document"}
    assert where == {"r3": ("feed.jsonl", 3, "feed.jsonl", 1),
                     "zz-archive/feed.jsonl.gz#1": ("zz-archive/feed.jsonl.gz", 1, "feed.jsonl", 1),
                     "zz-archive/feed.jsonl.gz#2": ("zz-archive/feed.jsonl.gz", 2, "feed.jsonl", 2)}
    para = [r for r in rep if r["kind"] == "duplicate_paragraph" and r["doc"] == "feed.jsonl#2"]
    assert para and para[0]["index"] == len(p1) + 1  # index 0 is the title field


def test_window_holds_dated_copies_apart(tmp_path):
    head, paras = article(8)
    text = "\n\n".join(paras)
    recs = [{"id": "old", "title": head, "text": text, "date": "2005-01-01"},
            {"id": "new", "title": head, "text": text, "date": "2005-03-01"}]
    root = write(tmp_path / "scrape", {"f.jsonl": "".join(json.dumps(r) + "\n" for r in recs)})
    run(root, tmp_path / "o1", Options(run=RunOptions(jobs=1, window_days=30)), report=tmp_path / "r1.jsonl")
    run(root, tmp_path / "o2", Options(run=RunOptions(jobs=1)), report=tmp_path / "r2.jsonl")
    assert len((tmp_path / "o1/f.jsonl").read_text().splitlines()) == 2
    assert [r["kind"] for r in report(tmp_path / "r1.jsonl") if r["kind"] == "outside_window"] == ["outside_window"]
    assert len((tmp_path / "o2/f.jsonl").read_text().splitlines()) == 1


def test_broken_inputs_are_named_counted_and_skipped(runner, tmp_path):
    head, paras = article(9)
    good = json.dumps({"id": "ok1", "title": head, "text": "\n\n".join(paras)})
    lines = [good, "{not json", json.dumps({"title": "no text"}), json.dumps({"id": "n", "text": 42}), ""]
    gz = gzip.compress("".join(json.dumps({"id": f"g{i}", "text": as_text(*article(10 + i))}) + "\n" for i in range(3)).encode())
    root = write(tmp_path / "scrape", {
        "broken.jsonl": "\n".join(lines) + "\n",
        "cut.jsonl.gz": gz[: len(gz) * 2 // 3],
        "array.json": "[1, 2]",
        "empty.txt": b"",
        "binary.txt": bytes(range(256)) * 40,
        "fine.txt": as_text(*article(13)),
    })
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(root), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 1
    errors = [m for m in result.stderr.splitlines() if m.startswith("dedupe: error: ")]
    assert any(m.startswith("dedupe: error: broken.jsonl:2: not valid JSON") for m in errors)
    assert any(m.startswith("dedupe: error: broken.jsonl:3: no 'text' field") for m in errors)
    assert any(m.startswith("dedupe: error: broken.jsonl:4: 'text' is not a string but int") for m in errors)
    assert any(m.startswith("dedupe: error: cut.jsonl.gz:") and "truncated" in m for m in errors)
    assert any(m.startswith("dedupe: error: array.json: a JSON list, not an object") for m in errors)
    assert any(m.startswith("dedupe: error: empty.txt: empty file") for m in errors)
    assert any(m.startswith("dedupe: error: binary.txt: binary data") for m in errors)
    assert "Traceback" not in result.stderr
    assert (out / "fine.txt").exists()
    assert [json.loads(x)["id"] for x in (out / "broken.jsonl").read_text().splitlines()] == ["ok1"]
    assert "skipped 7" in result.stderr


def test_exit_zero_when_nothing_is_skipped(runner, scrape, tmp_path):
    assert runner.invoke(main, ["run", str(scrape), "--out", str(tmp_path / "o"), "--jobs", "1"]).exit_code == 0


def test_window_reads_a_date_the_article_states(tmp_path):
    head, paras = article(11)
    root = write(tmp_path / "scrape", {
        "a.txt": as_text(head, ["Published 9:00 AM EST Jan 3, 2005", *paras]),
        "b.txt": as_text(head, ["Published 10:15 AM EST Apr 20, 2005", *paras]),
    })
    run(root, tmp_path / "o", Options(run=RunOptions(jobs=1, window_days=7)), report=tmp_path / "r.jsonl")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.txt", "b.txt"]
    (held,) = [r for r in report(tmp_path / "r.jsonl") if r["kind"] == "outside_window"]
    assert {held["doc"], held["duplicate_of"]} == {"a.txt", "b.txt"}
    run(root, tmp_path / "o2", Options(run=RunOptions(jobs=1, keep="earliest")), report=tmp_path / "r2.jsonl")
    assert [p.name for p in (tmp_path / "o2").iterdir()] == ["a.txt"]  # the earlier one is kept


def test_forked_verification_and_writing_give_the_same_run(tmp_path, monkeypatch):
    # candidates verified and files written in forked workers, the report's findings written while
    # the workers write: the same outputs and report as one process
    import multiprocessing

    import dedupe.engine as engine

    forked, workers_meanwhile = [], []
    real = engine._fork_imap

    def spy(fn, tasks, jobs, shared, meanwhile=None):
        forked.append((fn.__name__, jobs, len(tasks)))
        if meanwhile is not None:
            def counted():
                workers_meanwhile.append((jobs, len(multiprocessing.active_children())))
                meanwhile()
        return real(fn, tasks, jobs, shared, None if meanwhile is None else counted)

    monkeypatch.setattr(engine, "_fork_imap", spy)
    monkeypatch.setattr(engine, "PARALLEL_PAIRS", 0)
    files = {f"site-{i % 3}/{i:02d}.txt": as_text(*article(i)) for i in range(12)}
    files.update({f"copies/{i:02d}.txt": syndicated(*article(i), agency="AP") for i in range(0, 12, 3)})
    root = write(tmp_path / "scrape", files)
    results = []
    for jobs in (1, 2):
        run(root, tmp_path / f"out{jobs}", Options(run=RunOptions(jobs=jobs)), report=tmp_path / f"r{jobs}.jsonl")
        results.append((outputs(tmp_path / f"out{jobs}"), findings(tmp_path / f"r{jobs}.jsonl")))
    assert results[0] == results[1] and len(results[0][0]) == 12
    assert {name for name, jobs, tasks in forked if jobs == 2 and tasks > 1} == {"_verify_pairs", "_write_files"}
    assert workers_meanwhile == [(1, 0), (2, 2)]


def _scaled_sum(scale: int, n: int) -> int:
    return scale * sum(range(n))


def test_the_pool_does_not_spin_while_results_come_back(monkeypatch):
    # multiprocessing's pool wakes its worker-minding thread for every result waiting in the pipe
    # (several times each, until the result thread reads it); dedupe's wakes it when a worker ends
    # or the pool's state changes
    import multiprocessing.pool

    import dedupe.engine as engine

    wakes = []
    real = multiprocessing.pool.Pool._wait_for_updates

    def counted(sentinels, notifier, timeout=None):
        wakes.append(len(sentinels))
        return real(sentinels, notifier, timeout)

    monkeypatch.setattr(multiprocessing.pool.Pool, "_wait_for_updates", staticmethod(counted))
    tasks = [20_000 + k for k in range(300)]
    assert list(engine._fork_imap(_scaled_sum, tasks, 2, 3)) == [3 * sum(range(n)) for n in tasks]
    assert 1 <= len(wakes) < 10


def test_files_prepared_in_batches_give_each_file_its_own_records(tmp_path, monkeypatch):
    # pass one prepares a few dozen articles together, across files and within a JSON Lines file;
    # however the batches fall, each file gets the records (and spill) it gets prepared alone
    from dedupe import policy
    from dedupe.formats import read_articles
    from dedupe.spill import DocInfo, SpillWriter, _pack

    root = FIXTURES / "sample"
    texts = [(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.txt"))]
    lines = [json.dumps({"id": f"r{n}", "text": text}) for n, (_, text) in enumerate(texts)]
    lines[2:2] = ["{not json", json.dumps({"id": "empty", "text": "\u200b"})]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for rel, text in texts:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    rels = ["feed.jsonl", *(rel for rel, _ in texts)]
    options = Options()

    def prepared(batch: int) -> list[tuple[str, list[bytes | str]]]:
        monkeypatch.setattr(policy, "PREPARE_ARTICLES", batch)
        spill = SpillWriter(None, "t")
        files = policy.prepare_files(rels, lambda rel: read_articles(str(tmp_path), rel, options.fields), options, spill)
        return [(rel, [(r.article.path, _pack(r)) if isinstance(r, DocInfo) else r.reason for r in records])
                for rel, records in files] + [("spill", list(spill.buffers()))]

    one_at_a_time = prepared(1)
    assert [rel for rel, _ in one_at_a_time[:-1]] == rels
    feed = one_at_a_time[0][1]
    assert len(feed) == len(lines) and sum(isinstance(r, str) for r in feed) == 2  # the bad line, the empty text
    for rel, records in one_at_a_time[:-1]:
        assert {r[0] for r in records if not isinstance(r, str)} == {rel}
    assert [len(records) for _, records in one_at_a_time[1:-1]] == [1] * len(texts)
    for batch in (2, 3, 100):
        assert prepared(batch) == one_at_a_time


@given(st.lists(st.none() | st.integers(0, 5) | st.integers(0, 2**64 - 1), max_size=60))
def test_articles_with_one_headline_are_grouped_in_run_order(headlines):
    from types import SimpleNamespace

    from dedupe.runreport import Gathered, _same_headlines

    gathered = Gathered()
    for i, h in enumerate(headlines):
        gathered.add(i, SimpleNamespace(name=f"a{i}", headline_key=h))  # type: ignore[arg-type]
    groups: dict[int, list[int]] = {}
    for i, h in enumerate(headlines):
        if h is not None:
            groups.setdefault(h, []).append(i)
    found = list(_same_headlines(gathered.headline_numbers, gathered.headline_keys))
    assert found == sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


@given(st.lists(st.sampled_from(["a", "b", "c.txt", "d#1", "d#2", "é"]), max_size=30))
def test_names_find_the_last_article_of_each_name_without_the_hashes_held_twice(names):
    # the report names each line's articles' files: a million articles' name hashes are held once
    from types import SimpleNamespace

    import numpy as np

    from dedupe.runreport import Gathered

    gathered = Gathered()
    docs = [SimpleNamespace(name=name, headline_key=None) for name in names]
    for i, d in enumerate(docs):
        gathered.add(i, d)  # type: ignore[arg-type]
    found = gathered.names(docs)  # type: ignore[arg-type]
    assert len(gathered.name_hashes) == 0 and found.order.dtype == np.int32
    last = {d.name: d for d in docs}
    for name in ["a", "b", "c.txt", "d#1", "d#2", "é", "zz", None]:
        assert found.get(name) is last.get(name)
