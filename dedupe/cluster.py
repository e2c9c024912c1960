"""From candidate pairs to kept copies: exact verification, clusters, and the keep policy.

An estimate is not a verdict: every candidate pair from LSH is verified on the exact shingle
sets before anything is dropped. Clusters are not chained: in each connected component of
verified pairs the best copy (by the keep policy) is kept, and every other copy must itself
be verified against the copy it is dropped for; a member that matches no kept copy is kept
too, and later members may be dropped for it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

try:  # difflib's algorithm compiled (the extra "fast"): the same opcodes, about 4x faster here
    from cydifflib import SequenceMatcher
except ImportError:
    from difflib import SequenceMatcher

from .config import RunOptions
from .minhash import shared_count

MIN_CONTAINED_SHINGLES = 20  # a body this small is not judged by containment
TEMPLATE_SPAN = 4  # aligned, texts that swap short spans (at most this many words a side)...
TEMPLATE_SLOTS = 2  # ...in at least this many places...
TEMPLATE_MIN_SWAPS = 3  # ...at least this many words a side in all...
TEMPLATE_NAME_SHARE = 0.75  # ...this much of them names and numbers,
TEMPLATE_MAX_WORDS = 3000  # ...are templated look-alikes (only short texts are aligned)


def _swaps(a: list[str], b: list[str]) -> tuple[list[str], int]:
    """The words of the short spans two aligned word lists swap, and in how many places."""
    swapped: list[str] = []
    slots = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "replace" and max(i2 - i1, j2 - j1) <= TEMPLATE_SPAN:
            if "".join(a[i1:i2]).casefold() == "".join(b[j1:j2]).casefold():
                continue  # the same letters spaced otherwise ("NoemKristi"): an extractor's seam
            swapped += a[i1:i2] + b[j1:j2]
            slots += 1
    return swapped, slots


def _names_and_numbers(swapped: list[str], slots: int) -> bool:
    if slots < TEMPLATE_SLOTS or len(swapped) < 2 * TEMPLATE_MIN_SWAPS:
        return False
    named = sum(1 for w in swapped if w[0].isdigit() or w[0].isupper())
    return named >= TEMPLATE_NAME_SHARE * len(swapped)


def templated(a: list[str], b: list[str]) -> bool:
    """Whether two similar texts differ only in the names and numbers filled into one template.

    ``a`` and ``b`` are case-kept words. Aligned word by word, dividend notices, earnings
    releases and match reports swap short spans in several places (company, ticker, amount,
    date), mostly capitalised names and numbers; whatever else differs (another version of the
    legal paragraph) does not change that. Copies of one story differ otherwise: a paragraph
    cut or added, a headline or a credit line inserted, a menu around the article, a common
    word changed.

    >>> templated("Acme Corp (NYSE: ACM) declared a dividend of 0.22 payable March 15".split(),
    ...           "Zenith Ltd (LSE: ZEN) declared a dividend of 0.31 payable April 2".split())
    True
    >>> templated("the minister said on Monday that ten people died in the floods".split(),
    ...           "the minister said on Tuesday that twelve people had died in the floods".split())
    False
    """
    if max(len(a), len(b)) > TEMPLATE_MAX_WORDS:
        return False
    return _names_and_numbers(*_swaps(a, b))


def templated_paragraphs(a: list[list[str]], b: list[list[str]]) -> bool:
    """:func:`templated` for texts given as paragraphs of words, aligned paragraph by paragraph first.

    Paragraphs two copies share word for word are set aside before the words of the rest are
    aligned, so a long story with a few edits costs little; a template's filled-in paragraphs
    all differ and are aligned word by word as before.
    """
    if max(sum(map(len, a)), sum(map(len, b))) > TEMPLATE_MAX_WORDS:
        return False
    swapped: list[str] = []
    slots = 0
    keys_a, keys_b = list(map(tuple, a)), list(map(tuple, b))
    for op, i1, i2, j1, j2 in SequenceMatcher(None, keys_a, keys_b, autojunk=False).get_opcodes():
        if op != "equal":
            words, count = _swaps([w for p in a[i1:i2] for w in p], [w for p in b[j1:j2] for w in p])
            swapped += words
            slots += count
    return _names_and_numbers(swapped, slots)


@dataclass(frozen=True, slots=True)
class PairVerdict:
    """The exact comparison of two articles: whether one is a copy of the other, and why."""

    duplicate: bool
    similarity: float
    reason: str


REASONS = ("exact", "near_duplicate", "contained", "different", "no_body", "look_alike", "outside_window")
REASON_CODES = {r: n for n, r in enumerate(REASONS)}
HELD = (REASONS.index("look_alike"), REASONS.index("outside_window"))  # pairs held apart: the report names each
VERDICTS = np.dtype([("i", "<i4"), ("j", "<i4"), ("duplicate", "?"), ("similarity", "<f8"), ("reason", "u1")])


def verdict(row: np.void) -> PairVerdict:
    """The verdict a row of a :data:`VERDICTS` table holds."""
    return PairVerdict(bool(row["duplicate"]), float(row["similarity"]), REASONS[int(row["reason"])])


def verdict_rows(verdicts: Iterable[tuple[int, int, PairVerdict]]) -> np.ndarray:
    """Verdicts as a :data:`VERDICTS` table (18 bytes a pair, where a dict of them takes about 250),
    built column by column: no list of row tuples beside it."""
    firsts, seconds, duplicate, similarity, reason = array("q"), array("q"), array("b"), array("d"), array("B")
    for i, j, v in verdicts:
        firsts.append(i)
        seconds.append(j)
        duplicate.append(v.duplicate)
        similarity.append(v.similarity)
        reason.append(REASON_CODES[v.reason])
    table = np.empty(len(firsts), VERDICTS)
    table["i"], table["j"] = np.frombuffer(firsts, np.int64), np.frombuffer(seconds, np.int64)
    table["duplicate"] = np.frombuffer(duplicate, np.int8).astype(bool)
    table["similarity"], table["reason"] = np.frombuffer(similarity), np.frombuffer(reason, np.uint8)
    return table


def verdict_triples(table: np.ndarray) -> list[tuple[int, int, PairVerdict]]:
    """The rows of a :data:`VERDICTS` table as ``(i, j, verdict)``: what :func:`verdict_rows` took."""
    return [(i, j, PairVerdict(duplicate, similarity, REASONS[reason])) for i, j, duplicate, similarity, reason in zip(
        table["i"].tolist(), table["j"].tolist(), table["duplicate"].tolist(), table["similarity"].tolist(),
        table["reason"].tolist())]


def pair_keys(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One sortable int64 a pair (run numbers below 2**31): sorted keys are pairs sorted by (i, j).

    Built in place: millions of pairs would otherwise hold three int64 temporaries beside the keys.
    """
    keys = i.astype(np.int64)
    keys <<= 32
    keys |= j
    return keys


def table_pairs(table: np.ndarray) -> np.ndarray:
    """The pairs of a :data:`VERDICTS` table as rows of two run numbers: a read-only view of its
    ``i`` and ``j`` columns (adjacent int32 fields), so a run's candidates, once their table holds
    them, are not held a second time (8 bytes a pair)."""
    return np.lib.stride_tricks.as_strided(table["i"], (len(table), 2), (table.strides[0], 4), writeable=False)


class Verdicts(Mapping[tuple[int, int], PairVerdict]):
    """Verdicts by pair, held as one :data:`VERDICTS` table sorted by pair (and, for a table some of
    whose rows no longer hold, which rows do).

    A pair is found by its first article's run of rows, then its second article in that run: the
    table needs no key a row beside it, only where each first article's rows start.
    """

    def __init__(self, *tables: np.ndarray) -> None:
        """The verdicts of ``tables`` (of distinct pairs). A sorted table is taken as it is; several
        are merged into one by binary search, not sorted again."""
        table, keys = np.empty(0, VERDICTS), np.empty(0, np.int64)
        for t in tables:
            if not len(t):
                continue
            k = pair_keys(t["i"], t["j"])
            if len(k) > 1 and not (k[1:] > k[:-1]).all():  # workers' tables come sorted
                order = np.argsort(k, kind="stable")
                t, k = t[order], k[order]
            if len(keys):
                at = np.searchsorted(keys, k)
                t, k = np.insert(table, at, t), np.insert(keys, at, k)
            table, keys = t, k
        self._index(table)
        self.holding: np.ndarray | None = None

    @classmethod
    def of_sorted(cls, table: np.ndarray, holding: np.ndarray | None = None) -> Verdicts:
        """The rows of a table sorted by pair where ``holding`` is True (all when None), without
        copying it."""
        v = cls()
        v._index(table)
        v.holding = holding
        return v

    def _index(self, table: np.ndarray) -> None:
        self.table = table
        firsts = table["i"]
        starts = np.flatnonzero(np.r_[True, firsts[1:] != firsts[:-1]]) if len(firsts) else np.empty(0, np.int64)
        # each first article once, ascending; int64, as an int32 array searched for a Python int is cast whole
        self._firsts = firsts[starts].astype(np.int64)
        self._starts = np.append(starts, len(table))  # where its rows start (and the table ends)
        self._seconds = table["j"]

    def _at(self, pair: tuple[int, int]) -> int:
        i, j = pair
        firsts = self._firsts
        a = int(np.searchsorted(firsts, i))
        if a == len(firsts) or firsts[a] != i:
            return -1
        lo, hi = int(self._starts[a]), int(self._starts[a + 1])
        seconds = self._seconds[lo:hi].tolist()  # a few rows: cheaper in Python than a numpy call
        k = bisect_left(seconds, j)
        found = k < len(seconds) and seconds[k] == j
        k += lo
        return k if found and (self.holding is None or self.holding[k]) else -1

    def get(self, pair: tuple[int, int], default: PairVerdict | None = None) -> PairVerdict | None:  # type: ignore[override]
        k = self._at(pair)
        return verdict(self.table[k]) if k >= 0 else default

    def __getitem__(self, pair: tuple[int, int]) -> PairVerdict:
        k = self._at(pair)
        if k < 0:
            raise KeyError(pair)
        return verdict(self.table[k])

    def __len__(self) -> int:
        return len(self.table) if self.holding is None else int(self.holding.sum())

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rows = self.table if self.holding is None else self.table[self.holding]
        return iter(zip(rows["i"].tolist(), rows["j"].tolist()))


VERIFIED = 1 << 16  # verdicts a verifier keeps of the pairs it compared


class Verifier:
    """Exact verification of article pairs, cached: a pair asked for again is not compared again (up
    to ``VERIFIED`` verdicts kept; past that the cache starts afresh)."""

    def __init__(
        self,
        shingles: Callable[[int], np.ndarray],
        words: Callable[[int], list[list[str]]],
        dates: Sequence[float | None] | Mapping[int, float | None],
        opts: RunOptions,
        known: Mapping[tuple[int, int], PairVerdict] | None = None,
    ) -> None:
        self.shingles = shingles
        self.words = words
        self.dates = dates
        self.opts = opts
        self.known = known if known is not None else {}  # verdicts that still hold (from an earlier round), by pair
        # pairs compared so far (a dict, not an lru_cache of a bound method: that would make the verifier
        # a reference cycle, holding ``known`` and its table until a full collection)
        self._verified: dict[tuple[int, int], PairVerdict] = {}

    def verify(self, i: int, j: int) -> PairVerdict:
        """The verdict on articles ``i < j``: one that still holds, one cached, or a new comparison."""
        v = self.known.get((i, j))
        if v is None:
            v = self._verified.get((i, j))
            if v is None:
                if len(self._verified) >= VERIFIED:
                    self._verified.clear()
                v = self._verified[i, j] = self._verify(i, j)
        return v

    def _verify(self, i: int, j: int) -> PairVerdict:
        a, b = self.shingles(i), self.shingles(j)
        if a.size == 0 or b.size == 0:
            return PairVerdict(False, 0.0, "no_body")
        inter = shared_count(a, b)
        jaccard = inter / (a.size + b.size - inter)
        contained = inter / min(a.size, b.size)
        if jaccard >= self.opts.threshold:
            verdict = PairVerdict(True, jaccard, "exact" if jaccard == 1.0 else "near_duplicate")
        elif contained >= self.opts.containment and min(a.size, b.size) >= MIN_CONTAINED_SHINGLES:
            verdict = PairVerdict(True, contained, "contained")
        else:
            return PairVerdict(False, max(jaccard, contained), "different")
        if max(jaccard, contained) < 0.95 and templated_paragraphs(self.words(i), self.words(j)):
            return PairVerdict(False, verdict.similarity, "look_alike")
        da, db = self.dates[i], self.dates[j]
        window = self.opts.window_days
        if window is not None and da is not None and db is not None and abs(da - db) > window * 86400:
            return PairVerdict(False, verdict.similarity, "outside_window")
        return verdict


@dataclass(frozen=True, slots=True)
class Clustering:
    """Each article's kept copy (itself when kept), the verdict that dropped it, pairs held apart,
    and the verdict on every candidate pair as a :data:`VERDICTS` table sorted by pair (or, when
    the pairs stayed on a Dask cluster, only their similarity ``bins``: merged and not, as the
    report's summary gives them)."""

    keeper: Sequence[int]  # an array of int32
    verdicts: Mapping[int, PairVerdict]  # of the dropped articles (a Dropped)
    held_apart: tuple[tuple[int, int, PairVerdict], ...]
    table: np.ndarray | None
    bins: tuple[list[int], list[int]] | None = None

    def verdicts_only(self) -> Clustering:
        """What a second round takes of this one: its verdicts (or their bins), without each article's
        kept copy and the drops, which a run need not hold through it."""
        return Clustering(array("i"), {}, (), self.table, self.bins)


class Components(Sequence[list[int]]):
    """Connected components held as two arrays: their members one after another (each component
    sorted) and where each starts; a component becomes a list only when taken. The 345,000 members
    of a million articles' components take 1.4 MB so, where lists of Python ints took 12.6."""

    __slots__ = ("members", "starts")

    def __init__(self, members: np.ndarray, starts: np.ndarray) -> None:
        self.members, self.starts = members, starts  # ``starts``: one more than there are components

    def __len__(self) -> int:
        return len(self.starts) - 1

    @overload
    def __getitem__(self, k: int) -> list[int]: ...

    @overload
    def __getitem__(self, k: slice) -> Components: ...

    def __getitem__(self, k: int | slice) -> list[int] | Components:
        if isinstance(k, slice):  # a run of components (a worker's chunk), its arrays sliced
            first, last, step = k.indices(len(self))
            if step != 1:
                raise ValueError("components are sliced in order")
            starts = self.starts[first : max(first, last) + 1]
            return Components(self.members[starts[0] : starts[-1]], starts - starts[0])
        if not -len(self) <= k < len(self):
            raise IndexError(k)
        k %= len(self)
        members: list[int] = self.members[self.starts[k] : self.starts[k + 1]].tolist()
        return members

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(other) == len(self) and all(
            list(a) == b for a, b in zip(other, self))

    __hash__ = None  # type: ignore[assignment]


def _components(edges: np.ndarray) -> Components:
    """Connected components (of two or more articles) of ``edges`` (rows of two run numbers), each
    sorted, by least member.

    In numpy, over the edges' articles only: each round hooks every tree's root under the least
    root an edge joins it to, then points every article straight at its root (pointer jumping),
    until no edge joins two trees. A few rounds even for a chain; no Python object an edge.
    """
    if not len(edges):
        return Components(np.empty(0, edges.dtype), np.zeros(1, np.int64))
    nodes, ends = np.unique(edges, return_inverse=True)  # articles numbered 0.. in run order
    a, b = ends.reshape(-1, 2).T
    root = np.arange(len(nodes))  # a parent before each round's jumps; never above its article
    while True:
        ra, rb = root[a], root[b]
        apart = ra != rb
        if not apart.any():
            break
        np.minimum.at(root, np.maximum(ra[apart], rb[apart]), np.minimum(ra[apart], rb[apart]))
        while True:
            up = root[root]
            if (up == root).all():
                break
            root = up
    order = np.argsort(root, kind="stable")  # by root (its least member), members in run order
    bounds = np.r_[0, np.flatnonzero(np.diff(root[order])) + 1, len(order)]
    sizes = np.diff(bounds)
    several = sizes > 1
    return Components(nodes[order[np.repeat(several, sizes)]], np.r_[0, np.cumsum(sizes[several])])


Drops = list[tuple[int, int, PairVerdict]]  # (dropped article, the kept copy it was dropped for, why)


def settle(component: list[int], verifier: Verifier, rank: Callable[[list[int]], list[int]]) -> Drops:
    """One connected component: in keep order, each article is dropped for the first kept copy it
    is verified against, or kept."""
    kept: list[int] = []
    drops: Drops = []
    for m in rank(component):
        for k in kept:
            v = verifier.verify(min(m, k), max(m, k))
            if v.duplicate:
                drops.append((m, k, v))
                break
        else:
            kept.append(m)
    return drops


def cluster(
    n: int,
    candidates: np.ndarray | Iterable[tuple[int, int]],
    verifier: Verifier,
    rank: Callable[[list[int]], list[int]],
    settle_all: Callable[[Sequence[list[int]]], Iterable[Drops]] | None = None,
    found: np.ndarray | None = None,
) -> Clustering:
    """Verify candidate pairs (rows of two run numbers, or tuples), then keep the best copy of
    each story and drop the verified rest.

    ``settle_all`` maps :func:`settle` over the components (a run does it in worker processes);
    ``found``, when given, are the verdicts of exactly these candidates, as a :data:`VERDICTS` table in
    their order (a run's workers found them all), so they are not asked for pair by pair.
    """
    if not isinstance(candidates, np.ndarray):
        candidates = np.array(sorted(set(candidates)), np.int64).reshape(-1, 2)
    table = found if found is not None else verify_all(candidates, verifier)
    held = table[np.isin(table["reason"], HELD)]
    components = _components(candidates[table["duplicate"]])
    settled = settle_all(components) if settle_all else (settle(c, verifier, rank) for c in components)
    keeper, verdicts = kept_copies(n, settled)
    return Clustering(keeper, verdicts, tuple(verdict_triples(held)), table)


def verify_all(candidates: np.ndarray, verifier: Verifier) -> np.ndarray:
    """The verdict of each candidate pair, asked for pair by pair, as a :data:`VERDICTS` table."""
    return verdict_rows((i, j, verifier.verify(i, j)) for i, j in candidates.tolist())


class Dropped(Mapping[int, PairVerdict]):
    """The verdict that dropped each dropped article: a :data:`VERDICTS` table of (dropped, kept)
    rows sorted by the dropped article, 26 bytes a drop with its key, where a dict of verdicts takes
    about 200 (20 MB for the 100,000 drops of a million articles)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table[np.argsort(table["i"], kind="stable")]
        self._keys = self.table["i"].astype(np.int64)  # an int32 column searched for a Python int is cast whole

    def _at(self, m: int) -> int:
        k = int(np.searchsorted(self._keys, m))
        return k if k < len(self._keys) and self._keys[k] == m else -1

    def __getitem__(self, m: int) -> PairVerdict:
        k = self._at(m)
        if k < 0:
            raise KeyError(m)
        return verdict(self.table[k])

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys.tolist())


def kept_copies(n: int, settled: Iterable[Drops]) -> tuple[Sequence[int], Dropped]:
    """Each of ``n`` articles' kept copy (itself when kept; 4 bytes an article) and the verdict of
    each dropped one."""
    keeper = array("i", range(n))

    def drops() -> Iterator[tuple[int, int, PairVerdict]]:
        for component in settled:
            for m, k, v in component:
                keeper[m] = k
                yield m, k, v

    return keeper, Dropped(verdict_rows(drops()))
