"""What the Dask engine's tasks run on its workers: the local engine's functions, on chunks.

A chunk is the prepared articles of a few input files, kept in the memory of the worker that
prepared it (:class:`Chunk`: the compact records and the text in two in-memory buffers). Later
stages take from it what they need: its records (for the client), each band of its signatures
(for the candidate shuffle), the articles a verification or settling task compares (moved to
that task by a shuffle), and its kept outputs (written where the chunk is). Nothing goes through
a file system the client and the workers share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .cluster import HELD, Drops, Verifier, settle, verdict_rows
from .config import Options, RunOptions
from .dask_components import EMPTY, by_part
from .formats import read_articles
from .minhash import unique
from .policy import (
    Bodies,
    Cut,
    Sink,
    _ranking,
    add_pairs,
    band_keys,
    band_pair_keys,
    merge_pairs,
    pair_rows,
    prepare_files,
    write_file,
)
from .records import Problem
from .remote import read_input
from .runreport import similarity_bins
from .spill import Buffers, DocBatch, DocInfo, SpillWriter, split_paragraphs

Files = list[tuple[str, list[DocInfo | Problem]]]  # each input file's records, in path order
Held = dict[int, tuple[DocInfo, bytes, bytes]]  # articles a task compares, by run number: record, shingles, output
_MIX = np.array([0x9E3779B97F4A7C15 * (2 * k + 1) % (1 << 64) for k in range(64)], np.uint64)


@dataclass(frozen=True, slots=True)
class Box:
    """A value carried through a Dask graph as it is (not searched for keys or tasks)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Chunk:
    """A task's input files, prepared: their records and their articles' text, on a worker."""

    files: Files
    shingles: bytes
    outputs: bytes

    @property
    def docs(self) -> list[DocInfo]:
        return [d for _, items in self.files for d in items if isinstance(d, DocInfo)]


def prepare_chunk(root: str, rels: list[str], options: Options) -> Chunk:
    """Pass one on these input files, their text kept in memory (see :func:`dedupe.policy.prepare_files`)."""
    spill = SpillWriter(None, "chunk")
    read = read_input if "://" in root else read_articles
    files = prepare_files(rels, lambda rel: read(root, rel, options.fields), options, spill)
    return Chunk(files, *spill.buffers())


def batch(chunk: Chunk, shard: str) -> DocBatch:
    """What the client keeps of a chunk: its records and their columns (with the articles' signatures),
    the chunk's text known to the run as spill shard ``shard``."""
    return DocBatch.of(shard, chunk.files)


def findings(chunk: Chunk) -> list[list[dict[str, Any]]]:
    """Each article's within-article findings (for the report)."""
    texts = Buffers(chunk.shingles, chunk.outputs)
    return [texts.findings(d) for d in chunk.docs]


def output(chunk: Chunk, k: int) -> str:
    """The ``k``-th article's output."""
    return Buffers(chunk.shingles, chunk.outputs).output(chunk.docs[k])


def paragraphs(chunk: Chunk, k: int) -> list[np.ndarray]:
    """The ``k``-th article's shingles, paragraph by paragraph."""
    return Buffers(chunk.shingles, chunk.outputs).paragraphs(chunk.docs[k])


def band_pieces(chunk: Chunk, offset: int, bands: int, rows: int, parts: int) -> list[Any]:
    """The chunk's signatures cut into LSH bands, each band's rows sent to one of ``parts`` by
    their hash: ``(part, rows)``, one structured array a part (band, rows, run number). Equal
    bands land in the same part."""
    docs = chunk.docs
    if not docs:
        return []
    sigs = np.stack([d.signature for d in docs if d.signature is not None])
    n = len(docs)
    table = np.empty(n * bands, np.dtype([("band", "<i4"), ("rows", "<u4", (rows,)), ("number", "<i8")]))
    table["band"] = np.repeat(np.arange(bands, dtype=np.int32), n)
    table["number"] = np.tile(np.arange(offset, offset + n, dtype=np.int64), bands)
    table["rows"] = np.concatenate([sigs[:, b * rows : (b + 1) * rows] for b in range(bands)])
    mixed = (table["rows"].astype(np.uint64) * _MIX[:rows]).sum(axis=1, dtype=np.uint64)
    part = (mixed + table["band"].astype(np.uint64)) % np.uint64(parts)
    order = np.argsort(part, kind="stable")
    part, table = part[order], table[order]
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    ends = np.r_[starts[1:], len(part)]
    return [(int(part[s]), table[s:e].copy()) for s, e in zip(starts, ends)]


def bucket_pairs(group: tuple[int, list[Any]]) -> np.ndarray:
    """One part of the shuffle: the candidate pairs of its buckets, band by band (as locally)."""
    table = np.concatenate([rows for _, rows in group[1]])
    keys = np.empty(0, np.int64)
    for b in unique(table["band"]):
        here = table[table["band"] == b]
        keys = add_pairs(keys, band_pair_keys(band_keys(here["rows"]), here["number"]))
    return pair_rows(keys)


def split_pairs(found: list[np.ndarray], parts: int) -> list[np.ndarray]:
    """Candidate pairs of one part of the band shuffle, sent on to the part of their first article."""
    return by_part(np.concatenate(found) if found else EMPTY, parts)


def unique_pairs(seen: np.ndarray, *found: np.ndarray) -> np.ndarray:
    """A part's candidate pairs once each, sorted, but for pairs of two articles an index holds."""
    pairs = merge_pairs(*found)
    return pairs[~(np.isin(pairs[:, 0], seen) & np.isin(pairs[:, 1], seen))]


def verdict_table(found: list[np.ndarray], reused: np.ndarray | None) -> np.ndarray:
    """A part's verdicts (its verification tasks' tables) as one :data:`dedupe.cluster.VERDICTS`
    table, with those ``reused``."""
    return np.concatenate([*([] if reused is None else [reused]), verdict_rows(()), *found])


def reuse(table: np.ndarray, touched: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A part's verdicts that still hold (neither article ``touched`` by the boilerplate cut), and
    the pairs to verify again."""
    stale = touched[table["i"]] | touched[table["j"]]
    return table[~stale], np.column_stack([table["i"][stale], table["j"][stale]])


def duplicate_pairs(table: np.ndarray) -> np.ndarray:
    """The edges of the clusters: pairs verified as copies."""
    copies = table[table["duplicate"]]
    return np.column_stack([copies["i"], copies["j"]])


def held_pairs(table: np.ndarray) -> np.ndarray:
    """Pairs held apart (look-alikes, copies outside the window): the report names each."""
    return table[np.isin(table["reason"], HELD)]


def bins(table: np.ndarray) -> tuple[list[int], list[int]]:
    return similarity_bins(table["similarity"], table["duplicate"])


def pieces(chunk: Chunk, c: int, offset: int, wanted: dict[int, list[int]]) -> list[Any]:
    """The articles of this chunk each task ``t`` compares: ``(t, "docs", held)``."""
    docs = chunk.docs
    texts = Buffers(chunk.shingles, chunk.outputs)
    out = []
    for t, local in wanted.items():
        held: Held = {}
        for k in local:
            d = replace(docs[k], shard=c, order=offset + k)  # with its signature: verification may judge it
            held[offset + k] = (d, texts.shingle_bytes(d), texts.output_bytes(d))
        out.append((t, "docs", held))
    return out


class _HeldTexts:
    """The text of the articles a task holds, read like a spill."""

    def __init__(self, held: Held) -> None:
        self.held = held

    def paragraphs(self, doc: DocInfo) -> list[np.ndarray]:
        return split_paragraphs(self.held[doc.order][1], doc.shingle_sizes)

    def output(self, doc: DocInfo) -> str:
        return self.held[doc.order][2].decode("utf-8", "surrogatepass")


def _unpack(group: tuple[int, list[Any]], cut: Cut) -> tuple[Any, dict[int, DocInfo], Bodies]:
    held: Held = {}
    work = None
    for _, kind, payload in group[1]:
        if kind == "docs":
            held.update(payload)
        else:
            work = payload.value
    docs = {n: d for n, (d, _, _) in held.items()}
    return work, docs, Bodies(docs, _HeldTexts(held), cut)


def verify_group(group: tuple[int, list[Any]], cut: Cut, opts: RunOptions) -> np.ndarray:
    """A task's candidate pairs, verified with the articles the shuffle brought it (a table of verdicts);
    with a floor, only the pairs whose signatures pass it (the others get no verdict: they are no
    candidates, as the local engine never makes them)."""
    (pairs, floor), docs, bodies = _unpack(group, cut)
    if floor is not None and pairs:
        agree = np.array([np.count_nonzero(docs[i].signature == docs[j].signature) for i, j in pairs])
        sizes = np.array([[sum(docs[i].shingle_sizes), sum(docs[j].shingle_sizes)] for i, j in pairs])
        pairs = [p for p, ok in zip(pairs, floor.passes(agree, sizes[:, 0], sizes[:, 1]).tolist()) if ok]
    verifier = Verifier(bodies.shingles, bodies.words, {n: d.date for n, d in docs.items()}, opts)
    return verdict_rows((i, j, verifier.verify(i, j)) for i, j in pairs)


def settle_group(group: tuple[int, list[Any]], cut: Cut, opts: RunOptions) -> list[Drops]:
    """A task's connected components settled by the keep policy (the verdicts of their candidate
    pairs come with them)."""
    (components, known, first), docs, bodies = _unpack(group, cut)
    verifier = Verifier(bodies.shingles, bodies.words, {n: d.date for n, d in docs.items()}, opts, known)
    rank = _ranking(docs, opts.keep, bodies.paragraphs, first)
    return [settle(c, verifier, rank) for c in components]


def write_chunk(chunk: Chunk, kept: list[int], boxed_cut: Box, sink: Sink) -> tuple[int, int, list[Problem]]:
    """Write the kept articles (by their place in the chunk) of the chunk's files."""
    cut: Cut = boxed_cut.value
    texts = Buffers(chunk.shingles, chunk.outputs)
    keep = set(kept)
    bytes_out = removed = k = 0
    problems = []
    for rel, items in chunk.files:
        here = []
        for d in items:
            if isinstance(d, DocInfo):
                if k in keep:
                    here.append(d)
                k += 1
        if here:
            written, cut_here, problem = write_file(rel, here, texts.output, cut, sink)
            bytes_out, removed = bytes_out + written, removed + cut_here
            if problem is not None:
                problems.append(problem)
    return bytes_out, removed, problems


def unbox(box: Box) -> Any:
    return box.value


def first(element: Any) -> int:
    """The shuffle's key: the part or task an element goes to."""
    return int(element[0])


def concat(*parts: list[Any]) -> list[Any]:
    return [e for p in parts for e in p]

