"""dedupe: deduplicate and clean scraped news text (distribution ``news-dedupe``).

The public names are imported on first use: ``import dedupe`` loads no numpy, so the command line
can tell OpenBLAS to start no threads before anything loads it (see :mod:`dedupe.cli`).
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import clean_file, clean_files
    from .config import CleanOptions, FieldOptions, Options, RunOptions, SignatureOptions
    from .document import clean_text
    from .engine import RunSummary, run
    from .errors import ConfigError, DedupeError, IndexFileError, InputError
    from .index import Index, IndexStats
    from .records import Article, CleanResult, DocFinding, FileOutcome, Finding, Match, Paragraph, Problem, Verdict
    from .review import ReviewSummary, write_review

    __version__: str

# each public name's module (tests/test_imports.py checks these against the imports above and __all__)
_HOMES = {
    "api": ("clean_file", "clean_files"),
    "config": ("CleanOptions", "FieldOptions", "Options", "RunOptions", "SignatureOptions"),
    "document": ("clean_text",),
    "engine": ("RunSummary", "run"),
    "errors": ("ConfigError", "DedupeError", "IndexFileError", "InputError"),
    "index": ("Index", "IndexStats"),
    "records": ("Article", "CleanResult", "DocFinding", "FileOutcome", "Finding", "Match", "Paragraph", "Problem", "Verdict"),
    "review": ("ReviewSummary", "write_review"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("news-dedupe")  # importlib.metadata: 10-20 ms of imports, so only when asked
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for (PEP 562)."""
    if name == "__version__":
        value: Any = _version()
    elif name in _HOME:
        value = getattr(import_module(f".{_HOME[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
