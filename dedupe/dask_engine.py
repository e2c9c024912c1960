"""The map step of a run on a Dask cluster (``engine="dask"``): the same work, other machines.

Each Dask task reads, cleans and signs a chunk of input files with the local engine's own
function, writing the articles' text to that worker process's spill shard and returning the
compact records; the run then goes on as on one machine (candidates, verification, keep policy
and writing are the local engine's). A task Dask retries after a worker died writes its articles
again to the new worker's shard, and the records it returns point there, so a retry changes
nothing. The spill folder must be one the workers and the client both see: on a LocalCluster it
is the run's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .config import Options
from .errors import ConfigError
from .records import Problem
from .spill import DocInfo

FILES_A_TASK = 64  # input files a Dask task prepares


def _prepare_chunk(root: str, rels: list[str], options: Options, folder: str) -> list[tuple[str, str, list[Any]]]:
    from .engine import _prepare_file

    return [_prepare_file((root, rel, options, folder)) for rel in rels]


def prepared_files(
    root: str, rels: list[str], options: Options, jobs: int, folder: str
) -> Iterator[tuple[str, str, list[DocInfo | Problem]]]:
    """Pass one on Dask: each file's (path, spill shard, records), in path order."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ConfigError("engine 'dask' needs Dask: pip install 'news-dedupe[dask]'") from e
    scheduler = options.run.scheduler
    cluster = None if scheduler else LocalCluster(
        n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(scheduler or cluster)
    try:
        chunks = [rels[at : at + FILES_A_TASK] for at in range(0, len(rels), FILES_A_TASK)]
        futures = [client.submit(_prepare_chunk, root, chunk, options, folder, pure=False) for chunk in chunks]
        for future in futures:  # in order: the run does not depend on which worker finished first
            yield from future.result()
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
