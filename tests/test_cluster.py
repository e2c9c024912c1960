"""Clustering rules: verified pairs only, no chaining, the keep order decides; templated look-alikes."""

from __future__ import annotations

from dedupe.cluster import PairVerdict, cluster, templated

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
