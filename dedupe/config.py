"""Options, one frozen object per concern, gathered in :class:`Options`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError

LAYOUTS = ("auto", "lines", "blocks", "wrapped")
HEADLINE_MODES = ("auto", "first", "none")


@dataclass(frozen=True, slots=True)
class CleanOptions:
    """How one article is repaired, segmented and deduplicated.

    threshold: Jaccard similarity of word shingles at or above which two paragraphs are near repeats.
    containment: share of a shorter paragraph's shingles found in a longer one that makes it a
        truncated or partial copy (a summary cut off with "...").
    shingle_size: paragraphs are compared on word n-grams for every n from 1 to this size.
    min_words: a repeat shorter than this many words is removed only when it belongs to a
        repeated block of paragraphs; a lone short line (a subheading, "Advertisement") stays.
    layout: how lines become paragraphs: ``auto`` detects, or force ``lines`` (one paragraph a
        line), ``blocks`` (blank-line separated) or ``wrapped`` (hard-wrapped wire copy).
    headline: ``auto`` detects the headline, ``first`` takes the first paragraph, ``none`` never.
    repair: run ftfy on the lines that a cheap check says need it.
    excerpt_chars: how much of a removed paragraph the report quotes.
    """

    threshold: float = 0.8
    containment: float = 0.9
    shingle_size: int = 2
    min_words: int = 10
    layout: str = "auto"
    headline: str = "auto"
    repair: bool = True
    excerpt_chars: int = 200

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 < self.containment <= 1.0:
            raise ConfigError(f"containment must be in (0, 1], got {self.containment}")
        if self.shingle_size < 1:
            raise ConfigError(f"shingle_size must be at least 1, got {self.shingle_size}")
        if self.min_words < 1:
            raise ConfigError(f"min_words must be at least 1, got {self.min_words}")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.headline not in HEADLINE_MODES:
            raise ConfigError(
                f"headline must be one of {', '.join(HEADLINE_MODES)}, got {self.headline!r}"
            )


@dataclass(frozen=True, slots=True)
class Options:
    """Every option of a run, one object per concern."""

    clean: CleanOptions = field(default_factory=CleanOptions)

    @classmethod
    def of(cls, **clean: Any) -> Options:
        """Options with the given cleaner settings, e.g. ``Options.of(threshold=0.9)``."""
        return cls(clean=CleanOptions(**clean))

    def with_clean(self, **changes: Any) -> Options:
        """A copy with some cleaner settings changed."""
        return replace(self, clean=replace(self.clean, **changes))
