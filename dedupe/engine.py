"""A corpus run: prepare every article, find candidates, verify, cluster, keep, write.

Pass one (in worker processes) reads and prepares each file's articles in path order; each
worker spills what later steps need of an article's text (its shingles, its output) to its own
files (:mod:`dedupe.spill`), so memory holds only signatures and a few numbers per article.
Then LSH candidates are verified and clustered (see :mod:`dedupe.cluster`), and pass two
writes the kept articles and the report; candidate verification, clusters and writing run in
worker processes forked from the run, which read its state and spill instead of receiving
them. The index, if any, is updated last. The result does not depend on ``jobs`` or on
listing order.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .cluster import Clustering, Drops, PairVerdict, Verifier, cluster, settle
from .config import Options
from .errors import IndexFileError, InputError
from .formats import kind_of, list_inputs, read_articles, to_json, write_json, write_jsonl
from .index import Index
from .io import atomic_writer, clear_staging, clear_temps, write_text_atomic
from .minhash import unique
from .prepare import body_for_matching, prepare
from .records import DocFinding, Match, Problem
from .shingle import words
from .spill import DocInfo, Spill, SpillWriter


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did: counts, bytes, and every input it skipped or warned about."""

    files: int
    documents: int
    kept: int
    dropped: int
    headlines_removed: int
    paragraphs_removed: int
    boilerplate_removed: int
    bytes_in: int
    bytes_out: int
    report: str
    problems: tuple[Problem, ...] = ()

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.skipped)

    @property
    def exit_code(self) -> int:
        """0 when nothing was skipped, 1 otherwise."""
        return 1 if self.skipped else 0

    def lines(self) -> list[str]:
        """The summary as printed at the end of ``dedupe run``."""
        out = [
            f"{self.files} files, {self.documents} articles read: {self.kept} kept, {self.dropped} dropped as copies",
            f"removed inside articles: {self.headlines_removed} headlines, {self.paragraphs_removed} paragraphs,"
            f" {self.boilerplate_removed} boilerplate paragraphs",
            f"bytes: {self.bytes_in:,} in, {self.bytes_out:,} out; report: {self.report}",
        ]
        skipped = self.skipped
        if skipped:
            reasons = Counter(p.reason.split(" (")[0].split(":")[0] for p in skipped)
            out.append(f"skipped {len(skipped)}: " + "; ".join(f"{n} {r}" for r, n in reasons.most_common()))
        return out


_WRITER: SpillWriter | None = None  # this process's spill shard (each worker has its own)


def _prepare_file(task: tuple[str, str, Options, str]) -> tuple[str, str, list[DocInfo | Problem]]:
    """Read and prepare one input file; its articles' text goes to this process's spill shard."""
    global _WRITER
    root, rel, options, folder = task
    if _WRITER is None or _WRITER.folder != folder or _WRITER.pid != os.getpid():
        _WRITER = SpillWriter(folder, f"w{os.getpid()}")  # a new run, or a new worker
    out: list[DocInfo | Problem] = []
    for item in read_articles(root, rel, options.fields):
        if isinstance(item, Problem):
            out.append(item)
            continue
        prep = prepare(item, options)
        if prep.output.strip():
            out.append(_WRITER.add(prep))
        else:  # zero-width characters, markup debris: nothing left to keep
            where = item.path if item.line is None else f"{item.path}:{item.line}"
            out.append(Problem(where, "no paragraphs of text (skipped)"))
    _WRITER.flush()  # a pool's workers end without flushing
    return rel, _WRITER.name, out


def _close_writer() -> None:
    global _WRITER
    if _WRITER is not None and _WRITER.pid == os.getpid():
        _WRITER.close()
    _WRITER = None


def _prepared_files(
    root: str, rels: list[str], options: Options, jobs: int, folder: str
) -> Iterator[tuple[str, str, list[DocInfo | Problem]]]:
    tasks = [(root, rel, options, folder) for rel in rels]
    if jobs <= 1 or len(tasks) <= 1:
        yield from map(_prepare_file, tasks)
        return
    ctx = multiprocessing.get_context("spawn" if os.name != "posix" else "fork")
    # results come back in chunks: one pipe message per file costs the parent ~0.2 ms, which
    # on two cores slows the workers it shares them with
    chunk = max(1, min(32, len(tasks) // (8 * jobs)))
    with ctx.Pool(jobs) as pool:
        yield from pool.imap(_prepare_file, tasks, chunksize=chunk)


SIGNATURE_BLOCK = 4096  # signatures are kept in matrices of this many rows
PARALLEL_PAIRS = 1000  # fewer candidate pairs than this are verified in the main process
PARALLEL_COMPONENTS = 200  # ... and fewer clusters than this settled there
_SHARED: Any = None  # the state forked workers inherit (see _fork_map)


def _call_shared(item: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    fn, task = item
    return fn(_SHARED, task)


def _fork_map(fn: Callable[[Any, Any], Any], tasks: list[Any], jobs: int, shared: Any) -> list[Any]:
    """``[fn(shared, task) for task in tasks]``, in ``jobs`` forked workers where the OS can fork.

    Workers inherit ``shared`` (the run's articles, its spill, its verifier) from the parent's
    memory instead of receiving it pickled; only tasks and results cross the pipe.
    """
    global _SHARED
    if jobs <= 1 or len(tasks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(shared, t) for t in tasks]
    _SHARED = shared
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(_call_shared, [(fn, t) for t in tasks], chunksize=1)
    finally:
        _SHARED = None


def _chunks(items: list[Any], jobs: int) -> list[list[Any]]:
    """About eight chunks a worker, so an uneven chunk does not leave a core idle."""
    size = max(1, -(-len(items) // (8 * max(1, jobs))))
    return [items[k : k + size] for k in range(0, len(items), size)]


def _settle_components(
    shared: tuple[Verifier, Callable[[list[int]], list[int]]], components: list[list[int]]
) -> list[Drops]:
    verifier, rank = shared
    return [settle(c, verifier, rank) for c in components]


def _verify_pairs(verifier: Verifier, pairs: list[tuple[int, int]]) -> list[tuple[tuple[int, int], PairVerdict]]:
    return [(p, verifier.verify(*p)) for p in pairs]


def staging_folder(out_dir: str | Path) -> Path:
    """Where outputs are written before they are renamed into OUT_DIR: a hidden sibling of it, so
    OUT_DIR never holds a half-written file, even during a run or after a crash."""
    out = Path(out_dir).resolve()
    return out.with_name(f".{out.name}.dedupe-staging")


def default_report_path(out_dir: str | Path) -> Path:
    """Where the report goes by default: beside OUT_DIR (not inside it), as OUT_DIR.report.jsonl."""
    out = Path(out_dir).resolve()
    return out.with_name(out.name + ".report.jsonl")


def _seen_before(corpus: _Corpus, index: Index) -> dict[int, Match]:
    """The articles an index already holds a copy of, with the best indexed match."""
    seen = {}
    for i, d in enumerate(corpus.docs):
        entry = index.make_entry(d.name, corpus.signature(i), d.matching_keys, d.sentences, d.date)
        matches = index.query_entry(entry)
        if matches:
            seen[i] = matches[0]
    return seen


def _name_docs(docs: list[DocInfo]) -> None:
    """Report names: a record's id where it is unique in the run, else its path (``path#line``)."""
    ids = Counter(d.article.record_id for d in docs if d.article.record_id)
    for d in docs:
        rid = d.article.record_id
        d.name = rid if rid and ids[rid] == 1 else d.article.id


def _source(path: str) -> str:
    """The source an article belongs to for boilerplate: its first folder under the scrape."""
    return path.split("/", 1)[0] if "/" in path else ""


def _boilerplate(docs: list[DocInfo], keeper: tuple[int, ...], min_docs: int) -> dict[tuple[str, int], int]:
    """Paragraphs that open or close at least ``min_docs`` different stories of one source.

    Copies of one story count once (``keeper`` is each article's kept copy), so a story's own
    closing line is not boilerplate because ten sites carried the story.
    """
    sources: dict[str, int] = {}
    src, key, story = array("q"), array("Q"), array("q")  # one row per edge paragraph, compact
    for n, d in enumerate(docs):
        s = sources.setdefault(_source(d.article.path), len(sources))
        for i in d.edge:
            src.append(s)
            key.append(d.keys[i])
            story.append(keeper[n])
    if not src:
        return {}
    srcs, keys, stories = (np.frombuffer(a, t) for a, t in ((src, np.int64), (key, np.uint64), (story, np.int64)))
    order = np.lexsort((stories, keys, srcs))
    srcs, keys, stories = srcs[order], keys[order], stories[order]
    group = np.r_[True, (srcs[1:] != srcs[:-1]) | (keys[1:] != keys[:-1])]  # a new (source, paragraph)
    new_story = group | np.r_[True, stories[1:] != stories[:-1]]  # each story counted once in its group
    first = np.flatnonzero(group)
    counts = np.add.reduceat(new_story.astype(np.int64), first)
    names = list(sources)
    return {
        (names[int(srcs[f])], int(keys[f])): int(c)
        for f, c in zip(first[counts >= min_docs], counts[counts >= min_docs])
    }


def _ranking(
    docs: list[DocInfo], policy: str, paragraphs: Callable[[int], list[np.ndarray]]
) -> Callable[[list[int]], list[int]]:
    """The keep policy: orders a cluster's articles, best copy first.

    ``content`` scores each copy within its cluster: shingles found in at least half of the
    copies (and at least two: the story), plus half of its other shingles that sit in prose
    paragraphs (a fuller copy's extra paragraph), minus the rest (menus, captions, link lists:
    a page dump's boilerplate). Ties go to the earlier date, then to path order.
    """

    def date(i: int) -> float:
        d = docs[i].date
        return d if d is not None else float("inf")

    if policy == "first":
        return lambda members: sorted(members, key=lambda i: docs[i].order)
    if policy == "earliest":
        return lambda members: sorted(members, key=lambda i: (date(i), docs[i].order))

    def by_content(members: list[int]) -> list[int]:
        parts = {m: paragraphs(m) for m in members}
        sets = {m: np.unique(np.concatenate(p)) if p else np.empty(0, np.uint32) for m, p in parts.items()}
        values, counts = np.unique(np.concatenate(list(sets.values())), return_counts=True)
        story = max(2, (len(members) + 1) // 2)  # a shingle in this many copies is the story's
        score = {}
        for m in members:
            shared = counts[np.searchsorted(values, sets[m])] >= story
            prose = [a for a, is_prose in zip(parts[m], docs[m].sentences) if is_prose]
            in_prose = np.isin(sets[m], np.concatenate(prose)) if prose else np.zeros(sets[m].size, bool)
            score[m] = int(shared.sum()) + 0.5 * int((~shared & in_prose).sum()) - int((~shared & ~in_prose).sum())
        return sorted(members, key=lambda i: (-score[i], date(i), docs[i].order))

    return by_content


BUCKET_PAIRS = 64


def _candidates(corpus: _Corpus, options: Options) -> set[tuple[int, int]]:
    """Pairs of articles that share a band of their signatures (LSH banding, in numpy).

    Bands and rows are datasketch's choice for the threshold (``MinHashLSH``'s own optimum), but
    the buckets are found by sorting each band's values: no per-article Python objects, and
    memory of one band's columns at a time. A bucket larger than ``BUCKET_PAIRS`` pairs each
    member with its first ``BUCKET_PAIRS`` neighbours only (enough to join a cluster; verification
    decides).
    """
    if len(corpus.docs) < 2:
        return set()
    sig = options.signature
    bands, rows = _lsh_params(sig.lsh_threshold, sig.num_perm)
    pairs: set[tuple[int, int]] = set()
    for b in range(bands):
        block = np.ascontiguousarray(corpus.signature_columns(b * rows, (b + 1) * rows))
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
            members = sorted(order[start:end].tolist())
            for x, a in enumerate(members):
                for c in members[x + 1 : x + 1 + BUCKET_PAIRS]:
                    pairs.add((a, c))
    return pairs


def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's optimal (bands, rows) for a threshold, computed once per setting."""
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return int(b), int(r)


def _write_json_line(f: IO[str], obj: dict[str, Any]) -> None:
    f.write(to_json(obj) + "\n")


class _Corpus:
    """The articles of a run between its passes: a few numbers each in memory, text in the spill."""

    def __init__(self, spill: Spill, options: Options, jobs: int = 1) -> None:
        self.spill = spill
        self.options = options
        self.jobs = jobs
        self.docs: list[DocInfo] = []
        self.files_of: dict[str, list[int]] = defaultdict(list)
        self.bytes_in = 0
        self.removed: Counter[str] = Counter()  # within-article findings by kind
        self.signature_blocks: list[np.ndarray] = []

    def add(self, d: DocInfo, shard: str) -> None:
        """Take in a prepared article: its signature joins the matrix, the rest stays a few numbers."""
        d.shard = self.spill.shard(shard)
        d.order = len(self.docs)
        row = d.order % SIGNATURE_BLOCK
        if row == 0:
            self.signature_blocks.append(np.empty((SIGNATURE_BLOCK, self.options.signature.num_perm), np.uint32))
        assert d.signature is not None
        self.signature_blocks[-1][row] = d.signature
        d.signature = None
        self.removed["duplicate_headline"] += d.headlines_removed
        self.removed["duplicate_paragraph"] += d.paragraphs_removed
        self.files_of[d.article.path].append(d.order)
        self.docs.append(d)
        self.bytes_in += d.bytes_in

    def signature(self, i: int) -> np.ndarray:
        row: np.ndarray = self.signature_blocks[i // SIGNATURE_BLOCK][i % SIGNATURE_BLOCK]
        return row

    def signature_columns(self, start: int, stop: int) -> np.ndarray:
        """Columns ``start:stop`` of every article's signature (one LSH band), as one matrix."""
        n = len(self.docs)
        return np.concatenate([b[:, start:stop] for b in self.signature_blocks])[:n]

    def body_texts(self, i: int) -> list[str]:
        """The article's body paragraphs as written out (its headline line left out)."""
        parts = self.spill.output(self.docs[i]).rstrip("\n").split("\n\n")
        return parts[1:] if self.docs[i].headline_line else parts

    def clustering(
        self, candidates: set[tuple[int, int]], cut: dict[tuple[str, int], int], before: Clustering | None = None
    ) -> Clustering:
        """Verify, cluster and rank, comparing bodies without the ``cut`` boilerplate paragraphs.

        Verdicts of a ``before`` round are reused for pairs of articles the cut leaves alone.
        """
        docs, spill = self.docs, self.spill

        def kept(i: int) -> list[bool]:
            src = _source(docs[i].article.path)
            return [(src, k) not in cut for k in docs[i].keys]

        known: dict[tuple[int, int], PairVerdict] = {}
        if before is not None:
            touched = {n for n in range(len(docs)) if not all(kept(n))}
            known = {p: v for p, v in before.pairs.items() if p[0] not in touched and p[1] not in touched}

        def body_paragraphs(i: int) -> list[np.ndarray]:
            return [a if keep else a[:0] for keep, a in zip(kept(i), spill.paragraphs(docs[i]))]

        def body_shingles(i: int) -> np.ndarray:
            parts = body_paragraphs(i)
            return unique(np.concatenate(parts)) if parts else np.empty(0, np.uint32)

        def body_words(i: int) -> list[list[str]]:
            paras = [p for keep, p in zip(kept(i), self.body_texts(i)) if keep]
            return [words(body_for_matching(n, p) or "") for n, p in enumerate(paras)]

        verifier = Verifier(_cached(body_shingles), body_words, [d.date for d in docs], self.options.run, known)
        todo = sorted(p for p in candidates if p not in known)
        if self.jobs > 1 and len(todo) > PARALLEL_PAIRS:  # candidates verified side by side; components stay here
            for chunk in _fork_map(_verify_pairs, _chunks(todo, self.jobs), self.jobs, verifier):
                known.update(chunk)
        rank = _ranking(docs, self.options.run.keep, body_paragraphs)

        def settle_all(components: list[list[int]]) -> list[Drops]:
            if self.jobs <= 1 or len(components) < PARALLEL_COMPONENTS:
                return [settle(c, verifier, rank) for c in components]
            chunks = _fork_map(_settle_components, _chunks(components, self.jobs), self.jobs, (verifier, rank))
            return [drops for chunk in chunks for drops in chunk]

        return cluster(len(docs), candidates, verifier, rank, settle_all)


def run(
    scrape_dir: str | Path,
    out_dir: str | Path,
    options: Options | None = None,
    report: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    index: Index | None = None,
) -> RunSummary:
    """Clean every article under ``scrape_dir`` and write one copy of each story to ``out_dir``.

    ``progress(done, total)`` is called after each input file. Findings go to ``report``
    (default: :func:`default_report_path`), written atomically at the end. With an ``index``,
    articles it already holds are dropped as copies of the indexed ones, and the kept
    articles are added to it (the daily incremental scrape). An index that fails raises
    :class:`IndexFileError`: before any output is written if it fails while being asked,
    after the outputs and report if it fails while being added to.
    """
    options = options or Options()
    root, out = str(scrape_dir), Path(out_dir)
    report_path = Path(report) if report is not None else default_report_path(out)
    jobs = options.run.jobs or os.cpu_count() or 1
    problems: list[Problem] = []
    rels = list_inputs(root, problems)
    clear_temps(report_path)  # what a killed run left

    with tempfile.TemporaryDirectory(prefix="dedupe-") as tmp, atomic_writer(report_path) as rep:
        spill = Spill(tmp)
        try:
            corpus = _Corpus(spill, options, jobs)
            if options.run.engine == "dask":
                from .dask_engine import prepared_files as on_dask

                prepared = on_dask(root, rels, options, jobs, tmp)
            else:
                prepared = _prepared_files(root, rels, options, jobs, tmp)
            for _rel, shard, items in prepared:
                for item in items:
                    if isinstance(item, Problem):
                        problems.append(item)
                    else:
                        corpus.add(item, shard)
                if progress:
                    progress(1, len(rels))
            docs = corpus.docs
            _name_docs(docs)
            for d in docs:
                for f in spill.findings(d):
                    _write_json_line(rep, {**f, "doc": d.name, **_where(d)})

            # Site boilerplate is what opens or closes many stories; counting stories needs the
            # clusters, and clusters are then redone without it (it inflates similarity).
            seen = _seen_before(corpus, index) if index is not None else {}
            candidates = {(a, b) for a, b in _candidates(corpus, options) if a not in seen and b not in seen}
            result = corpus.clustering(candidates, {})
            boiler = _boilerplate(docs, result.keeper, options.run.boilerplate_min_docs)
            cut = boiler if options.run.boilerplate else {}
            if cut:
                result = corpus.clustering(candidates, cut, before=result)

            named = {d.name: d for d in docs}
            for finding in _doc_findings(docs, result, seen, boiler, options.run.boilerplate, corpus.body_texts):
                line = finding.to_dict()
                if finding.doc in named:
                    line.update(_where(named[finding.doc]))
                if finding.duplicate_of in named:
                    line.update(_where(named[finding.duplicate_of], "duplicate_of_"))
                _write_json_line(rep, line)
            del named
            bytes_out, removed_boiler, unwritten = _write_outputs(root, out, corpus, result, seen, cut)
            problems.extend(unwritten)
            kept = sum(1 for i, k in enumerate(result.keeper) if i == k and i not in seen)
            summary = RunSummary(
                files=len(rels),
                documents=len(docs),
                kept=kept,
                dropped=len(docs) - kept,
                headlines_removed=corpus.removed["duplicate_headline"],
                paragraphs_removed=corpus.removed["duplicate_paragraph"],
                boilerplate_removed=removed_boiler,
                bytes_in=corpus.bytes_in,
                bytes_out=bytes_out,
                report=str(report_path),
                problems=tuple(problems),
            )
            _write_json_line(rep, _summary_line(summary, root, out, options, result))
        finally:
            _close_writer()
            spill.close()

    if index is not None:  # last: a run killed before this leaves the index as it was
        try:
            index.add_entries(
                index.make_entry(d.name, corpus.signature(i), d.matching_keys, d.sentences, d.date)
                for i, d in enumerate(docs) if result.keeper[i] == i and i not in seen
            )
        except IndexFileError as e:
            raise IndexFileError(e.target, f"{e.problem}; outputs and report written, the index not updated") from e
    return summary


SIMILARITY_BINS = 20


def _where(d: DocInfo, prefix: str = "") -> dict[str, Any]:
    """Where an article is: its input file, and its line for a JSON-lines record."""
    out: dict[str, Any] = {prefix + "path": d.article.path}
    if d.article.line is not None:
        out[prefix + "line"] = d.article.line
    return out


def _summary_line(summary: RunSummary, root: str, out: Path, options: Options, result: Clustering) -> dict[str, Any]:
    """The report's last line: what the run did, where, and how similar the pairs it weighed were
    (the verified candidate pairs, merged or not, in bins of 0.05: to judge the threshold)."""
    merged, apart = [0] * SIMILARITY_BINS, [0] * SIMILARITY_BINS
    for v in result.pairs.values():
        (merged if v.duplicate else apart)[min(SIMILARITY_BINS - 1, int(v.similarity * SIMILARITY_BINS))] += 1
    fields = options.fields
    return {
        "kind": "summary", "scrape": os.path.abspath(root), "out": str(out.resolve()),
        "files": summary.files, "documents": summary.documents, "kept": summary.kept, "dropped": summary.dropped,
        "headlines_removed": summary.headlines_removed, "paragraphs_removed": summary.paragraphs_removed,
        "boilerplate_removed": summary.boilerplate_removed, "bytes_in": summary.bytes_in,
        "bytes_out": summary.bytes_out,
        "skipped": [{"source": p.source, "reason": p.reason} for p in summary.skipped],
        "threshold": options.run.threshold, "containment": options.run.containment,
        "similarity_merged": merged, "similarity_not_merged": apart,
        "fields": {"text": fields.text, "title": fields.title, "id": fields.id, "url": fields.url, "date": fields.date},
        "clean": asdict(options.clean),
    }


def _cached(fn: Callable[[int], np.ndarray]) -> Callable[[int], np.ndarray]:
    from functools import lru_cache

    return lru_cache(maxsize=4096)(fn)


def _doc_findings(
    docs: list[DocInfo], result: Clustering, seen: dict[int, Match], boiler: dict[tuple[str, int], int],
    removing: bool, body_paragraphs: Callable[[int], list[str]],
) -> Iterator[DocFinding]:
    for i, d in enumerate(docs):
        if i in seen:
            hit = seen[i]
            yield DocFinding("duplicate_document", d.name, hit.id, hit.similarity, "in_index", (("rule", hit.rule),))
            continue
        k = result.keeper[i]
        if k == i:
            continue
        v = result.verdicts[i]
        yield DocFinding("duplicate_document", d.name, docs[k].name, v.similarity, v.reason)
        if d.headline_key != docs[k].headline_key and d.headline and docs[k].headline:
            yield DocFinding(
                "headline_differs", d.name, docs[k].name, v.similarity,
                "a copy with another headline", (("headline", d.headline), ("kept_headline", docs[k].headline)),
            )
    held_reasons = {
        "outside_window": "a copy dated further apart than --window: kept both",
        "look_alike": "the same template with other names and numbers: kept both",
    }
    for i, j, v in result.held_apart:
        yield DocFinding(v.reason, docs[j].name, docs[i].name, v.similarity, held_reasons[v.reason])
    by_headline: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        if d.headline_key is not None:
            by_headline[d.headline_key].append(i)
    for group in by_headline.values():
        first = group[0]
        for m in group[1:]:
            if result.keeper[m] != result.keeper[first]:
                yield DocFinding("same_headline", docs[m].name, None, 0.0,
                                 "same headline, different story: kept both",
                                 (("same_as", docs[first].name), ("headline", docs[m].headline)))
    firsts: dict[tuple[str, int], tuple[int, int]] = {}
    for n, d in enumerate(docs):
        for i in d.edge:
            if (_source(d.article.path), d.keys[i]) in boiler:
                firsts.setdefault((_source(d.article.path), d.keys[i]), (n, i))
    for (src, key), count in sorted(boiler.items(), key=lambda kv: firsts[kv[0]]):
        n, i = firsts[(src, key)]
        yield DocFinding("boilerplate", docs[n].name, None, 1.0,
                         "opens or closes many articles of this source" + ("; removed" if removing else "; kept"),
                         (("source", src), ("articles", count), ("text", body_paragraphs(n)[i])))


def _without_boilerplate(d: DocInfo, text: str, cut: dict[tuple[str, int], int]) -> tuple[str, int]:
    if not cut:
        return text, 0
    src = _source(d.article.path)
    drop = {i for i in d.edge if (src, d.keys[i]) in cut}
    if not drop or len(drop) == len(d.keys):
        return text, 0  # never empty an article
    parts = text.rstrip("\n").split("\n\n")
    head, body = (parts[:1], parts[1:]) if d.headline_line else ([], parts)
    if len(body) != len(d.keys):
        return text, 0
    kept = head + [p for i, p in enumerate(body) if i not in drop]
    return "\n\n".join(kept) + ("\n" if text.endswith("\n") else ""), len(drop)


@dataclass(frozen=True, slots=True)
class _Writing:
    """What pass two needs to write any of the kept files (inherited by forked workers)."""

    root: str
    out: Path
    corpus: _Corpus
    result: Clustering
    seen: dict[int, Match]
    cut: dict[tuple[str, int], int]
    staging: Path


def _write_files(w: _Writing, rels: list[str]) -> tuple[int, int, list[Problem]]:
    """Write the kept articles of these input files; returns bytes written, boilerplate removed
    and the files that could not be written (a path too long, a full disk: the rest go on)."""
    docs, fields = w.corpus.docs, w.corpus.options.fields
    bytes_out = removed = 0
    problems = []
    for rel in rels:
        kept = [i for i in w.corpus.files_of[rel] if w.result.keeper[i] == i and i not in w.seen]
        if not kept:
            continue
        texts = {}
        for i in kept:
            text, n = _without_boilerplate(docs[i], w.corpus.spill.output(docs[i]), w.cut)
            texts[i], removed = text, removed + n
        kind = kind_of(rel)
        target = w.out / rel
        try:
            if kind == "text":
                write_text_atomic(target, texts[kept[0]], w.staging)
            elif kind == "json":
                write_json(w.root, rel, target, texts[kept[0]], fields, w.staging)
            else:
                lines = {line: texts[i] for i in kept if (line := docs[i].article.line) is not None}
                write_jsonl(w.root, rel, target, lines, fields, w.staging)
        except (OSError, InputError, ValueError) as e:
            reason = getattr(e, "strerror", None) or getattr(e, "problem", None) or str(e)
            problems.append(Problem(rel, f"output not written: {reason} (skipped)"))
            continue
        bytes_out += sum(len(t.encode("utf-8", "surrogatepass")) for t in texts.values())
    return bytes_out, removed, problems


def _write_outputs(
    root: str, out: Path, corpus: _Corpus, result: Clustering, seen: dict[int, Match],
    cut: dict[tuple[str, int], int],
) -> tuple[int, int, list[Problem]]:
    """Pass two: the kept articles, file by file, in the workers; returns bytes written,
    boilerplate removed and the outputs that could not be written."""
    staging = staging_folder(out)
    clear_staging(staging)
    done = _fork_map(_write_files, _chunks(list(corpus.files_of), corpus.jobs), corpus.jobs,
                     _Writing(root, out, corpus, result, seen, cut, staging))
    try:
        staging.rmdir()
    except OSError:
        pass  # never made (nothing to write), or another run's files in it
    return sum(b for b, _, _ in done), sum(r for _, r, _ in done), [p for _, _, ps in done for p in ps]
