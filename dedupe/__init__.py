"""dedupe: deduplicate and clean scraped news text (distribution ``news-dedupe``)."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from .api import clean_file, clean_files
from .config import CleanOptions, Options
from .document import clean_text
from .errors import ConfigError, DedupeError, InputError
from .records import CleanResult, FileOutcome, Finding, Paragraph

try:
    __version__ = version("news-dedupe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CleanOptions",
    "CleanResult",
    "ConfigError",
    "DedupeError",
    "FileOutcome",
    "Finding",
    "InputError",
    "Options",
    "Paragraph",
    "__version__",
    "clean_file",
    "clean_files",
    "clean_text",
]
