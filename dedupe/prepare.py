"""One article, ready for a corpus run: cleaned, measured and signed (the map step).

Everything a run needs later is computed here, once per article, in a worker process:
the canonical output, the within-article findings, the body's shingles per paragraph (for
exact verification), its MinHash signature (for candidates), paragraph keys (for site
boilerplate), the headline key, which paragraphs read as prose, and a date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Options
from .dates import parse_date
from .document import clean_tokens
from .minhash import paragraph_shingles, signatures
from .records import Article
from .shingle import joined_key, token_text

# "LONDON (Reuters) - ", "NEW YORK, Jan 5 (AP) — ", "WASHINGTON -- ": wire datelines, not content.
_DATELINE_RE = re.compile(
    r"^(?:[A-Z][A-Za-z.'’-]*(?:[ ,]+[A-Z][A-Za-z.'’-]*){0,4}(?:,? [A-Z][a-z]{2,8}\.? \d{1,2})?"
    r"\s*\([A-Za-z][\w .&'-]{0,30}\)\s*[-–—:]+\s*|[A-Z][A-Z .'’-]{2,30}\s*(?:--|[–—])\s*)"
)
# Credit and copyright lines: "Reporting by ...; Editing by ...", "(c) 2005 The Associated Press."
# (two regexes: the alternation of the two tried the anchored one at every position)
_CREDIT_START_RE = re.compile(
    r"\(c\)|©|copyright\b|(?:additional )?reporting by\b|writing by\b|editing by\b|compiled by\b", re.IGNORECASE
)
_RIGHTS_RE = re.compile("all rights reserved", re.IGNORECASE)
_CREDIT_CHARS = 200  # a credit line is shorter than this
_SENTENCE_END = tuple(".!?\"'”’)。！？")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What pass one learns of an article (picklable: it crosses process boundaries)."""

    article: Article
    output: str  # canonical text (.txt/.md) or the cleaned text field (JSON)
    headline: str | None
    headline_line: bool  # whether the output's first block is the headline
    findings: tuple[dict[str, object], ...]
    shingles: np.ndarray  # per body paragraph its sorted unique uint32 hashes, one after another
    shingle_sizes: tuple[int, ...]  # how many of them each body paragraph has
    paragraph_keys: tuple[int, ...]  # per body paragraph, of its words as written
    matching_keys: tuple[int, ...]  # per body paragraph as compared: dateline cut, credit lines 0
    signature: np.ndarray
    headline_key: int | None
    sentences: tuple[bool, ...]  # per body paragraph: reads as prose (8+ words, ends a sentence)
    date: float | None
    bytes_in: int


def body_for_matching(i: int, text: str) -> str | None:
    """The paragraph as compared across articles: dateline cut (two, when a second agency put its
    own before the first: "LONDON (AP) - LOS ANGELES (Reuters) - ..."), credit lines left out."""
    if len(text) < _CREDIT_CHARS and (_CREDIT_START_RE.match(text) or _all_rights_reserved(text)):
        return None
    if i == 0:
        for _ in range(2):
            text, cut = _DATELINE_RE.subn("", text, count=1)
            if not cut:
                break
    return text


def _all_rights_reserved(text: str) -> bool:
    """``_RIGHTS_RE.search``; in ASCII text, where ignoring case is lower-casing, a substring test (twice as fast)."""
    if text.isascii():
        return "all rights reserved" in text.lower()
    return _RIGHTS_RE.search(text) is not None


def prepare(article: Article, options: Options) -> Prepared:
    """Clean one article and compute what the corpus run needs of it."""
    return prepare_many([article], options)[0]


def prepare_many(articles: Sequence[Article], options: Options) -> list[Prepared]:
    """:func:`prepare` of each article; their shingles and signatures computed for all at once
    (one pass of array calls for a batch, not one per article)."""
    cleaned = [_clean(article, options) for article in articles]
    paragraphs = [toks for _, compared in cleaned for toks in compared]
    shingles, sizes = paragraph_shingles(paragraphs, options.signature.shingle_words)
    bounds = np.cumsum([0] + [len(compared) for _, compared in cleaned])  # each article's first paragraph
    per_article = np.diff(np.r_[0, np.cumsum(sizes)][bounds])  # how many shingles each article has
    signed = signatures(shingles, per_article, options.signature)
    out, at = [], 0
    for (fields, _), first, last, count, sig in zip(cleaned, bounds, bounds[1:], per_article.tolist(), signed):
        shingle_sizes = tuple(sizes[first:last].tolist())
        out.append(Prepared(**fields, shingles=shingles[at : at + count], shingle_sizes=shingle_sizes, signature=sig))
        at += count
    return out


def _without_text(a: Article) -> Article:
    """The article with its text left out (what a run keeps of it); ``dataclasses.replace`` takes
    three times as long, looking the fields up each call."""
    return Article(a.id, a.path, "", a.title, a.date, a.url, a.line, a.record_id)


def _clean(article: Article, options: Options) -> tuple[dict[str, Any], list[bytes]]:
    """The article's :class:`Prepared` fields but for its shingles and signature, and the tokens
    they are made of (per body paragraph, joined: see :func:`dedupe.shingle.token_texts`)."""
    has_title = bool(article.title and article.title.strip())
    source = f"{article.title}\n\n{article.text}" if has_title else article.text
    clean = options.clean if not has_title else options.with_clean(headline="first").clean
    result, words, counts, word_keys = clean_tokens(source, clean, doc=article.id)
    body = result.texts
    if article.path.endswith((".txt", ".md")):
        output, headline_line = result.text, result.headline is not None
    elif not has_title:
        output, headline_line = result.text.rstrip("\n"), result.headline is not None
    else:
        output, headline_line = "\n\n".join(body), False

    keys, matching_keys, sentences, compared = [], [], [], []
    for i, (source_index, text) in enumerate(zip(result.sources, result.texts)):
        toks, key = words[source_index], word_keys[source_index]
        sentences.append(counts[source_index] >= 8 and text.rstrip().endswith(_SENTENCE_END))
        keys.append(key)
        matching = body_for_matching(i, text)
        if matching == text:  # most paragraphs: compared as written, the same key
            match_toks, match_key = toks, key if toks else 0
        else:
            match_toks = token_text(matching)[0] if matching else b""
            match_key = joined_key(match_toks) if match_toks else 0
        matching_keys.append(match_key)
        compared.append(match_toks)
    headline_toks, headline_size = token_text(result.headline or "")
    return dict(
        article=_without_text(article),
        output=output,
        headline=article.title if has_title else result.headline,
        headline_line=headline_line,
        findings=tuple(f.to_dict() for f in result.findings),
        paragraph_keys=tuple(keys),
        matching_keys=tuple(matching_keys),
        headline_key=joined_key(headline_toks) if headline_size >= 3 else None,
        sentences=tuple(sentences),
        date=parse_date(article.date) or parse_date(source[:1000]),
        bytes_in=len(article.text.encode("utf-8")) + len((article.title or "").encode("utf-8")),
    ), compared
