"""What a run keeps of each article between its passes: a few numbers in memory, text on disk.

Shingles, outputs and findings go to append-only files in a temporary folder, so a run's
memory grows with the number of articles, not with their text. Reads are positional
(``pread``), so worker processes forked from the run read the same files at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .prepare import Prepared
from .records import Article


def _pread(f: Any, size: int, at: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(f.fileno(), size, at)
    f.seek(at)  # no pread (Windows): no forked readers there either
    data: bytes = f.read(size)
    f.seek(0, os.SEEK_END)
    return data


@dataclass(slots=True)
class DocInfo:
    """What stays in memory of an article between the passes."""

    article: Article
    order: int
    shingle_at: int
    shingle_sizes: tuple[int, ...]
    output_at: int
    output_len: int
    keys: tuple[int, ...]
    matching_keys: tuple[int, ...]
    edge: tuple[int, ...]
    signature: np.ndarray
    headline_key: int | None
    headline: str | None
    sentences: tuple[bool, ...]
    date: float | None
    headline_line: bool
    findings_len: int = 0
    name: str = ""  # what the report calls it


class Spill:
    """Append-only files for what the second pass needs of each article's text."""

    def __init__(self, folder: str) -> None:
        self.shingles = open(os.path.join(folder, "shingles.u32"), "w+b")  # noqa: SIM115
        self.outputs = open(os.path.join(folder, "outputs.txt"), "w+b")  # noqa: SIM115

    def add(self, prep: Prepared) -> tuple[int, tuple[int, ...], int, int]:
        """Store an article's shingles, then its output followed by its findings (JSON lines)."""
        shingle_at = self.shingles.tell() // 4
        self.shingles.write(prep.shingles.astype("<u4", copy=False).tobytes())
        data = prep.output.encode("utf-8")
        findings = "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in prep.findings).encode("utf-8")
        output_at = self.outputs.tell()
        self.outputs.write(data + findings)
        return shingle_at, prep.shingle_sizes, output_at, len(data)

    def flush(self) -> None:
        """Make everything added readable (before worker processes read the spill)."""
        self.shingles.flush()
        self.outputs.flush()

    def paragraphs(self, doc: DocInfo) -> list[np.ndarray]:
        self.shingles.flush()
        total = sum(doc.shingle_sizes)
        data = _pread(self.shingles, total * 4, doc.shingle_at * 4)
        flat = np.frombuffer(data, dtype="<u4")
        return np.split(flat, np.cumsum(doc.shingle_sizes)[:-1]) if doc.shingle_sizes else []

    def output(self, doc: DocInfo) -> str:
        return self._read(doc.output_at, doc.output_len)

    def findings(self, doc: DocInfo) -> list[dict[str, Any]]:
        lines = self._read(doc.output_at + doc.output_len, doc.findings_len)
        return [json.loads(line) for line in lines.splitlines()]

    def _read(self, at: int, size: int) -> str:
        # pread: no shared file offset, so forked workers read the spill side by side
        self.outputs.flush()
        return _pread(self.outputs, size, at).decode("utf-8")

    def close(self) -> None:
        self.shingles.close()
        self.outputs.close()
