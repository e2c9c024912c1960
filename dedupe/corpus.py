"""The articles of a run between its passes, and the steps either engine runs on them.

:class:`Corpus` holds a few numbers and the signature of each article (the text stays in the
local engine's spill or on the Dask workers); :class:`Engine` is what an engine provides (where
the steps run), :class:`Work` where verification and settling run.
"""

from __future__ import annotations

import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from .cluster import VERDICTS, Clustering, Drops, PairVerdict, Verdicts, Verifier, cluster, table_pairs, verify_all
from .config import Options
from .index import Index
from .memory import give_back_memory
from .minhash import lsh_params
from .policy import (
    Bodies,
    Cut,
    Floor,
    ParagraphRows,
    Texts,
    _ranking,
    add_pairs,
    band_keys,
    band_pair_keys,
    body_texts,
    candidate_table,
    pair_rows,
    passing,
    plausible_pairs,
    write_kept,
)
from .records import Match, Problem
from .spill import DocBatch, DocInfo, DocTable, Signatures


def _seen_before(corpus: Corpus, index: Index) -> dict[int, Match]:
    """The articles an index already holds a copy of, with the best indexed match, asked here."""
    return dict(seen_among(corpus, index, range(len(corpus.docs))))


def seen_among(corpus: Corpus, index: Index, rows: range) -> list[tuple[int, Match]]:
    """The articles of ``rows`` (run numbers) an index holds a copy of, with the best indexed match."""
    entries = (index.make_entry(d.name, corpus.signature(i), d.matching_keys, d.sentences, d.date)
               for i, d in zip(rows, corpus.docs.run(rows.start, rows.stop)))
    return [(i, matches[0]) for i, matches in zip(rows, index.query_entries(entries)) if matches]


def _candidates(corpus: Corpus, options: Options, first: frozenset[int]) -> np.ndarray:
    """Pairs of articles that share a band of their signatures (LSH banding, in numpy) and pass the
    whole signatures' :class:`dedupe.policy.Floor`, but for pairs of two articles in ``first`` (both
    held by the index: neither is kept), as a :data:`dedupe.cluster.VERDICTS` table sorted by pair whose
    verdicts are yet to be filled in (:func:`dedupe.policy.candidate_table`).

    Bands and rows are datasketch's choice for the threshold (``MinHashLSH``'s own optimum), but
    the buckets are found by sorting each band's values: no per-article Python objects, and
    memory of one band's keys at a time (:func:`dedupe.policy.band_keys`, :func:`dedupe.policy.band_pair_keys`).
    """
    if len(corpus.docs) < 2:
        return np.zeros(0, VERDICTS)
    keys = np.empty(0, np.int64)
    sig = options.signature
    bands, rows = lsh_params(sig.lsh_threshold, sig.num_perm)
    numbers = np.arange(len(corpus.docs))
    for b in range(bands):
        keys = add_pairs(keys, band_pair_keys(corpus.signatures.column_keys(b * rows, (b + 1) * rows, band_keys), numbers))
        give_back_memory(collect=False)  # the band's freed temporaries: held by the heap, they add to the next band's
    pairs = unseen_pairs(pair_rows(keys), first)  # a view of the keys, when there is no ``first``
    del keys
    keep = corpus.passing(pairs)
    with tempfile.TemporaryFile(dir=corpus.folder) as spool:  # the kept pairs, while the keys are let go
        count = write_kept(spool, pairs, keep)
        del pairs, keep
        give_back_memory(collect=False)
        return candidate_table(spool, count)


def unseen_pairs(pairs: np.ndarray, first: frozenset[int]) -> np.ndarray:
    """The pairs but for those of two articles in ``first`` (both held by the index)."""
    if not first:
        return pairs
    held = np.fromiter(first, np.int64, len(first))
    return pairs[~(np.isin(pairs[:, 0], held) & np.isin(pairs[:, 1], held))]


def _in_order(rows: np.ndarray, pairs: np.ndarray) -> bool:
    """Whether a verdict table's rows are the ``pairs``, in their order (compared column by column:
    no keys built for millions of rows)."""
    return bool(np.array_equal(rows["i"], pairs[:, 0]) and np.array_equal(rows["j"], pairs[:, 1]))


def verify_into(work: Work, table: np.ndarray, pairs: np.ndarray, todo: np.ndarray | None, cut: Cut,
                verifier: Verifier) -> None:
    """:meth:`Work.verify_into` by way of :meth:`Work.verify`: the pairs picked out and verified by
    the work; when it did not answer for each in order, its verdicts are looked up here and the
    rest verified."""
    picked = pairs if todo is None else pairs[todo]
    rows = work.verify(picked, cut, verifier)
    if not (len(rows) == len(picked) and _in_order(rows, picked)):
        known, verifier.known = verifier.known, Verdicts(rows)
        rows = verify_all(picked, verifier)
        verifier.known = known
    table[slice(None) if todo is None else todo] = rows


class RunTexts(Texts, Protocol):
    """What the run itself reads of its articles' text: the spill, or the Dask workers' chunks."""

    def shard(self, name: str) -> int: ...

    def findings(self, doc: DocInfo) -> list[dict[str, Any]]: ...


class Work(Protocol):
    """Where candidate pairs are verified and components settled: forked workers (local) or Dask tasks.

    ``verify`` returns the verdicts it found, as a table (the rest are verified in this process as
    they are asked for); the local engine's work uses the run's ``verifier`` and ``rank``, the Dask
    engine's the ``cut`` and the verdicts ``known``.
    """

    def verify(self, pairs: np.ndarray, cut: Cut, verifier: Verifier) -> np.ndarray:
        """Verdicts (a :data:`dedupe.cluster.VERDICTS` table) of the ``pairs`` (rows of two run numbers)."""
        ...

    def verify_into(
        self, table: np.ndarray, pairs: np.ndarray, todo: np.ndarray | None, cut: Cut, verifier: Verifier,
    ) -> None:
        """The verdicts of the ``pairs`` (sorted) where ``todo`` is True (all when None), written into
        those rows of ``table`` (row k is pair k): a second round redoes most of a million articles' pairs, and
        neither those pairs nor their verdicts need be held twice."""
        ...

    def settle(
        self, components: Sequence[list[int]], cut: Cut, known: Mapping[tuple[int, int], PairVerdict],
        verifier: Verifier, rank: Callable[[list[int]], list[int]], first: frozenset[int],
    ) -> Iterable[Drops]: ...


class Corpus:
    """The articles of a run between its passes: records and signatures in files of the corpus's
    own temporary folder (about 20 bytes an article in memory), text in the spill or on the Dask
    workers (``texts``); ``work`` verifies and settles. :meth:`close` removes the folder."""

    def __init__(self, texts: RunTexts, options: Options, work: Work) -> None:
        self.texts = texts
        self.work = work
        self.options = options
        self._tmp = tempfile.TemporaryDirectory(prefix="dedupe-corpus-")
        self.folder = self._tmp.name
        self.docs = DocTable(self._tmp.name)
        self.signatures = Signatures(self._tmp.name, options.signature.num_perm)
        self.dates = array("d")  # NaN where undated: never outside a window
        self.shingle_counts = array("I")  # of each article's body, as signed
        self.paragraph_rows = ParagraphRows(self._tmp.name)  # for boilerplate and what it touches
        self._file_starts = array("q")  # each input file's first article (an article's file: its path)
        self._last_path = ""
        self.bytes_in = 0
        self.removed: Counter[str] = Counter()  # within-article findings by kind

    def add(self, batch: DocBatch) -> None:
        """Take in a batch of prepared articles (batches in run order, as pass one gives them)."""
        order = len(self.docs)
        self.signatures.extend(batch.signatures)
        self.removed["duplicate_headline"] += batch.headlines_removed
        self.removed["duplicate_paragraph"] += batch.paragraphs_removed
        for path, count in zip(batch.paths, batch.path_counts):
            if path != self._last_path or not self._file_starts:
                self._file_starts.append(order)
                self._last_path = path
            order += count
        self.dates.extend(batch.dates)
        self.shingle_counts.extend(batch.shingle_counts)
        self.paragraph_rows.add(batch)
        if len(batch):
            self.docs.extend(batch, self.texts.shard(batch.shard))
        self.bytes_in += batch.bytes_in

    def finish(self) -> None:
        """After the last :meth:`add`: the records named and every file written out, so that workers
        forked later read them whole and never write out a buffer they inherited."""
        self.docs.name()
        self.docs.flush()
        self.signatures.flush()

    def files(self) -> range:
        """The input files that gave articles, numbered in run order."""
        return range(len(self._file_starts))

    def file_docs(self, f: int) -> range:
        """The articles of input file ``f``."""
        starts = self._file_starts
        return range(starts[f], starts[f + 1] if f + 1 < len(starts) else len(self.docs))

    def signature(self, i: int) -> np.ndarray:
        return self.signatures.row(i)

    def signature_columns(self, start: int, stop: int) -> np.ndarray:
        """Columns ``start:stop`` of every article's signature (one LSH band), as one matrix."""
        return self.signatures.columns(start, stop)

    def plausible(self, pairs: np.ndarray) -> np.ndarray:
        """The LSH pairs whose whole signatures pass the run's :class:`dedupe.policy.Floor`."""
        return plausible_pairs(pairs, *self._floor())

    def passing(self, pairs: np.ndarray) -> np.ndarray:
        """Which LSH pairs pass the run's :class:`dedupe.policy.Floor` (a mask)."""
        return passing(pairs, *self._floor())

    def _floor(self) -> tuple[Callable[[int, int], np.ndarray], np.ndarray, Floor]:
        """What the floor is judged from: the articles' signature columns, their shingle counts, the floor."""
        return self.signature_columns, np.frombuffer(self.shingle_counts, np.uint32), Floor.of(self.options)

    def close(self) -> None:
        self.paragraph_rows.close()
        self.docs.close()
        self.signatures.close()
        self._tmp.cleanup()

    def body_texts(self, i: int) -> list[str]:
        """The article's body paragraphs as written out (its headline line left out)."""
        return body_texts(self.docs[i], self.texts.output(self.docs[i]))

    def clustering(
        self, candidates: np.ndarray, cut: Cut, before: Clustering | None = None, first: frozenset[int] = frozenset(),
    ) -> Clustering:
        """Verify, cluster and rank the ``candidates`` (rows of two run numbers, sorted, or a verdict
        table of them yet to be filled in, as :func:`_candidates` gives it: its verdicts are written
        into it), comparing bodies without the ``cut`` boilerplate paragraphs.

        Verdicts of a ``before`` round are reused for pairs of articles the cut leaves alone: its
        table becomes this round's, the other rows redone in place (a run has no use for the first
        round's table once the second starts; copying it would hold two). Articles in ``first`` (an
        index holds them) rank before all others.
        """
        docs = self.docs
        bodies = Bodies(docs, self.texts, cut)
        verifier = Verifier(bodies.shingles, bodies.words, self.dates, self.options.run)
        rank = _ranking(docs, self.options.run.keep, bodies.paragraphs, first)
        every = None  # the verdict of every candidate, when the work found them all
        if candidates.dtype == VERDICTS:
            assert before is None  # a first round's: a second round is handed the pairs of the first's table
            every, candidates = candidates, table_pairs(candidates)
            self.work.verify_into(every, candidates, None, cut, verifier)
        elif before is not None and before.table is not None:
            assert len(before.table) == len(candidates)  # the same candidates, one verdict each
            touched = self.paragraph_rows.touched(cut, len(docs))
            stale = touched[candidates[:, 0]]
            stale |= touched[candidates[:, 1]]
            self.work.verify_into(before.table, candidates, stale, cut, verifier)
            every = before.table
            del stale
        else:
            rows = self.work.verify(candidates, cut, verifier)
            if len(rows) == len(candidates) and _in_order(rows, candidates):
                every = rows
            elif len(rows):  # some verified by the work: the rest here, as the clusters ask
                verifier.known = Verdicts(rows)
            del rows
        give_back_memory(collect=False)  # what receiving the workers' verdicts left in the heap
        if every is not None:
            verifier.known = Verdicts.of_sorted(every)
        known = verifier.known
        return cluster(len(docs), candidates, verifier, rank,
                       lambda components: self.work.settle(components, cut, known, verifier, rank, first), every)


class Engine(Protocol):
    """Where a run's steps happen: listing, pass one, candidates, verification, writing."""

    texts: RunTexts
    work: Work

    def inputs(self, problems: list[Problem]) -> Sequence[str]: ...

    def prepared(self, rels: Sequence[str]) -> Iterator[DocBatch]:
        """Pass one: the files' articles prepared, in batches of a few files in path order."""
        ...

    def seen_before(self, corpus: Corpus, index: Index) -> dict[int, Match]:
        """The articles ``index`` (which holds some) has a copy of, with the best indexed match."""
        ...

    def candidates(self, corpus: Corpus, first: frozenset[int]) -> Any:
        """The candidate pairs (see :func:`_candidates`): an array, or where the engine keeps them."""
        ...

    def clustering(
        self, corpus: Corpus, candidates: Any, cut: Cut, before: Clustering | None, first: frozenset[int]
    ) -> Clustering:
        """:meth:`Corpus.clustering` of the ``candidates``, wherever the engine keeps them."""
        ...

    def write_outputs(
        self, corpus: Corpus, result: Clustering, seen: dict[int, Match], cut: Cut, meanwhile: Callable[[], None]
    ) -> tuple[int, int, list[Problem]]:
        """Pass two: the kept articles written; returns bytes written, boilerplate removed and the
        outputs that could not be written. ``meanwhile`` (the report's findings) runs in this
        process while the outputs are being written elsewhere."""
        ...

    def places(self) -> tuple[str, str]: ...

    def close(self) -> None: ...
