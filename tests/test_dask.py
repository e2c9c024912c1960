"""The Dask engine: the same outputs and report as the local engine, even when a worker dies.

On ``LocalCluster(n_workers=2, threads_per_worker=1)`` with the curated scrape of fixtures/run
(every input format, five scripts), cut into chunks of a few files so that every shuffle,
verification and settling task crosses chunks. Skipped, saying why, where Dask is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
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


def _bins(report: Path) -> tuple[list[int], list[int]]:
    summary = json.loads(report.read_bytes().splitlines()[-1])
    return summary["similarity_merged"], summary["similarity_not_merged"]


@pytest.fixture(scope="module")
def local_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("local")
    run(SCRAPE, tmp / "out", Options(run=RunOptions(jobs=2)), report=tmp / "r.jsonl")
    return tmp / "r.jsonl"


@pytest.fixture(scope="module")
def local(local_report: Path) -> tuple[dict[str, bytes], bytes]:
    return _outputs(local_report.parent / "out"), findings(local_report)


@pytest.fixture
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small tasks: 9 chunks of the 65 fixture files, several verification and settling tasks."""
    import dedupe.dask_engine as dask_engine

    monkeypatch.setattr(dask_engine, "FILES_A_TASK", 8)
    monkeypatch.setattr(dask_engine, "PAIRS_A_TASK", 7)
    monkeypatch.setattr(dask_engine, "MEMBERS_A_TASK", 5)
    monkeypatch.setattr(dask_engine, "PIECES_A_PARTITION", 2)
    monkeypatch.setattr(dask_engine, "SHUFFLE_PARTS", 3)


@pytest.fixture(scope="module")
def cluster() -> distributed.LocalCluster:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


def test_cli_engine_dask(runner, tmp_path, local):
    result = runner.invoke(main, ["run", str(SCRAPE), "--out", str(tmp_path / "out"), "--engine", "dask", "--jobs", "2"])
    assert result.exit_code == 0, result.stderr
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "out.report.jsonl")) == local


def test_cli_components_on_the_cluster(runner, tmp_path, local, cluster):
    args = ["run", str(SCRAPE), "--out", str(tmp_path / "out"), "--engine", "dask", "--components", "cluster",
            "--scheduler", cluster.scheduler_address]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "out.report.jsonl")) == local


def test_cli_components_need_the_dask_engine(runner, tmp_path):
    result = runner.invoke(main, ["run", str(SCRAPE), "--out", str(tmp_path / "out"), "--components", "cluster"])
    assert result.exit_code == 2 and "engine 'dask'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_cluster_started_with_the_dask_commands(tmp_path, local):
    # the README's real-cluster recipe on one machine: `dask scheduler`, `dask worker` and the
    # `dedupe` command, three separate programs that meet only through the scheduler's address
    bin_dir = Path(sys.executable).parent
    info = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--scheduler-file", str(info), "--port", "0",
                                  "--dashboard-address", ":0"], stderr=subprocess.DEVNULL)
    workers = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        workers = subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1",
                                    "--local-directory", str(tmp_path / "workers")], stderr=subprocess.DEVNULL)
        with distributed.Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        done = subprocess.run([str(bin_dir / "dedupe"), "run", str(SCRAPE), "--out",
                               str(tmp_path / "out"), "--engine", "dask", "--scheduler", address,
                               "--components", "cluster"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert (_outputs(tmp_path / "out"), findings(tmp_path / "out.report.jsonl")) == local
    finally:
        for process in (workers, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)


def test_dask_engine_gives_the_local_engines_outputs_and_report(local, tmp_path, small_tasks):
    # no scheduler: the run starts LocalCluster(n_workers=2, threads_per_worker=1) itself
    summary = run(SCRAPE, tmp_path / "out", Options(run=RunOptions(jobs=2, engine="dask")), report=tmp_path / "r.jsonl")
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local
    assert summary.documents > 80 and summary.dropped > 30


def _forbid_clustering_on_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from dedupe.corpus import Corpus

    def gathered(*args: object, **kwargs: object) -> None:
        raise AssertionError("the candidate pairs came to the client")

    monkeypatch.setattr(Corpus, "clustering", gathered)


@pytest.fixture
def pairs_stay_on_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the client gathers the candidate pairs (the client-side clustering)."""
    _forbid_clustering_on_the_client(monkeypatch)


@pytest.mark.parametrize("components", ["cluster", "auto"])
def test_pairs_kept_on_the_cluster_give_the_local_engines_outputs_and_report(
    local, local_report, tmp_path, monkeypatch, small_tasks, cluster, pairs_stay_on_the_cluster, components
):
    # candidate pairs, verdicts and components stay on the workers; auto chooses that past CLIENT_PAIRS
    import dedupe.dask_engine as dask_engine

    monkeypatch.setattr(dask_engine, "CLIENT_PAIRS", 10)
    monkeypatch.setattr(dask_engine, "PAIRS_A_PART", 20)  # more parts than the band shuffle's
    options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=cluster.scheduler_address, components=components))
    summary = run(SCRAPE, tmp_path / "out", options, report=tmp_path / "r.jsonl")
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local
    assert _bins(tmp_path / "r.jsonl") == _bins(local_report)  # every candidate pair's verdict counted once
    assert summary.dropped > 30 and sum(_bins(local_report)[1]) > 0  # merged pairs and pairs kept apart


def test_the_boilerplate_round_on_the_cluster_verifies_again_what_the_cut_touched(tmp_path, monkeypatch, small_tasks):
    # the second round reuses the verdicts of untouched pairs, kept on the workers, and verifies
    # the rest again: here that undoes the first round's merging of the short stories. Every
    # worker is killed as the second round's components start: all that the workers held (the
    # verdicts, the articles a round needs) is made again from the tasks that made it.
    import dedupe.dask_engine as dask_engine

    from .test_boilerplate import make_scrape

    scrape = make_scrape(tmp_path / "scrape")
    calls: list[int] = []
    real_components = dask_engine.cluster_components

    def components_after_killing_every_worker(client, edges, parts):
        calls.append(1)
        if len(calls) == 2:
            for pid in client.run(os.getpid).values():
                os.kill(pid, signal.SIGKILL)
        return real_components(client, edges, parts)

    results = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        for engine in ("local", "dask"):
            if engine == "dask":
                _forbid_clustering_on_the_client(monkeypatch)
                monkeypatch.setattr(dask_engine, "cluster_components", components_after_killing_every_worker)
            options = Options(run=RunOptions(jobs=2, engine=engine, scheduler=c.scheduler_address if engine == "dask"
                                             else None, components="cluster" if engine == "dask" else "auto"))
            summary = run(scrape, tmp_path / engine, options, report=tmp_path / f"{engine}.jsonl")
            assert summary.kept == 8 and summary.boilerplate_removed == 8
            results.append((_outputs(tmp_path / engine), findings(tmp_path / f"{engine}.jsonl"),
                            _bins(tmp_path / f"{engine}.jsonl")))
    assert len(calls) == 2 and results[0] == results[1]


def test_pairs_on_the_cluster_when_there_are_none(tmp_path, cluster, monkeypatch):
    # three different stories: no candidate pair, no component; every article kept as it is
    import shutil

    scrape = tmp_path / "scrape"
    scrape.mkdir()
    for name in ("business-120.txt", "politics-001.txt", "tech-019.txt"):
        shutil.copy(SCRAPE / "bbc" / name, scrape / name)
    _forbid_clustering_on_the_client(monkeypatch)
    options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=cluster.scheduler_address, components="cluster"))
    summary = run(scrape, tmp_path / "out", options, report=tmp_path / "r.jsonl")
    assert summary.kept == 3 and summary.dropped == 0
    assert sum(map(sum, _bins(tmp_path / "r.jsonl"))) == 0


def test_auto_keeps_a_small_runs_pairs_on_the_client(local, tmp_path, small_tasks, cluster, monkeypatch):
    from dedupe.corpus import Corpus

    asked: list[int] = []
    real = Corpus.clustering
    monkeypatch.setattr(Corpus, "clustering", lambda self, *a, **k: asked.append(1) or real(self, *a, **k))
    options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=cluster.scheduler_address))
    run(SCRAPE, tmp_path / "out", options, report=tmp_path / "r.jsonl")
    assert asked and (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local


def test_components_on_the_cluster_match_union_find(cluster):
    # the steps' tasks on real workers (tests/test_components.py checks the algorithm on many graphs)
    import numpy as np

    from dedupe.cluster import _components
    from dedupe.dask_components import components

    rng = np.random.default_rng(7)
    with distributed.Client(cluster.scheduler_address) as client:
        for trial in range(4):
            n = int(rng.integers(2, 400))
            if trial % 3 == 0:
                order = rng.permutation(n)
                edges = np.sort(np.column_stack([order[:-1], order[1:]]), axis=1)
            else:
                edges = np.sort(rng.integers(0, n, (int(rng.integers(0, 2 * n)), 2)), axis=1)
            futures = [client.scatter(part) for part in np.array_split(edges, 3)]
            want = _components([(int(a), int(b)) for a, b in edges if a != b])
            assert components(client, futures, int(rng.integers(1, 5))) == want


def test_a_worker_killed_mid_run_changes_nothing(local, tmp_path, monkeypatch):
    import dedupe.dask_engine as dask_engine

    monkeypatch.setattr(dask_engine, "FILES_A_TASK", 2)  # many small tasks, so some are under way
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
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


@pytest.mark.parametrize("components", ["auto", "cluster"])
def test_dask_engine_with_an_index_seeds_and_receives_the_run(tmp_path, small_tasks, cluster, components):
    # the index a run fills is the one the next run is checked against, as with the local engine
    from dedupe import Index

    seconds = []
    for engine in ("local", "dask"):
        scheduler = cluster.scheduler_address if engine == "dask" else None
        where = components if engine == "dask" else "auto"
        options = Options(run=RunOptions(jobs=2, engine=engine, scheduler=scheduler, components=where))
        with Index.open(str(tmp_path / f"{engine}.sqlite")) as index:
            first = run(SCRAPE, tmp_path / f"{engine}1", options, report=tmp_path / f"{engine}1.jsonl", index=index)
            assert index.stats().articles == first.kept
            again = run(SCRAPE, tmp_path / f"{engine}2", options, report=tmp_path / f"{engine}2.jsonl", index=index)
        assert again.kept < first.kept // 5  # most articles were seen in the first run
        through = [json.loads(x) for x in (tmp_path / f"{engine}2.jsonl").read_text().splitlines() if '"via"' in x]
        assert through and all(t["reason"] == "in_index" for t in through)  # copies dropped through seen articles
        seconds.append((_outputs(tmp_path / f"{engine}2"), findings(tmp_path / f"{engine}2.jsonl")))
    assert seconds[0] == seconds[1]


def _kill_the_busiest_worker(client: distributed.Client) -> int:
    """SIGKILL the worker holding the most results (chunks): Dask must remake them from their tasks."""
    held = client.has_what()
    worker = max(held, key=lambda w: len(held[w]))
    pid = client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    return int(pid)


@pytest.mark.parametrize("stage", ["verify", "components", "write_outputs"])
def test_a_worker_killed_before_verification_or_writing_changes_nothing(local, tmp_path, monkeypatch, small_tasks, stage):
    # the worker dies holding chunks the stage needs: their map tasks run again, the result is the same
    import dedupe.dask_engine as dask_engine

    killed: list[int] = []
    real = getattr(dask_engine.DaskEngine, stage, None)

    def kill_first(self, *args):
        if not killed:
            killed.append(_kill_the_busiest_worker(self.client))
        return real(self, *args)

    if stage == "components":  # pairs, verdicts and components on the cluster: the worker dies holding verdicts
        def components_after_a_kill(client, edges, parts):
            if not killed:
                killed.append(_kill_the_busiest_worker(client))
            return real_components(client, edges, parts)

        real_components = dask_engine.cluster_components
        monkeypatch.setattr(dask_engine, "cluster_components", components_after_a_kill)
    else:
        monkeypatch.setattr(dask_engine.DaskEngine, stage, kill_first)
    where = "cluster" if stage == "components" else "auto"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=c.scheduler_address, components=where))
        run(SCRAPE, tmp_path / "out", options, report=tmp_path / "r.jsonl")
    assert killed
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local


def test_workers_never_use_the_clients_temporary_folder(local, tmp_path, monkeypatch, small_tasks):
    # workers with a TMPDIR of their own; the client's temporary folder stays empty through the run
    client_tmp, worker_tmp = tmp_path / "client-tmp", tmp_path / "worker-tmp"
    client_tmp.mkdir()
    worker_tmp.mkdir()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        local_directory=str(worker_tmp), env={"TMPDIR": str(worker_tmp)},
    ) as c:
        monkeypatch.setattr(tempfile, "tempdir", str(client_tmp))
        options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=c.scheduler_address))
        run(SCRAPE, tmp_path / "out", options, report=tmp_path / "r.jsonl")
        with distributed.Client(c) as client:
            assert set(client.run(tempfile.gettempdir).values()) == {str(worker_tmp)}
    assert list(client_tmp.iterdir()) == []
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local


def test_file_urls_for_the_scrape_and_the_outputs(local, tmp_path, small_tasks, cluster):
    # listing and reading through fsspec (file://), outputs written as to a local path (staging + rename)
    options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=cluster.scheduler_address))
    summary = run(SCRAPE.as_uri(), (tmp_path / "out").as_uri(), options, report=tmp_path / "r.jsonl")
    assert (_outputs(tmp_path / "out"), findings(tmp_path / "r.jsonl")) == local
    assert summary.files == 65 and not summary.skipped and not (tmp_path / ".out.dedupe-staging").exists()


def test_memory_urls_on_threaded_workers(local, tmp_path, small_tasks):
    # memory:// is one process's: seen by workers that are threads of this process, not by worker
    # processes. This runs fsspec reading and the one-open-a-file writer (an object store's path).
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in SCRAPE.rglob("*"):
        if path.is_file():
            fs.pipe(f"/scrape/{path.relative_to(SCRAPE).as_posix()}", path.read_bytes())
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
            options = Options(run=RunOptions(jobs=2, engine="dask", scheduler=c.scheduler_address))
            summary = run("memory://scrape", "memory://out", options, report=tmp_path / "r.jsonl")
        written = {p[len("/out/"):]: fs.cat_file(p) for p in fs.find("/out")}
        assert (written, findings(tmp_path / "r.jsonl")) == local
        assert summary.files == 65 and not summary.skipped
    finally:
        fs.rm("/scrape", recursive=True)
        if fs.exists("/out"):
            fs.rm("/out", recursive=True)


def test_a_url_without_its_fsspec_package_is_one_line(runner, tmp_path):
    pytest.importorskip("fsspec")
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed")
    result = runner.invoke(main, ["run", "s3://bucket/scrape", "--out", str(tmp_path / "out"), "--engine", "dask"])
    assert result.exit_code == 2  # a usage error: nothing was run
    assert "pip install s3fs" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_out_url_needs_a_report_file(runner, tmp_path):
    result = runner.invoke(main, ["run", str(SCRAPE), "--out", "memory://out", "--engine", "dask"])
    assert result.exit_code == 2 and "--report" in result.stderr


@pytest.mark.parametrize("components", ["client", "cluster"])
def test_the_dask_engine_leaves_out_the_pairs_under_the_floor_as_locally(tmp_path, small_tasks, cluster, components):
    # articles of real lines drawn at random: hundreds of pairs share a band by chance and fall
    # under the signature floor. On the client they are left out with the candidates; on the
    # cluster the verification tasks leave them out (no verdict, not counted in the bins)
    from .test_candidates import write_chance_scrape

    write_chance_scrape(tmp_path / "scrape")
    results = []
    for engine in ("local", "dask"):
        options = Options(run=RunOptions(jobs=2, engine=engine, components=components if engine == "dask" else "auto",
                                         scheduler=cluster.scheduler_address if engine == "dask" else None))
        run(tmp_path / "scrape", tmp_path / engine, options, report=tmp_path / f"{engine}.jsonl")
        results.append((_outputs(tmp_path / engine), findings(tmp_path / f"{engine}.jsonl"),
                        _bins(tmp_path / f"{engine}.jsonl")))
    assert results[0] == results[1]
