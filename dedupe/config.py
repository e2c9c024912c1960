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
    min_words: int = 9
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
class FieldOptions:
    """Field names of JSON and JSON-lines articles."""

    text: str = "text"
    title: str = "title"
    id: str = "id"
    url: str = "url"
    date: str = "date"


@dataclass(frozen=True, slots=True)
class SignatureOptions:
    """How article signatures are made; recorded wherever signatures are stored.

    Signatures are datasketch MinHash values (``scheme`` ``affine32`` with 32-bit xxhash of each
    word ``shingle_words``-gram), so datasketch can read and index them.
    """

    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    shingle_words: int = 5
    lsh_threshold: float = 0.2

    def __post_init__(self) -> None:
        if self.scheme != "affine32":
            raise ConfigError(f"only the affine32 MinHash scheme is supported, got {self.scheme!r}")
        if not 16 <= self.num_perm <= 1024:
            raise ConfigError(f"num_perm must be in 16..1024, got {self.num_perm}")
        if self.shingle_words < 1:
            raise ConfigError(f"shingle_words must be at least 1, got {self.shingle_words}")


ENGINES = ("local", "dask")
COMPONENTS = ("auto", "client", "cluster")
KEEP_POLICIES = ("content", "earliest", "first")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a scrape directory is deduplicated.

    threshold: Jaccard similarity of article bodies (word 5-grams) that makes two articles copies.
    containment: share of the smaller body inside the larger that makes it a copy (a truncated
        copy, or the article inside a whole-page dump).
    jobs: worker processes (0: one per CPU).
    keep: which copy of a story is kept: ``content`` (most article text, least boilerplate; then
        the earlier date; then path order), ``earliest`` (date, then path), ``first`` (path order).
    window_days: copies dated further apart are reported, not merged (None: no window).
    boilerplate: remove paragraphs that recur across many articles of one source (see README).
    boilerplate_min_docs: how many different articles of a source a paragraph must open or close.
    engine: where the run's steps run: ``local`` (worker processes of this machine) or ``dask``
        (a Dask cluster: ``scheduler``'s address, or a LocalCluster of ``jobs`` workers when it
        is None; the scrape and output folders may then be fsspec URLs).
    components: with engine ``dask``, where connected components are found: ``client`` (the
        candidate pairs and their verdicts gathered on the client), ``cluster`` (they never
        leave the cluster: for runs whose pairs do not fit the client's memory) or ``auto``
        (``cluster`` above ``dedupe.dask_engine.CLIENT_PAIRS`` candidate pairs).
    """

    threshold: float = 0.7
    containment: float = 0.8
    jobs: int = 0
    keep: str = "content"
    window_days: float | None = None
    boilerplate: bool = True
    boilerplate_min_docs: int = 5
    engine: str = "local"
    scheduler: str | None = None
    components: str = "auto"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 < self.containment <= 1.0:
            raise ConfigError(f"containment must be in (0, 1], got {self.containment}")
        if self.jobs < 0:
            raise ConfigError(f"jobs must be 0 (one per CPU) or more, got {self.jobs}")
        if self.keep not in KEEP_POLICIES:
            raise ConfigError(f"keep must be one of {', '.join(KEEP_POLICIES)}, got {self.keep!r}")
        if self.window_days is not None and self.window_days < 0:
            raise ConfigError(f"window must be at least 0 days, got {self.window_days}")
        if self.boilerplate_min_docs < 2:
            raise ConfigError(f"boilerplate_min_docs must be at least 2, got {self.boilerplate_min_docs}")
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.scheduler is not None and self.engine != "dask":
            raise ConfigError("a scheduler address needs engine 'dask'")
        if self.components not in COMPONENTS:
            raise ConfigError(f"components must be one of {', '.join(COMPONENTS)}, got {self.components!r}")
        if self.components != "auto" and self.engine != "dask":
            raise ConfigError("where components are found is a choice of engine 'dask'")


@dataclass(frozen=True, slots=True)
class Options:
    """Every option of a run, one object per concern."""

    clean: CleanOptions = field(default_factory=CleanOptions)
    fields: FieldOptions = field(default_factory=FieldOptions)
    signature: SignatureOptions = field(default_factory=SignatureOptions)
    run: RunOptions = field(default_factory=RunOptions)

    @classmethod
    def of(cls, **clean: Any) -> Options:
        """Options with the given cleaner settings, e.g. ``Options.of(threshold=0.9)``."""
        return cls(clean=CleanOptions(**clean))

    def with_clean(self, **changes: Any) -> Options:
        """A copy with some cleaner settings changed."""
        return replace(self, clean=replace(self.clean, **changes))

    def with_run(self, **changes: Any) -> Options:
        """A copy with some run settings changed."""
        return replace(self, run=replace(self.run, **changes))
