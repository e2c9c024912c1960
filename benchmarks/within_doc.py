"""Within-document quality of the cleaner on real scraper outputs (article-extraction-benchmark).

For each of the 10 extractors' outputs of each page:
- repeats fixed: every paragraph that the output repeats more often than the human ground truth
  does (a scraper artifact) comes out no more often than the ground truth has it (at least once);
- sentences lost: ground-truth sentences present in the raw output but missing from the cleaned one;
- legit repeats kept: paragraphs the ground truth itself repeats keep their count.

Usage: python benchmarks/within_doc.py [CORPUS_DIR]   (default ../shared/corpora/article-extraction-benchmark)
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from dedupe import clean_text
from dedupe.segment import squash

_SENTENCE = re.compile(r"(?<=[.!?。])\s+")


def paragraphs(text: str) -> list[str]:
    return [squash(line) for line in text.split("\n") if squash(line)]


def main(corpus: Path) -> dict[str, float]:
    """Print the figures and return them."""
    gt = {}
    for line in (corpus / "ground_truth.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        gt[r["id"]] = r["articleBody"]
    docs = fixed = damaged = sent_present = sent_lost = legit = legit_kept = 0
    worst: list[tuple[int, str, str]] = []
    for line in (corpus / "extractor_outputs.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        raw, truth = r["text"], gt.get(r["id"])
        if not raw or truth is None:
            continue
        docs += 1
        out = clean_text(raw).text
        raw_counts, out_counts = Counter(paragraphs(raw)), Counter(paragraphs(out))
        truth_counts = Counter(paragraphs(truth))
        artifacts = [p for p, c in raw_counts.items() if c > max(1, truth_counts[p]) and len(p) >= 40]
        if artifacts:
            damaged += 1
            if all(out_counts[p] <= max(1, truth_counts[p]) for p in artifacts):
                fixed += 1
        for p, c in truth_counts.items():
            if c > 1 and raw_counts[p] >= c:
                legit += 1
                legit_kept += out_counts[p] >= c
        lost_here = 0
        for sentence in {s for p in paragraphs(truth) for s in _SENTENCE.split(p) if len(s) >= 20}:
            if sentence in raw:
                sent_present += 1
                if sentence not in out:
                    sent_lost += 1
                    lost_here += 1
        if lost_here:
            worst.append((lost_here, r["extractor"], r["id"][:8]))
    print(f"documents: {docs}")
    print(f"outputs with artifact repeats: {damaged}; fixed perfectly: {fixed} ({fixed / max(damaged, 1):.1%})")
    print(f"ground-truth sentences in raw outputs: {sent_present}; lost by cleaning: {sent_lost} ({sent_lost / max(sent_present, 1):.3%})")
    print(f"legitimate repeats (in ground truth and output): {legit}; kept: {legit_kept}")
    for n, ex, i in sorted(worst, reverse=True)[:10]:
        print(f"  lost {n} sentences: {ex} {i}")
    return {
        "documents": docs,
        "with_artifact_repeats": damaged,
        "fixed_perfectly": fixed,
        "fixed_share": round(fixed / max(damaged, 1), 4),
        "sentences_present": sent_present,
        "sentences_lost": sent_lost,
        "lost_share": round(sent_lost / max(sent_present, 1), 6),
        "legit_repeats": legit,
        "legit_repeats_kept": legit_kept,
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/corpora/article-extraction-benchmark"))
