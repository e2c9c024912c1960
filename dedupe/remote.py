"""Scrapes and outputs at fsspec URLs, for the Dask engine: ``s3://``, ``gs://``, ``file://``...

Listing and reading go through fsspec with the readers of :mod:`dedupe.formats`. Outputs at a
local path or a ``file://`` URL are written as by the local engine (a staging folder and a
rename); at any other URL each output file is written with one ``open(..., "wb")``, which an
object store (S3, GCS, Azure) makes visible only when it is whole (a single put). A protocol
whose fsspec package is missing is a one-line error naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from .config import FieldOptions
from .errors import ConfigError
from .formats import articles_from_bytes, kind_of, read_jsonl, rewrite_json, rewrite_jsonl
from .io import atomic_writer
from .records import Article, Problem

PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
            "abfss": "adlfs", "hdfs": "pyarrow", "sftp": "paramiko", "http": "aiohttp", "https": "aiohttp"}


def is_url(path: str) -> bool:
    return "://" in path


def local_path(path: str) -> Path | None:
    """The local path of a plain path or a ``file://`` URL; None for other URLs."""
    if not is_url(path):
        return Path(path)
    if path.startswith("file://"):
        return Path(path[len("file://") :])
    return None


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec file system of a URL and the path on it; a ConfigError naming the package to install."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as e:
        raise ConfigError("URLs need fsspec: pip install 'news-dedupe[dask]'") from e
    protocol = url.split("://", 1)[0]
    try:
        fs, path = url_to_fs(url)
    except ImportError as e:
        package = PACKAGES.get(protocol, f"the fsspec package for {protocol}://")
        raise ConfigError(f"{protocol}:// URLs need {package}: pip install {package}") from e
    except ValueError as e:
        raise ConfigError(f"{url}: {e}") from e
    return fs, str(path).rstrip("/")


def list_urls(root: str, problems: list[Problem]) -> list[str]:
    """Relative paths of the supported files under a URL, sorted (hidden files and folders passed over)."""
    fs, base = filesystem(root)
    try:
        found = fs.find(base, withdirs=False)
    except OSError as e:
        problems.append(Problem(root, f"cannot list this folder: {e} (skipped)"))
        return []
    rels = []
    for path in found:
        rel = str(path)[len(base) :].lstrip("/")
        if rel and kind_of(rel) is not None and not any(part.startswith(".") for part in rel.split("/")):
            rels.append(rel)
    return sorted(rels)


def _open_lines(fs: Any, path: str, rel: str) -> BinaryIO:
    from fsspec.core import OpenFile

    opened: BinaryIO = OpenFile(fs, path, "rb", compression="gzip" if kind_of(rel) == "jsonl.gz" else None).open()
    return opened


def read_input(root: str, rel: str, fields: FieldOptions) -> Iterator[Article | Problem]:
    """The articles of one input file under a URL, read as :func:`dedupe.formats.read_articles` reads a path."""
    fs, base = filesystem(root)
    path = f"{base}/{rel}"
    if kind_of(rel) in ("jsonl", "jsonl.gz"):
        yield from read_jsonl(lambda: _open_lines(fs, path, rel), lambda: int(fs.size(path)), rel, fields)
        return
    try:
        data = fs.cat_file(path)
    except OSError as e:
        yield Problem(rel, f"{getattr(e, 'strerror', None) or e} (skipped)")
        return
    yield from articles_from_bytes(data, rel, fields)


@dataclass(frozen=True, slots=True)
class UrlSink:
    """Outputs of a scrape at a URL, or outputs at a URL: one ``open(..., "wb")`` a file at a URL
    (see the module's note on atomicity), a temporary file in ``staging`` renamed into place at a
    local path (``local_out``)."""

    root: str
    out: str
    fields: FieldOptions
    local_out: Path | None = None
    staging: Path | None = None

    def _open(self, rel: str) -> AbstractContextManager[IO[bytes]]:
        if self.local_out is not None:
            return atomic_writer(self.local_out / rel, "wb", self.staging)
        fs, base = filesystem(self.out)
        path = f"{base}/{rel}"
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        opened: IO[bytes] = fs.open(path, "wb")
        return opened

    def _input(self) -> tuple[Any, str]:
        if is_url(self.root):
            return filesystem(self.root)
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), str(Path(self.root).resolve())

    def text(self, rel: str, text: str) -> None:
        with self._open(rel) as f:
            f.write(text.encode("utf-8"))

    def json(self, rel: str, text: str) -> None:
        fs, base = self._input()
        data = rewrite_json(fs.cat_file(f"{base}/{rel}"), rel, text, self.fields)
        with self._open(rel) as f:
            f.write(data.encode("utf-8"))

    def jsonl(self, rel: str, lines: dict[int, str]) -> None:
        fs, base = self._input()
        with self._open(rel) as f:
            rewrite_jsonl(lambda: _open_lines(fs, f"{base}/{rel}", rel), f, rel, lines, self.fields)
