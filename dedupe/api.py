"""The library entry points over files: read, clean, and report what could not be read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .config import CleanOptions, Options
from .document import clean_text
from .errors import InputError
from .formats import LONG_LINE, article_from_record
from .index import Index
from .io import STDIN, read_text
from .prepare import prepare
from .records import Article, CleanResult, DocFinding, FileOutcome, Problem


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


@dataclass(frozen=True, slots=True)
class Filtered:
    """One JSON line through ``filter_lines``: the record to pass on (None when dropped or
    unreadable), the findings to report, and a problem if the line could not be read."""

    record: dict[str, Any] | None
    findings: tuple[dict[str, Any], ...] = ()
    problem: Problem | None = None


def filter_lines(lines: Iterable[bytes | str], index: Index, source: str = "<stdin>") -> Iterator[Filtered]:
    """Stream JSON-lines records: each new story passes with its text cleaned, copies are dropped.

    One record at a time (memory does not grow with the stream, apart from the index). A
    record's id is its id field, else ``source#line``; ``index`` decides what was seen before
    (an in-memory one for a single stream, a persistent one across runs).
    """
    fields = index.options.fields
    for lineno, raw in enumerate(lines, 1):
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield Filtered(None, problem=Problem(f"{source}:{lineno}", f"not valid JSON: {e.msg} (column {e.colno}) (skipped)"))
            continue
        item = article_from_record(record, source, lineno, fields)
        if isinstance(item, Problem):
            yield Filtered(None, problem=item)
            continue
        doc_id = item.record_id or item.id
        prep = prepare(Article(doc_id, item.path, item.text, item.title, item.date, item.url, item.line), index.options)
        findings = tuple({**f, "doc": doc_id} for f in prep.findings)
        verdict = index.check_entry(index.entry(prep, doc_id))
        if verdict.duplicate:
            best = verdict.matches[0]
            dup = DocFinding("duplicate_document", doc_id, best.id, best.similarity, "seen_before", (("rule", best.rule),))
            yield Filtered(None, findings + (dup.to_dict(),))
        else:
            yield Filtered({**record, fields.text: prep.output}, findings)
