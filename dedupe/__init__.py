"""dedupe: deduplicate and clean scraped news text (distribution ``news-dedupe``)."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from .api import clean_file, clean_files
from .config import CleanOptions, FieldOptions, Options, RunOptions, SignatureOptions
from .document import clean_text
from .engine import RunSummary, run
from .errors import ConfigError, DedupeError, IndexFileError, InputError
from .index import Index, IndexStats
from .records import (
    Article,
    CleanResult,
    DocFinding,
    FileOutcome,
    Finding,
    Match,
    Paragraph,
    Problem,
    Verdict,
)
from .review import ReviewSummary, write_review

try:
    __version__ = version("news-dedupe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Article",
    "CleanOptions",
    "CleanResult",
    "ConfigError",
    "DedupeError",
    "DocFinding",
    "FieldOptions",
    "FileOutcome",
    "Finding",
    "Index",
    "IndexFileError",
    "IndexStats",
    "InputError",
    "Match",
    "Options",
    "Paragraph",
    "Problem",
    "ReviewSummary",
    "RunOptions",
    "RunSummary",
    "SignatureOptions",
    "Verdict",
    "__version__",
    "clean_file",
    "clean_files",
    "clean_text",
    "run",
    "write_review",
]
