"""Every kind of bad input in fixtures/bad: one line naming it and the problem, the rest goes on.

Each case is one scrape directory: a real article (``0-good.txt``, another story) and one bad
input. `dedupe run` must print exactly one error (or warning) line for the bad input, write the
good article, keep its report valid, write nothing outside OUT_DIR and leave no temporary file,
and exit 1 when something was skipped (0 for a warning).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dedupe import clean_text
from dedupe.cli import main
from dedupe.errors import printable

from .conftest import FIXTURES
from .redis_server import redis_server

_spec = importlib.util.spec_from_file_location("make_bad", FIXTURES / "bad" / "make_bad.py")
assert _spec is not None and _spec.loader is not None
make_bad = importlib.util.module_from_spec(_spec)
sys.modules["make_bad"] = make_bad
_spec.loader.exec_module(make_bad)

GOOD = (FIXTURES / "clean" / "combo-01.canonical.txt").read_text(encoding="utf-8")  # a BBC story (SOURCE.md)
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def _messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("dedupe: error:", "dedupe: warning:"))]


def _scrape(tmp_path: Path, case: make_bad.Case) -> Path:
    scrape = tmp_path / "scrape"
    scrape.mkdir()
    (scrape / "0-good.txt").write_text(GOOD, encoding="utf-8")
    case.build(scrape)
    return scrape


def test_there_are_at_least_thirty_kinds():
    assert len(make_bad.CASES) >= 30
    assert len({c.kind for c in make_bad.CASES}) == len(make_bad.CASES)


def test_committed_static_folder_is_what_the_script_makes(tmp_path):
    make_bad.write_static(tmp_path)
    made = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    static = FIXTURES / "bad" / "static"
    committed = {p.relative_to(static).as_posix(): p.read_bytes() for p in static.rglob("*") if p.is_file()}
    assert made == committed


@pytest.mark.parametrize("case", make_bad.CASES, ids=lambda c: c.kind)
def test_bad_input_is_named_once_and_the_rest_goes_on(case, runner, tmp_path):
    if case.posix_only and os.name != "posix":
        pytest.skip("needs POSIX file names and symlinks")
    if case.kind == "unreadable file" and ROOT_USER:
        pytest.skip("root reads files whatever their mode")
    scrape = _scrape(tmp_path, case)
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(scrape), "--out", str(out), "--jobs", "1"])
    messages = _messages(result.stderr)
    if case.source:
        assert len(messages) == 1, result.stderr
        (message,) = messages
        assert message.startswith("dedupe: error:" if case.skipped else "dedupe: warning:"), message
        assert case.source in message and case.reason in message, message
        assert result.exit_code == (1 if case.skipped else 0), result.stderr
        if case.skipped:
            assert "skipped 1:" in result.stderr
    else:
        assert messages == [] and result.exit_code == 0, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    # the good article is written, as `dedupe clean` makes it, and a damaged but readable input too
    assert (out / "0-good.txt").read_text(encoding="utf-8") == clean_text(GOOD).text
    if case.output:
        written = (out / case.output).read_bytes()
        assert written.strip() and b"\x00" not in written
    # the report is valid JSON lines; nothing is written outside OUT_DIR; no temporary file is left
    for line in (tmp_path / "out.report.jsonl").read_text(encoding="utf-8").splitlines():
        json.loads(line)
    assert sorted(os.listdir(tmp_path)) == ["out", "out.report.jsonl", "scrape"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_record_ids_never_become_paths(runner, tmp_path):
    (case,) = [c for c in make_bad.CASES if c.kind == "ids that climb out of OUT_DIR"]
    scrape = _scrape(tmp_path, case)
    result = runner.invoke(main, ["run", str(scrape), "--out", str(tmp_path / "out"), "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["0-good.txt", "jsonl/ids.jsonl"]
    ids = [json.loads(line)["id"] for line in (tmp_path / "out" / "jsonl" / "ids.jsonl").read_text().splitlines()]
    assert ids == ["../../escape", "/etc/passwd"]  # kept as data, never used as a path


def test_messages_escape_what_would_break_a_line():
    assert printable("a\nb\u202e\udce9.txt") == "a\\nb\\u202e\\udce9.txt"
    assert printable("שלום news.txt") == "שלום news.txt"


# --- the index --------------------------------------------------------------------------------


def test_corrupt_index_is_one_line_and_nothing_is_written(runner, tmp_path):
    scrape = tmp_path / "scrape"
    scrape.mkdir()
    (scrape / "0-good.txt").write_text(GOOD, encoding="utf-8")
    index = tmp_path / "index.sqlite"
    index.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    result = runner.invoke(main, ["run", str(scrape), "--out", str(tmp_path / "out"), "--index", str(index)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(index) in result.stderr and "not a dedupe index" in result.stderr
    assert not (tmp_path / "out").exists()


def test_index_with_other_settings_is_refused(runner, tmp_path):
    scrape = tmp_path / "scrape"
    scrape.mkdir()
    (scrape / "0-good.txt").write_text(GOOD, encoding="utf-8")
    index = tmp_path / "index.sqlite"
    assert runner.invoke(main, ["run", str(scrape), "--out", str(tmp_path / "o1"), "--index", str(index)]).exit_code == 0
    db = sqlite3.connect(index)
    db.execute("UPDATE meta SET value = '64' WHERE key = 'num_perm'")
    db.commit()
    db.close()
    result = runner.invoke(main, ["run", str(scrape), "--out", str(tmp_path / "o2"), "--index", str(index)])
    assert result.exit_code == 2 and "other settings" in result.stderr and "num_perm=64" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    yield from redis_server(tmp_path_factory.mktemp("redis-bad"))


def test_redis_gone_mid_run_is_one_line_and_outputs_stay_whole(redis_url, tmp_path):
    # the server dies while the run is under way: a one-line error naming the index, exit 2, and
    # OUT_DIR holds only whole files (no temporary ones)
    scrape = tmp_path / "scrape"
    for i in range(300):
        (scrape / f"s{i % 3}").mkdir(parents=True, exist_ok=True)
        (scrape / f"s{i % 3}" / f"{i:03d}.txt").write_text(GOOD.replace("brewer", f"brewer number {i}"), "utf-8")
    target = redis_url + "#gone"
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedupe.cli", "run", str(scrape), "--out", str(out), "--index", target, "--jobs", "1"],
        stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while not client.exists("dedupe:gone:meta") and time.monotonic() < deadline:
        time.sleep(0.01)  # the run has opened its index: now the server goes
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection that asked for it
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, err
    assert target in lines[0] and "the index failed" in lines[0], lines[0]
    assert not out.exists()  # it failed while being asked: nothing was written
    assert not (tmp_path / "out.report.jsonl").exists()
