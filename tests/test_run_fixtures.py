"""`dedupe run` on the curated scrape of fixtures/run (real text; see its SOURCE.md and gold.json).

Every gold cluster comes out as one kept copy, no pair marked not-duplicate is merged, every
dropped article names a kept one, and the result is the same for --jobs 1 and --jobs 2.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dedupe import Options, RunOptions, run
from dedupe.cli import main

from .conftest import FIXTURES

SCRAPE = FIXTURES / "run" / "scrape"
GOLD = json.loads((FIXTURES / "run" / "gold.json").read_text(encoding="utf-8"))


def clusters(report: list[dict]) -> dict[str, str]:
    """Each document's kept copy, from the duplicate_document lines."""
    return {r["doc"]: r["duplicate_of"] for r in report if r["kind"] == "duplicate_document"}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("run")
    out = tmp / "out"
    run(SCRAPE, out, Options(run=RunOptions(jobs=2)), report=tmp / "report.jsonl")
    return out, [json.loads(line) for line in (tmp / "report.jsonl").read_text(encoding="utf-8").splitlines()]


def test_every_gold_cluster_keeps_exactly_one_copy(result):
    _, report = result
    kept_of = clusters(report)
    for cluster in GOLD["clusters"]:
        keepers = {kept_of.get(doc, doc) for doc in cluster}
        assert len(keepers) == 1, cluster
        assert keepers <= set(cluster)


def test_no_pair_marked_different_is_merged(result):
    _, report = result
    kept_of = clusters(report)
    for a, b in GOLD["not_duplicates"]:
        assert kept_of.get(a, a) != kept_of.get(b, b), (a, b)
    in_gold = {doc for cluster in GOLD["clusters"] for doc in cluster}
    assert set(kept_of) <= in_gold  # nothing outside the gold clusters was dropped


def test_duplicate_of_always_names_a_written_article(result):
    out, report = result
    kept_of = clusters(report)
    assert kept_of and not set(kept_of.values()) & set(kept_of)
    for doc in kept_of.values():
        path = doc.split("#")[0]
        if "/" in path and (SCRAPE / path).is_file():
            assert (out / path).is_file(), doc


def test_languages_are_matched_on_their_own_scripts(result):
    _, report = result
    kept_of = clusters(report)
    for lang in ("ru", "ja", "ko", "pt", "el"):  # Cyrillic, Japanese, Hangul, accented Latin, Greek
        assert kept_of.get(f"lang-{lang}-02") == f"lang-{lang}-01" or kept_of.get(f"lang-{lang}-01") == f"lang-{lang}-02"


def test_report_names_the_other_kinds(result):
    _, report = result
    kinds = {r["kind"] for r in report}
    assert {"duplicate_document", "headline_differs", "same_headline", "duplicate_headline"} <= kinds
    same = [r for r in report if r["kind"] == "same_headline"]
    assert {(r["doc"], r["same_as"]) for r in same} >= {("same-headline/politics-349.txt", "same-headline/politics-175.txt")}


def test_one_job_gives_the_same_outputs_and_report(result, tmp_path):
    out2, report2 = result
    run(SCRAPE, tmp_path / "out", Options(run=RunOptions(jobs=1)), report=tmp_path / "r.jsonl")
    one = {str(p.relative_to(tmp_path / "out")): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    two = {str(p.relative_to(out2)): p.read_bytes() for p in out2.rglob("*") if p.is_file()}
    assert one == two
    one_report = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()]
    assert one_report[:-1] == report2[:-1]  # the summary line (last) names the output folder
    assert {k: v for k, v in one_report[-1].items() if k != "out"} == {k: v for k, v in report2[-1].items() if k != "out"}


def test_bad_directory(runner, tmp_path):
    result = runner.invoke(main, ["run", str(FIXTURES / "run" / "bad"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for expected in ("binary.txt: binary data", "broken.jsonl:2: not valid JSON", "broken.jsonl:4: no 'text' field",
                     "broken.jsonl:5: 'text' is not a string", "empty.txt: empty file",
                     "not-object.json: a JSON list, not an object", "truncated.jsonl.gz:3: gzip data is truncated"):
        assert any(line.startswith(f"dedupe: error: {expected}") for line in lines), expected
    assert "skipped 7" in result.stderr
    assert (tmp_path / "out" / "ok.txt").is_file()
    assert len((tmp_path / "out" / "broken.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    readable = gzip.decompress((tmp_path / "out" / "truncated.jsonl.gz").read_bytes()).decode("utf-8")
    assert len(readable.splitlines()) == 2  # the records before the cut are kept
