"""The library entry points over files: read, clean, and report what could not be read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from .config import CleanOptions, Options
from .document import clean_text
from .errors import InputError
from .formats import LONG_LINE, article_from_record
from .index import Index
from .io import STDIN, read_text, write_text_atomic
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


def as_json(result: CleanResult) -> str:
    """One article as ``dedupe clean --format json`` writes it: one JSON object."""
    return json.dumps(
        {
            "doc": result.doc,
            "headline": result.headline,
            "paragraphs": [p.text for p in result.paragraphs],
            "text": result.text,
            "layout": result.layout,
            "findings": [f.to_dict() for f in result.findings],
        },
        ensure_ascii=False,
    )


@dataclass(frozen=True, slots=True)
class CleanOutput:
    """One article through :func:`clean_outputs`: its outcome, and its output (canonical text or a
    JSON line) unless it was skipped; ``problem`` says why when nothing was kept for it."""

    outcome: FileOutcome
    payload: str | None
    problem: str | None = None


def clean_outputs(
    articles: Sequence[tuple[str, PurePath]], options: Options | CleanOptions | None = None,
    fmt: str = "text", out_dir: str | Path | None = None,
) -> Iterator[CleanOutput]:
    """Clean each ``(path, output name)``; with ``out_dir``, write each output atomically under it
    (``NAME.json`` for ``fmt="json"``). Two inputs with one output name: the second is skipped."""
    written: dict[PurePath, str] = {}
    for (_, out_name), outcome in zip(articles, clean_files((path for path, _ in articles), options)):
        if outcome.result is None:
            yield CleanOutput(outcome, None, outcome.skipped)
            continue
        payload = as_json(outcome.result) + "\n" if fmt == "json" else outcome.result.text
        if out_dir is not None:
            name = out_name.with_name(out_name.name + ".json") if fmt == "json" else out_name
            if name in written:
                yield CleanOutput(outcome, None, f"its output {name} is also the output of {written[name]} (skipped)")
                continue
            written[name] = outcome.source
            write_text_atomic(Path(out_dir) / name, payload)
        yield CleanOutput(outcome, payload)


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
