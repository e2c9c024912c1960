"""Crash safety: `dedupe run` killed (SIGKILL) at random points, then run again.

Whenever it is killed, OUT_DIR holds only whole files, each the same as an uninterrupted run
writes; the report is absent or whole; the SQLite index passes its integrity check and holds
either nothing of the run or all of it. Run again, it gives the uninterrupted run's outputs and
report byte for byte. Real text: the BBC articles of fixtures/clean, with wire copies.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import FIXTURES
from .test_run import findings, syndicated

ROOT = Path(__file__).resolve().parent.parent
KILL_POINTS = 8

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kills a process group")


def _scrape(root: Path) -> Path:
    texts = sorted((FIXTURES / "clean").glob("*.canonical.txt"))
    for n, path in enumerate(texts):
        head, *paras = path.read_text(encoding="utf-8").strip().split("\n\n")
        for site in range(6):  # each story on six sites, some as wire copies
            text = "\n\n".join([head, *paras]) + "\n" if site % 2 == 0 else syndicated(head, paras, agency="AP")
            folder = root / f"site-{site}" / f"{n % 7}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{path.stem}.txt").write_text(text.replace("the ", f"the {'' if site < 3 else 'very '}", 1),
                                                     encoding="utf-8")
    return root


def _command(scrape: Path, out: Path, index: Path) -> list[str]:
    return [sys.executable, "-m", "dedupe.cli", "run", str(scrape), "--out", str(out), "--index", str(index),
            "--jobs", "2"]


def _files(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _indexed(index: Path) -> int:
    if not index.exists():
        return 0
    db = sqlite3.connect(index)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return db.execute("SELECT count(*) FROM docs").fetchone()[0] if "docs" in tables else 0
    finally:
        db.close()


def test_killed_runs_leave_whole_files_and_a_rerun_finishes_the_job(tmp_path):
    scrape = _scrape(tmp_path / "scrape")
    ref_out, ref_index = tmp_path / "ref", tmp_path / "ref.sqlite"
    started = time.monotonic()
    done = subprocess.run(_command(scrape, ref_out, ref_index), cwd=ROOT, capture_output=True, text=True)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    reference = _files(ref_out)
    report = findings(tmp_path / "ref.report.jsonl")
    kept = _indexed(ref_index)
    assert len(reference) >= 50 and kept == len(reference)  # one copy of each story

    rng = random.Random(7)
    survived = 0
    spills = tmp_path / "tmp"  # a killed run's spill stays behind (RELIABILITY.md): here, not in the system's /tmp
    spills.mkdir()
    killable = {**os.environ, "TMPDIR": str(spills)}
    for point in range(KILL_POINTS):
        out, index = tmp_path / f"out{point}", tmp_path / f"idx{point}.sqlite"
        rep = tmp_path / f"out{point}.report.jsonl"
        proc = subprocess.Popen(_command(scrape, out, index), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, env=killable)
        time.sleep(rng.uniform(0.05, took))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)  # let the killed workers go
        # what a crash leaves: whole files only, each as the full run writes it
        partial = _files(out)
        assert set(partial) <= set(reference)
        assert all(partial[k] == reference[k] for k in partial)
        assert not rep.exists() or findings(rep) == report
        assert _indexed(index) in (0, kept)
        if _indexed(index) == kept:
            continue  # killed after its last step: the run was complete
        survived += 1
        again = subprocess.run(_command(scrape, out, index), cwd=ROOT, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert _files(out) == reference
        assert findings(rep) == report
        assert _indexed(index) == kept
        assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))
    assert survived >= KILL_POINTS // 2  # most kill points fell inside the run


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to tell a zombie")
def test_files_of_an_ended_process_not_yet_reaped_are_cleared(tmp_path):
    # a killed run's workers stay zombies until whoever inherited them reaps them: their half-written
    # files go at the next run's start all the same, while a living process's stay
    from dedupe.io import clear_staging

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while True:  # ended, not yet waited for: a zombie
        with open(f"/proc/{child.pid}/stat", "rb") as f:
            if f.read().rpartition(b")")[2].split()[0] == b"Z":
                break
        time.sleep(0.01)
    try:
        ended, living = tmp_path / f"{child.pid}-8.tmp", tmp_path / f"{os.getpid()}-3.tmp"
        ended.write_bytes(b"")
        living.write_bytes(b"")
        clear_staging(tmp_path)
        assert not ended.exists() and living.exists()
    finally:
        child.wait()
