"""Pre-commit entry points: ``dedupe hook check`` fails on damaged or copied articles, ``fix`` rewrites.

pre-commit may split a long file list over several calls, run side by side. Cross-file copies
are still caught because every call checks its files against one persistent index (an SQLite
file, ``.dedupe-index.sqlite`` in the hook definition) and adds them to it in the same atomic
step: whichever of two copies is checked second is reported, whatever the batches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from .config import Options
from .document import clean_text
from .errors import InputError
from .index import Index
from .io import read_text, write_text_atomic
from .prepare import prepare
from .records import Article


@dataclass(frozen=True, slots=True)
class HookResult:
    """One file: what is wrong with it (one line each), and whether ``fix`` rewrote it."""

    path: str
    problems: tuple[str, ...]
    fixed: bool = False


def _copies(index: Index | None, path: str, text: str, options: Options) -> list[str]:
    if index is None:
        return []
    verdict = index.check_entry(index.entry(prepare(Article(path, path, text), options), path))
    # The file itself seen before is no copy; nor is a copy of a file since deleted.
    return [
        f"{path}: a copy of {m.id} ({m.rule}, similarity {m.similarity:.2f})"
        for m in verdict.matches
        if m.id != path and os.path.exists(m.id)
    ]


def run_hook(paths: list[str], fix: bool, index: Index | None, options: Options | None = None) -> Iterator[HookResult]:
    """Check (or fix) each file; results in the order of ``paths``."""
    options = options or Options()
    for path in paths:
        try:
            text, _ = read_text(path)
        except InputError as e:
            yield HookResult(path, (str(e),))
            continue
        result = clean_text(text, options, doc=path)
        problems = []
        headlines = sum(f.kind == "duplicate_headline" for f in result.findings)
        paragraphs = sum(f.kind == "duplicate_paragraph" for f in result.findings)
        changed = result.text != text
        if fix and changed and result.text:
            write_text_atomic(path, result.text)
            problems.append(f"{path}: rewritten as canonical text")
        elif headlines or paragraphs:
            problems.append(f"{path}: {headlines} duplicate headline(s), {paragraphs} repeated paragraph(s)")
        problems += _copies(index, path, result.text if fix else text, options)
        yield HookResult(path, tuple(problems), fixed=fix and changed and bool(result.text))
