"""The Dask engine: the same outputs and report as the local engine, even when a worker dies.

On ``LocalCluster(n_workers=2, threads_per_worker=1)`` with the curated scrape of fixtures/run
(every input format, five scripts). Skipped, saying why, where Dask is not installed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from dedupe import Options, RunOptions, run
from dedupe.cli import main

from .conftest import FIXTURES
from .test_run import findings

distributed = pytest.importorskip("distributed", reason="the Dask engine needs news-dedupe[dask]")

SCRAPE = FIXTURES / "run" / "scrape"


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], bytes]:
    tmp = tmp_path_factory.mktemp("local")
    run(SCRAPE, tmp / "out", Options(run=RunOptions(jobs=2)), report=tmp / "r.jsonl")
    return _outputs(tmp / "out"), findings(tmp / "r.jsonl")


def test_cli_engine_dask(runner, tmp_path, local):
    result = runner.invoke(main, ["run", str(SCRAPE), "--out", str(tmp_path / "out"), "--engine", "dask", "--jobs", "2"])
    assert result.exit_code == 0, result.stderr
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "out.report.jsonl")) == local


def test_dask_engine_gives_the_local_engines_outputs_and_report(local, tmp_path):
    # no scheduler: the run starts LocalCluster(n_workers=2, threads_per_worker=1) itself
    summary = run(SCRAPE, tmp_path / "out", Options(run=RunOptions(jobs=2, engine="dask")), report=tmp_path / "r.jsonl")
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local
    assert summary.documents > 80 and summary.dropped > 30


def test_a_worker_killed_mid_run_changes_nothing(local, tmp_path, monkeypatch):
    import dedupe.dask_engine as dask_engine

    monkeypatch.setattr(dask_engine, "FILES_A_TASK", 2)  # many small tasks, so some are under way
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)  # its nanny starts a new worker; Dask reruns its tasks
                killed.append(pid)
            time.sleep(0.02)

    try:
        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=cluster.scheduler_address))
        run(SCRAPE, tmp_path / "out", options, report=tmp_path / "r.jsonl")
        killer.join()
        assert killed, "no worker was busy to be killed"
        assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local
    finally:
        client.close()
        cluster.close()


def test_dask_engine_with_an_index_seeds_and_receives_the_run(tmp_path):
    # the index a run fills is the one the next run is checked against, as with the local engine
    from dedupe import Index

    seconds = []
    for engine in ("local", "dask"):
        options = Options(run=RunOptions(jobs=2, engine=engine))
        with Index.open(str(tmp_path / f"{engine}.sqlite")) as index:
            first = run(SCRAPE, tmp_path / f"{engine}1", options, report=tmp_path / f"{engine}1.jsonl", index=index)
            assert index.stats().articles == first.kept
            again = run(SCRAPE, tmp_path / f"{engine}2", options, report=tmp_path / f"{engine}2.jsonl", index=index)
        assert again.kept < first.kept // 5  # most articles were seen in the first run
        seconds.append((_outputs(tmp_path / f"{engine}2"), findings(tmp_path / f"{engine}2.jsonl")))
    assert seconds[0] == seconds[1]
