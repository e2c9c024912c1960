"""The logic both engines share: LSH buckets, bodies as compared, boilerplate, keep policy, writing.

The local engine calls these in its worker processes, the Dask engine in its tasks; neither has
its own copy, so the engine cannot change a run's outputs or report.
"""

from __future__ import annotations

import os
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

import numpy as np

from .cluster import VERDICTS, pair_keys
from .config import FieldOptions, Options
from .errors import InputError
from .formats import kind_of, write_json, write_jsonl
from .io import write_text_atomic
from .minhash import shared_count, unique
from .prepare import body_for_matching, prepare_many
from .records import Article, Problem
from .shingle import words
from .spill import EDGE, DocInfo, SpillWriter
from .stores import SortedSpool

T = TypeVar("T")
Docs = Sequence[DocInfo] | Mapping[int, DocInfo]  # articles by run number: all of them, or those a task holds
Cut = dict[tuple[str, int], int]  # boilerplate paragraphs removed: (source, paragraph key) -> stories
Firsts = dict[tuple[str, int], tuple[int, int]]  # where each boilerplate paragraph is first: (article, paragraph)


class Texts(Protocol):
    """Where an article's text is kept between the passes: a spill (local) or a chunk's buffers (Dask)."""

    def paragraphs(self, doc: DocInfo) -> list[np.ndarray]: ...

    def output(self, doc: DocInfo) -> str: ...


def _source(path: str) -> str:
    """The source an article belongs to for boilerplate: its first folder under the scrape."""
    return path.split("/", 1)[0] if "/" in path else ""


def repeated_keys(sorted_parts: Iterable[np.ndarray], min_docs: int) -> set[int]:
    """The values found at least ``min_docs`` times, from parts each sorted and each holding all the
    copies of its values (:meth:`dedupe.stores.SortedSpool.sorted_parts`), as unsigned 64-bit keys:
    the only edge paragraphs that can be boilerplate, a few among a million articles' millions."""
    m = max(1, min_docs)
    often: set[int] = set()
    for ordered in sorted_parts:
        values = ordered.view(np.uint64)
        if values.size < m:
            continue
        often.update(values[: values.size - m + 1][values[m - 1 :] == values[: values.size - m + 1]].tolist())
    return often


class ArticleParagraphs(Protocol):
    """What :class:`ParagraphRows` takes of articles (:class:`dedupe.spill.DocBatch` has it): their body
    paragraphs' keys one article after the other, how many each has, and their paths, one for
    each run of articles of the same path with the run's length."""

    @property
    def keys(self) -> array: ...  # type: ignore[type-arg]

    @property
    def key_counts(self) -> array: ...  # type: ignore[type-arg]

    @property
    def paths(self) -> list[str]: ...

    @property
    def path_counts(self) -> array: ...  # type: ignore[type-arg]


PARAGRAPH_ROWS = np.dtype([("key", "<u8"), ("doc", "<u4"), ("index", "<u4"), ("source", "<u4"), ("edge", "?")])


class ParagraphRows:
    """Every article's body paragraphs as rows (key, article, place in it, source, whether it opens or
    closes the article), gathered as the articles are added in run order: the edge paragraphs' keys spooled for
    :func:`repeated_keys`, the rows written to a temporary file and read back a block at a time, so that
    boilerplate, and the articles it touches, are found without reading the records and with memory of
    a block of rows (25 bytes a paragraph, kept on disk)."""

    BLOCK = 1 << 16  # rows held before they go to the file

    def __init__(self, folder: str | None = None) -> None:
        self.sources: dict[str, int] = {}
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
        self._spool = SortedSpool()
        self._keys, self._counts, self._srcs = array("Q"), array("I"), array("I")
        self._next = 0  # the first article not yet written

    def add(self, batch: ArticleParagraphs) -> None:
        """Take in the next articles."""
        self._keys.extend(batch.keys)
        self._counts.extend(batch.key_counts)
        for path, n in zip(batch.paths, batch.path_counts):  # a run of articles of one path: one source
            self._srcs.extend([self.sources.setdefault(_source(path), len(self.sources))] * n)
        if len(self._keys) >= self.BLOCK:
            self._flush()

    def _flush(self) -> None:
        counts = np.frombuffer(self._counts, np.uint32)
        rows = np.empty(len(self._keys), PARAGRAPH_ROWS)
        rows["key"] = np.frombuffer(self._keys, np.uint64)
        rows["doc"] = np.repeat(np.arange(self._next, self._next + counts.size, dtype=np.uint32), counts)
        rows["index"] = np.arange(len(rows), dtype=np.uint32) - np.repeat(np.cumsum(counts) - counts, counts)
        rows["source"] = np.repeat(np.frombuffer(self._srcs, np.uint32), counts)
        rows["edge"] = (rows["index"] < EDGE) | (rows["index"] + EDGE >= np.repeat(counts, counts))  # as DocInfo.edge
        self._file.seek(0, os.SEEK_END)  # after a read of the rows
        self._file.write(rows.tobytes())
        self._spool.add(np.ascontiguousarray(rows["key"][rows["edge"]]).view(np.int64))
        self._next += counts.size
        self._keys, self._counts, self._srcs = array("Q"), array("I"), array("I")

    def often(self, min_docs: int) -> set[int]:
        """:func:`repeated_keys` of the edge paragraphs' keys added so far: the only ones that can be
        boilerplate. Once: the spool is spent."""
        self._flush()
        spool, self._spool = self._spool, SortedSpool()
        return repeated_keys(spool.sorted_parts(), min_docs)

    def rows(self) -> Iterator[np.ndarray]:
        """Every row added, a block at a time."""
        self._flush()
        self._file.seek(0)
        while block := self._file.read(self.BLOCK * PARAGRAPH_ROWS.itemsize):
            yield np.frombuffer(block, PARAGRAPH_ROWS)

    def _edge_rows_of(self, keys: Iterable[int]) -> np.ndarray:
        """The rows of edge paragraphs whose key is one of ``keys``."""
        wanted = np.unique(np.fromiter(keys, np.uint64))
        edges = (b[b["edge"]] for b in self.rows())  # looked up only where it may be found
        found = [e[_within(e["key"], wanted)] for e in edges]
        return np.concatenate(found) if found else np.empty(0, PARAGRAPH_ROWS)

    def boilerplate(self, often: Set[int], keeper: Sequence[int], min_docs: int) -> tuple[Cut, Firsts]:
        """Paragraphs that open or close at least ``min_docs`` different stories of one source, and
        where each is first found (for the report).

        Copies of one story count once (``keeper`` is each article's kept copy), so a story's own
        closing line is not boilerplate because ten sites carried the story. ``often`` is what
        :meth:`often` found, taken before the candidates, when the run holds least; source and story
        are taken for those keys' rows alone.
        """
        if not often:
            return {}, {}
        rows = self._edge_rows_of(often)  # in run order
        srcs, ks, stories = rows["source"], rows["key"], np.asarray(keeper)[rows["doc"]]
        order = np.lexsort((stories, ks, srcs))
        srcs, ks, stories = srcs[order], ks[order], stories[order]
        group = np.r_[True, (srcs[1:] != srcs[:-1]) | (ks[1:] != ks[:-1])]  # a new (source, paragraph)
        new_story = group | np.r_[True, stories[1:] != stories[:-1]]  # each story counted once in its group
        first = np.flatnonzero(group)
        counts = np.add.reduceat(new_story.astype(np.int64), first)
        earliest = np.minimum.reduceat(order, first)  # each group's first row in run order
        names = list(self.sources)
        cut: Cut = {}
        firsts: Firsts = {}
        for f, c, row in zip(first[counts >= min_docs], counts[counts >= min_docs], earliest[counts >= min_docs]):
            paragraph = (names[int(srcs[f])], int(ks[f]))
            cut[paragraph] = int(c)
            firsts[paragraph] = (int(rows["doc"][row]), int(rows["index"][row]))
        return cut, firsts

    def touched(self, cut: Cut, articles: int) -> np.ndarray:
        """Which of the ``articles`` (all, in run order) lose a paragraph to the ``cut`` where bodies are
        compared (:class:`Bodies`: any paragraph of theirs, not only an edge one, that is cut)."""
        out = np.zeros(articles, bool)
        cut_rows = [(self.sources[name], key) for name, key in cut if name in self.sources]
        if not cut_rows:
            return out
        sources, keys = zip(*cut_rows)
        wanted = np.unique(_source_keys(np.array(keys, np.uint64), np.array(sources, np.uint32)))
        for block in self.rows():  # a block at a time, in numpy: the cut's rows may be millions
            out[block["doc"][_within(_source_keys(block["key"], block["source"]), wanted)]] = True
        return out

    def close(self) -> None:
        self._file.close()


def _source_keys(keys: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """A paragraph key and its source as one 64-bit value: for one source a bijection of the key, so
    two rows share it only by a chance of 2**-64 (a row taken for the cut's by that chance only has
    its article's pairs verified again)."""
    out: np.ndarray = keys ^ (sources.astype(np.uint64) * _SOURCE_MULTIPLIER)
    return out


_SOURCE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: distinct sources, distinct multiples


def _within(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_set`` (sorted): ``np.isin`` by binary search."""
    if not sorted_set.size:
        return np.zeros(values.size, bool)
    at = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    found: np.ndarray = sorted_set[at] == values
    return found


_EMPTY = np.empty(0, np.uint32)


def content_scores(parts: list[list[np.ndarray]], prose: list[bytes]) -> list[float]:
    """The ``content`` policy's score of each copy of a cluster, from its paragraphs' shingles (sorted
    distinct, one array a paragraph) and which of those paragraphs read as prose (see :func:`_ranking`).

    Two copies (most clusters) are scored from set sizes and two intersections (the compiled merge),
    in half the time of :func:`_counted_scores`, which scores larger clusters.
    """
    sets = [unique(np.concatenate(p)) if p else _EMPTY for p in parts]
    prose_sets = [[a for a, is_prose in zip(p, flags) if is_prose] for p, flags in zip(parts, prose)]
    if len(parts) != 2:
        return _counted_scores(sets, prose_sets)
    shared = shared_count(sets[0], sets[1])  # the story: what both copies have
    scores = []
    for own, other, in_prose in ((sets[0], sets[1], prose_sets[0]), (sets[1], sets[0], prose_sets[1])):
        in_prose_set = unique(np.concatenate(in_prose)) if in_prose else _EMPTY
        prose_only = in_prose_set.size - shared_count(in_prose_set, other)  # in prose, not in the other copy
        scores.append(shared + 0.5 * prose_only - (own.size - shared - prose_only))
    return scores


def _counted_scores(sets: list[np.ndarray], prose_sets: list[list[np.ndarray]]) -> list[float]:
    """:func:`content_scores` by counting how many copies hold each shingle."""
    story = max(2, (len(sets) + 1) // 2)  # a shingle in this many copies is the story's
    every = np.sort(np.concatenate(sets)) if sets else _EMPTY
    starts = np.flatnonzero(np.r_[every.size > 0, every[1:] != every[:-1]])
    values, copies = every[starts], np.diff(np.r_[starts, every.size])  # how many copies hold each shingle
    scores = []
    for own, in_prose in zip(sets, prose_sets):
        shared = copies[np.searchsorted(values, own)] >= story
        in_prose_mask = _within(own, unique(np.concatenate(in_prose))) if in_prose else np.zeros(own.size, bool)
        scores.append(int(shared.sum()) + 0.5 * int((~shared & in_prose_mask).sum())
                      - int((~shared & ~in_prose_mask).sum()))
    return scores


def _ranking(
    docs: Docs, policy: str, paragraphs: Callable[[int], list[np.ndarray]], first: Set[int] = frozenset()
) -> Callable[[list[int]], list[int]]:
    """The keep policy: orders a cluster's articles, best copy first.

    ``content`` scores each copy within its cluster: shingles found in at least half of the
    copies (and at least two: the story), plus half of its other shingles that sit in prose
    paragraphs (a fuller copy's extra paragraph), minus the rest (menus, captions, link lists:
    a page dump's boilerplate). Ties go to the earlier date, then to path order. Articles in
    ``first`` (those an index holds) come before all others, so their copies are dropped
    through them.
    """
    if first:
        ranked = _ranking(docs, policy, paragraphs)
        return lambda members: sorted(ranked(members), key=lambda i: i not in first)

    def date(i: int) -> float:
        d = docs[i].date
        return d if d is not None else float("inf")

    if policy == "first":
        return lambda members: sorted(members, key=lambda i: docs[i].order)
    if policy == "earliest":
        return lambda members: sorted(members, key=lambda i: (date(i), docs[i].order))

    def by_content(members: list[int]) -> list[int]:
        scores = content_scores([paragraphs(m) for m in members], [docs[m].sentences for m in members])
        score = dict(zip(members, scores))
        return sorted(members, key=lambda i: (-score[i], date(i), docs[i].order))

    return by_content


BUCKET_PAIRS = 64


def band_pair_keys(keys: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """The pairs of articles that share a bucket of one LSH band, as pair keys
    (:func:`dedupe.cluster.pair_keys`: one int64 a pair ``(a, c)``, ``a < c``), each once, in no order.

    ``keys`` holds each article's band (:func:`band_keys`), ``numbers`` the articles' run numbers
    (below 2**31, in any order). A bucket larger than ``BUCKET_PAIRS`` pairs each member with its first
    ``BUCKET_PAIRS`` neighbours only (enough to join a cluster; verification decides). In numpy:
    the members of buckets of two or more, in order, paired with the member ``d`` places on for
    each ``d`` up to ``BUCKET_PAIRS`` (no Python loop a pair). Both sorts are of distinct values or
    need no order among equal ones, so neither is a stable sort (numpy's unstable argsort of a million
    64-bit values is about six times as fast here). Which articles share a bucket is found with
    arrays of one byte an article, and buckets are numbered in 32 bits: a band of a million articles
    takes 18 MB above its keys at its peak (tracemalloc), where arrays of 8 bytes an article took 39.
    """
    if len(keys) < 2:
        return np.empty(0, np.int64)
    order = np.argsort(keys)  # equal keys in any order: each bucket's members are put in run order below
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]  # sorted article k + 1 is in sorted article k's bucket
    del ordered
    members = np.zeros(len(order), bool)  # in a bucket of two or more
    members[1:] = same
    members[:-1] |= same
    starts = np.empty(len(order), bool)  # where each bucket starts
    starts[0] = True
    np.logical_not(same, out=starts[1:])
    del same
    bucket = np.cumsum(starts, dtype=np.int32)[members]  # each member's bucket, numbered in key order
    del starts
    number = numbers[order[members]].astype(np.int64)
    del order, members
    by = np.argsort((bucket.astype(np.int64) << 32) | number)  # each bucket's members in run order (distinct keys)
    bucket, number = bucket[by], number[by]
    found = [np.empty(0, np.int64)]
    for d in range(1, min(BUCKET_PAIRS, len(bucket) - 1) + 1):
        same = bucket[d:] == bucket[:-d]
        if not same.any():
            break  # no bucket has more than d members
        found.append(pair_keys(number[:-d][same], number[d:][same]))
    return np.concatenate(found)


def add_pairs(keys: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Sorted pair keys with the keys ``new`` added, once each (``new``: distinct keys in any order, as
    :func:`band_pair_keys` gives them; sorted here in place). Those not yet held are inserted where
    they go, one pass over the keys: neither everything sorted again nor a sort's buffer beside them."""
    new.sort()
    new = new[~_within(new, keys)]
    if not new.size:
        return keys
    return np.insert(keys, np.searchsorted(keys, new), new)


def pair_rows(keys: np.ndarray) -> np.ndarray:
    """Pair keys (int64, in native byte order) as rows of two int32 run numbers, without a copy: a key
    is its two numbers side by side, so the rows are a view of the keys' memory (a million articles
    give millions of pairs: a copy held beside the keys doubled the candidate step's arrays)."""
    halves = np.ascontiguousarray(keys, np.int64).view(np.int32).reshape(-1, 2)
    return halves[:, ::-1] if sys.byteorder == "little" else halves


def merge_pairs(*arrays: np.ndarray) -> np.ndarray:
    """The rows of all the ``arrays`` (of pairs), once each, sorted by (first, second), as int32 (run
    numbers below 2**31); one sort, however many arrays."""
    return pair_rows(unique(np.concatenate([pair_keys(a[:, 0], a[:, 1]) for a in arrays] or [np.empty(0, np.int64)])))


_BAND_SEED, _BAND_MULTIPLIER, _BAND_SHIFT = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(29)


def band_keys(block: np.ndarray) -> np.ndarray:
    """One band's rows of each signature (a matrix of uint32) as one 64-bit hash per article, its
    bucket: 8 bytes an article where the rows as one value took 36, and sorted four times as fast.

    Each value is mixed in by a bijection of the hash so far (xor, multiply by an odd number,
    xor-shift), so rows that differ in one value never share a key, and others by a chance of 2**-64
    (a pair that would join a bucket it should not is still verified).
    """
    keys = np.full(len(block), _BAND_SEED, np.uint64)
    for c in range(block.shape[1]):
        keys ^= block[:, c]
        keys *= _BAND_MULTIPLIER
        keys ^= keys >> _BAND_SHIFT
    return keys


@dataclass(frozen=True, slots=True)
class Floor:
    """What a pair's signatures must show for the pair to be a candidate: an estimated Jaccard of at
    least half the LSH threshold, or an estimated containment of at least half the run's.

    Sharing one band of two rows is what unrelated articles do by chance, and such pairs grow with the
    square of the corpus (938,180 of the 4,064,559 pairs of a million generated documents); each would
    be verified and held as a verdict. The whole signature tells them from copies: with ``a`` of
    ``width`` values equal, J ~ a / width, and the shared shingles, J (|A| + |B|) / (1 + J), over the
    smaller set estimate containment (a short article inside a page dump shares few values).
    """

    jaccard: float
    containment: float
    width: int

    @classmethod
    def of(cls, options: Options) -> Floor:
        return cls(options.signature.lsh_threshold / 2, options.run.containment / 2, options.signature.num_perm)

    def passes(self, agree: np.ndarray, sizes_i: np.ndarray, sizes_j: np.ndarray) -> np.ndarray:
        """Which pairs (their equal signature values, each article's shingle count) are candidates."""
        jaccard = agree / self.width
        smaller = np.maximum(np.minimum(sizes_i, sizes_j), 1)
        contained = jaccard * (sizes_i.astype(np.float64) + sizes_j) / ((1 + jaccard) * smaller)
        out: np.ndarray = (jaccard >= self.jaccard) | (contained >= self.containment)
        return out


AGREE_COLUMNS = 8  # signature columns read at a time to compare pairs (4 bytes an article each)
AGREE_PAIRS = 1 << 16  # pairs compared at a time


def agreements(pairs: np.ndarray, columns: Callable[[int, int], np.ndarray], width: int) -> np.ndarray:
    """How many of their ``width`` signature values the two articles of each pair share, from
    ``columns(start, stop)`` (those columns of every article) read a few at a time."""
    agree = np.zeros(len(pairs), np.uint16)
    for start in range(0, width, AGREE_COLUMNS):
        block = columns(start, min(width, start + AGREE_COLUMNS))
        for k in range(0, len(pairs), AGREE_PAIRS):
            p = pairs[k : k + AGREE_PAIRS]
            agree[k : k + len(p)] += (block[p[:, 0]] == block[p[:, 1]]).sum(axis=1, dtype=np.uint16)
        del block  # before the next columns are read: one block in memory, not two
    return agree


def passing(pairs: np.ndarray, columns: Callable[[int, int], np.ndarray], sizes: np.ndarray,
            floor: Floor) -> np.ndarray:
    """Which of the ``pairs`` (rows of two run numbers) pass the ``floor``, as a mask; ``columns(start,
    stop)`` gives those columns of every article's signature, ``sizes`` each article's shingle count."""
    if not len(pairs):
        return np.empty(0, bool)
    agree = agreements(pairs, columns, floor.width)
    keep = np.empty(len(pairs), bool)
    for k in range(0, len(pairs), AGREE_PAIRS):
        p = pairs[k : k + AGREE_PAIRS]
        keep[k : k + len(p)] = floor.passes(agree[k : k + len(p)], sizes[p[:, 0]], sizes[p[:, 1]])
    return keep


def _kept(pairs: np.ndarray, keep: np.ndarray) -> Iterator[np.ndarray]:
    """The kept ``pairs``, a block at a time (a mask of the whole would build an index of the whole)."""
    for k in range(0, len(pairs), AGREE_PAIRS):
        yield pairs[k : k + AGREE_PAIRS][keep[k : k + AGREE_PAIRS]]


def plausible_pairs(pairs: np.ndarray, columns: Callable[[int, int], np.ndarray], sizes: np.ndarray,
                    floor: Floor) -> np.ndarray:
    """The ``pairs`` whose signatures pass the ``floor`` (see :func:`passing`)."""
    if not len(pairs):
        return pairs
    keep = passing(pairs, columns, sizes, floor)
    out = np.empty((int(np.count_nonzero(keep)), 2), pairs.dtype)
    at = 0
    for kept in _kept(pairs, keep):
        out[at : at + len(kept)] = kept
        at += len(kept)
    return out


def write_kept(spool: BinaryIO, pairs: np.ndarray, keep: np.ndarray) -> int:
    """Write the kept ``pairs`` to ``spool`` (rows of two little-endian int32); returns how many."""
    count = 0
    for kept in _kept(pairs, keep):
        spool.write(kept.astype("<i4").tobytes())
        count += len(kept)
    return count


def candidate_table(spool: BinaryIO, count: int) -> np.ndarray:
    """A :data:`dedupe.cluster.VERDICTS` table of the ``count`` pairs :func:`write_kept` wrote to
    ``spool``, its verdicts yet to be filled in. Verification writes them into it, so a run's
    candidates are not held a second time beside their verdicts (8 bytes a pair, 25 MB at a million
    articles); read back from a file, as the pair keys they were picked from are let go first."""
    table = np.zeros(count, VERDICTS)
    firsts, seconds = table["i"], table["j"]
    spool.seek(0)
    for at in range(0, count, AGREE_PAIRS):
        rows = np.frombuffer(spool.read(8 * min(AGREE_PAIRS, count - at)), "<i4").reshape(-1, 2)
        firsts[at : at + len(rows)], seconds[at : at + len(rows)] = rows[:, 0], rows[:, 1]
    return table


def _cached(fn: Callable[[int], T], size: int = 4096) -> Callable[[int], T]:
    from functools import lru_cache

    return lru_cache(maxsize=size)(fn)


def staging_folder(out_dir: str | Path) -> Path:
    """Where outputs are written before they are renamed into OUT_DIR: a hidden sibling of it, so
    OUT_DIR never holds a half-written file, even during a run or after a crash."""
    out = Path(out_dir).resolve()
    return out.with_name(f".{out.name}.dedupe-staging")


def default_report_path(out_dir: str | Path) -> Path:
    """Where the report goes by default: beside OUT_DIR (not inside it), as OUT_DIR.report.jsonl."""
    out = Path(out_dir).resolve()
    return out.with_name(out.name + ".report.jsonl")


PREPARE_ARTICLES = 32  # articles prepared together (shingles and signatures in one pass of array calls)...
PREPARE_CHARS = 1 << 18  # ...or fewer, when their text is this long


def prepare_files(
    rels: Sequence[str], read: Callable[[str], Iterable[Article | Problem]], options: Options, spill: SpillWriter
) -> list[tuple[str, list[DocInfo | Problem]]]:
    """Pass one on input files (``read(rel)`` gives a file's articles): each article prepared (a few
    dozen at a time, across files), its text to ``spill``; each file's records, in order."""
    out: list[tuple[str, list[DocInfo | Problem]]] = [(rel, []) for rel in rels]
    pending: list[tuple[int, Article | Problem]] = []  # (file, item) not yet prepared

    def flush() -> None:
        for f, record in _prepared(pending, options, spill):
            out[f][1].append(record)
        pending.clear()

    articles = chars = 0
    for f, rel in enumerate(rels):
        for item in read(rel):
            pending.append((f, item))
            if isinstance(item, Article):
                articles, chars = articles + 1, chars + len(item.text)
                if articles >= PREPARE_ARTICLES or chars >= PREPARE_CHARS:
                    flush()
                    articles = chars = 0
    flush()
    return out


def _prepared(
    pending: list[tuple[int, Article | Problem]], options: Options, spill: SpillWriter
) -> Iterator[tuple[int, DocInfo | Problem]]:
    preps = iter(prepare_many([item for _, item in pending if isinstance(item, Article)], options))
    for tag, item in pending:
        if isinstance(item, Problem):
            yield tag, item
            continue
        prep = next(preps)
        if prep.output.strip():
            yield tag, spill.add(prep)
        else:  # zero-width characters, markup debris: nothing left to keep
            where = item.path if item.line is None else f"{item.path}:{item.line}"
            yield tag, Problem(where, "no paragraphs of text (skipped)")


def body_texts(doc: DocInfo, output: str) -> list[str]:
    """The article's body paragraphs as written out (its headline line left out)."""
    parts = output.rstrip("\n").split("\n\n")
    return parts[1:] if doc.headline_line else parts


class _BodySource:
    """What :class:`Bodies` reads its bodies from, and how (its caches hold these methods)."""

    def __init__(self, docs: Docs, texts: Texts, cut: Cut) -> None:
        self.docs, self.texts, self.cut = docs, texts, cut

    def kept(self, d: DocInfo) -> list[bool]:
        """Per body paragraph of ``d``: whether the cut leaves it."""
        if not self.cut:
            return [True] * len(d.keys)
        src = _source(d.article.path)
        return [(src, k) not in self.cut for k in d.keys]

    def paragraphs(self, i: int) -> list[np.ndarray]:
        d = self.docs[i]
        parts = self.texts.paragraphs(d)
        kept = self.kept(d)
        return parts if all(kept) else [a if keep else a[:0] for keep, a in zip(kept, parts)]

    def shingles(self, i: int) -> np.ndarray:
        parts = self.paragraphs(i)
        if not parts:
            return np.empty(0, np.uint32)
        return unique(parts[0]) if len(parts) == 1 else unique(np.concatenate(parts))

    def words(self, i: int) -> list[list[str]]:
        d = self.docs[i]
        paras = [p for keep, p in zip(self.kept(d), body_texts(d, self.texts.output(d))) if keep]
        return [words(body_for_matching(n, p) or "") for n, p in enumerate(paras)]


class Bodies:
    """Articles' bodies as compared, without the ``cut`` boilerplate paragraphs: shingles and words."""

    def __init__(self, docs: Docs, texts: Texts, cut: Cut) -> None:
        self.docs, self.texts, self.cut = docs, texts, cut
        source = _BodySource(docs, texts, cut)
        self.kept, self.paragraphs = source.kept, source.paragraphs
        # Caches of the source's methods, not of this object's: a cache of its own bound method
        # holds the object, a reference cycle that kept every cached array and word list past
        # the step until the next full collection.
        self.shingles = _cached(source.shingles)
        # an article's words are read for each similar pair it is in; a few hundred articles (tens
        # of KB each as str lists) cover the pairs around the current one, which come sorted
        self.words = _cached(source.words, 256)


def _without_boilerplate(d: DocInfo, text: str, cut: Cut) -> tuple[str, int]:
    if not cut:
        return text, 0
    src = _source(d.article.path)
    drop = {i for i in d.edge if (src, d.keys[i]) in cut}
    if not drop or len(drop) == len(d.keys):
        return text, 0  # never empty an article
    parts = text.rstrip("\n").split("\n\n")
    head, body = (parts[:1], parts[1:]) if d.headline_line else ([], parts)
    if len(body) != len(d.keys):
        return text, 0
    kept = head + [p for i, p in enumerate(body) if i not in drop]
    return "\n\n".join(kept) + ("\n" if text.endswith("\n") else ""), len(drop)


class Sink(Protocol):
    """Where a run's kept articles are written, file by file (atomically each)."""

    def text(self, rel: str, text: str) -> None: ...

    def json(self, rel: str, text: str) -> None: ...

    def jsonl(self, rel: str, lines: dict[int, str]) -> None: ...


@dataclass(frozen=True, slots=True)
class LocalSink:
    """Outputs under a local folder, each through a temporary file in ``staging`` renamed into place."""

    root: str
    out: Path
    fields: FieldOptions
    staging: Path

    def text(self, rel: str, text: str) -> None:
        write_text_atomic(os.path.join(self.out, rel), text, self.staging)

    def json(self, rel: str, text: str) -> None:
        write_json(self.root, rel, self.out / rel, text, self.fields, self.staging)

    def jsonl(self, rel: str, lines: dict[int, str]) -> None:
        write_jsonl(self.root, rel, self.out / rel, lines, self.fields, self.staging)


def writing_done(
    done: Iterable[tuple[int, int, list[Problem]]], staging: Path | None
) -> tuple[int, int, list[Problem]]:
    """The writing tasks' totals (bytes, boilerplate removed, problems); the staging folder goes
    when the run left it empty."""
    done = list(done)
    if staging is not None:
        try:
            staging.rmdir()
        except OSError:
            pass  # never made (nothing to write), or another run's files in it
    return sum(b for b, _, _ in done), sum(r for _, r, _ in done), [p for _, _, ps in done for p in ps]


def write_file(
    rel: str, kept: list[DocInfo], output: Callable[[DocInfo], str], cut: Cut, sink: Sink
) -> tuple[int, int, Problem | None]:
    """Write the kept articles of one input file; returns bytes written, boilerplate paragraphs
    removed and, when it could not be written (a path too long, a full disk), the Problem."""
    texts, removed = [], 0
    for d in kept:
        text, n = _without_boilerplate(d, output(d), cut)
        texts.append(text)
        removed += n
    kind = kind_of(rel)
    try:
        if kind == "text":
            sink.text(rel, texts[0])
        elif kind == "json":
            sink.json(rel, texts[0])
        else:
            sink.jsonl(rel, {line: t for d, t in zip(kept, texts) if (line := d.article.line) is not None})
    except (OSError, InputError, ValueError) as e:
        reason = getattr(e, "strerror", None) or getattr(e, "problem", None) or str(e)
        return 0, removed, Problem(rel, f"output not written: {reason} (skipped)")
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts), removed, None
