"""What a run keeps of each article between its passes: a few numbers in memory, text on disk.

Each process that prepares articles appends their shingles, outputs and findings to its own
shard of files in the run's temporary folder (:class:`SpillWriter`), and sends back only a
compact :class:`DocInfo`, so neither the text nor the shingles cross a pipe or stay in memory.
Reads are positional (``pread``), so worker processes forked from the run read the shards at
the same time as the run itself (:class:`Spill`).
"""

from __future__ import annotations

import io
import json
import os
from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np

from .prepare import Prepared
from .records import Article

EDGE = 3  # paragraphs at each end of an article that can be site boilerplate


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


class SpillWriter:
    """One process's shard: append-only shingle and output files (in ``folder``, or in memory
    when it is None: a Dask task's chunk, see :class:`Buffers`)."""

    def __init__(self, folder: str | None, name: str) -> None:
        self.folder, self.name, self.pid = folder, name, os.getpid()
        self.shingles: io.BufferedWriter | io.BytesIO
        self.outputs: io.BufferedWriter | io.BytesIO
        if folder is None:
            self.shingles, self.outputs = io.BytesIO(), io.BytesIO()
        else:
            self.shingles = open(os.path.join(folder, f"{name}.u32"), "wb")  # noqa: SIM115
            self.outputs = open(os.path.join(folder, f"{name}.txt"), "wb")  # noqa: SIM115
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
        flat = np.frombuffer(self.shingle_bytes(doc), dtype="<u4")
        return np.split(flat, np.cumsum(doc.shingle_sizes)[:-1]) if doc.shingle_sizes else []

    def shingle_bytes(self, doc: DocInfo) -> bytes:
        return self._read(doc, "u32", sum(doc.shingle_sizes) * 4, doc.shingle_at * 4)

    def output_bytes(self, doc: DocInfo) -> bytes:
        return self._read(doc, "txt", doc.output_len, doc.output_at)

    def output(self, doc: DocInfo) -> str:
        return self.output_bytes(doc).decode("utf-8", "surrogatepass")

    def findings(self, doc: DocInfo) -> list[dict[str, Any]]:
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
