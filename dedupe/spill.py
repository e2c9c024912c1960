"""What a run keeps of each article between its passes: on disk, with a few bytes of it in memory.

Each process that prepares articles appends their shingles, outputs and findings to its own
shard of files in the run's temporary folder (:class:`SpillWriter`), and sends back only a
compact :class:`DocInfo` of each, packed with a few files' others (:class:`DocBatch`), so neither
the text nor the shingles cross a pipe or stay in memory. The run then writes those records and
the signatures to files of its own (:class:`DocTable`, :class:`Signatures`) and keeps 8 bytes an
article of them in memory, with bounded caches.
Reads are positional (``pread``), so worker processes forked from the run read the shards at
the same time as the run itself (:class:`Spill`).
"""

from __future__ import annotations

import io
import json
import marshal
import os
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, islice
from typing import Any, BinaryIO

import numpy as np
import xxhash

from .prepare import Prepared
from .records import Article, Problem
from .sequences import Packed

EDGE = 3  # paragraphs at each end of an article that can be site boilerplate
WRITE_BUFFER = 1 << 20  # bytes a spill file gathers before a write (Python's 8 KB made a system call an article)


@dataclass(slots=True)
class DocInfo:
    """What stays in memory of an article between the passes (about 1 KB with its path)."""

    article: Article
    shard: int  # which spill shard holds its text (numbered by the run)
    shingle_at: int  # in 4-byte hashes
    shingle_sizes: array  # type: ignore[type-arg]  # uint32 per body paragraph
    output_at: int
    output_len: int
    findings_len: int
    keys: array  # type: ignore[type-arg]  # uint64 per body paragraph, of its words as written
    matching_keys: array  # type: ignore[type-arg]  # as compared (the same object when no dateline or credit)
    sentences: bytes  # per body paragraph: 1 when it reads as prose
    signature: np.ndarray | None  # until the run moves it into its signature matrix
    headline_key: int | None
    headline: str | None
    date: float | None
    headline_line: bool
    bytes_in: int
    headlines_removed: int
    paragraphs_removed: int
    order: int = -1
    name: str = ""  # what the report calls it

    @property
    def edge(self) -> range | list[int]:
        """Indices of the body paragraphs that open or close the article."""
        n = len(self.keys)
        return range(n) if n <= 2 * EDGE else [*range(EDGE), *range(n - EDGE, n)]

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return _unpack, (_pack(self),)


def _pack(d: DocInfo, with_signature: bool = True) -> bytes:
    """A record as bytes: plain values through marshal, four times as fast as pickling the dataclass."""
    a = d.article
    return marshal.dumps((
        a.id, a.path, a.title, a.date, a.url, a.line, a.record_id, d.shard, d.shingle_at, d.shingle_sizes.tobytes(),
        d.output_at, d.output_len, d.findings_len, d.keys.tobytes(),
        None if d.matching_keys is d.keys else d.matching_keys.tobytes(), d.sentences,
        None if d.signature is None or not with_signature else d.signature.astype(np.uint32, copy=False).tobytes(),
        d.headline_key, d.headline, d.date, d.headline_line, d.bytes_in, d.headlines_removed, d.paragraphs_removed,
        d.order, d.name,
    ))


def _unpack(data: bytes) -> DocInfo:
    (aid, path, title, date_text, url, line, record_id, shard, shingle_at, sizes, output_at, output_len, findings_len,
     keys, matching, sentences, signature, headline_key, headline, date, headline_line, bytes_in, headlines_removed,
     paragraphs_removed, order, name) = marshal.loads(data)
    keys_array = array("Q", keys)
    return DocInfo(
        Article(aid, path, "", title, date_text, url, line, record_id), shard, shingle_at, array("I", sizes),
        output_at, output_len, findings_len, keys_array, keys_array if matching is None else array("Q", matching),
        sentences, None if signature is None else np.frombuffer(signature, np.uint32), headline_key, headline, date,
        headline_line, bytes_in, headlines_removed, paragraphs_removed, order, name,
    )


def string_hash(text: str) -> int:
    """A string as 64 bits (xxh64 of its UTF-8, lone surrogates kept): how a run tells its record ids
    apart (:meth:`DocTable.name`) and finds the articles its report names (:class:`dedupe.runreport.Names`)."""
    return xxhash.xxh64_intdigest(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class DocBatch:
    """The prepared articles of a few input files as a run takes them in: each record packed, and the
    columns the run keeps of them, made where the articles were prepared. A worker sends this (a few
    byte strings and arrays) and the run appends it without decoding a record, where each record
    crossed the pipe on its own, to be decoded and packed again by the run while it shared the cores
    with the workers."""

    shard: str  # the spill shard that holds the articles' text
    files: int  # input files covered (a file may give no article)
    problems: list[Problem]  # of those files, in order
    paths: list[str]  # the articles' paths, one for each run of articles of the same path
    path_counts: array  # type: ignore[type-arg]  # articles in each run
    records: bytes  # each article's packed record without its signature, one after the other
    record_sizes: array  # type: ignore[type-arg]
    signatures: bytes  # a row of uint32 an article
    dates: array  # type: ignore[type-arg]  # NaN where undated
    shingle_counts: array  # type: ignore[type-arg]  # of each article's body, as signed
    keys: array  # type: ignore[type-arg]  # every article's body paragraph keys, one article after the other
    key_counts: array  # type: ignore[type-arg]  # body paragraphs of each article
    id_rows: array  # type: ignore[type-arg]  # the articles (numbered in the batch) with a record id
    id_hashes: array  # type: ignore[type-arg]  # and those ids' :func:`string_hash`
    headlines_removed: int
    paragraphs_removed: int
    bytes_in: int

    def __len__(self) -> int:
        return len(self.record_sizes)

    @classmethod
    def of(cls, shard: str, files: Sequence[tuple[str, Sequence[DocInfo | Problem]]]) -> DocBatch:
        """The batch of these files' records (each file's, in order), their text in spill ``shard``."""
        problems: list[Problem] = []
        paths: list[str] = []
        path_counts, record_sizes, shingle_counts, key_counts = array("I"), array("I"), array("I"), array("I")
        records: list[bytes] = []
        signatures: list[bytes] = []
        dates, keys, id_rows, id_hashes = array("d"), array("Q"), array("I"), array("Q")
        headlines = paragraphs = bytes_in = 0
        nan = float("nan")
        for _, items in files:
            for d in items:
                if isinstance(d, Problem):
                    problems.append(d)
                    continue
                if paths and paths[-1] == d.article.path:
                    path_counts[-1] += 1
                else:
                    paths.append(d.article.path)
                    path_counts.append(1)
                assert d.signature is not None
                if d.article.record_id:
                    id_rows.append(len(records))
                    id_hashes.append(string_hash(d.article.record_id))
                data = _pack(d, with_signature=False)  # the run keeps signatures in a file of their own
                records.append(data)
                record_sizes.append(len(data))
                signatures.append(d.signature.astype("<u4", copy=False).tobytes())
                dates.append(nan if d.date is None else d.date)
                shingle_counts.append(sum(d.shingle_sizes))
                keys.extend(d.keys)
                key_counts.append(len(d.keys))
                headlines += d.headlines_removed
                paragraphs += d.paragraphs_removed
                bytes_in += d.bytes_in
        return cls(shard, len(files), problems, paths, path_counts, b"".join(records), record_sizes,
                   b"".join(signatures), dates, shingle_counts, keys, key_counts, id_rows, id_hashes,
                   headlines, paragraphs, bytes_in)


class SpillWriter:
    """One process's shard: append-only shingle and output files (in ``folder``, or in memory
    when it is None: a Dask task's chunk, see :class:`Buffers`)."""

    def __init__(self, folder: str | None, name: str) -> None:
        self.folder, self.name, self.pid = folder, name, os.getpid()
        self.shingles: BinaryIO
        self.outputs: BinaryIO
        if folder is None:
            self.shingles, self.outputs = io.BytesIO(), io.BytesIO()
        else:
            self.shingles = open(os.path.join(folder, f"{name}.u32"), "wb", buffering=WRITE_BUFFER)  # noqa: SIM115
            self.outputs = open(os.path.join(folder, f"{name}.txt"), "wb", buffering=WRITE_BUFFER)  # noqa: SIM115
        self._shingles_at = self._outputs_at = 0

    def add(self, prep: Prepared) -> DocInfo:
        """Store an article's shingles, then its output followed by its findings (JSON lines)."""
        shingle_at = self._shingles_at
        data = prep.shingles.astype("<u4", copy=False).tobytes()
        self.shingles.write(data)
        self._shingles_at += len(data) // 4
        # surrogatepass: a lone surrogate (a JSON escape in the input) round-trips through the spill
        output = prep.output.encode("utf-8", "surrogatepass")
        findings = "".join(json.dumps(f) + "\n" for f in prep.findings).encode("ascii")
        output_at = self._outputs_at
        self.outputs.write(output + findings)
        self._outputs_at += len(output) + len(findings)
        keys = array("Q", prep.paragraph_keys)
        matching = keys if prep.matching_keys == prep.paragraph_keys else array("Q", prep.matching_keys)
        kinds = [f["kind"] for f in prep.findings]
        return DocInfo(
            article=prep.article, shard=-1, shingle_at=shingle_at, shingle_sizes=array("I", prep.shingle_sizes),
            output_at=output_at, output_len=len(output), findings_len=len(findings), keys=keys,
            matching_keys=matching, sentences=bytes(prep.sentences), signature=prep.signature,
            headline_key=prep.headline_key, headline=prep.headline, date=prep.date,
            headline_line=prep.headline_line, bytes_in=prep.bytes_in,
            headlines_removed=kinds.count("duplicate_headline"), paragraphs_removed=kinds.count("duplicate_paragraph"),
        )

    def buffers(self) -> tuple[bytes, bytes]:
        """What an in-memory writer holds: its shingles and its outputs."""
        assert isinstance(self.shingles, io.BytesIO) and isinstance(self.outputs, io.BytesIO)
        return self.shingles.getvalue(), self.outputs.getvalue()

    def flush(self) -> None:
        self.shingles.flush()
        self.outputs.flush()

    def close(self) -> None:
        self.shingles.close()
        self.outputs.close()


def split_paragraphs(data: bytes, sizes: Sequence[int]) -> list[np.ndarray]:
    """An article's spilled shingles (``data``) as one array a paragraph of ``sizes`` hashes (views, no copies)."""
    flat = np.frombuffer(data, dtype="<u4")
    ends = list(accumulate(sizes))
    return [flat[start:end] for start, end in zip([0, *ends], ends)]


def _pread(fd: int, size: int, at: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, at)
    os.lseek(fd, at, os.SEEK_SET)  # no pread (Windows): no forked readers there either
    return os.read(fd, size)


class Spill:
    """Reads any shard of a run's spill: an article's shingles per paragraph, output and findings."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.names: list[str] = []
        self._ids: dict[str, int] = {}
        self._fds: dict[tuple[int, str], int] = {}

    def shard(self, name: str) -> int:
        """The number of the shard a writer of this name wrote."""
        if name not in self._ids:
            self._ids[name] = len(self.names)
            self.names.append(name)
        return self._ids[name]

    def _fd(self, shard: int, suffix: str) -> int:
        fd = self._fds.get((shard, suffix))
        if fd is None:
            path = os.path.join(self.folder, f"{self.names[shard]}.{suffix}")
            fd = self._fds[(shard, suffix)] = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return fd

    def _read(self, doc: DocInfo, suffix: str, size: int, at: int) -> bytes:
        return _pread(self._fd(doc.shard, suffix), size, at)

    def paragraphs(self, doc: DocInfo) -> list[np.ndarray]:
        return split_paragraphs(self.shingle_bytes(doc), doc.shingle_sizes)

    def shingle_bytes(self, doc: DocInfo) -> bytes:
        return self._read(doc, "u32", sum(doc.shingle_sizes) * 4, doc.shingle_at * 4)

    def output_bytes(self, doc: DocInfo) -> bytes:
        return self._read(doc, "txt", doc.output_len, doc.output_at)

    def output(self, doc: DocInfo) -> str:
        return self.output_bytes(doc).decode("utf-8", "surrogatepass")

    def findings(self, doc: DocInfo) -> list[dict[str, Any]]:
        if not doc.findings_len:
            return []  # most articles: no read at all
        data = self._read(doc, "txt", doc.findings_len, doc.output_at + doc.output_len)
        return [json.loads(line) for line in data.decode("ascii").splitlines()]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


class Buffers(Spill):
    """One in-memory shard (a :class:`SpillWriter` without a folder), read like a spill."""

    def __init__(self, shingles: bytes, outputs: bytes) -> None:
        super().__init__("")
        self.data = {"u32": shingles, "txt": outputs}

    def _read(self, doc: DocInfo, suffix: str, size: int, at: int) -> bytes:
        return self.data[suffix][at : at + size]


RECORDS_CACHED = 4096  # records kept decoded by each process (about 1 KB each)
RUN_BLOCK = 1 << 20  # bytes of records read at a time when they are read in order


class DocTable(Packed[DocInfo]):
    """A run's article records in a file of ``folder``, in run order: memory holds each record's
    place (8 bytes) and a bounded cache of decoded records, so it does not grow with the records.

    Records are appended during pass one, a batch at a time, then named (:meth:`name`). A record read back is shared
    while it stays in the cache and is not written back: readers leave it as it is.
    """

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, "records.bin")
        self._out = open(self.path, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._at = array("Q", [0])
        self._shard_starts, self._shards = array("q"), array("q")  # the first record of each run of one shard
        self._pending = False  # appended records not yet flushed
        self._unique_ids: bytearray | None = None  # 1 where a record's id is unique in the run
        self._id_numbers, self._id_hashes = array("q"), array("Q")  # the records with an id, until named
        self._get = lru_cache(maxsize=RECORDS_CACHED)(self._read)

    def extend(self, batch: DocBatch, shard: int) -> None:
        """Append a batch's records, their text in spill shard ``shard``: a record read back has its
        run number (``order``) and its shard, whatever its packed bytes say."""
        start = len(self)
        if not len(batch):
            return
        if not self._shards or self._shards[-1] != shard:
            self._shard_starts.append(start)
            self._shards.append(shard)
        self._out.write(batch.records)
        self._at.extend(islice(accumulate(batch.record_sizes, initial=self._at[-1]), 1, None))
        self._id_numbers.extend(start + k for k in batch.id_rows)  # what name() needs, without reading records
        self._id_hashes.extend(batch.id_hashes)
        self._pending = True

    def __len__(self) -> int:
        return len(self._at) - 1

    def _item(self, i: int) -> DocInfo:
        return self._get(i)

    def _read(self, i: int) -> DocInfo:
        self.flush()
        start = self._at[i]
        return self._named(i, _unpack(_pread(self._fd, self._at[i + 1] - start, start)))

    def __iter__(self) -> Iterator[DocInfo]:
        """Every record in order, read a block at a time."""
        return self.run(0, len(self))

    def run(self, start: int, stop: int) -> Iterator[DocInfo]:
        """Records ``start`` to ``stop`` (not included) in order, read a block at a time."""
        self.flush()
        block, i = RUN_BLOCK, start
        while i < stop:
            at, end = self._at[i], i + 1  # bytes from ``at``, records i to ``end``
            while end < stop and self._at[end + 1] - at <= block:
                end += 1
            data = _pread(self._fd, self._at[end] - at, at)
            for k in range(i, end):
                yield self._named(k, _unpack(data[self._at[k] - at : self._at[k + 1] - at]))
            i = end

    def _named(self, i: int, d: DocInfo) -> DocInfo:
        d.order = i
        d.shard = self._shards[bisect_right(self._shard_starts, i) - 1]
        if self._unique_ids is not None:
            rid = d.article.record_id
            d.name = rid if rid and self._unique_ids[i] else d.article.id
        return d

    def name(self) -> None:
        """Give each record its report name: its id where no other record of the run has the same
        one (told apart by a 64-bit hash of the id), else its path (``path#line``). Once, after the last
        append: the ids were hashed as the records came in."""
        numbers, hashes = self._id_numbers, self._id_hashes
        self._id_numbers, self._id_hashes = array("q"), array("Q")
        unique = bytearray(len(self))
        if hashes:
            _, inverse, counts = np.unique(np.frombuffer(hashes, np.uint64), return_inverse=True, return_counts=True)
            for i in np.frombuffer(numbers, np.int64)[counts[inverse] == 1].tolist():
                unique[i] = 1
        self._unique_ids = unique
        self._get.cache_clear()

    def forget(self) -> None:
        """Let the decoded records go: a step's reads leave up to ``RECORDS_CACHED`` of them (some 4 MB),
        scattered through memory that cannot be handed back to the OS while they live."""
        self._get.cache_clear()

    def flush(self) -> None:
        """Write out appended records (before forking workers: a buffer flushed in a worker it was
        inherited by is written twice)."""
        if self._pending:
            self._out.flush()
            self._pending = False

    def close(self) -> None:
        self._out.close()
        os.close(self._fd)
        self._get.cache_clear()


class Signatures:
    """Every article's signature, a row each, in a file of ``folder``: read a block of rows at a time."""

    BLOCK = 4096  # rows a read

    def __init__(self, folder: str, num_perm: int) -> None:
        self.path = os.path.join(folder, "signatures.u32")
        self.width = num_perm
        self._out = open(self.path, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self.rows = 0
        self._pending = False
        self._block: tuple[int, np.ndarray] = (-1, np.empty((0, num_perm), np.uint32))

    def extend(self, rows: bytes) -> None:
        """Append rows given as their bytes (little-endian uint32, ``width`` a row)."""
        self._out.write(rows)
        self.rows += len(rows) // (4 * self.width)
        self._pending = True

    def flush(self) -> None:
        """Write out appended rows (see :meth:`DocTable.flush`)."""
        if self._pending:
            self._out.flush()
            self._pending = False

    def _read_block(self, b: int) -> np.ndarray:
        self.flush()
        start, stop = b * self.BLOCK, min(self.rows, (b + 1) * self.BLOCK)
        data = _pread(self._fd, (stop - start) * self.width * 4, start * self.width * 4)
        return np.frombuffer(data, "<u4").reshape(stop - start, self.width)

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` (a run reads them in order: the block last read is kept)."""
        b = i // self.BLOCK
        if self._block[0] != b:
            self._block = (b, self._read_block(b))
        row: np.ndarray = self._block[1][i % self.BLOCK]
        return row

    def columns(self, start: int, stop: int) -> np.ndarray:
        """Columns ``start:stop`` of every row (one LSH band), as one matrix."""
        out = np.empty((self.rows, stop - start), np.uint32)
        for b in range(-(-self.rows // self.BLOCK)):
            out[b * self.BLOCK : (b + 1) * self.BLOCK] = self._read_block(b)[:, start:stop]
        return out

    def column_keys(self, start: int, stop: int, keys: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``keys(columns)`` of columns ``start:stop`` of every row, a block of rows at a time (one LSH
        band's buckets, without the band's matrix in memory)."""
        out = np.empty(self.rows, np.uint64)
        for b in range(-(-self.rows // self.BLOCK)):
            out[b * self.BLOCK : (b + 1) * self.BLOCK] = keys(self._read_block(b)[:, start:stop])
        return out

    def close(self) -> None:
        self._out.close()
        os.close(self._fd)
