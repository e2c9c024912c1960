"""Articles in and out of a scrape directory: .txt/.md files, .json objects, .jsonl(.gz) lines.

Readers yield :class:`Article` records and :class:`Problem` notes in a fixed order (sorted
relative paths, then line order), so a run does not depend on how the file system lists files.
A broken record or file is a Problem naming ``file:line`` and the reason; the rest goes on.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from .config import FieldOptions
from .errors import InputError
from .io import atomic_writer, decode, read_file, regular_file_problem
from .records import Article, Problem
from .sequences import Packed

TEXT_SUFFIXES = (".txt", ".md")
# A .jsonl.gz that inflates past GZIP_RATIO times its size plus GZIP_ALLOWANCE is a decompression
# bomb (JSON lines of news compress 4 to 10 times); the records before the limit are kept.
GZIP_RATIO = 100
LONG_LINE = 1_000_000  # characters; such a line is kept as one paragraph, with a warning
GZIP_ALLOWANCE = 64 << 20
SUFFIXES = (".txt", ".md", ".json", ".jsonl", ".jsonl.gz")


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON with text as it is, or with \\u escapes where it holds lone surrogates (from file
    names that are not UTF-8, or ``\\udXXX`` escapes in the input) that UTF-8 cannot carry."""
    out = json.dumps(value, ensure_ascii=False, indent=indent)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, indent=indent)
    return out


def kind_of(path: str) -> str | None:
    """``text``, ``json``, ``jsonl`` or ``jsonl.gz`` by the file name; None for other files."""
    if path.endswith(".jsonl.gz"):
        return "jsonl.gz"
    for suffix, kind in ((".jsonl", "jsonl"), (".json", "json"), (".txt", "text"), (".md", "text")):
        if path.endswith(suffix):
            return kind
    return None


def list_inputs(root: str | Path, problems: list[Problem] | None = None) -> list[str]:
    """Relative paths (``/``-separated) of the supported files under root, sorted.

    Hidden files and directories are passed over; symlinked directories are not followed. A
    folder that cannot be listed (permissions, a path too long) is added to ``problems``.
    """
    return list(iter_inputs(root, problems))


def iter_inputs(root: str | Path, problems: list[Problem] | None = None) -> Iterator[str]:
    """:func:`list_inputs`'s paths one at a time, in its order, holding one folder's names at a time
    (a million paths as Python strings take about 100 MB): each folder's entries are sorted with a
    folder's name read as if ``/`` followed it, which is where its paths fall among its siblings'."""
    top = os.fspath(root)

    def unlisted(e: OSError) -> None:
        if problems is not None:
            rel = os.path.relpath(e.filename, top).replace(os.sep, "/") if e.filename else top
            problems.append(Problem(rel, f"cannot list this folder: {e.strerror or e} (skipped)"))

    def walk(folder: str, prefix: str) -> Iterator[str]:
        try:
            with os.scandir(folder) as it:
                entries = sorted((key, e.path) for e in it if (key := _entry_key(e)) is not None)
        except OSError as e:
            unlisted(e)
            return
        for key, path in entries:
            if key.endswith("/"):
                yield from walk(path, prefix + key)
            elif kind_of(key) is not None:
                yield prefix + key

    return walk(top, "")


def _entry_key(e: os.DirEntry[str]) -> str | None:
    """How a folder's entry sorts: its name, with ``/`` after a folder's; None for what is not
    listed (hidden entries, symlinked folders)."""
    if e.name.startswith("."):
        return None
    try:
        folder = e.is_dir()
    except OSError:
        folder = False
    if folder and e.is_symlink():
        return None
    return e.name + "/" if folder else e.name


class Paths(Packed[str]):
    """A listing held as one UTF-8 string and where each path ends: about 30 bytes a path where a
    list of them takes 90 (a run holds its listing to the end; a scrape may have millions of files)."""

    def __init__(self, paths: Iterable[str]) -> None:
        text, ends = bytearray(), array("Q")
        for p in paths:
            text += p.encode("utf-8", "surrogatepass")  # a file name that is not UTF-8 comes back as it was
            ends.append(len(text))
        self._text, self._ends = bytes(text), ends

    def __len__(self) -> int:
        return len(self._ends)

    def _item(self, i: int) -> str:
        start = self._ends[i - 1] if i else 0
        return self._text[start : self._ends[i]].decode("utf-8", "surrogatepass")


def _field(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value is None else str(value)


def article_from_record(
    record: Any, rel: str, line: int | None, fields: FieldOptions
) -> Article | Problem:
    """An Article from a decoded JSON value, or the Problem that stops it being one."""
    where = f"{rel}:{line}" if line is not None else rel
    if not isinstance(record, dict):
        return Problem(where, f"a JSON {type(record).__name__}, not an object (skipped)")
    if fields.text not in record:
        return Problem(where, f"no {fields.text!r} field (skipped)")
    text = record[fields.text]
    if not isinstance(text, str):
        return Problem(where, f"{fields.text!r} is not a string but {type(text).__name__} (skipped)")
    return Article(
        id=rel if line is None else f"{rel}#{line}",
        path=rel,
        text=text,
        title=_field(record, fields.title),
        date=_field(record, fields.date),
        url=_field(record, fields.url),
        line=line,
        record_id=_field(record, fields.id) if line is not None else None,
    )


def _open_lines(path: str | Path, kind: str) -> BinaryIO:
    return gzip.open(path, "rb") if kind == "jsonl.gz" else open(path, "rb")  # type: ignore[return-value]  # noqa: SIM115


def read_articles(root: str | Path, rel: str, fields: FieldOptions) -> Iterator[Article | Problem]:
    """The articles of one input file (and Problems for what could not be read)."""
    path = os.path.join(root, rel)  # a string: a Path costs more to make than the read of a small file
    kind = kind_of(rel)
    try:
        if kind in ("jsonl", "jsonl.gz"):
            problem = regular_file_problem(os.stat(path).st_mode)
            if problem is not None:
                yield Problem(rel, problem)
                return
            yield from _read_jsonl(path, rel, kind, fields)
            return
        data = read_file(path)
    except InputError as e:  # not a regular file
        yield Problem(rel, e.problem)
        return
    except OSError as e:
        yield Problem(rel, f"{e.strerror or e} (skipped)")
        return
    yield from articles_from_bytes(data, rel, fields)


def articles_from_bytes(data: bytes, rel: str, fields: FieldOptions) -> Iterator[Article | Problem]:
    """The articles of a .txt, .md or .json file's bytes (and Problems for what could not be read)."""
    kind = kind_of(rel)
    try:
        text, warning = decode(data, rel)
    except InputError as e:
        yield Problem(rel, e.problem)
        return
    if warning:
        yield Problem(rel, warning, skipped=False)
    if kind == "json":
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            yield Problem(rel, f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno}) (skipped)")
            return
        yield article_from_record(record, rel, None, fields)
        return
    if not text.strip():
        yield Problem(rel, "empty file (skipped)" if not text else "only white space, no text (skipped)")
        return
    if len(text) > LONG_LINE:
        longest = max(map(len, text.splitlines()))
        if longest > LONG_LINE:
            yield Problem(rel, f"a line of {longest:,} characters, kept as one paragraph", skipped=False)
    yield Article(id=rel, path=rel, text=text)


class _TooLarge(Exception):
    pass


def _read_lines(f: BinaryIO, limit: int | None) -> Iterator[bytes]:
    """The lines of ``f``, read a megabyte at a time so that one endless line cannot fill memory
    before ``limit`` (decompressed bytes in all) is checked."""
    read = 0
    while True:
        parts = []
        while True:
            part = f.readline(1 << 20)
            read += len(part)
            if limit is not None and read > limit:
                raise _TooLarge
            if not part:
                break
            parts.append(part)
            if part.endswith(b"\n"):
                break
        if not parts:
            return
        yield b"".join(parts)


def _read_jsonl(path: str, rel: str, kind: str, fields: FieldOptions) -> Iterator[Article | Problem]:
    return read_jsonl(lambda: _open_lines(path, kind), lambda: os.stat(path).st_size, rel, fields)


def read_jsonl(
    open_lines: Callable[[], BinaryIO], size: Callable[[], int], rel: str, fields: FieldOptions
) -> Iterator[Article | Problem]:
    """The records of a JSON-lines file (gzipped or not: ``open_lines`` gives its lines)."""
    kind = kind_of(rel)
    lineno = 0
    seen = False
    try:
        limit = GZIP_RATIO * size() + GZIP_ALLOWANCE if kind == "jsonl.gz" else None
        with open_lines() as f:
            for lineno, raw in enumerate(_read_lines(f, limit), 1):
                if not raw.strip():
                    continue
                seen = True
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    line = raw.decode("windows-1252", errors="replace")
                    yield Problem(f"{rel}:{lineno}", "not valid UTF-8; read as windows-1252", skipped=False)
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    yield Problem(f"{rel}:{lineno}", f"not valid JSON: {e.msg} (column {e.colno}) (skipped)")
                    continue
                yield article_from_record(record, rel, lineno, fields)
    except _TooLarge:
        yield Problem(f"{rel}:{lineno + 1}", f"decompresses to more than {limit:,} bytes ({GZIP_RATIO} times its"
                      " size and more): a decompression bomb? read up to here (rest skipped)")
        return
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        yield Problem(f"{rel}:{lineno + 1}", f"gzip data is truncated or corrupt ({e}); read up to here (rest skipped)")
        return
    except OSError as e:
        yield Problem(rel, f"{e.strerror or e} (skipped)")
        return
    if not seen:
        yield Problem(rel, "no records (an empty file) (skipped)")


def write_jsonl(
    root: str | Path, rel: str, out: Path, keep: dict[int, str], fields: FieldOptions, staging: Path | None = None
) -> None:
    """Rewrite a JSON-lines input: only the records at the lines in ``keep``, text replaced.

    Other fields are written back as they were (key order kept); a ``.gz`` stays gzipped.
    """
    kind = kind_of(rel)
    assert kind in ("jsonl", "jsonl.gz")
    with atomic_writer(out, "wb", staging) as raw_out:
        rewrite_jsonl(lambda: _open_lines(Path(root) / rel, kind), raw_out, rel, keep, fields)


def rewrite_jsonl(
    open_lines: Callable[[], BinaryIO], raw_out: IO[bytes], rel: str, keep: dict[int, str], fields: FieldOptions
) -> None:
    """Write to ``raw_out`` the input's records at the lines in ``keep``, text replaced."""
    kind = kind_of(rel)
    sink: IO[Any] = raw_out
    if kind == "jsonl.gz":
        sink = gzip.GzipFile(fileobj=raw_out, mode="wb", mtime=0)  # type: ignore[assignment]
    try:
        last = max(keep, default=0)
        with open_lines() as f:
            for lineno, raw in enumerate(_read_lines(f, None), 1):
                if lineno > last:
                    break  # nothing kept past here (a decompression bomb is never read to its end)
                if lineno in keep:
                    line = raw.decode("utf-8", errors="replace")
                    record = json.loads(line)
                    record[fields.text] = keep[lineno]
                    sink.write(to_json(record).encode() + b"\n")
    except (EOFError, gzip.BadGzipFile, zlib.error):
        pass  # a truncated gzip: the readable records were kept above, the reader said so
    finally:
        if sink is not raw_out:
            sink.close()


def write_json(
    root: str | Path, rel: str, out: Path, text: str, fields: FieldOptions, staging: Path | None = None
) -> None:
    """Rewrite a one-article JSON file with its text field replaced."""
    data = rewrite_json((Path(root) / rel).read_bytes(), rel, text, fields)
    with atomic_writer(out, staging=staging) as f:
        f.write(data)


def rewrite_json(data: bytes, rel: str, text: str, fields: FieldOptions) -> str:
    """A one-article JSON file's new content: its text field replaced."""
    record = json.loads(decode(data, rel)[0])
    record[fields.text] = text
    return to_json(record, indent=2) + "\n"
