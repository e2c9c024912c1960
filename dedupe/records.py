"""Frozen result records: what the library hands back, never plain dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import printable


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A kept paragraph: its text and the 0-based index it had in the input."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One removal: what was removed (``index``) and what it duplicated (``duplicate_of``).

    ``index`` and ``duplicate_of`` are 0-based paragraph indices of the input as segmented,
    the headline line included. ``rule`` says which test fired: ``exact``, ``near`` or
    ``containment`` for paragraphs; ``exact``, ``suffix`` or ``case`` for headlines.
    """

    kind: str
    doc: str
    index: int
    duplicate_of: int
    similarity: float
    rule: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The report line for this finding (the README documents the schema)."""
        return {
            "kind": self.kind,
            "doc": self.doc,
            "index": self.index,
            "duplicate_of": self.duplicate_of,
            "similarity": round(self.similarity, 4),
            "rule": self.rule,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class CleanResult:
    """The canonical form of one article and the findings that explain it."""

    doc: str
    text: str
    headline: str | None
    paragraphs: tuple[Paragraph, ...]
    findings: tuple[Finding, ...]
    layout: str
    repaired: bool

    @property
    def changed(self) -> bool:
        """True when anything was removed or repaired (the canonical text may still differ in spacing)."""
        return bool(self.findings) or self.repaired


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one input file: a result, or the reason it was skipped, and warnings."""

    source: str
    result: CleanResult | None
    skipped: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """One article read from a scrape: where it came from and its fields.

    ``id`` is the path relative to the scrape directory for a one-article file, ``path#line``
    for a JSON-lines record (``line`` is 1-based). Reports call a record by its ``record_id``
    (its id field) instead, when no other record of the run has the same one.
    """

    id: str
    path: str
    text: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    line: int | None = None
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with an input: ``source`` is ``file`` or ``file:line``.

    ``skipped`` is True when the input (or record) was left out, False for a warning.
    """

    source: str
    reason: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"{printable(self.source)}: {self.reason}"


@dataclass(frozen=True, slots=True)
class DocFinding:
    """A finding across articles: a dropped copy, or a pair reported but not merged.

    kinds: ``duplicate_document`` (``doc`` dropped as a copy of ``duplicate_of``, which is kept),
    ``headline_differs`` (a dropped copy had another headline), ``same_headline`` (a shared
    headline over different bodies), ``outside_window`` (a copy published further apart than
    ``--window``), ``boilerplate`` (a paragraph recurring across a source's articles).
    """

    kind: str
    doc: str
    duplicate_of: str | None
    similarity: float
    reason: str
    extra: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "doc": self.doc,
            "duplicate_of": self.duplicate_of,
            "similarity": round(self.similarity, 4),
            "reason": self.reason,
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Match:
    """An indexed article that a text matches: its id, how similar, and which rule matched.

    rules: ``exact`` (the same body), ``near`` (MinHash-estimated Jaccard of the bodies at least
    the threshold), ``paragraphs`` (at least the containment share of the smaller article's
    paragraphs appear, word for word, in the other: a truncated or extended copy).
    """

    id: str
    similarity: float
    rule: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What ``Index.check`` decided: ``duplicate`` of the first match, or new (and now added)."""

    id: str
    duplicate: bool
    matches: tuple[Match, ...] = ()

    @property
    def duplicate_of(self) -> str | None:
        return self.matches[0].id if self.duplicate else None
