"""Clustering rules: verified pairs only, no chaining, the keep order decides; templated look-alikes."""

from __future__ import annotations

import difflib
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe import cluster as cluster_module
from dedupe import policy
from dedupe.cluster import (
    REASONS,
    PairVerdict,
    Verdicts,
    cluster,
    kept_copies,
    pair_keys,
    settle,
    table_pairs,
    templated,
    templated_paragraphs,
    verdict,
    verdict_rows,
    verdict_triples,
)
from dedupe.policy import _ranking, add_pairs, band_keys, band_pair_keys, merge_pairs, pair_rows

from .conftest import FIXTURES


class Table:
    """A verifier whose verdicts are given: pairs listed are copies, others are not."""

    def __init__(self, copies: set[tuple[int, int]]) -> None:
        self.copies = copies
        self.calls: list[tuple[int, int]] = []

    def verify(self, i: int, j: int) -> PairVerdict:
        self.calls.append((i, j))
        if (i, j) in self.copies:
            return PairVerdict(True, 0.9, "near_duplicate")
        return PairVerdict(False, 0.1, "different")


def test_chain_keeps_both_ends():
    # A~B and B~C but not A~C: dropping C for A through B would lose C's story.
    table = Table({(0, 1), (1, 2)})
    result = cluster(3, [(0, 1), (1, 2)], table, sorted)
    assert tuple(result.keeper) == (0, 0, 2)
    assert (0, 2) in table.calls  # C was checked against the kept A itself


def test_keep_order_picks_the_copy_kept():
    table = Table({(0, 1), (1, 2), (0, 2)})
    result = cluster(3, [(0, 1), (1, 2)], table, lambda members: sorted(members, reverse=True))
    assert tuple(result.keeper) == (2, 2, 2)
    assert set(result.verdicts) == {0, 1}


_verdicts = st.builds(PairVerdict, st.booleans(), st.floats(0, 1), st.sampled_from(REASONS))


@given(st.dictionaries(st.integers(0, 99), st.tuples(st.integers(0, 99), _verdicts), max_size=40),
       st.randoms(use_true_random=False), st.lists(st.integers(-5, 105), max_size=10))
def test_dropped_articles_verdicts_answer_as_a_dict_would(drops, rnd, asked):
    # each article dropped once, the components settled in any order
    items = [(m, k, v) for m, (k, v) in drops.items()]
    rnd.shuffle(items)
    cuts = sorted(rnd.sample(range(len(items) + 1), min(3, len(items) + 1)))
    settled = [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)])]
    keeper, dropped = kept_copies(100, settled)
    assert dict(dropped.items()) == {m: v for m, (k, v) in drops.items()}
    assert list(dropped) == sorted(drops) and len(dropped) == len(drops)
    assert list(keeper) == [drops[m][0] if m in drops else m for m in range(100)]
    for m in asked:
        assert (m in dropped) == (m in drops)
        if m not in drops:
            with pytest.raises(KeyError):
                dropped[m]


def test_unverified_candidates_merge_nothing():
    result = cluster(4, [(0, 1), (2, 3)], Table(set()), sorted)
    assert tuple(result.keeper) == (0, 1, 2, 3) and not result.verdicts


def test_templated_notices_are_look_alikes_and_copies_are_not():
    notices = (FIXTURES / "run" / "scrape" / "templated")
    texts = sorted(p.read_text(encoding="utf-8").split("\n", 1)[1].split() for p in notices.glob("dividend*.txt"))
    assert len(texts) >= 2 and templated(texts[0], texts[1])
    story = (FIXTURES / "seed" / "kursk-article.canonical.txt").read_text(encoding="utf-8").split()
    edited = [w.replace("Gornal", "Gornal,").replace("village", "town") for w in story]
    assert not templated(story, edited)  # a common word changed: the same story
    assert not templated(story, story[: len(story) * 2 // 3])  # a truncated copy


# few words, many repeats: where the longest matching block has ties and the alignment could go two ways
_SWAP_WORDS = st.sampled_from(["the", "of", "said", "a", "Acme", "Zenith", "0.22", "0.31", "March", "dividend"])
_PARAGRAPHS = st.lists(st.lists(_SWAP_WORDS, max_size=12), max_size=6)


@given(st.lists(_SWAP_WORDS, max_size=60), st.lists(_SWAP_WORDS, max_size=60))
def test_the_compiled_matcher_aligns_as_difflib_does(a, b):
    # the look-alike check may use cydifflib (extra "fast") only because it gives difflib's very opcodes
    cydifflib = pytest.importorskip("cydifflib")
    expected = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    assert cydifflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() == expected


@st.composite
def _filled_in(draw):
    """Paragraphs and a copy with some words swapped, mostly for names and numbers (a template filled in)."""
    a = draw(st.lists(st.lists(_SWAP_WORDS, min_size=4, max_size=20), min_size=1, max_size=5))
    names = st.sampled_from(["Acme", "Zenith", "0.22", "0.31", "March", "April", "Lyon", "the"])
    b = [[draw(names) if draw(st.integers(0, 3)) == 0 else w for w in p] for p in a]
    return a, b


@given(st.one_of(st.tuples(_PARAGRAPHS, _PARAGRAPHS), _filled_in()))
def test_templated_answers_the_same_with_either_matcher(pair):
    pytest.importorskip("cydifflib")
    a, b = pair
    assert cluster_module.SequenceMatcher is not difflib.SequenceMatcher  # installed, so used
    with mock.patch.object(cluster_module, "SequenceMatcher", difflib.SequenceMatcher):
        slow = templated_paragraphs(a, b)
    assert templated_paragraphs(a, b) == slow


run_numbers = st.integers(0, 6) | st.integers(0, 2**31 - 1)  # small ones: many pairs share an article
pairs = st.tuples(run_numbers, run_numbers)
pair_lists = st.lists(pairs.map(sorted).map(tuple), max_size=40)


@given(pair_lists, pair_lists)
def test_merged_pairs_are_the_sorted_union(a, b):
    rows = [np.array(p, np.int64).reshape(-1, 2) for p in (a, b)]
    assert merge_pairs(*rows).tolist() == [list(p) for p in sorted(set(a) | set(b))]


@given(st.dictionaries(pairs,
                       st.builds(PairVerdict, st.booleans(), st.floats(0, 1), st.sampled_from(REASONS)), max_size=30),
       pair_lists)
def test_verdict_tables_answer_as_a_dict_would(known, asked):
    items = list(known.items())
    half = len(items) // 2  # built from tables, as a run joins reused and new verdicts
    table = Verdicts(verdict_rows((i, j, v) for (i, j), v in items[:half]),
                     verdict_rows((i, j, v) for (i, j), v in sorted(items[half:])), verdict_rows(()))
    assert len(table) == len(known) and dict(table.items()) == known
    assert list(table) == sorted(known)  # one table sorted by pair
    for pair in [*known, *asked]:
        assert table.get(pair) == known.get(pair)
    assert [p in table for p in asked] == [p in known for p in asked]


@given(st.dictionaries(pairs,
                       st.builds(PairVerdict, st.booleans(), st.floats(0, 1), st.sampled_from(REASONS)), max_size=30),
       st.data())
def test_a_sorted_table_answers_only_for_the_rows_that_still_hold(known, data):
    # a second round's verdicts: the first round's table, the rows of articles the cut touched left out
    pairs = sorted(known)
    holding = np.array(data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs))), bool)
    table = verdict_rows((i, j, known[i, j]) for i, j in pairs)
    verdicts = Verdicts.of_sorted(table, holding)
    still = {p: known[p] for p, h in zip(pairs, holding.tolist()) if h}
    assert len(verdicts) == len(still) and dict(verdicts.items()) == still
    for pair in pairs:
        assert verdicts.get(pair) == still.get(pair)


def test_band_pairs_are_each_bucket_s_members_paired():
    band = np.array([[1, 2], [3, 4], [1, 2], [5, 6], [1, 2], [3, 4]], np.uint32)
    numbers = np.array([10, 11, 12, 13, 14, 15])
    found = band_pair_keys(band_keys(band), numbers)
    assert sorted(map(tuple, pair_rows(found).tolist())) == [(10, 12), (10, 14), (11, 15), (12, 14)]


class _Doc:
    def __init__(self, order: int, sentences: list[bool], date: float | None) -> None:
        self.order, self.sentences, self.date = order, sentences, date


_paragraph = st.lists(st.integers(0, 30), max_size=8).map(lambda v: np.array(sorted(set(v)), np.uint32))


@given(st.lists(st.tuples(st.lists(st.tuples(_paragraph, st.booleans()), max_size=4),
                          st.one_of(st.none(), st.sampled_from([1.0, 2.0]))), min_size=2, max_size=5))
def test_content_ranking_scores_as_sets_would(members):
    # An article's shingles: in at least half of the copies (the story) count 1, its own in a prose
    # paragraph 0.5, the rest -1. A prose paragraph may have no shingles (cut as boilerplate).
    docs = [_Doc(n, [prose for _, prose in paras], date) for n, (paras, date) in enumerate(members)]
    parts = [[p for p, _ in paras] for paras, _ in members]
    rank = _ranking(docs, "content", lambda m: parts[m])
    sets = [set().union(*(p.tolist() for p in ps)) for ps in parts]
    story = max(2, (len(members) + 1) // 2)

    def score(m: int) -> float:
        prose = set().union(*(p.tolist() for p, is_prose in zip(parts[m], docs[m].sentences) if is_prose))
        shared = {s for s in sets[m] if sum(s in other for other in sets) >= story}
        own = sets[m] - shared
        return len(shared) + 0.5 * len(own & prose) - len(own - prose)

    def date(m: int) -> float:
        return docs[m].date if docs[m].date is not None else float("inf")

    expected = sorted(range(len(members)), key=lambda m: (-score(m), date(m), m))
    assert rank(list(range(len(members)))) == expected


@given(st.lists(st.integers(0, 6), max_size=80), st.integers(1, 5), st.randoms(use_true_random=False))
def test_band_pairs_pair_each_member_with_the_next_ones_of_its_bucket(values, cap, rnd):
    # as a loop over each bucket's members in run order would: each with the next ``cap`` of them
    numbers = list(range(1000, 1000 + len(values)))
    rnd.shuffle(numbers)  # a Dask part's articles come in any order
    buckets: dict[int, list[int]] = {}
    for v, n in zip(values, numbers):
        buckets.setdefault(v, []).append(n)
    expected = sorted((a, c) for members in buckets.values() for x, a in enumerate(sorted(members))
                      for c in sorted(members)[x + 1 : x + 1 + cap])
    band = np.array([[v, v * 7] for v in values], np.uint32).reshape(-1, 2)
    with mock.patch.object(policy, "BUCKET_PAIRS", cap):
        found = band_pair_keys(band_keys(band), np.array(numbers, np.int64))
    assert len(np.unique(found)) == len(found)  # each pair once: added to a run's keys unsorted
    assert sorted(map(tuple, pair_rows(found).tolist())) == expected


@given(st.lists(pair_lists, max_size=5))
def test_pairs_added_band_by_band_are_the_sorted_union(bands):
    keys = np.empty(0, np.int64)
    for pairs in bands:
        rows = np.array(sorted(set(pairs)), np.int64).reshape(-1, 2)[::-1]  # a band's pairs: distinct, in any order
        keys = add_pairs(keys, pair_keys(rows[:, 0], rows[:, 1]))
    rows = pair_rows(keys)
    assert rows.tolist() == [list(p) for p in sorted({p for pairs in bands for p in pairs})]
    assert rows.dtype == np.int32 and (not len(keys) or np.shares_memory(rows, keys))  # not a copy beside them


class _Redo:
    """A verifier for a second round: consults the verdicts it is told it ``known``, else finds one
    from the pair itself (and notes the pair)."""

    def __init__(self) -> None:
        self.known: dict[tuple[int, int], PairVerdict] = {}
        self.calls: list[tuple[int, int]] = []

    @staticmethod
    def fresh(i: int, j: int) -> PairVerdict:
        return PairVerdict((i + j) % 3 == 0, (i * 7 + j) % 100 / 100, REASONS[(i + j) % len(REASONS)])

    def verify(self, i: int, j: int) -> PairVerdict:
        v = self.known.get((i, j))
        if v is None:
            self.calls.append((i, j))
            v = self.fresh(i, j)
        return v


class _Work:
    """Work whose ``verify`` finds some of the pairs (``share``), out of order."""

    def __init__(self, share: float) -> None:
        self.share = share

    def verify(self, pairs, cut, verifier):
        found = [(i, j, _Redo.fresh(i, j)) for i, j in pairs.tolist()[: int(len(pairs) * self.share)]]
        return verdict_rows(found[::-1])


def _stale_table(pairs: np.ndarray) -> np.ndarray:
    return verdict_rows((i, j, PairVerdict(False, 0.5, "no_body")) for i, j in pairs.tolist())


@given(st.sets(st.tuples(st.integers(0, 40), st.integers(0, 40)).filter(lambda p: p[0] < p[1]), max_size=60),
       st.data(), st.sampled_from([0.0, 0.5, 1.0]))
def test_a_second_round_redoes_the_rows_to_do_in_place(pair_set, data, share):
    # by way of a work's verify (the Dask engine's): whatever it finds, in any order, the rest found here
    from dedupe.corpus import verify_into

    pairs = np.array(sorted(pair_set), np.int32).reshape(-1, 2)
    todo = np.array(data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs))), bool)
    table, verifier = _stale_table(pairs), _Redo()
    verify_into(_Work(share), table, pairs, todo, {}, verifier)
    picked = [tuple(p) for p in pairs[todo].tolist()]
    assert [verdict(r) for r in table[todo]] == [_Redo.fresh(i, j) for i, j in picked]
    assert table.tobytes() == np.where(todo, table, _stale_table(pairs)).tobytes()  # the others untouched
    assert verifier.calls == picked[int(len(picked) * share) :]  # what the work found is not found again
    assert not verifier.known


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_local_work_redoes_the_rows_to_do_in_its_workers(jobs, monkeypatch):
    # the forked workers pick the rows to do themselves, from ranges of rows; the run writes them in place
    from dedupe import engine

    monkeypatch.setattr(engine, "PARALLEL_PAIRS", 0)
    rng = np.random.default_rng(5)
    pairs = np.unique(rng.integers(0, 3000, (5000, 2)), axis=0).astype(np.int32)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    todo = rng.random(len(pairs)) < 0.7
    table = _stale_table(pairs)
    engine._LocalWork(jobs).verify_into(table, pairs, todo, {}, _Redo())
    for (i, j), row, redo in zip(pairs.tolist(), table, todo.tolist()):
        assert verdict(row) == (_Redo.fresh(i, j) if redo else PairVerdict(False, 0.5, "no_body"))
        assert (int(row["i"]), int(row["j"])) == (i, j)


@given(st.lists(st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.booleans(),
                          st.floats(0, 1), st.sampled_from(REASONS)), max_size=20))
def test_verdict_triples_are_what_a_verdict_table_was_made_of(rows):
    triples = [(i, j, PairVerdict(dup, sim, reason)) for i, j, dup, sim, reason in rows]
    assert verdict_triples(verdict_rows(triples)) == triples


@given(st.lists(st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.booleans(),
                          st.floats(0, 1), st.sampled_from(REASONS)), max_size=20), st.integers(1, 3))
def test_a_verdict_table_s_pairs_are_a_view_of_its_rows(rows, step):
    # the second round reads its candidates from the table (row k is pair k), not from a copy beside it
    table = verdict_rows((i, j, PairVerdict(dup, sim, reason)) for i, j, dup, sim, reason in rows)[::step]
    pairs = table_pairs(table)
    assert pairs.dtype == np.int32 and pairs.shape == (len(table), 2)
    assert pairs.tolist() == [[int(r["i"]), int(r["j"])] for r in table]
    assert not pairs.flags.writeable
    if len(table):
        assert np.shares_memory(pairs, table)
        table[0] = (7, 9, True, 1.0, 0)  # a row redone in place reads through
        assert pairs[0].tolist() == [7, 9]


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_local_work_settles_components_in_its_workers_as_in_this_process(jobs, monkeypatch):
    # forked workers send each chunk's drops back as a verdict table; the clustering takes them as drops
    from dedupe import engine

    monkeypatch.setattr(engine, "PARALLEL_COMPONENTS", 0)
    rng = np.random.default_rng(7)
    members = rng.permutation(3000).tolist()
    components = [sorted(members[k : k + size]) for k, size in
                  zip(range(0, 3000, 6), rng.integers(2, 7, 500).tolist())]
    rank = sorted
    expected = [drop for c in components for drop in settle(c, _Redo(), rank)]
    got = [drop for drops in engine._LocalWork(jobs).settle(components, {}, {}, _Redo(), rank, frozenset())
           for drop in drops]  # grouped by component in this process, by chunk of components in workers
    assert got == expected
    assert len(got) > 300  # components that drop something


_SHINGLE_PARAGRAPHS = st.lists(st.lists(st.integers(0, 40), max_size=12).map(lambda v: np.unique(np.array(v, np.uint32))),
                               max_size=5)


@given(_SHINGLE_PARAGRAPHS, _SHINGLE_PARAGRAPHS, st.lists(st.booleans(), min_size=5, max_size=5),
       st.lists(st.booleans(), min_size=5, max_size=5))
def test_a_pair_is_scored_as_counting_scores_it(a, b, prose_a, prose_b):
    # the content policy's two-copy shortcut (set sizes and intersections) against counting copies
    parts, prose = [a, b], [bytes(prose_a[: len(a)]), bytes(prose_b[: len(b)])]
    sets = [np.unique(np.concatenate(p)) if p else np.empty(0, np.uint32) for p in parts]
    prose_sets = [[x for x, keep in zip(p, flags) if keep] for p, flags in zip(parts, prose)]
    assert policy.content_scores(parts, prose) == policy._counted_scores(sets, prose_sets)
