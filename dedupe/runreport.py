"""What a run reports: its summary, the report's lines on articles, clusters and boilerplate.

Both engines call these with the same records, so their reports cannot differ.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import IO, Any

import numpy as np

from .cluster import Clustering
from .config import Options
from .formats import to_json
from .policy import Cut, Firsts
from .records import DocFinding, Match, Problem
from .spill import DocInfo, string_hash


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




def _write_json_line(f: IO[str], obj: dict[str, Any]) -> None:
    f.write(to_json(obj) + "\n")


class Names:
    """Which article of the run a report name is (the last of that name, if two share one), from a
    sorted array of the names' 64-bit hashes: 12 bytes an article, not a dict of names."""

    def __init__(self, docs: Sequence[DocInfo], hashes: np.ndarray) -> None:
        """``hashes``: each article's :func:`dedupe.spill.string_hash` of its name, in run order (see :class:`Gathered`)."""
        self.docs = docs
        self.order = np.argsort(hashes, kind="stable").astype(np.int32)
        self.hashes = hashes[self.order]

    def get(self, name: str | None) -> DocInfo | None:
        if name is None:
            return None
        h = np.uint64(string_hash(name))
        lo, hi = np.searchsorted(self.hashes, h, "left"), np.searchsorted(self.hashes, h, "right")
        for k in range(int(hi) - 1, int(lo) - 1, -1):
            d = self.docs[int(self.order[k])]
            if d.name == name:
                return d
        return None


class Gathered:
    """What the report's later lines need of every article, gathered as the records are read for each
    article's own findings: one read of them all instead of three (each decodes every record). Arrays,
    about 20 bytes an article: the names' hashes, the articles with a headline key and their keys."""

    def __init__(self) -> None:
        self.name_hashes = array("Q")
        self.headline_numbers, self.headline_keys = array("i"), array("Q")

    def add(self, n: int, d: DocInfo) -> None:
        """Take in article ``n`` (in run order: each article once, the first first)."""
        self.name_hashes.append(string_hash(d.name))
        if d.headline_key is not None:
            self.headline_numbers.append(n)
            self.headline_keys.append(d.headline_key)

    def names(self, docs: Sequence[DocInfo]) -> Names:
        """The articles by name; the names' hashes handed over (:class:`Names` keeps them sorted), not
        held twice."""
        hashes, self.name_hashes = self.name_hashes, array("Q")
        return Names(docs, np.frombuffer(hashes, np.uint64))


SIMILARITY_BINS = 20


def _where(d: DocInfo, prefix: str = "") -> dict[str, Any]:
    """Where an article is: its input file, and its line for a JSON-lines record."""
    out: dict[str, Any] = {prefix + "path": d.article.path}
    if d.article.line is not None:
        out[prefix + "line"] = d.article.line
    return out


BINS_BLOCK = 1 << 18  # pairs binned at a time: a million articles' millions of pairs need no temporaries of the whole


def similarity_bins(similarity: np.ndarray, duplicate: np.ndarray) -> tuple[list[int], list[int]]:
    """How many pairs fall in each bin of 0.05 of similarity: those merged, and the others."""
    merged, apart = np.zeros(SIMILARITY_BINS, np.int64), np.zeros(SIMILARITY_BINS, np.int64)
    for k in range(0, len(similarity), BINS_BLOCK):
        at = np.minimum(SIMILARITY_BINS - 1, (similarity[k : k + BINS_BLOCK] * SIMILARITY_BINS).astype(np.int64))
        dup = duplicate[k : k + BINS_BLOCK]
        merged += np.bincount(at[dup], minlength=SIMILARITY_BINS)
        apart += np.bincount(at[~dup], minlength=SIMILARITY_BINS)
    return merged.tolist(), apart.tolist()


def binned(result: Clustering) -> Clustering:
    """The clustering with its verdict table summed up in the report's similarity bins: a run needs
    no more of it once clustered (a million articles give millions of rows)."""
    if result.table is None:
        return result
    return replace(result, table=None, bins=similarity_bins(result.table["similarity"], result.table["duplicate"]))


def _summary_line(summary: RunSummary, scrape: str, out: str, options: Options, result: Clustering) -> dict[str, Any]:
    """The report's last line: what the run did, where, and how similar the pairs it weighed were
    (the verified candidate pairs, merged or not, in bins of 0.05: to judge the threshold)."""
    bins = binned(result).bins
    assert bins is not None
    merged, apart = bins
    fields = options.fields
    return {
        "kind": "summary", "scrape": scrape, "out": out,
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


def _same_headlines(numbers: array, keys: array) -> Iterator[list[int]]:  # type: ignore[type-arg]
    """Groups of two or more articles with one headline key, each in run order, by their first
    (``numbers``: the articles with a headline key, in run order; ``keys``: theirs).

    Held as arrays while the groups are read (a million articles have hundreds of thousands of
    them): each article's number by headline, and where each group starts and how long it is.
    """
    order = np.argsort(np.frombuffer(keys, np.uint64), kind="stable")
    sorted_keys = np.frombuffer(keys, np.uint64)[order]
    sorted_numbers = np.frombuffer(numbers, np.int32)[order]
    del order
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    del sorted_keys
    sizes = np.diff(np.r_[starts, len(sorted_numbers)])
    starts, sizes = starts[sizes > 1], sizes[sizes > 1]
    by_first = np.argsort(sorted_numbers[starts])
    starts, sizes = starts[by_first], sizes[by_first]
    for b in range(0, len(starts), 4096):
        for s, n in zip(starts[b : b + 4096].tolist(), sizes[b : b + 4096].tolist()):
            yield sorted_numbers[s : s + n].tolist()


def _doc_findings(
    docs: Sequence[DocInfo], result: Clustering, seen: dict[int, Match], gathered: Gathered,
    boilerplate: tuple[Cut, Firsts], removing: bool, body_paragraphs: Callable[[int], list[str]],
) -> Iterator[DocFinding]:
    """The report's lines on articles and their copies, in run order: copies dropped, pairs held
    apart, same headlines over different stories (``gathered`` from every record), boilerplate
    (with where each paragraph is first found)."""
    keeper = np.asarray(result.keeper)
    dropped = np.flatnonzero(keeper != np.arange(keeper.size)).tolist()  # only these and ``seen`` say anything
    for i in sorted({*dropped, *seen}):
        d = docs[i]
        if i in seen:
            hit = seen[i]
            yield DocFinding("duplicate_document", d.name, hit.id, hit.similarity, "in_index", (("rule", hit.rule),))
            continue
        k = int(keeper[i])
        v = result.verdicts[i]
        if k in seen:  # a copy of an article the index holds: dropped through it, naming the indexed one
            yield DocFinding("duplicate_document", d.name, seen[k].id, v.similarity, "in_index",
                             (("rule", v.reason), ("via", docs[k].name)))
            continue
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
    for group in _same_headlines(gathered.headline_numbers, gathered.headline_keys):
        first = group[0]
        for m in group[1:]:
            if result.keeper[m] != result.keeper[first]:
                yield DocFinding("same_headline", docs[m].name, None, 0.0,
                                 "same headline, different story: kept both",
                                 (("same_as", docs[first].name), ("headline", docs[m].headline)))
    boiler, firsts = boilerplate
    for (src, key), count in sorted(boiler.items(), key=lambda kv: firsts[kv[0]]):
        n, i = firsts[(src, key)]
        yield DocFinding("boilerplate", docs[n].name, None, 1.0,
                         "opens or closes many articles of this source" + ("; removed" if removing else "; kept"),
                         (("source", src), ("articles", count), ("text", body_paragraphs(n)[i])))
