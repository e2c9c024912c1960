"""Connected components of a graph whose edges stay on a Dask cluster (large-star / small-star).

The edge list of a big run does not fit one machine's memory, so the client never holds it:
edges are numpy arrays of ``(u, v)`` rows in futures, and nodes are spread over ``parts`` by
``node % parts``. Each step sends every edge, both ways round, to the parts of its two ends,
and each part rewrites the edges of its own nodes (Kiveris et al., "Connected Components in
MapReduce and Beyond", SoCC 2014):

* **large-star**: each node links its larger neighbours to the least node it sees;
* **small-star**: each node links itself and its smaller neighbours to the least of them.

Alternating the two turns every component into a star around its least node in O(log² n)
steps; a part sees that its own nodes are done when each is a centre (only larger neighbours)
or a leaf (one neighbour, smaller). What comes back to the client is one label a node, and
only for nodes with an edge.
"""

from __future__ import annotations

from operator import getitem
from typing import Any

import numpy as np

EMPTY = np.empty((0, 2), np.int64)


def by_part(rows: np.ndarray, parts: int) -> list[np.ndarray]:
    """Rows ``(u, ...)`` sent to the part of ``u`` (``u % parts``): one array a part."""
    dest = rows[:, 0] % parts
    order = np.argsort(dest, kind="stable")
    bounds = np.searchsorted(dest[order], np.arange(parts + 1))
    return [rows[order[bounds[p] : bounds[p + 1]]] for p in range(parts)]


def split(edges: np.ndarray, parts: int) -> list[np.ndarray]:
    """Each edge both ways round, ``(u, v)`` sent to the part of ``u``: one array a part."""
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    return by_part(np.concatenate([edges, edges[:, ::-1]]), parts)


def _neighbourhoods(pieces: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A part's edges ``(u, v)`` without repeats, sorted by ``u`` then ``v``; where each ``u`` starts."""
    rows = np.concatenate(pieces) if pieces else EMPTY
    rows = np.unique(rows[rows[:, 0] != rows[:, 1]], axis=0)
    u = rows[:, 0]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if len(u) else np.empty(0, np.int64)
    return rows, starts, np.diff(np.r_[starts, len(u)])


def _is_star(rows: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> bool:
    """Whether each node is a centre (only larger neighbours) or a leaf (one neighbour, smaller)."""
    if not len(rows):
        return True
    u, least = rows[starts, 0], rows[starts, 1]  # rows are sorted: a node's first neighbour is its least
    return bool(np.all((least > u) | (sizes == 1)))


def star(large: bool, parts: int, *pieces: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """One large-star (``large``) or small-star step on one part's nodes.

    Returns the new edges split by part (see :func:`split`) and whether this part's nodes were
    already done (then the step's input is the answer).
    """
    rows, starts, sizes = _neighbourhoods(pieces)
    done = _is_star(rows, starts, sizes)
    if not len(rows):
        return [EMPTY] * parts, done
    u, v = rows[:, 0], rows[:, 1]
    least = np.minimum(np.repeat(rows[starts, 1], sizes), u)  # the least of u and its neighbours
    if large:
        pick = v > u
        new = np.column_stack([v[pick], least[pick]])
    else:
        pick = v < u  # least is then the least of the smaller neighbours
        leaf = np.column_stack([v[pick], least[pick]])
        centre = np.unique(np.column_stack([u[pick], least[pick]]), axis=0)
        new = np.concatenate([leaf, centre])
    return split(new[new[:, 0] != new[:, 1]], parts), done


def labels(*pieces: np.ndarray) -> np.ndarray:
    """Each node of a finished part with its component's least node: rows ``(node, label)``."""
    rows, starts, _ = _neighbourhoods(pieces)
    if not len(rows):
        return EMPTY
    u, least = rows[starts, 0], rows[starts, 1]
    return np.column_stack([u, np.minimum(u, least)])


def _routed(client: Any, splits: list[Any], parts: int) -> list[list[Any]]:
    """Part ``p``'s inputs: the ``p``-th array of each split (the shuffle of one step)."""
    return [[client.submit(getitem, s, p) for s in splits] for p in range(parts)]


def components(client: Any, edges: list[Any], parts: int) -> list[list[int]]:
    """The connected components (two nodes or more) of the edges in futures ``edges``, each
    sorted, in order of their least node (as :func:`dedupe.cluster._components` gives them)."""
    pieces = _routed(client, [client.submit(split, e, parts) for e in edges], parts)
    large = True
    while True:
        steps = [client.submit(star, large, parts, *pieces[p]) for p in range(parts)]
        if all(client.gather([client.submit(getitem, s, 1) for s in steps])):
            break
        pieces = _routed(client, [client.submit(getitem, s, 0) for s in steps], parts)
        large = not large
    found = client.gather([client.submit(labels, *pieces[p]) for p in range(parts)])
    table = np.concatenate(found) if found else EMPTY
    if not len(table):
        return []
    table = table[np.lexsort((table[:, 0], table[:, 1]))]
    cuts = np.flatnonzero(table[1:, 1] != table[:-1, 1]) + 1
    return [group.tolist() for group in np.split(table[:, 0], cuts)]
