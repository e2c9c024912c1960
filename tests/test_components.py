"""Connected components by large-star / small-star steps (the Dask engine's, for edge lists kept on
a cluster) agree with the union-find the client uses, on any graph.

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
    assert components(_AtOnce(), pieces, parts) == _components([e for e in edges if e[0] != e[1]])


def test_a_long_chain_is_one_component():
    order = np.random.default_rng(3).permutation(5000)
    chain = np.column_stack([order[:-1], order[1:]])
    assert components(_AtOnce(), [_Done(chain)], 3) == [list(range(5000))]
