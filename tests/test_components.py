"""Connected components, by large-star / small-star steps (the Dask engine's, for edge lists kept on
a cluster) and by the local engine's numpy rounds, agree with a plain union-find on any graph.

The steps are run here through a stand-in for a Dask client that calls each task at once, so the
algorithm is checked on many graphs in milliseconds; tests/test_dask.py runs it on a real cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.cluster import _components
from dedupe.dask_components import components


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value


class _AtOnce:
    """The part of ``distributed.Client`` the steps use, computing each task as it is submitted."""

    def submit(self, fn: Any, *args: Any) -> _Done:
        return _Done(fn(*[a.value if isinstance(a, _Done) else a for a in args]))

    def gather(self, futures: list[_Done]) -> list[Any]:
        return [f.value for f in futures]


def union_find(edges: list[tuple[int, int]]) -> list[list[int]]:
    """The reference: components of two or more nodes, each sorted, by least node."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in sorted(parent):
        groups.setdefault(find(x), []).append(x)
    return [g for g in groups.values() if len(g) > 1]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    n = draw(st.integers(2, 60))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=3 * n))
    if draw(st.booleans()):  # a chain in a random order: the most steps
        order = draw(st.permutations(range(n)))
        edges += list(zip(order, order[1:]))
    return n, [(min(a, b), max(a, b)) for a, b in edges]


@settings(max_examples=300, deadline=None)
@given(graphs(), st.integers(1, 5), st.integers(1, 4))
def test_star_steps_find_the_components_union_find_finds(graph, parts, futures):
    n, edges = graph
    array = np.array(edges, np.int64).reshape(-1, 2)
    pieces = [_Done(p) for p in np.array_split(array, futures)]
    assert components(_AtOnce(), pieces, parts) == union_find(edges)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_numpy_rounds_find_the_components_union_find_finds(graph):
    n, edges = graph
    assert _components(np.array(edges, np.int64).reshape(-1, 2)) == union_find(edges)


def test_numpy_rounds_on_chains_and_large_run_numbers():
    rng = np.random.default_rng(4)
    order = rng.permutation(20_000) * 1_000 + 7  # sparse, large run numbers: only the edges' articles count
    chain = np.column_stack([order[:-1], order[1:]])
    chain = np.sort(chain[rng.permutation(len(chain))], axis=1)
    apart = np.array([[5, 6], [1, 3]])
    assert _components(np.concatenate([chain, apart])) == [[1, 3], [5, 6], sorted(order.tolist())]
    assert _components(np.empty((0, 2), np.int64)) == []


def test_a_long_chain_is_one_component():
    order = np.random.default_rng(3).permutation(5000)
    chain = np.column_stack([order[:-1], order[1:]])
    assert components(_AtOnce(), [_Done(chain)], 3) == [list(range(5000))]


@settings(max_examples=200, deadline=None)
@given(graphs(), st.integers(1, 4))
def test_components_sent_in_chunks_are_the_components(graph, jobs):
    # a run sends each worker chunks of the components (slices of the two arrays, pickled) and they
    # take each as a list; the run itself never holds them as lists (4 bytes a member for int32 edges)
    import pickle

    from dedupe.engine import _chunks

    n, edges = graph
    found = _components(np.array(edges, np.int32).reshape(-1, 2))
    want = union_find(edges)
    assert found.members.dtype == np.int32
    chunks = [pickle.loads(pickle.dumps(c)) for c in _chunks(found, jobs)]
    assert [list(c) for chunk in chunks for c in chunk] == want
    assert [found[k] for k in range(-len(want), 0)] == want and list(found[len(want):]) == []
