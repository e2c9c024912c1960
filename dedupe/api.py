"""The library entry points over files: read, clean, and report what could not be read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .config import CleanOptions, Options
from .document import clean_text
from .errors import InputError
from .io import STDIN, read_text
from .records import CleanResult, FileOutcome

LONG_LINE = 1_000_000  # characters; such a line is kept as one paragraph, with a warning


def _check_content(source: str, text: str) -> list[str]:
    if not text:
        raise InputError(source, "empty file (skipped)")
    if not text.strip():
        raise InputError(source, "only white space, no text (skipped)")
    warnings = []
    longest = max(len(line) for line in text.splitlines())
    if longest > LONG_LINE:
        warnings.append(f"{source}: a line of {longest:,} characters, kept as one paragraph")
    return warnings


def clean_file(path: str, options: Options | CleanOptions | None = None) -> CleanResult:
    """Canonical text of one article file (``-`` for standard input).

    Raises :class:`InputError` for a file that cannot be read as an article.
    """
    outcome = _clean_one(path, options)
    if outcome.result is None:
        raise InputError(path, outcome.skipped or "skipped")
    return outcome.result


def _clean_one(path: str, options: Options | CleanOptions | None) -> FileOutcome:
    source = "<stdin>" if path == STDIN else path
    try:
        text, warning = read_text(path)
        warnings = [f"{source}: {warning}"] if warning else []
        warnings += _check_content(source, text)
    except InputError as e:
        return FileOutcome(source, None, skipped=e.problem)
    result = clean_text(text, options, doc=source)
    if not result.text:
        return FileOutcome(source, None, skipped="no paragraphs of text (skipped)")
    return FileOutcome(source, result, warnings=tuple(warnings))


def clean_files(
    paths: Iterable[str], options: Options | CleanOptions | None = None
) -> Iterator[FileOutcome]:
    """Clean files one at a time (a stream: nothing is held beyond the current file)."""
    for path in paths:
        yield _clean_one(path, options)
