"""Where an index keeps its entries: an embedded SQLite file (default) or a Redis server.

Both store the same things, as plain bytes and numbers (never pickles): the index's settings,
and per article its id, date, time added, body key, MinHash signature, paragraph keys, and the
LSH band hashes and lead-paragraph keys that find it again. ``atomically`` runs a read-then-write
step so that two writers racing on one story keep exactly one: SQLite by an immediate
transaction, Redis by WATCH on the story's band keys (a conflicting writer makes it retry).
"""

from __future__ import annotations

import json
import sqlite3
import struct
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol, TypeVar

import numpy as np

from .errors import IndexFileError
from .minhash import unique

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Entry:
    """One indexed article, as stored."""

    id: str
    date: float | None
    added: float
    body_key: int
    signature: bytes  # num_perm little-endian uint16: the low 16 bits of each MinHash value
    paragraphs: bytes  # little-endian uint32: the low 32 bits of each paragraph key
    bands: tuple[int, ...]
    leads: tuple[int, ...]


class View(Protocol):
    """What a step run by ``Store.atomically`` may do."""

    def candidates(self, bands: Iterable[int], leads: Iterable[int]) -> set[str]: ...

    def get(self, ids: Iterable[str]) -> list[Entry]: ...

    def put(self, entry: Entry) -> None: ...

    def put_many(self, entries: Iterable[Entry]) -> None: ...


Probe = tuple[Sequence[int], Sequence[int]]  # an entry's band hashes and lead keys


class Store(Protocol):
    target: str
    errors: tuple[type[BaseException], ...]  # what the backend raises when it fails (a lost server, a bad disk)

    def add_all(self, entries: Iterable[Entry]) -> None: ...

    def candidates_many(self, probes: Sequence[Probe]) -> list[set[str]]: ...

    def get(self, ids: Iterable[str]) -> list[Entry]: ...

    def settings(self) -> dict[str, str]: ...

    def save_settings(self, settings: dict[str, str]) -> None: ...

    def atomically(self, bands: Iterable[int], step: Callable[[View], T]) -> T: ...

    def expire(self, before: float) -> int: ...

    def stats(self) -> dict[str, Any]: ...

    def is_empty(self) -> bool: ...

    def close(self) -> None: ...


def _signed(x: int) -> int:
    return x - (1 << 64) if x >= 1 << 63 else x


# SQLite's page cache, KiB. The index's B-trees are far larger than any cache tried (the OS caches the
# file): a first fill of a million articles took as long with 64, 16 and 8 MB (48.6 against 50.5 s for
# 16 and 64; 32.1-33.1 against 34.1-38.1 s for 8 and 16, replayed from an index), and 100,000 articles
# were asked of it as fast (8.4-11.6 s with 8 MB, 9.3-11.2 with 16); each step down is memory saved
PAGE_CACHE_KIB = 8192


class SQLiteStore:
    """An index in one SQLite file (WAL mode, so readers don't block the writer).

    Packed for size: the band and lead tables hold 32-bit hashes and the article's row number,
    not its id (a spurious 32-bit match only adds a candidate, which the signature rejects);
    the id lives once, in ``docs``.
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS docs (
        n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, date REAL, added REAL NOT NULL,
        body_key INTEGER NOT NULL, signature BLOB NOT NULL, paragraphs BLOB NOT NULL,
        bands BLOB NOT NULL, leads BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS bands (hash INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hash, n)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS leads (hash INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (hash, n)) WITHOUT ROWID;
    """

    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, target: str) -> None:
        self.target = target
        try:
            self.db = sqlite3.connect(target, timeout=60, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 60000")
            self.db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            _retry_locked(lambda: self._setup(target))
        except sqlite3.DatabaseError as e:
            raise IndexFileError(target, f"not a dedupe index: {e}") from e

    def _setup(self, target: str) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise IndexFileError(target, "an SQLite database, but not a dedupe index (no meta table)")
        try:
            self.db.execute("SELECT json_array()")  # a run's lookups pass their keys as one JSON array
        except sqlite3.OperationalError as e:
            raise IndexFileError(target, f"this Python's SQLite {sqlite3.sqlite_version} lacks its JSON functions"
                                         " (built in since SQLite 3.38)") from e
        if target != ":memory:":
            self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(self.SCHEMA)

    def settings(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def save_settings(self, settings: dict[str, str]) -> None:
        with self._write():
            if not self.settings():
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(settings.items()))

    def _write(self) -> _Immediate:
        return _Immediate(self.db)

    def atomically(self, bands: Iterable[int], step: Callable[[View], T]) -> T:
        if not tuple(bands):  # a read-only step: no write lock (queries never wait for each other)
            return step(self)
        with self._write():
            return step(self)

    def candidates(self, bands: Iterable[int], leads: Iterable[int]) -> set[str]:
        return self.candidates_many([(tuple(bands), tuple(leads))])[0]

    def candidates_many(self, probes: Sequence[Probe]) -> list[set[str]]:
        """``candidates`` of many entries, one statement a table: the keys go in as one JSON array
        and only the rows that hit come back (a run asks this of every article it holds)."""
        found: list[set[str]] = [set() for _ in probes]
        for table, side in (("bands", 0), ("leads", 1)):
            owners = np.repeat(np.arange(len(probes)), [len(p[side]) for p in probes])
            keys = _short_array([k for p in probes for k in p[side]])
            if not len(keys):
                continue
            hits: dict[int, list[str]] = {}
            rows = self.db.execute(
                f"SELECT {table}.hash, docs.id FROM json_each(?) AS probe JOIN {table} ON {table}.hash = probe.value"
                f" JOIN docs USING (n)", (json.dumps(unique(keys).tolist()),))
            for key, doc_id in rows:
                hits.setdefault(key, []).append(doc_id)
            if hits:
                hit = np.isin(keys, np.fromiter(hits, np.int64, len(hits)))
                for q, key in zip(owners[hit].tolist(), keys[hit].tolist()):
                    found[q].update(hits[key])
        return found

    def get(self, ids: Iterable[str]) -> list[Entry]:
        out = []
        for doc_id in sorted(ids):
            row = self.db.execute(
                "SELECT id, date, added, body_key, signature, paragraphs, bands, leads FROM docs WHERE id = ?",
                (doc_id,),
            ).fetchone()
            if row:
                out.append(Entry(row[0], row[1], row[2], row[3] % (1 << 64), row[4], row[5],
                                 _ints32(row[6]), _ints32(row[7])))
        return out

    def put(self, entry: Entry) -> None:
        self.put_many([entry])

    def put_many(self, entries: Iterable[Entry]) -> None:
        """Add entries (replacing any with the same id), streamed, ``PUT_BATCH`` rows a statement.
        Their band and lead rows are kept as one int64 a row (in temporary files past a million of
        them, see :class:`SortedSpool`) and inserted sorted at the end, so a large batch appends to
        those B-trees instead of touching pages all over them. Run inside a write transaction: row
        numbers are given here, above every one in use, and never reused within a call (rows of an
        entry replaced within it are left out)."""
        (base,) = self.db.execute("SELECT coalesce(max(n), 0) FROM docs").fetchone()
        n = base
        rows = {"bands": SortedSpool(), "leads": SortedSpool()}  # (hash << 32 | n - base): 8 bytes a row
        replaced = array("q")
        for chunk in batches(entries, PUT_BATCH):
            latest = {e.id: e for e in chunk}  # an id twice in a batch: the later entry replaces the earlier
            held = self.db.execute("SELECT id FROM docs WHERE id IN (SELECT value FROM json_each(?))",
                                   (json.dumps(list(latest)),)).fetchall()
            replaced.extend(self._delete(doc_id) for (doc_id,) in held)
            docs: list[tuple[Any, ...]] = []
            blobs: dict[str, list[bytes]] = {"bands": [], "leads": []}
            for entry in latest.values():
                n += 1
                bands, leads = _blob32(entry.bands), _blob32(entry.leads)
                docs.append((n, entry.id, entry.date, entry.added, _signed(entry.body_key), entry.signature,
                             entry.paragraphs, bands, leads))
                blobs["bands"].append(bands)
                blobs["leads"].append(leads)
            self.db.executemany("INSERT INTO docs (n, id, date, added, body_key, signature, paragraphs, bands, leads)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", docs)
            assert n - base < 1 << 32
            for table, written in blobs.items():
                owners = np.repeat(np.arange(n - len(written), n) + 1 - base, [len(b) // 4 for b in written])
                rows[table].add((np.frombuffer(b"".join(written), "<i4").astype(np.int64) << 32) | owners)
        gone = np.frombuffer(replaced, np.int64)
        for table, spool in rows.items():
            for keys in spool.sorted_parts():  # by hash, then article
                for at in range(0, len(keys), 100_000):
                    part = keys[at : at + 100_000]
                    if len(gone):
                        part = part[~np.isin((part & 0xFFFFFFFF) + base, gone)]
                    # one JSON array a statement, split by SQLite: half the time of a bound row each
                    self.db.execute(f"INSERT OR IGNORE INTO {table} SELECT value >> 32, (value & 4294967295) + ?"
                                    " FROM json_each(?)", (base, json.dumps(part.tolist())))

    def add_all(self, entries: Iterable[Entry]) -> None:
        """All the entries in one transaction: a run killed while adding leaves the index as it was."""
        with self._write():
            self.put_many(entries)

    def _delete(self, doc_id: str) -> int:
        """Remove an entry and its band and lead rows; returns its row number (0: none held)."""
        row = self.db.execute("SELECT n, bands, leads FROM docs WHERE id = ?", (doc_id,)).fetchone()
        if not row:
            return 0
        n, bands, leads = row
        self.db.executemany("DELETE FROM bands WHERE hash = ? AND n = ?", [(_short(b), n) for b in _ints32(bands)])
        self.db.executemany("DELETE FROM leads WHERE hash = ? AND n = ?", [(_short(k), n) for k in _ints32(leads)])
        self.db.execute("DELETE FROM docs WHERE n = ?", (n,))
        return int(n)

    def expire(self, before: float) -> int:
        with self._write():
            ids = [r[0] for r in self.db.execute("SELECT id FROM docs WHERE coalesce(date, added) < ?", (before,))]
            for doc_id in ids:
                self._delete(doc_id)
        return len(ids)

    def stats(self) -> dict[str, Any]:
        count, oldest, newest = self.db.execute(
            "SELECT count(*), min(coalesce(date, added)), max(coalesce(date, added)) FROM docs"
        ).fetchone()
        pages = self.db.execute("PRAGMA page_count").fetchone()[0] * self.db.execute("PRAGMA page_size").fetchone()[0]
        return {"articles": count, "oldest": oldest, "newest": newest, "bytes": pages}

    def is_empty(self) -> bool:
        return bool(self.db.execute("SELECT NOT EXISTS (SELECT 1 FROM docs)").fetchone()[0])

    def close(self) -> None:
        self.db.close()


class _Immediate:
    """BEGIN IMMEDIATE ... COMMIT: one writer at a time, others wait (busy_timeout), never 'locked'."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        _retry_locked(lambda: self.db.execute("BEGIN IMMEDIATE"))

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


class SortedSpool:
    """int64 values added in any order and read back sorted, a part at a time: past ``HELD`` of
    them, they go to ``PARTS`` temporary files by their top bits (a part's values all below the
    next part's), so memory holds a part of them, not all (the first fill of an index from a run of
    a million articles adds some 25 million band rows: 200 MB)."""

    HELD = 1 << 18  # 2 MB: a million articles' index add peaks 10 MB lower than with 1 << 20, as fast
    PARTS = 16  # by the values' top four bits

    def __init__(self) -> None:
        self._held: list[np.ndarray] = []
        self._count = 0
        self._files: list[IO[bytes]] = []

    def add(self, values: np.ndarray) -> None:
        self._held.append(values.astype(np.int64, copy=False))
        self._count += len(values)
        if self._count >= self.HELD:
            self._spill()

    def _taken(self) -> np.ndarray:
        values = np.concatenate(self._held) if self._held else np.empty(0, np.int64)
        self._held, self._count = [], 0
        return values

    def _spill(self) -> None:
        if not self._files:
            self._files = [tempfile.TemporaryFile() for _ in range(self.PARTS)]  # noqa: SIM115
        values = self._taken()
        values.sort()  # in place: no order or part number a value beside them
        # part p holds the values whose top four bits, sign first, are p: those from (p - 8) << 60 on
        bounds = np.searchsorted(values, (np.arange(self.PARTS + 1, dtype=np.int64) - 8) << 60)
        bounds[-1] = len(values)
        for p, f in enumerate(self._files):
            f.write(values[bounds[p] : bounds[p + 1]].tobytes())

    def sorted_parts(self) -> Iterator[np.ndarray]:
        """The values, sorted, in parts (all of them at once when they stayed in memory); the
        temporary files are closed as they are read."""
        if not self._files:
            values = self._taken()
            values.sort()
            yield values
            return
        self._spill()
        files, self._files = self._files, []
        try:
            for f in files:
                f.seek(0)
                values = np.fromfile(f, np.int64)
                f.close()
                values.sort()
                yield values
        finally:
            for f in files:
                f.close()


def _retry_locked(step: Callable[[], object], attempts: int = 200) -> None:
    """Run an SQLite step, waiting out "database is locked" (busy_timeout covers most, not all)."""
    for attempt in range(attempts):
        try:
            step()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or attempt == attempts - 1:
                raise
            time.sleep(min(0.5, 0.01 * (attempt + 1)))


PUT_BATCH = 2048  # entries a statement when adding


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _short(x: int) -> int:
    """The low 32 bits, signed (SQLite stores it in four bytes or fewer)."""
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def _short_array(values: Sequence[int]) -> np.ndarray:
    """:func:`_short` of many values, as int64."""
    low: np.ndarray = (np.array(values, dtype=np.uint64) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return low.view(np.int32).astype(np.int64)


def _blob32(values: Sequence[int]) -> bytes:
    """The low 32 bits of each value, four little-endian bytes each."""
    return struct.pack(f"<{len(values)}I", *[v & 0xFFFFFFFF for v in values])


def _ints32(blob: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(blob[i : i + 4], "little") for i in range(0, len(blob), 4))


def _blob(values: Iterable[int]) -> bytes:
    return b"".join(v.to_bytes(8, "little") for v in values)


def _ints(blob: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(blob[i : i + 8], "little") for i in range(0, len(blob), 8))


class RedisStore:
    """An index on a Redis server, shared between machines: keys under ``dedupe:<name>:``.

    Own schema on redis-py rather than datasketch's Redis LSH storage: an atomic
    check-and-add needs the band keys WATCHed in one transaction with the entry's write,
    and expiry and stats need per-entry dates, neither of which datasketch's storage offers.
    """

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise IndexFileError(url, "a redis:// index needs the redis client: pip install 'news-dedupe[redis]'") from e
        from urllib.parse import urlparse

        self.target = url
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        self.WatchError = redis.WatchError
        name = urlparse(url).fragment or "default"
        self.prefix = f"dedupe:{name}:"
        self.r: Any = redis.Redis.from_url(url.split("#")[0])  # typed loosely: redis-py returns bytes here
        try:
            self.r.ping()
        except redis.RedisError as e:
            raise IndexFileError(url, f"cannot reach the Redis server ({e})") from e

    def _k(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def settings(self) -> dict[str, str]:
        raw = self.r.get(self._k("meta"))
        if raw is None:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as e:
            raise IndexFileError(self.target, "not a dedupe index (its meta key is not JSON)") from e
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def save_settings(self, settings: dict[str, str]) -> None:
        # One SET NX: writers opening a new index at once agree on the first one's settings.
        self.r.set(self._k("meta"), json.dumps(settings, sort_keys=True), nx=True)

    def atomically(self, bands: Iterable[int], step: Callable[[View], T]) -> T:
        keys = [self._k("band", b) for b in bands]
        if not keys:  # a read-only step
            view = _RedisView(self, self.r)
            return step(view)
        while True:
            with self.r.pipeline() as pipe:
                try:
                    pipe.watch(*keys)
                    view = _RedisView(self, pipe)
                    result = step(view)
                    pipe.multi()
                    view.flush(pipe)
                    pipe.execute()
                    return result
                except self.WatchError:
                    continue  # another writer touched one of our bands: look again

    def expire(self, before: float) -> int:
        ids = [x.decode() for x in self.r.zrangebyscore(self._k("dates"), "-inf", f"({before}")]
        for doc_id in ids:
            old = _RedisView(self, self.r).get([doc_id])
            pipe = self.r.pipeline()
            for e in old:
                for b in e.bands:
                    pipe.srem(self._k("band", b), doc_id)
                for k in e.leads:
                    pipe.srem(self._k("lead", k), doc_id)
            pipe.delete(self._k("doc", doc_id))
            pipe.zrem(self._k("dates"), doc_id)
            pipe.execute()
        return len(ids)

    def is_empty(self) -> bool:
        return not self.r.zcard(self._k("dates"))

    def stats(self) -> dict[str, Any]:
        count = self.r.zcard(self._k("dates"))
        oldest = self.r.zrange(self._k("dates"), 0, 0, withscores=True)
        newest = self.r.zrange(self._k("dates"), -1, -1, withscores=True)
        return {
            "articles": count,
            "oldest": oldest[0][1] if oldest else None,
            "newest": newest[0][1] if newest else None,
            "bytes": None,
        }

    def add_all(self, entries: Iterable[Entry]) -> None:
        """Entries REDIS_BATCH to a transaction (each watches every band key it writes)."""
        for chunk in batches(entries, REDIS_BATCH):
            self._put_all(chunk)

    def candidates_many(self, probes: Sequence[Probe]) -> list[set[str]]:
        """``candidates`` of many entries in one round trip (a pipeline of SMEMBERS)."""
        pipe = self.r.pipeline(transaction=False)
        for bands, leads in probes:
            for key in [self._k("band", b) for b in bands] + [self._k("lead", x) for x in leads]:
                pipe.smembers(key)
        answers = iter(pipe.execute())
        return [{m.decode() for _ in range(len(b) + len(x)) for m in next(answers)} for b, x in probes]

    def get(self, ids: Iterable[str]) -> list[Entry]:
        """The entries of ``ids`` held, in one round trip (a pipeline of HGETALL)."""
        ids = sorted(ids)
        pipe = self.r.pipeline(transaction=False)
        for doc_id in ids:
            pipe.hgetall(self._k("doc", doc_id))
        return [_redis_entry(doc_id, h) for doc_id, h in zip(ids, pipe.execute()) if h]

    def _put_all(self, chunk: list[Entry]) -> None:
        self.atomically([b for e in chunk for b in e.bands], lambda view: view.put_many(chunk))

    def close(self) -> None:
        self.r.close()


REDIS_BATCH = 500


class _RedisView:
    """Reads go straight to Redis (inside WATCH); writes are queued for the MULTI block."""

    def __init__(self, store: RedisStore, conn: Any) -> None:
        self.store = store
        self.conn = conn
        self.queued: list[tuple[Entry, list[Entry]]] = []

    def candidates(self, bands: Iterable[int], leads: Iterable[int]) -> set[str]:
        k = self.store._k
        found: set[str] = set()
        for key in [k("band", b) for b in bands] + [k("lead", x) for x in leads]:
            found.update(m.decode() for m in self.conn.smembers(key))
        return found

    def get(self, ids: Iterable[str]) -> list[Entry]:
        held = ((doc_id, self.conn.hgetall(self.store._k("doc", doc_id))) for doc_id in sorted(ids))
        return [_redis_entry(doc_id, h) for doc_id, h in held if h]

    def put(self, entry: Entry) -> None:
        self.queued.append((entry, self.get([entry.id])))  # read now: after MULTI, reads are queued

    def put_many(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.put(entry)

    def flush(self, pipe: Any) -> None:
        k = self.store._k
        for e, previous in self.queued:
            for old in previous:
                for b in old.bands:
                    pipe.srem(k("band", b), e.id)
                for x in old.leads:
                    pipe.srem(k("lead", x), e.id)
            mapping = {"added": e.added, "body_key": e.body_key, "signature": e.signature,
                       "paragraphs": e.paragraphs, "bands": _blob(e.bands), "leads": _blob(e.leads)}
            if e.date is not None:
                mapping["date"] = e.date
            pipe.delete(k("doc", e.id))
            pipe.hset(k("doc", e.id), mapping=mapping)
            for b in e.bands:
                pipe.sadd(k("band", b), e.id)
            for x in e.leads:
                pipe.sadd(k("lead", x), e.id)
            pipe.zadd(k("dates"), {e.id: e.date if e.date is not None else e.added})


def _redis_entry(doc_id: str, h: dict[bytes, bytes]) -> Entry:
    """An entry from its Redis hash."""
    date = h.get(b"date")
    return Entry(doc_id, float(date) if date else None, float(h[b"added"]), int(h[b"body_key"]),
                 h[b"signature"], h[b"paragraphs"], _ints(h[b"bands"]), _ints(h[b"leads"]))


def open_store(target: str) -> Store:
    """A store for a target: ``redis://host:port/db#name`` or a file path (``:memory:`` too)."""
    if target.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(target)
    return SQLiteStore(target)
