"""Frozen result records: what the library hands back, never plain dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
