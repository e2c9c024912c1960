"""A corpus run: prepare every article, find candidates, verify, cluster, keep, write.

The steps are the same on both engines; where they run is the engine's. The local engine:
pass one (in worker processes) reads and prepares each file's articles in path order; each
worker spills what later steps need of an article's text (its shingles, its output) to its own
files (:mod:`dedupe.spill`), and the run writes the articles' records and signatures to files
of its own (:class:`dedupe.corpus.Corpus`), so memory holds a few bytes per article, and the
candidate pairs as the table their verdicts are written into (18 bytes a pair); freed heap goes back
to the OS between the steps (:func:`dedupe.memory.give_back_memory`).
Then LSH candidates are verified and clustered (see :mod:`dedupe.cluster`), and pass two
writes the kept articles and the report; candidate verification, clusters and writing run in
worker processes forked from the run, which read its state and spill instead of receiving
them. The Dask engine (:mod:`dedupe.dask_engine`) runs the same functions as Dask tasks. The
index, if any, is updated last. The result does not depend on ``jobs``, on the engine, or on
listing order.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cluster import (
    VERDICTS,
    Clustering,
    Drops,
    PairVerdict,
    Verifier,
    settle,
    table_pairs,
    verdict_rows,
    verdict_triples,
)
from .config import Options
from .corpus import Corpus, Engine, RunTexts, Work, _candidates, _seen_before, seen_among
from .errors import ConfigError, IndexFileError
from .formats import Paths, iter_inputs, read_articles
from .index import QUERY_BATCH, Index
from .io import atomic_writer, clear_staging, clear_temps
from .memory import give_back_memory
from .policy import (
    Cut,
    LocalSink,
    default_report_path,
    prepare_files,
    staging_folder,
    write_file,
    writing_done,
)
from .records import Match, Problem
from .runreport import Gathered, RunSummary, _doc_findings, _summary_line, _where, _write_json_line, binned
from .spill import DocBatch, Spill, SpillWriter

__all__ = ["RunSummary", "default_report_path", "run", "staging_folder"]

_WRITER: SpillWriter | None = None  # this process's spill shard (each worker has its own)


def _prepare_files(task: tuple[str, Sequence[str], Options, str]) -> DocBatch:
    """Read and prepare a few input files; their articles' text goes to this process's spill shard."""
    global _WRITER
    root, rels, options, folder = task
    if _WRITER is None or _WRITER.folder != folder or _WRITER.pid != os.getpid():
        _WRITER = SpillWriter(folder, f"w{os.getpid()}")  # a new run, or a new worker
    files = prepare_files(rels, lambda rel: read_articles(root, rel, options.fields), options, _WRITER)
    _WRITER.flush()  # a pool's workers end without flushing
    return DocBatch.of(_WRITER.name, files)


def _close_writer() -> None:
    global _WRITER
    if _WRITER is not None and _WRITER.pid == os.getpid():
        _WRITER.close()
    _WRITER = None


class _Pool(multiprocessing.pool.Pool):
    """A process pool whose worker-minding thread wakes only when a worker ends or the pool's
    state changes. The standard pool also wakes it whenever a result waits in the result pipe,
    and it spins until the result thread has read it: tens of thousands of wake-ups in pass one of
    20,000 articles (one here), 0.25 of the parent's 0.55 CPU seconds, taken from the workers it
    shares the cores with."""

    def _get_sentinels(self) -> list[Any]:
        return [self._change_notifier._reader]  # type: ignore[attr-defined]


def _pool(jobs: int, method: str) -> _Pool:
    return _Pool(jobs, context=multiprocessing.get_context(method))


def _prepared_files(root: str, rels: Sequence[str], options: Options, jobs: int, folder: str) -> Iterator[DocBatch]:
    # files go to the workers a few at a time: one pipe message per file costs the parent ~0.2 ms,
    # which on two cores slows the workers it shares them with, and a worker prepares a batch's
    # articles together (see prepare_files)
    size = max(1, min(32, len(rels) // (8 * max(1, jobs))))
    tasks = ((root, rels[k : k + size], options, folder) for k in range(0, len(rels), size))  # made as taken
    if jobs <= 1 or len(rels) <= 1:
        yield from map(_prepare_files, tasks)
        return
    with _pool(jobs, "spawn" if os.name != "posix" else "fork") as pool:
        yield from pool.imap(_prepare_files, tasks)


# Runs of this many articles collect reference cycles between their steps: a safety net, as no step
# is known to leave a cycle holding its data (tests/test_memory.py checks the verifier and the
# bodies); a collection costs 10-20 ms, which smaller runs, paying it five times, felt.
COLLECT_ARTICLES = 100_000


PARALLEL_PAIRS = 1000  # fewer candidate pairs than this are verified in the main process
PARALLEL_COMPONENTS = 200  # ... and fewer clusters than this settled there
PARALLEL_LOOKUPS = 2 * QUERY_BATCH  # ... and fewer articles than this looked up in an index there
_SHARED: Any = None  # the state forked workers inherit (see _fork_map)


def _call_shared(item: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    fn, task = item
    return fn(_SHARED, task)


def _fork_map(
    fn: Callable[[Any, Any], Any], tasks: list[Any], jobs: int, shared: Any, meanwhile: Callable[[], None] | None = None
) -> list[Any]:
    """``[fn(shared, task) for task in tasks]``, in ``jobs`` forked workers where the OS can fork.

    Workers inherit ``shared`` (the run's articles, its spill, its verifier) from the parent's
    memory instead of receiving it pickled; only tasks and results cross the pipe. ``meanwhile``
    runs in this process while the workers work (first, where there are none).
    """
    return list(_fork_imap(fn, tasks, jobs, shared, meanwhile))


def _fork_imap(
    fn: Callable[[Any, Any], Any], tasks: list[Any], jobs: int, shared: Any, meanwhile: Callable[[], None] | None = None
) -> Iterator[Any]:
    """:func:`_fork_map`, its results yielded in order as they come (none held longer than needed)."""
    global _SHARED
    if jobs <= 1 or len(tasks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        if meanwhile is not None:
            meanwhile()
        yield from (fn(shared, t) for t in tasks)
        return
    _SHARED = shared
    try:
        with _pool(jobs, "fork") as pool:
            results = pool.imap(_call_shared, [(fn, t) for t in tasks], chunksize=1)
            if meanwhile is not None:
                meanwhile()
            yield from results
    finally:
        _SHARED = None


def _chunks(items: Sequence[Any] | np.ndarray, jobs: int) -> list[Any]:
    """About eight chunks a worker, so an uneven chunk does not leave a core idle."""
    size = max(1, -(-len(items) // (8 * max(1, jobs))))
    return [items[k : k + size] for k in range(0, len(items), size)]


def _settle_components(
    shared: tuple[Verifier, Callable[[list[int]], list[int]]], components: Sequence[list[int]]
) -> np.ndarray:
    """The drops of these components, as a verdict table of (dropped, kept) rows: 18 bytes a drop
    sent back, where a tuple and a verdict object each take about 200 once unpickled."""
    verifier, rank = shared
    return verdict_rows(drop for c in components for drop in settle(c, verifier, rank))


def _looked_up(shared: tuple[Corpus, str, Options], rows: range) -> list[tuple[int, Match]]:
    """:func:`dedupe.corpus.seen_among` in a worker, through a connection to the index of its own (a
    connection must not cross a fork)."""
    corpus, target, options = shared
    with Index.open(target, options) as index:
        return seen_among(corpus, index, rows)


def _verify_pairs(shared: tuple[Verifier, np.ndarray, np.ndarray | None], rows: range) -> np.ndarray:
    """Verdicts of the pairs of these rows (those to do, when ``todo`` is given: picked here, from
    the arrays the worker inherits, not sent)."""
    verifier, pairs, todo = shared
    block = pairs[rows.start : rows.stop]
    if todo is not None:
        block = block[todo[rows.start : rows.stop]]
    return verdict_rows((i, j, verifier.verify(i, j)) for i, j in block.tolist())


class _LocalWork:
    """Verification and settling in worker processes forked from the run (when there is enough of them)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def verify(self, pairs: np.ndarray, cut: Cut, verifier: Verifier) -> np.ndarray:
        """Every pair's verdict, as :meth:`verify_into` a new table gives it (in this process for one
        job or few pairs, as a run's candidate table is filled)."""
        table = np.empty(len(pairs), VERDICTS)  # filled block by block: one table in memory, not two
        self.verify_into(table, pairs, None, cut, verifier)
        return table

    def verify_into(
        self, table: np.ndarray, pairs: np.ndarray, todo: np.ndarray | None, cut: Cut, verifier: Verifier,
    ) -> None:
        self._fill(table, pairs, todo, len(pairs) if todo is None else int(np.count_nonzero(todo)), verifier)

    def _fill(self, table: np.ndarray, pairs: np.ndarray, todo: np.ndarray | None, count: int,
              verifier: Verifier) -> None:
        """Verify the ``count`` pairs to do (all when ``todo`` is None) into their rows of ``table``:
        the workers inherit the pairs and are sent ranges of rows."""
        jobs = self.jobs if count > PARALLEL_PAIRS else 1
        blocks = _chunks(range(len(pairs)), jobs)
        for rows, found in zip(blocks, _fork_imap(_verify_pairs, blocks, jobs, (verifier, pairs, todo))):
            if todo is None:
                table[rows.start : rows.stop] = found
            else:
                table[rows.start + np.flatnonzero(todo[rows.start : rows.stop])] = found

    def settle(
        self, components: Sequence[list[int]], cut: Cut, known: Mapping[tuple[int, int], PairVerdict],
        verifier: Verifier, rank: Callable[[list[int]], list[int]], first: frozenset[int],
    ) -> Iterable[Drops]:
        if self.jobs <= 1 or len(components) < PARALLEL_COMPONENTS:
            return [settle(c, verifier, rank) for c in components]
        tables = _fork_imap(_settle_components, _chunks(components, self.jobs), self.jobs, (verifier, rank))
        return map(verdict_triples, tables)  # a chunk's drops as objects at a time, as the clustering takes them


class _Local:
    """The local engine: worker processes of this machine, the spill in a temporary folder."""

    texts: RunTexts

    def __init__(self, root: str, out: Path, options: Options, jobs: int) -> None:
        self.root, self.out, self.options, self.jobs = root, out, options, jobs
        self._tmp = tempfile.TemporaryDirectory(prefix="dedupe-")
        self._spill = self.texts = Spill(self._tmp.name)
        self.work: Work = _LocalWork(jobs)

    def inputs(self, problems: list[Problem]) -> Sequence[str]:
        return Paths(iter_inputs(self.root, problems))

    def prepared(self, rels: Sequence[str]) -> Iterator[DocBatch]:
        return _prepared_files(self.root, rels, self.options, self.jobs, self._tmp.name)

    def seen_before(self, corpus: Corpus, index: Index) -> dict[int, Match]:
        """Asked in the workers, each through its own connection, where there are enough articles and
        the index is one another connection sees (in the parent, the lookups of 100,000 articles in an
        index of a million took 18 s with one core idle)."""
        n, target = len(corpus.docs), index.target
        if self.jobs <= 1 or n < PARALLEL_LOOKUPS or target is None:
            return _seen_before(corpus, index)
        found = _fork_imap(_looked_up, _chunks(range(n), self.jobs), self.jobs, (corpus, target, index.options))
        return {i: match for part in found for i, match in part}

    def candidates(self, corpus: Corpus, first: frozenset[int]) -> np.ndarray:
        return _candidates(corpus, self.options, first)

    def clustering(
        self, corpus: Corpus, candidates: np.ndarray, cut: Cut, before: Clustering | None,
        first: frozenset[int],
    ) -> Clustering:
        return corpus.clustering(candidates, cut, before, first)

    def write_outputs(
        self, corpus: Corpus, result: Clustering, seen: dict[int, Match], cut: Cut, meanwhile: Callable[[], None]
    ) -> tuple[int, int, list[Problem]]:
        return _write_outputs(self.root, self.out, corpus, result, seen, cut, self.jobs, meanwhile)

    def places(self) -> tuple[str, str]:
        return os.path.abspath(self.root), str(self.out.resolve())

    def close(self) -> None:
        _close_writer()
        self._spill.close()
        self._tmp.cleanup()


def _between_steps(corpus: Corpus, collect: bool) -> None:
    """What a step leaves behind let go before the next: the records it read (cached, decoded) and
    the heap pages its freed arrays and objects leave (:func:`dedupe.memory.give_back_memory`); the
    cached records pinned heap that their step had otherwise freed (at 100,000 articles the index add
    started at 60 MB where it started at 74, and peaked at 93 where it peaked at 114)."""
    corpus.docs.forget()
    give_back_memory(collect)


def run(
    scrape_dir: str | Path,
    out_dir: str | Path,
    options: Options | None = None,
    report: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    index: Index | None = None,
) -> RunSummary:
    """Clean every article under ``scrape_dir`` and write one copy of each story to ``out_dir``.

    ``progress(done, total)`` is called after each input file. Findings go to ``report``
    (default: :func:`default_report_path`), written atomically at the end. With an ``index``,
    articles it already holds are dropped as copies of the indexed ones, and the kept
    articles are added to it (the daily incremental scrape). An index that fails raises
    :class:`IndexFileError`: before any output is written if it fails while being asked,
    after the outputs and report if it fails while being added to. With ``engine="dask"``,
    ``scrape_dir`` and ``out_dir`` may be fsspec URLs (:mod:`dedupe.dask_engine`).
    """
    options = options or Options()
    jobs = options.run.jobs or os.cpu_count() or 1
    engine: Engine
    if options.run.engine == "dask":
        from .dask_engine import DaskEngine, default_report

        report_path = Path(report) if report is not None else default_report(str(out_dir))
        engine = DaskEngine(str(scrape_dir), str(out_dir), options, jobs)
    else:
        if any("://" in str(p) for p in (scrape_dir, out_dir)):
            raise ConfigError("a URL as the scrape or the output folder needs engine 'dask'")
        out = Path(out_dir)
        report_path = Path(report) if report is not None else default_report_path(out)
        engine = _Local(str(scrape_dir), out, options, jobs)
    corpus = None
    try:
        try:
            corpus = Corpus(engine.texts, options, engine.work)
            problems: list[Problem] = []
            clear_temps(report_path)  # what a killed run left
            with atomic_writer(report_path) as rep:
                summary, result, seen = _run(engine, corpus, engine.inputs(problems), problems, options, rep,
                                             progress, index, report_path)
            keeper = result.keeper  # all the index add needs of the clusters
            del result
        finally:
            engine.close()
        if index is not None:  # last: a run killed before this leaves the index as it was
            _between_steps(corpus, len(corpus.docs) >= COLLECT_ARTICLES)  # what writing left, before SQLite's cache grows
            try:
                index.add_entries(
                    index.make_entry(d.name, corpus.signature(i), d.matching_keys, d.sentences, d.date)
                    for i, d in enumerate(corpus.docs) if keeper[i] == i and i not in seen
                )
            except IndexFileError as e:
                raise IndexFileError(e.target, f"{e.problem}; outputs and report written, the index not updated") from e
    finally:
        if corpus is not None:
            corpus.close()
    return summary


def _run(
    engine: Engine, corpus: Corpus, rels: Sequence[str], problems: list[Problem], options: Options, rep: Any,
    progress: Callable[[int, int], None] | None, index: Index | None, report_path: Path,
) -> tuple[RunSummary, Clustering, dict[int, Match]]:
    """The run's steps up to its report's last line, on either engine. The listing ``rels`` is let go
    after pass one (a million paths held about 30 MB): the caller keeps no reference to it."""
    files = len(rels)
    for batch in engine.prepared(rels):
        problems.extend(batch.problems)
        corpus.add(batch)
        if progress:
            for _ in range(batch.files):
                progress(1, files)
    del rels
    big = len(corpus.docs) >= COLLECT_ARTICLES
    often = corpus.paragraph_rows.often(options.run.boilerplate_min_docs)  # before the candidates take memory
    _between_steps(corpus, big)
    corpus.finish()
    docs = corpus.docs

    # Site boilerplate is what opens or closes many stories; counting stories needs the
    # clusters, and clusters are then redone without it (it inflates similarity).
    # Articles an index holds stay in the clusters, ranked first, so that their copies in this
    # run (which the index alone may not tell: it keeps no text) are dropped through them.
    # An index that holds nothing is not asked: a first fill of a million articles would ask it a
    # million times (23 s) for nothing.
    seen = engine.seen_before(corpus, index) if index is not None and not index.is_empty() else {}
    first = frozenset(seen)
    candidates = engine.candidates(corpus, first)
    _between_steps(corpus, big)
    result = engine.clustering(corpus, candidates, {}, None, first)
    if result.table is not None:  # row k of the verdict table is candidate k: the pairs are read from it
        candidates = table_pairs(result.table)
    _between_steps(corpus, big)
    boiler, firsts = corpus.paragraph_rows.boilerplate(often, result.keeper, options.run.boilerplate_min_docs)
    cut = boiler if options.run.boilerplate else {}
    if cut:
        before = result.verdicts_only()
        del result  # the first round's kept copies and drops, let go
        _between_steps(corpus, big)
        result = engine.clustering(corpus, candidates, cut, before, first)
        del before
    del candidates
    result = binned(result)
    _between_steps(corpus, big)

    def findings() -> None:  # the report's lines (each article's own, then the clusters'), written as the outputs are
        gathered = Gathered()
        for n, d in enumerate(docs):
            gathered.add(n, d)
            for f in engine.texts.findings(d):
                _write_json_line(rep, {**f, "doc": d.name, **_where(d)})
        names = gathered.names(docs)
        for finding in _doc_findings(docs, result, seen, gathered, (boiler, firsts), options.run.boilerplate,
                                     corpus.body_texts):
            line = finding.to_dict()
            for named, prefix in ((names.get(finding.doc), ""), (names.get(finding.duplicate_of), "duplicate_of_")):
                if named is not None:
                    line.update(_where(named, prefix))
            _write_json_line(rep, line)

    bytes_out, removed_boiler, unwritten = engine.write_outputs(corpus, result, seen, cut, findings)
    problems.extend(unwritten)
    kept = sum(1 for i, k in enumerate(result.keeper) if i == k and i not in seen)
    summary = RunSummary(
        files=files,
        documents=len(docs),
        kept=kept,
        dropped=len(docs) - kept,
        headlines_removed=corpus.removed["duplicate_headline"],
        paragraphs_removed=corpus.removed["duplicate_paragraph"],
        boilerplate_removed=removed_boiler,
        bytes_in=corpus.bytes_in,
        bytes_out=bytes_out,
        report=str(report_path),
        problems=tuple(problems),
    )
    _write_json_line(rep, _summary_line(summary, *engine.places(), options, result))
    return summary, result, seen


@dataclass(frozen=True, slots=True)
class _Writing:
    """What pass two needs to write any of the kept files (inherited by forked workers)."""

    corpus: Corpus
    result: Clustering
    seen: dict[int, Match]
    cut: Cut
    sink: LocalSink


def _write_files(w: _Writing, files: range) -> tuple[int, int, list[Problem]]:
    """Write the kept articles of these input files; returns bytes written, boilerplate removed
    and the files that could not be written (a path too long, a full disk: the rest go on)."""
    bytes_out = removed = 0
    problems = []
    if not files:
        return 0, 0, []
    # the files' records one after the other, read in blocks (not one system call a record)
    records = w.corpus.docs.run(w.corpus.file_docs(files[0]).start, w.corpus.file_docs(files[-1]).stop)
    for f in files:
        kept = [d for i, d in zip(w.corpus.file_docs(f), records) if w.result.keeper[i] == i and i not in w.seen]
        if kept:
            written, cut, problem = write_file(kept[0].article.path, kept, w.corpus.texts.output, w.cut, w.sink)
            bytes_out, removed = bytes_out + written, removed + cut
            if problem is not None:
                problems.append(problem)
    return bytes_out, removed, problems


def _write_outputs(
    root: str, out: Path, corpus: Corpus, result: Clustering, seen: dict[int, Match], cut: Cut, jobs: int,
    meanwhile: Callable[[], None],
) -> tuple[int, int, list[Problem]]:
    """Pass two: the kept articles, file by file, in the workers (``meanwhile`` runs here as they
    work); returns bytes written, boilerplate removed and the outputs that could not be written."""
    staging = staging_folder(out)
    clear_staging(staging)
    sink = LocalSink(root, out, corpus.options.fields, staging)
    done = _fork_map(_write_files, _chunks(corpus.files(), jobs), jobs,
                     _Writing(corpus, result, seen, cut, sink), meanwhile)
    return writing_done(done, staging)
