"""The other ways in: `dedupe run --index` across days, `dedupe filter` in a pipeline, `dedupe index`."""

from __future__ import annotations

import json
from pathlib import Path

from dedupe.cli import main
from dedupe.index import Index

from .test_run import article, as_text, outputs, syndicated, write


def test_daily_incremental_run_drops_what_the_index_has_seen(runner, tmp_path):
    index = str(tmp_path / "seen.sqlite")
    head, paras = article(0)
    day1 = write(tmp_path / "day1", {"a/story.txt": as_text(head, paras), "a/other.txt": as_text(*article(1))})
    r1 = runner.invoke(main, ["run", str(day1), "--out", str(tmp_path / "out1"), "--index", index, "--jobs", "1"])
    assert r1.exit_code == 0, r1.stderr
    assert sorted(outputs(tmp_path / "out1")) == ["a/other.txt", "a/story.txt"]
    day2 = write(tmp_path / "day2", {"b/wire.txt": syndicated(head, paras), "b/new.txt": as_text(*article(2))})
    r2 = runner.invoke(main, ["run", str(day2), "--out", str(tmp_path / "out2"), "--index", index, "--jobs", "1"])
    assert r2.exit_code == 0, r2.stderr
    assert sorted(outputs(tmp_path / "out2")) == ["b/new.txt"]
    report = [json.loads(x) for x in (tmp_path / "out2.report.jsonl").read_text().splitlines()]
    (dup,) = [r for r in report if r["kind"] == "duplicate_document"]
    assert (dup["doc"], dup["duplicate_of"], dup["reason"]) == ("b/wire.txt", "a/story.txt", "in_index")
    stats = runner.invoke(main, ["index", "stats", index])
    assert "articles: 3" in stats.stdout and "num_perm=128" in stats.stdout


def test_a_run_asks_an_empty_index_nothing_and_fills_it(runner, tmp_path, monkeypatch):
    # the first fill: no lookups (a million articles took 23 s to ask an index that held none)
    asked = []
    real = Index.query_entries
    monkeypatch.setattr(Index, "query_entries", lambda self, entries: asked.append(1) or real(self, entries))
    index = str(tmp_path / "seen.sqlite")
    head, paras = article(0)
    day1 = write(tmp_path / "day1", {"a/story.txt": as_text(head, paras), "b/wire.txt": syndicated(head, paras)})
    r1 = runner.invoke(main, ["run", str(day1), "--out", str(tmp_path / "out1"), "--index", index, "--jobs", "1"])
    assert r1.exit_code == 0, r1.stderr
    assert asked == [] and sorted(outputs(tmp_path / "out1")) == ["a/story.txt"]
    day2 = write(tmp_path / "day2", {"c/wire.txt": syndicated(head, paras)})
    r2 = runner.invoke(main, ["run", str(day2), "--out", str(tmp_path / "out2"), "--index", index, "--jobs", "1"])
    assert r2.exit_code == 0, r2.stderr
    assert asked == [1] and outputs(tmp_path / "out2") == {}  # a held index is asked, and its copy dropped


def test_filter_streams_unique_records_and_remembers_with_an_index(runner, tmp_path):
    recs = []
    for n, rid in [(3, "a"), (4, "b"), (3, "c"), (5, "d")]:
        head, paras = article(n)
        recs.append({"id": rid, "title": head, "text": "\n\n".join([head, *paras, paras[0]]), "source": "wire"})
    stdin = "".join(json.dumps(r) + "\n" for r in recs) + "{broken\n"
    report = tmp_path / "r.jsonl"
    result = runner.invoke(main, ["filter", "--report", str(report)], input=stdin)
    assert result.exit_code == 1  # the broken line was skipped
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["id"] for r in out] == ["a", "b", "d"]
    head, paras = article(3)
    assert out[0]["text"] == "\n\n".join(paras) and out[0]["source"] == "wire"  # cleaned, other fields kept
    assert "<stdin>:5: not valid JSON" in result.stderr
    found = [json.loads(x) for x in report.read_text().splitlines()]
    assert any(f["kind"] == "duplicate_document" and (f["doc"], f["duplicate_of"]) == ("c", "a") for f in found)
    assert any(f["kind"] == "duplicate_headline" and f["doc"] == "a" for f in found)
    index = str(tmp_path / "i.sqlite")
    first = runner.invoke(main, ["filter", "--index", index], input=stdin)
    again = runner.invoke(main, ["filter", "--index", index], input=stdin)
    assert len(first.stdout.splitlines()) == 3 and again.stdout == ""  # all seen in the earlier run


def test_index_expire_and_bad_index_targets(runner, tmp_path):
    index = tmp_path / "i.sqlite"
    lines = "".join(json.dumps({"id": f"r{n}", "text": as_text(*article(n)), "date": d}) + "\n"
                    for n, d in [(6, "2004-03-01"), (7, "2005-03-01")])
    runner.invoke(main, ["filter", "--index", str(index)], input=lines)
    expired = runner.invoke(main, ["index", "expire", str(index), "--before", "2005-01-01"])
    assert expired.exit_code == 0 and "removed 1 entries" in expired.stdout
    assert "articles: 1" in runner.invoke(main, ["index", "stats", str(index)]).stdout
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00not a database" * 64)
    bad = runner.invoke(main, ["run", str(tmp_path), "--out", str(tmp_path / "o"), "--index", str(junk)])
    assert bad.exit_code == 2 and bad.stderr.strip().count("\n") == 0 and "not a dedupe index" in bad.stderr
    assert not Path(tmp_path / "o").exists()


def _edited(paras: list[str]) -> list[str]:
    """Each paragraph with one word changed: no paragraph key in common with the original."""
    return [p.replace(" the ", " a ", 1) if " the " in p else p + " (edited)" for p in paras]


def test_a_copy_of_an_article_the_index_holds_is_dropped_through_it(runner, tmp_path):
    # Day 2 carries the indexed story again and a cut, edited copy of it. The index alone cannot tell
    # the copy (no paragraph in common, Jaccard under the threshold), but the run verifies it against
    # the story beside it, which the index holds: the copy is dropped, naming the indexed article.
    index = str(tmp_path / "seen.sqlite")
    head, paras = article(4)
    assert len(paras) >= 4
    day1 = write(tmp_path / "day1", {"a/story.txt": as_text(head, paras)})
    r1 = runner.invoke(main, ["run", str(day1), "--out", str(tmp_path / "out1"), "--index", index, "--jobs", "1"])
    assert r1.exit_code == 0, r1.stderr
    cut = _edited(paras[: len(paras) // 2 + 1])
    day2 = write(tmp_path / "day2", {"b/again.txt": as_text(head, paras), "c/cut.txt": as_text("Cut copy", cut),
                                     "c/new.txt": as_text(*article(5))})
    r2 = runner.invoke(main, ["run", str(day2), "--out", str(tmp_path / "out2"), "--index", index, "--jobs", "1"])
    assert r2.exit_code == 0, r2.stderr
    assert sorted(outputs(tmp_path / "out2")) == ["c/new.txt"]
    report = [json.loads(x) for x in (tmp_path / "out2.report.jsonl").read_text().splitlines()]
    dups = {r["doc"]: r for r in report if r["kind"] == "duplicate_document"}
    assert set(dups) == {"b/again.txt", "c/cut.txt"}
    assert (dups["b/again.txt"]["duplicate_of"], dups["b/again.txt"]["reason"]) == ("a/story.txt", "in_index")
    cut_line = dups["c/cut.txt"]
    assert (cut_line["duplicate_of"], cut_line["reason"], cut_line["via"]) == ("a/story.txt", "in_index", "b/again.txt")
    assert cut_line["rule"] == "contained"
    assert 0.8 <= cut_line["similarity"] < 1.0
    with Index.open(index) as seen:
        assert seen.stats().articles == 2  # the story and c/new.txt; the copy was not added
