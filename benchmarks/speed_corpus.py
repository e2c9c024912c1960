"""The news corpus for the speed benchmark: the public corpora, scaled up deterministically.

The base documents are every text in ``shared/corpora``: the 2,225 BBC stories
(``bbc-news-2225/articles/**/*.txt``, UTF-8, ``sport/199.txt`` read as latin-1), the 92
ground-truth bodies of ``article-extraction-benchmark/ground_truth.jsonl`` and the 899 non-empty
scraper outputs of its ``extractor_outputs.jsonl``: 3,216 texts, about 10 MB.

``corpus(shared, docs)`` gives ``docs`` texts. The first ones are the base documents in an order
shuffled by ``seed``; past those, document ``i`` is made from a base document drawn with its own
generator (seeded by ``seed`` and ``i``, so any document can be made without the ones before it):

- most (``1 - dup_rate``) are *new stories* made from a base document: 40% of the words replaced
  by words drawn from the BBC text (case kept), every number changed, sometimes two adjacent
  paragraphs swapped or a dateline added. About 8% of their word 5-shingles survive from the
  source (Jaccard about 0.04) and 0.6% are shared with another story made from the same source;
- ``dup_rate`` (default 10%) are *near copies* of any earlier document (a base document, a new
  story or another copy), as a wire service or a re-scrape makes them: 2-4 of a dateline, 1-3
  words replaced, one number changed, two adjacent paragraphs swapped, a credit line added, the
  last paragraph dropped. A deduplicator should drop these.

So a large corpus is not mostly copies of 3,216 originals: the stories made from one source stay
apart for LSH (a quarter of the words replaced was not enough: the stories of one source became
candidates of each other, and their number grew with the square of the corpus), and copies are
spread over the whole corpus, so clusters stay small (an early document is copied about
``dup_rate * ln(docs / i)`` times). Line layout, paragraph lengths, punctuation and non-ASCII
text stay those of real scraped news; the words are nonsense in places, which speed does not
mind. ``write_scrape`` streams the same texts to a scrape directory of ``.txt`` files.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

NEW_STORY_SHARE = 0.4  # of a new story's words replaced
_WORD_RE = re.compile(r"([^\W\d_]+)")
_NUM_RE = re.compile(r"\d+")
_DATELINES = [
    "LONDON (Reuters) - ", "NEW YORK (AP) - ", "WASHINGTON (Reuters) - ", "PARIS (AFP) - ",
    "BRUSSELS, Jan 5 (Reuters) - ", "TOKYO (Reuters) - ", "SYDNEY (AAP) - ", "BERLIN (dpa) - ",
]
_CREDITS = [
    "Reporting by Jane Smith; Editing by Mark Potter",
    "(c) 2005 The Associated Press. All rights reserved.",
    "Additional reporting by Tom Hall in Paris; Writing by Ana Diaz",
]


def _read_bbc(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # sport/199.txt
        return data.decode("latin-1")


@lru_cache(maxsize=4)
def base_documents(shared: Path) -> tuple[str, ...]:
    """Every non-empty text of the public corpora, in a fixed order (BBC by path, then AEB)."""
    root = Path(shared) / "corpora"
    texts = [_read_bbc(p) for p in sorted((root / "bbc-news-2225" / "articles").rglob("*.txt"))]
    aeb = root / "article-extraction-benchmark"
    with open(aeb / "ground_truth.jsonl", encoding="utf-8") as f:
        texts += [json.loads(line)["articleBody"] for line in f if line.strip()]
    with open(aeb / "extractor_outputs.jsonl", encoding="utf-8") as f:
        texts += [json.loads(line)["text"] or "" for line in f if line.strip()]
    out = tuple(t for t in texts if t.strip())
    if not out:
        raise SystemExit(f"no texts found under {root}")
    return out


@lru_cache(maxsize=4)
def _vocabulary(shared: Path) -> tuple[str, ...]:
    """Lowercase words of 3+ letters of the BBC text, with repeats (so drawing follows frequency)."""
    docs = base_documents(shared)[:2225]
    return tuple(w.lower() for t in docs for w in _WORD_RE.findall(t) if len(w) >= 3)


def _like(word: str, new: str) -> str:
    if len(word) > 1 and word.isupper():
        return new.upper()
    return new.capitalize() if word[0].isupper() else new


def _replace_words(text: str, rng: random.Random, vocab: tuple[str, ...], share: float = 0.0,
                   count: int = 0) -> str:
    parts = _WORD_RE.split(text)  # odd indices are words
    n = len(parts) // 2
    k = min(n, count or round(n * share))
    if k == 0:
        return text
    for j in rng.sample(range(n), k):
        i = 2 * j + 1
        parts[i] = _like(parts[i], rng.choice(vocab))
    return "".join(parts)


def _new_numbers(text: str, rng: random.Random) -> str:
    return _NUM_RE.sub(lambda m: str(rng.randrange(10 ** len(m.group()))), text)


def _change_one_number(text: str, rng: random.Random) -> str:
    found = list(_NUM_RE.finditer(text))
    if not found:
        return text
    m = rng.choice(found)
    return text[: m.start()] + str(int(m.group()) + rng.randint(1, 9)) + text[m.end():]


def _blocks(text: str) -> tuple[list[str], str]:
    sep = "\n\n" if "\n\n" in text else "\n"
    return text.split(sep), sep


def _swap_paragraphs(blocks: list[str], rng: random.Random) -> None:
    if len(blocks) >= 4:  # never the first block (a headline, or the lead)
        i = rng.randrange(1, len(blocks) - 1)
        blocks[i], blocks[i + 1] = blocks[i + 1], blocks[i]


def _add_dateline(blocks: list[str], rng: random.Random) -> None:
    i = 1 if len(blocks) > 2 else 0  # BBC texts open with a headline line
    blocks[i] = rng.choice(_DATELINES) + blocks[i].lstrip()


def new_story(src: str, rng: random.Random, vocab: tuple[str, ...]) -> str:
    """Another story in the same layout: 40% of the words replaced, numbers changed."""
    text = _new_numbers(_replace_words(src, rng, vocab, share=NEW_STORY_SHARE), rng)
    blocks, sep = _blocks(text)
    if rng.random() < 0.5:
        _swap_paragraphs(blocks, rng)
    if rng.random() < 0.3:
        _add_dateline(blocks, rng)
    return sep.join(blocks)


def near_copy(src: str, rng: random.Random, vocab: tuple[str, ...]) -> str:
    """A copy of the same story with 2-4 small edits (what a wire service or re-scrape changes)."""
    text = src
    edits = rng.sample(["dateline", "words", "number", "swap", "credit", "drop"], rng.randint(2, 4))
    if "words" in edits:
        text = _replace_words(text, rng, vocab, count=rng.randint(1, 3))
    if "number" in edits:
        text = _change_one_number(text, rng)
    blocks, sep = _blocks(text)
    if "swap" in edits:
        _swap_paragraphs(blocks, rng)
    if "drop" in edits and len(blocks) >= 4:
        blocks.pop()
    if "dateline" in edits:
        _add_dateline(blocks, rng)
    if "credit" in edits:
        blocks.append(rng.choice(_CREDITS))
    return sep.join(blocks)


def iter_corpus(shared: Path, docs: int, seed: int = 0, dup_rate: float = 0.1) -> Iterator[str]:
    """The corpus, one text at a time (see the module docstring); deterministic in ``seed``."""
    shared = Path(shared).resolve()
    base = base_documents(shared)
    order = list(range(len(base)))
    random.Random(seed).shuffle(order)
    for i in range(min(docs, len(base))):
        yield base[order[i]]
    if docs <= len(base):
        return
    vocab = _vocabulary(shared)

    def document(i: int) -> str:
        if i < len(base):
            return base[order[i]]
        rng = random.Random(f"speed-corpus:{seed}:{i}")
        if rng.random() < dup_rate:  # a copy of any earlier document (made again: each has its own seed)
            return near_copy(document(rng.randrange(i)), rng, vocab)
        return new_story(base[rng.randrange(len(base))], rng, vocab)

    for i in range(len(base), docs):
        yield document(i)


def corpus(shared: Path, docs: int, seed: int = 0, *, dup_rate: float = 0.1) -> list[str]:
    """``docs`` news texts: the public corpora, then sampled and perturbed copies of them."""
    return list(iter_corpus(shared, docs, seed, dup_rate))


def scrape_path(i: int) -> str:
    """Where document ``i`` goes in a scrape directory: ten sites, 10,000 files a folder at most."""
    return f"site-{i % 10}/{i // 100_000:03d}/{i:07d}.txt"


def write_scrape(shared: Path, docs: int, out_dir: Path, seed: int = 0, *, dup_rate: float = 0.1) -> tuple[int, int]:
    """Write the corpus as ``.txt`` files (UTF-8) under ``out_dir``, streamed; returns (files, bytes)."""
    out_dir = Path(out_dir)
    made: set[Path] = set()
    total = 0
    for i, text in enumerate(iter_corpus(shared, docs, seed, dup_rate)):
        path = out_dir / scrape_path(i)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        data = text.encode("utf-8")
        path.write_bytes(data)
        total += len(data)
    return docs, total


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Write the speed benchmark's corpus as a scrape directory.")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    n, size = write_scrape(a.shared, a.docs, a.out_dir, a.seed)
    print(f"{n} documents, {size} bytes under {a.out_dir}")
