"""Command line: parse arguments, build Options, call the library, turn errors into exit codes."""

from __future__ import annotations

import os

# dedupe does no linear algebra, and OpenBLAS (numpy's, imported below) starts a thread a core that
# spins at first: 0.1 CPU s of a run, a quarter of a small one's. The workers inherit the setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gc  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO, Any, TypeVar

import click

from .api import clean_outputs, filter_lines
from .config import (
    COMPONENTS,
    ENGINES,
    HEADLINE_MODES,
    KEEP_POLICIES,
    LAYOUTS,
    CleanOptions,
    FieldOptions,
    Options,
    RunOptions,
)
from .engine import run as run_scrape
from .errors import ConfigError, DedupeError
from .formats import to_json
from .hook import run_hook
from .index import Index
from .io import STDIN, atomic_writer, expand_inputs
from .review import ReviewSummary, write_review

EXIT_SKIPPED = 1
GC_YOUNG_OBJECTS = 20_000  # new objects between young-generation collections in a command's process
_CLEAN, _RUN = CleanOptions(), RunOptions()  # defaults shown in --help come from the options
T = TypeVar("T")


def _warn(message: str) -> None:
    click.echo(f"dedupe: {message}", err=True)


@contextmanager
def _report_sink(path: str | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
    elif path == STDIN:
        yield sys.stderr
    else:
        with atomic_writer(path) as f:
            yield f


@contextmanager
def _progress(items: Iterator[T], length: int, show: bool) -> Iterator[Iterator[T]]:
    """A progress bar on stderr when it is a terminal; the bare iterator otherwise."""
    if not show:
        yield items
        return
    with click.progressbar(items, length=length, label="cleaning", file=sys.stderr) as bar:
        yield bar


def _clean_options(**kw: Any) -> CleanOptions:
    try:
        return CleanOptions(**kw)
    except ConfigError as e:
        raise click.UsageError(str(e)) from e


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """click's own --version, but the version looked up only when asked for (see dedupe.__init__)."""
    if value and not ctx.resilient_parsing:
        from . import __version__

        click.echo(f"dedupe (news-dedupe), version {__version__}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
def main() -> None:
    """Deduplicate and clean scraped news text."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write each file's output under this directory.")
@click.option("--report", type=click.Path(dir_okay=False, allow_dash=True), help="Write findings here as JSON lines ('-' for stderr).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Canonical text, or one JSON object per article.")
@click.option("--threshold", type=float, default=_CLEAN.threshold, show_default=True, help="Jaccard similarity at which paragraphs are near repeats.")
@click.option("--containment", type=float, default=_CLEAN.containment, show_default=True, help="Share of a paragraph inside another that makes it a truncated copy.")
@click.option("--min-words", type=int, default=_CLEAN.min_words, show_default=True, help="Shorter repeats are removed only as part of a repeated block.")
@click.option("--shingle-size", type=int, default=_CLEAN.shingle_size, show_default=True, help="Compare paragraphs on word n-grams up to this n.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", show_default=True, help="How lines become paragraphs.")
@click.option("--headline", type=click.Choice(HEADLINE_MODES), default="auto", show_default=True, help="Detect the headline, take the first paragraph, or assume none.")
@click.option("--no-repair", is_flag=True, help="Do not repair mojibake, entities and control characters.")
def clean(
    files: tuple[str, ...],
    out_dir: str | None,
    report: str | None,
    fmt: str,
    no_repair: bool,
    **clean_opts: Any,
) -> None:
    """Write the canonical text of each article FILE ('-' for stdin).

    A directory stands for the .txt and .md files under it. One file: the canonical text
    goes to stdout. Several files need --out DIR, where each keeps its path relative to the
    directory given (or --format json: one object a line on stdout). Exit code 0 when every
    file was cleaned, 1 when some were skipped (each named on stderr), 2 for bad usage.
    """
    options = Options(clean=_clean_options(repair=not no_repair, **clean_opts))
    inputs = list(expand_inputs(files))
    articles = [(path, name) for path, name in inputs if name is not None]
    if out_dir is None and fmt == "text" and len(inputs) > 1:
        raise click.UsageError("several files give several texts: name a directory with --out DIR, or use --format json")
    if out_dir is not None and STDIN in files:
        raise click.UsageError("'-' (stdin) has no file name to write under --out; redirect stdout instead")

    counts = {"cleaned": 0, "skipped": 0, "headlines": 0, "paragraphs": 0}
    for path, name in inputs:
        if name is None:
            _warn(f"error: {path}: a directory with no .txt or .md files (skipped)")
            counts["skipped"] += 1
    show_bar = out_dir is not None and len(articles) > 1 and sys.stderr.isatty()
    with _report_sink(report) as sink, _progress(clean_outputs(articles, options, fmt, out_dir), len(articles),
                                                   show_bar) as progress:
        for done in progress:
            for w in done.outcome.warnings:
                _warn(f"warning: {w}")
            if done.payload is None or done.outcome.result is None:
                _warn(f"error: {done.outcome.source}: {done.problem}")
                counts["skipped"] += 1
                continue
            if out_dir is None:
                click.echo(done.payload, nl=False)
            counts["cleaned"] += 1
            for f in done.outcome.result.findings:
                counts["headlines" if f.kind == "duplicate_headline" else "paragraphs"] += 1
                if sink is not None:
                    sink.write(to_json(f.to_dict()) + "\n")
    if out_dir is not None:
        _warn(
            f"{counts['cleaned']} cleaned, {counts['skipped']} skipped; removed "
            f"{counts['headlines']} duplicate headlines and {counts['paragraphs']} duplicate paragraphs"
        )
    if counts["skipped"]:
        sys.exit(EXIT_SKIPPED)


def _place(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A folder that exists, or a URL (``--engine dask`` reads it through fsspec)."""
    return value if "://" in value else str(click.Path(exists=True, file_okay=False).convert(value, param, ctx))


@main.command()
@click.argument("scrape_dir", callback=_place)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Write kept articles here, at their relative paths (or a URL, with --engine dask).")
@click.option("--report", type=click.Path(dir_okay=False), help="Findings as JSON lines [default: OUT_DIR.report.jsonl beside OUT_DIR].")
@click.option("--threshold", type=float, default=_RUN.threshold, show_default=True, help="Jaccard similarity of bodies (word 5-grams) that makes a copy.")
@click.option("--containment", type=float, default=_RUN.containment, show_default=True, help="Share of the smaller body inside the larger that makes a copy.")
@click.option("--jobs", type=int, default=0, help="Worker processes [default: one per CPU].")
@click.option("--keep", type=click.Choice(KEEP_POLICIES), default="content", show_default=True, help="Which copy of a story to keep.")
@click.option("--window", "window_days", type=float, help="Copies dated more than this many days apart are reported, not merged.")
@click.option("--keep-boilerplate", is_flag=True, help="Report site boilerplate paragraphs but do not remove them.")
@click.option("--index", "index_target", metavar="TARGET", help="Drop articles this index has seen; add the kept ones (a file, or redis://host:port/db#name).")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True, help="Where the run's steps run: this machine's processes, or a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="The Dask scheduler (tcp://host:8786) [default: a LocalCluster of --jobs workers].")
@click.option("--components", type=click.Choice(COMPONENTS), default="auto", show_default=True, help="With --engine dask: find clusters of copies on the client, or on the cluster (candidate pairs never leave it); auto: the cluster for runs of more than 5,000,000 candidate pairs.")
@click.option("--review", "review_path", type=click.Path(dir_okay=False), help="Also write the review page (HTML) of the run here.")
@click.option("--text-field", default="text", show_default=True, help="JSON field with the article text.")
@click.option("--title-field", default="title", show_default=True, help="JSON field with the headline.")
@click.option("--id-field", default="id", show_default=True, help="JSON field with the record id.")
@click.option("--url-field", default="url", show_default=True, help="JSON field with the URL.")
@click.option("--date-field", default="date", show_default=True, help="JSON field with the publication date.")
def run(
    scrape_dir: str,
    out_dir: str,
    report: str | None,
    keep_boilerplate: bool,
    index_target: str | None,
    review_path: str | None,
    text_field: str,
    title_field: str,
    id_field: str,
    url_field: str,
    date_field: str,
    **run_opts: Any,
) -> None:
    """Clean every article under SCRAPE_DIR and keep one copy of each story in OUT_DIR.

    Reads .txt and .md (one article a file), .json (one article object), .jsonl and
    .jsonl.gz (one article a line). Exit code 0 when nothing was skipped, 1 when some input
    or record was skipped (each named on stderr), 2 for bad usage.
    """
    try:
        options = Options(
            run=RunOptions(boilerplate=not keep_boilerplate, **run_opts),
            fields=_fields(text_field, title_field, id_field, url_field, date_field),
        )
    except ConfigError as e:
        raise click.UsageError(str(e)) from e
    bar: list[Any] = []
    on_terminal = sys.stderr.isatty()  # asked once: a system call each time

    def progress(done: int, total: int) -> None:
        if not on_terminal:
            return
        if not bar:
            bar.append(click.progressbar(length=total, label="reading", file=sys.stderr))
            bar[0].__enter__()
        bar[0].update(done)

    failed: DedupeError | None = None
    try:
        with _open_index(index_target, options) as index:
            summary = run_scrape(scrape_dir, out_dir, options, report=report, progress=progress, index=index)
    except DedupeError as e:  # the index failed during the run
        failed = e
    finally:
        if bar:
            bar[0].__exit__(None, None, None)
    if failed is not None:
        _warn(f"error: {failed}")
        sys.exit(failed.exit_code)
    for problem in summary.problems:
        _warn(f"{'error' if problem.skipped else 'warning'}: {problem}")
    for line in summary.lines():
        _warn(line)
    if review_path:
        _warn(_review_line(write_review(summary.report, review_path)))
    sys.exit(summary.exit_code)


def _review_line(r: ReviewSummary) -> str:
    missing = f"; {r.missing} articles no longer readable" if r.missing else ""
    return (f"review: {r.path} ({r.clusters} clusters, {r.pairs} pairs, {r.articles_with_removals} articles with"
            f" removals inside, {r.bytes:,} bytes{missing})")


@main.command()
@click.argument("report", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--scrape", type=click.Path(exists=True, file_okay=False), help="The scrape folder [default: the one the report names].")
def review(report: str, out_path: str, scrape: str | None) -> None:
    """Write a self-contained HTML page to review every removal of a `dedupe run` REPORT.

    Clusters of copies with word-level diffs, removals inside articles beside what they repeat,
    a summary with the similarity of the pairs weighed, filters and search. It re-reads the
    articles the report names from the scrape folder.
    """
    try:
        _warn(_review_line(write_review(report, out_path, scrape)))
    except DedupeError as e:
        _warn(f"error: {e}")
        sys.exit(2)


@contextmanager
def _open_index(target: str | None, options: Options, default: str | None = None) -> Iterator[Index | None]:
    """The index a command names (or ``default``), opened; its errors end the command (exit 2)."""
    target = target or default
    if target is None:
        yield None
        return
    try:
        index = Index.open(target, options)
    except DedupeError as e:
        _warn(f"error: {e}")
        sys.exit(e.exit_code)
    with index:
        yield index


def _fields(text: str, title: str, id_: str, url: str, date: str) -> FieldOptions:
    return FieldOptions(text, title, id_, url, date)


@main.command("filter")
@click.option("--index", "index_target", metavar="TARGET", help="Remember articles here across runs [default: this stream only].")
@click.option("--report", type=click.Path(dir_okay=False, allow_dash=True), help="Findings as JSON lines ('-' for stderr).")
@click.option("--text-field", default="text", show_default=True, help="JSON field with the article text.")
@click.option("--title-field", default="title", show_default=True, help="JSON field with the headline.")
@click.option("--id-field", default="id", show_default=True, help="JSON field with the record id.")
@click.option("--url-field", default="url", show_default=True, help="JSON field with the URL.")
@click.option("--date-field", default="date", show_default=True, help="JSON field with the publication date.")
def filter_command(index_target: str | None, report: str | None, text_field: str, title_field: str,
                   id_field: str, url_field: str, date_field: str) -> None:
    """JSON lines in on stdin, each new story out on stdout with its text cleaned.

    Copies of a story seen earlier in the stream (or in --index) are dropped and reported.
    Streams: one record at a time. Exit code 0, or 1 when a line was skipped.
    """
    options = Options(fields=_fields(text_field, title_field, id_field, url_field, date_field))
    skipped = 0
    out = sys.stdout
    with _open_index(index_target, options, default=":memory:") as index, _report_sink(report) as sink:
        assert index is not None
        for item in filter_lines(sys.stdin.buffer, index):
            if item.problem is not None:
                _warn(f"{'error' if item.problem.skipped else 'warning'}: {item.problem}")
                skipped += item.problem.skipped
            if item.record is not None:
                out.write(to_json(item.record) + "\n")
                out.flush()
            if sink is not None:
                for f in item.findings:
                    sink.write(to_json(f) + "\n")
    sys.exit(EXIT_SKIPPED if skipped else 0)


@main.group("index")
def index_group() -> None:
    """Look after a persistent index (SQLite file or redis:// URL)."""


@index_group.command("stats")
@click.argument("target")
def index_stats(target: str) -> None:
    """Print what an index holds: articles, dates, size, and the settings it was built with."""
    with _open_index(target, Options()) as index:
        assert index is not None
        s = index.stats()

    def when(t: float | None) -> str:
        return datetime.fromtimestamp(t, timezone.utc).date().isoformat() if t is not None else "-"

    click.echo(f"index: {s.target}")
    click.echo(f"articles: {s.articles}")
    click.echo(f"dates: {when(s.oldest)} to {when(s.newest)}")
    if s.bytes is not None:
        per = f" ({s.bytes_per_article:,.0f} bytes per article)" if s.bytes_per_article else ""
        click.echo(f"size: {s.bytes:,} bytes{per}")
    click.echo("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(s.settings.items())))


@index_group.command("expire")
@click.argument("target")
@click.option("--before", required=True, metavar="DATE", help="Remove entries dated before this day (YYYY-MM-DD).")
def index_expire(target: str, before: str) -> None:
    """Remove the entries of articles dated (or, undated, added) before a day."""
    with _open_index(target, Options()) as index:
        assert index is not None
        try:
            removed = index.expire(before)
        except DedupeError as e:
            _warn(f"error: {e}")
            sys.exit(e.exit_code)
    click.echo(f"removed {removed} entries dated before {before}")


@main.group("hook")
def hook_group() -> None:
    """Pre-commit hooks (see .pre-commit-hooks.yaml): check or fix scraped text files."""


def _hook(files: tuple[str, ...], index_target: str | None, fix: bool) -> None:
    failed = False
    with _open_index(index_target, Options()) as index:
        for result in run_hook(list(files), fix, index):
            for line in result.problems:
                click.echo(line)
            failed = failed or bool(result.problems)
    sys.exit(1 if failed else 0)


_HOOK_INDEX = click.option(
    "--index", "index_target", metavar="TARGET",
    help="Index shared by all calls, so copies split over batches are caught [default: none, this call only].",
)


@hook_group.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@_HOOK_INDEX
def hook_check(files: tuple[str, ...], index_target: str | None) -> None:
    """Exit 1 listing each file with a duplicate headline, repeated paragraphs, or that copies another."""
    _hook(files, index_target, fix=False)


@hook_group.command("fix")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@_HOOK_INDEX
def hook_fix(files: tuple[str, ...], index_target: str | None) -> None:
    """Rewrite files as canonical text (atomically); exit 1 if any changed or copies another."""
    _hook(files, index_target, fix=True)


def entry() -> None:
    """The ``dedupe`` command: :func:`main` in a process of its own, its garbage collector set for it.

    The objects the imports made are set aside for good (no collection looks at them again), and a
    young-generation collection waits for 20,000 new objects, not 700: a run makes millions of
    short-lived lists, most freed by their counts before a collection would see them (1-2% less CPU).
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
    main()


if __name__ == "__main__":
    entry()
