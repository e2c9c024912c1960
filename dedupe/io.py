"""Reading article files as text and writing outputs atomically.

A file that is not text is an :class:`~dedupe.errors.InputError` naming the file and the
problem; the caller reports it and goes on with the other files. Outputs are written to a
temporary file beside the target and renamed over it, so a reader never sees half a file.
"""

from __future__ import annotations

import codecs
import itertools
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import IO, Any

from .errors import InputError

STDIN = "-"
ARTICLE_SUFFIXES = (".txt", ".md")
# Bytes that do not occur in text: C0 controls other than tab, newlines, form feed and escape.
# A few (a stray NUL) are damage ftfy removes; more than 5% of the first 64 KiB is binary data.
_NON_TEXT = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27)) + b"\x7f"
_SNIFF = 1 << 16


def _looks_binary(data: bytes) -> bool:
    head = data[:_SNIFF]
    if not head:
        return False
    odd = len(head) - len(head.translate(None, _NON_TEXT))
    return odd / len(head) > 0.05


def decode(data: bytes, source: str) -> tuple[str, str | None]:
    """Decode file bytes as text: UTF-8 (BOM allowed), UTF-16 with a BOM, else windows-1252.

    Returns the text and a warning when a fallback was needed; raises InputError for binary data.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as e:
            raise InputError(source, f"not valid UTF-16 despite its byte-order mark ({e.reason})") from e
    if _looks_binary(data):
        raise InputError(source, "binary data, not text (skipped)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        where = f"byte 0x{data[e.start]:02x} at offset {e.start}"
        for fallback in ("windows-1252", "latin-1"):
            try:
                text = data.decode(fallback)
            except UnicodeDecodeError:
                continue
            return text, f"not valid UTF-8 ({where}); read as {fallback}"
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def expand_inputs(paths: Iterable[str]) -> Iterator[tuple[str, PurePath | None]]:
    """Each input file with the name its output takes; a directory gives its article files.

    Files under a directory come sorted, named by their path relative to it; symlinked
    directories are not followed (no loops). A directory without articles yields
    ``(path, None)`` so the caller can say so.
    """
    for path in paths:
        if path == STDIN or not os.path.isdir(path):
            p = PurePath(path)
            yield path, p if not p.is_absolute() and ".." not in p.parts else PurePath(p.name)
            continue
        found = False
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(ARTICLE_SUFFIXES) and not name.startswith("."):
                    full = os.path.join(root, name)
                    found = True
                    yield full, PurePath(os.path.relpath(full, path))
        if not found:
            yield path, None


_O_BINARY = getattr(os, "O_BINARY", 0)


def regular_file_problem(mode: int) -> str | None:
    """Why a file of this mode cannot be read as an article: a folder, a FIFO, a device, a socket."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory (skipped)"
    return "not a regular file (a FIFO, device or socket) (skipped)"


def read_file(path: str) -> bytes:
    # os-level calls: four system calls for a small file (Python's buffered open makes seven);
    # O_NONBLOCK so that a FIFO named like an article cannot hang the run
    fd = os.open(path, os.O_RDONLY | _O_BINARY | getattr(os, "O_NONBLOCK", 0))
    try:
        problem = regular_file_problem(os.fstat(fd).st_mode)
        if problem is not None:
            raise InputError(path, problem)
        parts = []
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
    finally:
        os.close(fd)
    return b"".join(parts)


def read_bytes(path: str) -> bytes:
    """The bytes of a file, or of standard input for ``-``; OSError becomes InputError."""
    if path == STDIN:
        return sys.stdin.buffer.read()
    try:
        return read_file(path)
    except IsADirectoryError as e:
        raise InputError(path, "is a directory") from e
    except FileNotFoundError as e:
        raise InputError(path, "no such file") from e
    except PermissionError as e:
        raise InputError(path, "permission denied") from e
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from e


def read_text(path: str) -> tuple[str, str | None]:
    """Read a file (or ``-``) as text; returns the text and a decoding warning, if any."""
    return decode(read_bytes(path), "<stdin>" if path == STDIN else path)


_FOLDERS: set[str] = set()  # output folders this process has made or seen
_TEMP_NAMES = itertools.count()


def _made(folder: str) -> None:
    if folder not in _FOLDERS:
        os.makedirs(folder, exist_ok=True)
        _FOLDERS.add(folder)


def _open_temp(target: str, staging: str | None = None) -> tuple[int, str]:
    """A new temporary file, open for writing: beside ``target``, or in ``staging`` (a folder on
    the same file system, so that the rename stays atomic) to keep the target's folder free of
    anything half-written even while it is being written. Paths are strings: this runs once an
    output, where making ``Path`` objects cost more than the system calls."""
    parent, base = os.path.split(target)
    parent = parent or "."
    _made(parent)
    folder = staging if staging is not None else parent
    _made(folder)
    while True:
        name = f"{os.getpid()}-{next(_TEMP_NAMES)}.tmp" if staging is not None else \
            f".{base}.{os.getpid()}-{next(_TEMP_NAMES)}.tmp"
        tmp = os.path.join(folder, name)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666), tmp
        except FileExistsError:
            continue  # left by a killed run of a process with the same pid
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)  # removed since it was made
            os.makedirs(parent, exist_ok=True)


def clear_staging(staging: Path) -> None:
    """Remove what killed runs left in a staging folder (files of processes no longer alive)."""
    try:
        names = os.listdir(staging)
    except FileNotFoundError:
        return
    for name in names:
        pid = name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _discard(staging / name)


def clear_temps(target: Path) -> None:
    """Remove the temporary files killed runs left beside ``target`` (``.NAME.PID-N.tmp``)."""
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            pid = name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                _discard(target.parent / name)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still write its files: it exists and, where /proc tells, has not
    ended (a killed run's workers stay as zombies until whoever inherited them reaps them, which an
    init that is not one may do late)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: leave its files
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[:1]  # the field after "(command name)"
    except OSError:
        return True  # no /proc (not Linux), or it ended just now: the next run clears its files
    return state not in ([b"Z"], [b"X"])


def _discard(tmp: str | Path) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


@contextmanager
def atomic_writer(target: str | Path, mode: str = "w", staging: Path | None = None) -> Iterator[IO[Any]]:
    """Write a file through a temporary file (beside it, or in ``staging``), renamed into place
    only on success.

    ``mode`` is ``w`` (UTF-8 text, ``\n`` line endings) or ``wb``.
    """
    fd, tmp = _open_temp(os.fspath(target), None if staging is None else os.fspath(staging))
    try:
        opened = os.fdopen(fd, mode) if "b" in mode else os.fdopen(fd, mode, encoding="utf-8", newline="\n")
        with opened as f:
            yield f
        # No fsync: a killed process leaves either the old file or the whole new one (the
        # rename is atomic); surviving power loss would cost an fsync per article.
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


def write_bytes_atomic(target: str | Path, data: bytes, staging: Path | None = None) -> None:
    """Write bytes to a file atomically (temp file + rename), with as few system calls as it takes."""
    fd, tmp = _open_temp(os.fspath(target), None if staging is None else os.fspath(staging))
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise


def write_text_atomic(target: str | Path, text: str, staging: Path | None = None) -> None:
    """Write text to a file atomically (temp file + rename), UTF-8 with ``\\n`` line endings."""
    write_bytes_atomic(target, text.encode("utf-8"), staging)
