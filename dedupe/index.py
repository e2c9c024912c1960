"""A persistent "seen before?" index of article signatures and paragraph keys.

``Index.open(path)`` keeps it in an embedded SQLite file; ``Index.open("redis://host/0#name")``
on a Redis server shared by machines and processes. Each entry holds the article's MinHash
signature (the low 16 bits of datasketch's affine32 values; LSH bands are hashed from the full
values), its paragraph keys and its body key — under a kilobyte, no text. The settings that
make signatures comparable (scheme, seed, permutations, shingle size, LSH banding) are stored
with the index; opening it with other settings is an error, never a silent mismatch.

>>> with Index.open(":memory:") as index:
...     index.check("a", "Storm hits coast\\n\\nHigh winds cut power to thousands of homes on Monday night.").duplicate
False
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import xxhash

from .config import Options
from .dates import parse_date
from .errors import IndexFileError
from .prepare import Prepared, prepare
from .records import Article, Match, Verdict
from .stores import Entry, Store, View, batches, open_store

FORMAT = "dedupe-index"
VERSION = "4"  # 2: shingle hashes folded from word hashes; 3: SQLite tables packed (32-bit band rows);
# 4: signatures stored as their values' low 16 bits, paragraph keys as 32 bits
SIGNATURE_BITS = 16  # b-bit minwise hashing (Li and König): two values' low bits agree by chance 1 in 2**16
ROWS = 5  # LSH banding: num_perm // 5 bands of 5 rows (128 -> 25 bands: found at Jaccard 0.5 with p ~0.55)
LEADS = 3  # the first prose paragraphs' keys also find an article (truncated copies share them)
QUERY_BATCH = 2048  # entries a store is asked about at once by query_entries
MIN_PARAGRAPHS = 3  # paragraph containment needs this many paragraphs in the smaller article


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What ``dedupe index stats`` prints."""

    target: str
    articles: int
    oldest: float | None
    newest: float | None
    bytes: int | None
    settings: dict[str, str]

    @property
    def bytes_per_article(self) -> float | None:
        return self.bytes / self.articles if self.bytes is not None and self.articles else None


class Index:
    """Signatures of articles seen before, with an atomic check-and-add."""

    def __init__(self, store: Store, options: Options) -> None:
        self.store = store
        self.options = options

    @classmethod
    def open(cls, target: str | os.PathLike[str], options: Options | None = None) -> Index:
        """Open (or create) the index at ``target``: a file path (a ``str`` or a ``Path``), ``:memory:``
        or a redis:// URL."""
        options = options or Options()
        target = os.fspath(target)
        store = open_store(target)
        wanted = _settings(options)
        try:
            stored = store.settings()
            if not stored:
                store.save_settings(wanted)
                stored = store.settings()
        except store.errors as e:  # a server gone while it was being opened
            store.close()
            raise IndexFileError(target, f"the index failed: {e}") from e
        if stored.get("format") != FORMAT:
            store.close()
            raise IndexFileError(target, "not a dedupe index (its meta table says otherwise)")
        differ = [f"{k}={stored.get(k)} (asked for {v})" for k, v in wanted.items() if stored.get(k) != v]
        if differ:
            store.close()
            raise IndexFileError(target, "built with other settings: " + ", ".join(differ) + "; open it with those or build a new index")
        return cls(store, options)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    @property
    def target(self) -> str | None:
        """What :meth:`open` opens this index with again (a worker process's own connection), or None
        where no other connection sees it (``:memory:``)."""
        target: str = self.store.target
        return None if target in ("", ":memory:") else target

    # -- entries ---------------------------------------------------------------------------

    def entry(self, prep: Prepared, id: str | None = None) -> Entry:
        """The index entry for a prepared article (``id`` overrides the article's own)."""
        return self.make_entry(
            id if id is not None else prep.article.id, prep.signature, prep.matching_keys, prep.sentences, prep.date
        )

    def make_entry(
        self, id: str, signature: np.ndarray, matching_keys: Sequence[int], sentences: Sequence[int],
        date: float | None,
    ) -> Entry:
        """An entry from an article's signature and paragraph keys (as :mod:`dedupe.prepare` makes them)."""
        sig = np.ascontiguousarray(signature, dtype="<u4")
        seed = self.options.signature.seed
        keys = [k for k in matching_keys if k]  # credit lines left out, datelines cut
        raw, width = sig.tobytes(), ROWS * 4
        bands = tuple([
            xxhash.xxh64_intdigest(raw[b * width : (b + 1) * width], seed + b) for b in range(len(sig) // ROWS)
        ]) if keys else ()  # an article with no body (a headline alone) is stored, never matched
        leads = tuple(k for k, prose in zip(matching_keys, sentences) if prose and k)[:LEADS]
        paragraphs = np.array(keys, dtype="<u8")
        return Entry(
            id=_storable(id),
            date=date,
            added=time.time(),
            body_key=xxhash.xxh64_intdigest(paragraphs.tobytes()),
            signature=(sig & 0xFFFF).astype("<u2").tobytes(),
            paragraphs=(paragraphs & np.uint64(0xFFFFFFFF)).astype("<u4").tobytes(),
            bands=bands,
            leads=leads,
        )

    def _prepare(self, id: str, text: str, title: str | None, date: str | None) -> Entry:
        return self.entry(prepare(Article(id=id, path=id, text=text, title=title, date=date), self.options))

    def _matches(self, entry: Entry, view: View) -> list[Match]:
        if not entry.paragraphs:
            return []
        return self._matches_among(entry, view.get(view.candidates(entry.bands, entry.leads)))

    def _matches_among(self, entry: Entry, others: Iterable[Entry]) -> list[Match]:
        """Which of ``others`` (the entries its bands and leads found) ``entry`` is a copy of, best first."""
        found: list[Match] = []
        sig = np.frombuffer(entry.signature, dtype="<u2")
        paras = set(np.frombuffer(entry.paragraphs, dtype="<u4").tolist())
        if not paras:
            return found
        for other in others:
            if other.id == entry.id and other.body_key != entry.body_key or not other.paragraphs:
                continue  # the same document edited (it will replace its entry), or one with no body
            if other.body_key == entry.body_key:
                found.append(Match(other.id, 1.0, "exact"))
                continue
            estimate = _estimate(float(np.mean(sig == np.frombuffer(other.signature, dtype="<u2"))))
            if estimate >= self.options.run.threshold:
                found.append(Match(other.id, estimate, "near"))
                continue
            theirs = set(np.frombuffer(other.paragraphs, dtype="<u4").tolist())
            smaller = min(len(paras), len(theirs))
            if smaller >= MIN_PARAGRAPHS:
                share = len(paras & theirs) / smaller
                if share >= self.options.run.containment:
                    found.append(Match(other.id, share, "paragraphs"))
        return sorted(found, key=lambda m: (-m.similarity, m.id))

    # -- the API ---------------------------------------------------------------------------

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """The backend's own errors (a Redis server gone, a disk error) as one IndexFileError."""
        try:
            yield
        except self.store.errors as e:
            raise IndexFileError(self.store.target, f"the index failed: {e}") from e

    def query_entry(self, entry: Entry) -> list[Match]:
        with self._failing():
            return self.store.atomically((), lambda view: self._matches(entry, view))

    def query_entries(self, entries: Iterable[Entry]) -> Iterator[list[Match]]:
        """``query_entry`` of each entry, in order, the store asked ``QUERY_BATCH`` entries at a time
        (a run asks of every article it holds: one SQL statement a batch, not one a key)."""
        for batch in batches(entries, QUERY_BATCH):
            yield from self._query_batch(batch)

    def _query_batch(self, batch: list[Entry]) -> list[list[Match]]:
        with self._failing():
            found = self.store.candidates_many([(e.bands, e.leads) if e.paragraphs else ((), ()) for e in batch])
            others = {other.id: other for other in self.store.get(set().union(*found))}
        return [self._matches_among(e, [others[i] for i in sorted(ids) if i in others]) for e, ids in zip(batch, found)]

    def check_entry(self, entry: Entry) -> Verdict:
        """Query and add in one atomic step: of two writers racing on a story, one adds it.

        An id indexed before with the same body comes back as a duplicate of itself (seen
        before); with another body, it is an edit and replaces its entry.
        """

        def step(view: View) -> Verdict:
            matches = self._matches(entry, view)
            if not matches:
                view.put(entry)
            return Verdict(entry.id, bool(matches), tuple(matches))

        with self._failing():
            return self.store.atomically(entry.bands, step)

    def add_entry(self, entry: Entry) -> None:
        with self._failing():
            self.store.atomically(entry.bands, lambda view: view.put(entry))

    def add_entries(self, entries: Iterable[Entry]) -> None:
        """Add many entries (a run's kept articles), streamed: SQLite in one transaction, so a run
        killed while adding leaves the index as it was; Redis 500 to a transaction (each watches
        every band key it writes)."""
        with self._failing():
            self.store.add_all(entries)

    def query(self, text: str, title: str | None = None) -> list[Match]:
        """Indexed articles that ``text`` (cleaned as ``dedupe clean`` would) is a copy of, best first."""
        return self.query_entry(self._prepare("<query>", text, title, None))

    def add(self, id: str, text: str, date: str | None = None, title: str | None = None) -> None:
        """Index an article under ``id`` (replacing an earlier entry with that id)."""
        self.add_entry(self._prepare(id, text, title, date))

    def check(self, id: str, text: str, date: str | None = None, title: str | None = None) -> Verdict:
        """Is this a copy of an indexed article? If not, add it — atomically."""
        return self.check_entry(self._prepare(id, text, title, date))

    def expire(self, before: str | float) -> int:
        """Remove entries dated (or, undated, added) before ``before``; returns how many."""
        cutoff = parse_date(before) if isinstance(before, str) else before
        if cutoff is None:
            raise IndexFileError(self.store.target, f"cannot read {before!r} as a date (use YYYY-MM-DD)")
        with self._failing():
            return self.store.expire(cutoff)

    def is_empty(self) -> bool:
        """Whether the index holds no article (a first fill: a run need not ask it of any)."""
        with self._failing():
            return self.store.is_empty()

    def stats(self) -> IndexStats:
        with self._failing():
            s: dict[str, Any] = self.store.stats()
        return IndexStats(self.store.target, s["articles"], s["oldest"], s["newest"], s["bytes"], self.store.settings())


def _storable(id: str) -> str:
    """The id as the index holds it: lone surrogates (a file name that is not UTF-8, a JSON escape) as
    ``\\udcXX`` text, since SQLite and Redis take only UTF-8; the same id always maps the same way."""
    return id.encode("utf-8", "backslashreplace").decode("utf-8")


def _estimate(agree: float) -> float:
    """Jaccard estimated from the share of b-bit values that agree (chance agreements taken out)."""
    chance = 2.0**-SIGNATURE_BITS
    return max(0.0, (agree - chance) / (1.0 - chance))


def _settings(options: Options) -> dict[str, str]:
    sig = options.signature
    return {
        "format": FORMAT,
        "version": VERSION,
        "scheme": sig.scheme,
        "seed": str(sig.seed),
        "num_perm": str(sig.num_perm),
        "shingle_words": str(sig.shingle_words),
        "hash": "xxh32-words-fnv-fold",
        "bands": f"{sig.num_perm // ROWS}x{ROWS}",
    }
