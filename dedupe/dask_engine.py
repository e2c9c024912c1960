"""The Dask engine (``engine="dask"``): a run's stages as Dask tasks, with the local engine's code.

1. **Map.** Each task reads, cleans and signs ``FILES_A_TASK`` input files (:func:`dedupe.dask_tasks.prepare_chunk`,
   the local engine's own per-article code) and keeps the result, a *chunk*, in its worker's
   memory: the articles' text (shingles, outputs, findings) stays there; only the compact records
   with the signatures go to the client, chunk by chunk in path order.
2. **Candidates.** Each chunk's signatures are cut into LSH bands, split by a hash of the band's
   rows, and grouped by a ``dask.bag`` task shuffle; each part finds its buckets by sorting the
   bands exactly, as the local engine does, and the client collects the pairs (but see step 4).
3. **Verification.** The pairs are cut into tasks of ``PAIRS_A_TASK``; the articles each task
   compares are picked from their chunks and moved to it by a second shuffle, and the verdicts
   come back to the client (but see step 4).
4. **Clusters.** The client finds connected components of the verified pairs; the keep policy
   settles them in tasks that receive their members' text the same way. Where the pairs do not
   fit the client (``components="cluster"``, or more than ``CLIENT_PAIRS`` of them), they never
   leave the cluster: they are shuffled into parts by their first article, each part's pairs
   pass through the client one part at a time to route their articles, their verdicts stay in
   the workers' memory, and the components are found there (:mod:`dedupe.dask_components`);
   the client receives one label per clustered article, the pairs held apart and the summary's
   similarity bins.
5. **Write.** Each chunk's kept articles are written by a task where the chunk is, through
   :mod:`dedupe.remote` for URLs; the client writes the report.

A worker that dies takes its chunks with it; Dask reruns the tasks that made them (the client
holds their futures), and since every task is deterministic the run's result does not change.
Dask may spill a worker's chunks to that worker's own disk under memory pressure; no stage needs
a file system the client shares.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import getitem
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dask_tasks as tasks
from .cluster import Clustering, Drops, PairVerdict, Verifier, kept_copies, verdict
from .config import Options
from .corpus import _seen_before, unseen_pairs, verify_into
from .dask_components import EMPTY
from .dask_components import components as cluster_components
from .dask_tasks import Box
from .errors import ConfigError
from .formats import Paths, iter_inputs
from .io import clear_staging
from .minhash import lsh_params
from .policy import (
    Cut,
    Floor,
    LocalSink,
    Sink,
    default_report_path,
    merge_pairs,
    staging_folder,
    writing_done,
)
from .records import Match, Problem
from .spill import DocBatch, DocInfo

if TYPE_CHECKING:
    from .corpus import Corpus, RunTexts, Work
    from .index import Index

FILES_A_TASK = 256  # input files a map task prepares
PAIRS_A_TASK = 2000  # candidate pairs a verification task compares
MEMBERS_A_TASK = 2000  # articles of the components a settling task ranks
PIECES_A_PARTITION = 16  # chunks' pieces in one partition of a shuffle's input bag
SHUFFLE_PARTS = 16  # parts the LSH bands are shuffled into
PREFETCH = 8  # chunks' findings asked for ahead of the report
CLIENT_PAIRS = 5_000_000  # more candidate pairs than this stay on the cluster (components="auto")
PAIRS_A_PART = 1_000_000  # candidate pairs kept on the cluster: about this many a part (at least SHUFFLE_PARTS parts)


def _rows(found: list[np.ndarray]) -> int:
    return sum(len(a) for a in found)


def _call(fn: Callable[..., Any], *boxed: Box) -> Callable[[Any], Any]:
    return lambda group: fn(group, *(b.value for b in boxed))


def default_report(out: str) -> Path:
    """Where the report goes by default: beside a local OUT_DIR; an OUT URL needs a report named."""
    from .remote import local_path

    local = local_path(out)
    if local is None:
        raise ConfigError("with an --out URL, name a local --report file")
    return default_report_path(local)


class _ClientTexts:
    """What the client reads of the articles' text: findings for the report, chunk by chunk in
    order, and now and then one article's output (a boilerplate paragraph quoted in the report)."""

    def __init__(self, engine: DaskEngine) -> None:
        self.engine = engine
        self._findings: dict[int, Any] = {}
        self._at = -1
        self._current: list[list[dict[str, Any]]] = []

    def shard(self, name: str) -> int:
        return int(name)

    def _local(self, doc: DocInfo) -> int:
        return doc.order - self.engine.offsets[doc.shard]

    def findings(self, doc: DocInfo) -> list[dict[str, Any]]:
        c, engine = doc.shard, self.engine
        if c != self._at:
            for ahead in range(c, min(c + PREFETCH, len(engine.chunks))):
                if ahead not in self._findings:
                    self._findings[ahead] = engine.client.submit(tasks.findings, engine.chunks[ahead])
            self._current, self._at = self._findings.pop(c).result(), c
        return self._current[self._local(doc)]

    def output(self, doc: DocInfo) -> str:
        result: str = self.engine.client.submit(tasks.output, self.engine.chunks[doc.shard], self._local(doc)).result()
        return result

    def paragraphs(self, doc: DocInfo) -> list[np.ndarray]:
        chunk = self.engine.chunks[doc.shard]
        result: list[np.ndarray] = self.engine.client.submit(tasks.paragraphs, chunk, self._local(doc)).result()
        return result


@dataclass(frozen=True, slots=True)
class PairsOnCluster:
    """Candidate pairs kept on the cluster: futures of ``(k, 2)`` arrays, a part each (by the
    first article), sorted and without repeats."""

    parts: list[Any]


class DaskEngine:
    """A run's steps on a Dask cluster: ``options.run.scheduler``, or a LocalCluster of ``jobs`` workers."""

    def __init__(self, root: str, out: str, options: Options, jobs: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:
            raise ConfigError("engine 'dask' needs Dask: pip install 'news-dedupe[dask]'") from e
        from . import remote

        self.root, self.out, self.options, self.remote = root, out, options, remote
        self.local_out = remote.local_path(out)
        for url in (root, out):
            if remote.is_url(url):
                remote.filesystem(url)  # fails early, naming the package to install
        scheduler = options.run.scheduler
        self._cluster = None if scheduler else LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        self.client = Client(scheduler or self._cluster)
        self.chunks: list[Any] = []  # each chunk's future (its data stays on a worker)
        self.offsets: list[int] = []  # the run number of each chunk's first article
        self.counts: list[int] = []
        self.texts: RunTexts = _ClientTexts(self)
        self.work: Work = self
        self._verdicts: list[Any] = []  # with pairs on the cluster: the last round's verdicts, a part each

    def inputs(self, problems: list[Problem]) -> Sequence[str]:
        return Paths(self.remote.list_urls(self.root, problems) if self.remote.is_url(self.root) else
                     iter_inputs(self.root, problems))

    def prepared(self, rels: Sequence[str]) -> Iterator[DocBatch]:
        """Pass one: each chunk's batch of records (its shard named by its number), in path order."""
        client = self.client
        groups = [rels[at : at + FILES_A_TASK] for at in range(0, len(rels), FILES_A_TASK)]
        self.chunks = [client.submit(tasks.prepare_chunk, self.root, g, self.options, pure=False) for g in groups]
        wanted = [client.submit(tasks.batch, chunk, str(c)) for c, chunk in enumerate(self.chunks)]
        total = 0
        for future in wanted:  # in order: the run does not depend on which worker finished first
            batch = future.result()
            future.release()
            self.offsets.append(total)
            self.counts.append(len(batch))
            total += len(batch)
            yield batch

    def _bag(self, futures: list[Any]) -> Any:
        import dask.bag as db
        from dask import delayed

        parts = [delayed(tasks.concat)(*futures[k : k + PIECES_A_PARTITION])
                 for k in range(0, len(futures), PIECES_A_PARTITION)]
        return db.from_delayed(parts)

    def seen_before(self, corpus: Corpus, index: Index) -> dict[int, Match]:
        return _seen_before(corpus, index)  # asked from the client

    def candidates(self, corpus: Corpus, first: frozenset[int]) -> np.ndarray | PairsOnCluster:
        """LSH candidate pairs through a shuffle of the bands (the local engine's buckets): rows of
        two run numbers on the client, or parts on the cluster (see the module's step 4)."""
        if len(corpus.docs) < 2:
            return EMPTY
        client = self.client
        sig = self.options.signature
        bands, rows = lsh_params(sig.lsh_threshold, sig.num_perm)
        parts = max(1, min(len(self.chunks), SHUFFLE_PARTS))
        futures = [client.submit(tasks.band_pieces, chunk, self.offsets[c], bands, rows, parts)
                   for c, chunk in enumerate(self.chunks) if self.counts[c]]
        shuffled = self._bag(futures).groupby(tasks.first, shuffle="tasks").map(tasks.bucket_pairs)
        found = client.compute(shuffled.to_delayed())
        where = self.options.run.components
        count = 0  # pairs found by several bands are counted once a band here
        if where != "client":
            count = sum(client.gather([client.submit(_rows, f) for f in found]))
        if where == "client" or (where == "auto" and count <= CLIENT_PAIRS):
            return corpus.plausible(unseen_pairs(merge_pairs(*(array for part in client.gather(found) for array in part)), first))
        parts = max(parts, -(-count // PAIRS_A_PART))
        splits = [client.submit(tasks.split_pairs, f, parts) for f in found]
        seen = self._value(np.array(sorted(first), np.int64))
        return PairsOnCluster([client.submit(tasks.unique_pairs, seen, *[client.submit(getitem, s, p) for s in splits])
                               for p in range(parts)])

    def _value(self, value: Any) -> Any:
        """A future of ``value`` that Dask can make again if the worker holding it dies (a scattered
        value cannot be: only the task that carries it can)."""
        return self.client.submit(tasks.unbox, Box(value), pure=False)

    def clustering(
        self, corpus: Corpus, candidates: np.ndarray | PairsOnCluster, cut: Cut,
        before: Clustering | None, first: frozenset[int],
    ) -> Clustering:
        """:meth:`Corpus.clustering` on the client, or, for pairs on the cluster, its steps there:
        verification part by part, the verdicts kept there (and reused by the second round for
        articles the cut leaves alone), components found there, settled as on the client."""
        if not isinstance(candidates, PairsOnCluster):
            return corpus.clustering(candidates, cut, before, first)
        client, docs = self.client, corpus.docs
        todo, reused = candidates.parts, [None] * len(candidates.parts)
        if before is not None:
            touched = self._value(corpus.paragraph_rows.touched(cut, len(docs)))
            halves = [client.submit(tasks.reuse, v, touched) for v in self._verdicts]
            reused = [client.submit(getitem, h, 0) for h in halves]
            todo = [client.submit(getitem, h, 1) for h in halves]
        verdicts = []
        for part, known in zip(todo, reused):
            pairs = part.result()  # one part's pairs on the client at a time, to route their articles
            job = self._verify_job(pairs.tolist(), cut, Floor.of(self.options))  # the parts' pairs are not yet judged
            found = client.compute(job) if job is not None else []
            verdicts.append(client.submit(tasks.verdict_table, found, known))
        self._verdicts = verdicts
        held = np.concatenate(client.gather([client.submit(tasks.held_pairs, v) for v in verdicts]))
        held = held[np.lexsort((held["j"], held["i"]))]
        merged, apart = zip(*client.gather([client.submit(tasks.bins, v) for v in verdicts]))
        comps = cluster_components(client, [client.submit(tasks.duplicate_pairs, v) for v in verdicts], len(verdicts))
        keeper, dropped = kept_copies(len(docs), self._settle(comps, cut, {}, first))
        return Clustering(keeper, dropped, tuple((int(r["i"]), int(r["j"]), verdict(r)) for r in held), None,
                          ([sum(b) for b in zip(*merged)], [sum(b) for b in zip(*apart)]))

    def _shuffled(self, payloads: list[Any], needs: list[set[int]], fn: Callable[..., Any], cut: Cut) -> list[Any]:
        """``fn((t, elements), cut, run options)`` for each task ``t``, its elements being its payload
        and the articles it ``needs``, picked from their chunks and moved to it by a shuffle."""
        result: list[Any] = self.client.compute(self._shuffle_job(payloads, needs, fn, cut)).result()
        return result

    def _shuffle_job(self, payloads: list[Any], needs: list[set[int]], fn: Callable[..., Any], cut: Cut) -> Any:
        """The bag of :meth:`_shuffled`, not yet computed."""
        import dask.bag as db

        wanted: dict[int, dict[int, list[int]]] = defaultdict(dict)
        for t, numbers in enumerate(needs):
            for n in sorted(numbers):
                c = bisect_right(self.offsets, n) - 1
                wanted[c].setdefault(t, []).append(n - self.offsets[c])
        futures = [self.client.submit(tasks.pieces, self.chunks[c], c, self.offsets[c], w) for c, w in sorted(wanted.items())]
        work = db.from_sequence([(t, "work", Box(p)) for t, p in enumerate(payloads)],
                                npartitions=max(1, len(payloads) // 8))
        shuffled = db.concat([self._bag(futures), work]).groupby(tasks.first, shuffle="tasks")
        return shuffled.map(_call(fn, Box(cut), Box(self.options.run)))

    def _verify_job(self, pairs: list[list[int]] | list[tuple[int, int]], cut: Cut, floor: Floor | None = None) -> Any:
        """The bag of the pairs' verdicts, ``PAIRS_A_TASK`` pairs a task (None for no pairs); with a
        ``floor``, the pairs that do not pass it are left out (see :func:`dedupe.dask_tasks.verify_group`)."""
        if not pairs:
            return None
        batches = [pairs[k : k + PAIRS_A_TASK] for k in range(0, len(pairs), PAIRS_A_TASK)]
        needs = [{n for p in batch for n in p} for batch in batches]
        return self._shuffle_job([(b, floor) for b in batches], needs, tasks.verify_group, cut)

    def verify(self, pairs: np.ndarray, cut: Cut, verifier: Verifier) -> np.ndarray:
        """Candidate pairs verified on the workers (a table of verdicts)."""
        job = self._verify_job(pairs.tolist(), cut)
        return tasks.verdict_table([] if job is None else self.client.compute(job).result(), None)

    def verify_into(
        self, table: np.ndarray, pairs: np.ndarray, todo: np.ndarray | None, cut: Cut, verifier: Verifier,
    ) -> None:
        verify_into(self, table, pairs, todo, cut, verifier)

    def settle(
        self, components: Sequence[list[int]], cut: Cut, known: Mapping[tuple[int, int], PairVerdict],
        verifier: Verifier, rank: Callable[[list[int]], list[int]], first: frozenset[int],
    ) -> list[Drops]:
        return self._settle(components, cut, known, first)

    def _settle(
        self, components: Sequence[list[int]], cut: Cut, known: Mapping[tuple[int, int], PairVerdict],
        first: frozenset[int],
    ) -> list[Drops]:
        """Components settled by the keep policy on the workers, about ``MEMBERS_A_TASK`` articles a
        task; the verdicts ``known`` go with them, the others are found again there."""
        if not components:
            return []
        batches: list[list[list[int]]] = [[]]
        size = 0
        for comp in components:
            if size >= MEMBERS_A_TASK:
                batches.append([])
                size = 0
            batches[-1].append(comp)
            size += len(comp)
        batch_of = {m: b for b, batch in enumerate(batches) for comp in batch for m in comp}
        verdicts: list[dict[tuple[int, int], PairVerdict]] = [{} for _ in batches]
        for (i, j), v in known.items():
            b = batch_of.get(i)
            if b is not None and batch_of.get(j) == b:
                verdicts[b][(i, j)] = v
        needs = [{m for comp in batch for m in comp} for batch in batches]
        firsts = [frozenset(m for m in members if m in first) for members in needs]
        payloads = list(zip(batches, verdicts, firsts))
        return [drops for done in self._shuffled(payloads, needs, tasks.settle_group, cut) for drops in done]

    def _sink(self) -> Sink:
        local, fields = self.local_out, self.options.fields
        if local is not None and not self.remote.is_url(self.root):
            return LocalSink(self.root, local, fields, staging_folder(local))
        staging = staging_folder(local) if local is not None else None
        return self.remote.UrlSink(self.root, self.out, fields, local, staging)

    def write_outputs(
        self, corpus: Corpus, result: Clustering, seen: dict[int, Match], cut: Cut, meanwhile: Callable[[], None]
    ) -> tuple[int, int, list[Problem]]:
        """Pass two: each chunk's kept articles written by a task where the chunk is (``meanwhile``
        runs here while they are)."""
        staging = staging_folder(self.local_out) if self.local_out is not None else None
        if staging is not None:
            clear_staging(staging)
        sink = self._sink()
        futures = []
        for c, chunk in enumerate(self.chunks):
            start = self.offsets[c]
            kept = [i - start for i in range(start, start + self.counts[c]) if result.keeper[i] == i and i not in seen]
            if kept:
                futures.append(self.client.submit(tasks.write_chunk, chunk, kept, Box(cut), sink, pure=False))
        meanwhile()
        return writing_done(self.client.gather(futures), staging)

    def places(self) -> tuple[str, str]:
        root = self.root if self.remote.is_url(self.root) else os.path.abspath(self.root)
        return root, self.out if self.local_out is None else str(self.local_out.resolve())

    def close(self) -> None:
        self.chunks = []
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
