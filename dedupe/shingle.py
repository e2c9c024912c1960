"""Word tokens and shingle hashes (xxhash); pure functions.

Matching ignores case, punctuation and typography: a token is a run of letters and digits,
casefolded. Unspaced scripts (Chinese, Japanese kana, Korean syllables) give one token per
character, so their shingles are character n-grams.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import xxhash

from .segment import CJK
from .speedups import native

# Han, kana and hangul: one token a character. Everything else: runs of letters/digits.
_TOKEN_RE = re.compile(f"[{CJK}]|[^\\W_{CJK}]+")
# its findall, or the same split compiled
_split: Callable[[str], list[str]] = native.tokens if native is not None else _TOKEN_RE.findall

SEPARATOR = "\x1f"  # between tokens, where they are joined (text_key, token_texts)
_SEPARATOR_BYTES = SEPARATOR.encode()
_MASK64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15


def tokens(text: str) -> list[str]:
    """The matching tokens of a text: casefolded words, CJK characters one by one."""
    return _split(text.casefold())


def token_texts(texts: list[str] | tuple[str, ...]) -> tuple[list[bytes], list[int]]:
    """Each text's :func:`tokens` joined with ``\\x1f`` in UTF-8 (what :func:`text_key` hashes), and how
    many tokens each has: the form a run compares and signs paragraphs in, one bytes object a
    paragraph where a list held a str a token (one call of the compiled kernels for them all)."""
    if native is not None:
        found: tuple[list[bytes], list[int]] = native.token_texts(texts)
        return found
    lists = [tokens(text) for text in texts]
    return [SEPARATOR.join(toks).encode() for toks in lists], [len(toks) for toks in lists]


def token_text(text: str) -> tuple[bytes, int]:
    """:func:`token_texts` of one text: its tokens joined, and how many."""
    (joined,), (count,) = token_texts((text,))
    return joined, count


def joined_key(joined: bytes) -> int:
    """:func:`text_key` of tokens joined as :func:`token_texts` joins them."""
    return xxhash.xxh64_intdigest(joined)


def joined_tokens(joined: bytes) -> list[str]:
    """The tokens that :func:`token_texts` joined."""
    return joined.decode().split(SEPARATOR) if joined else []


def without_last(joined: bytes) -> bytes:
    """Joined tokens without the last one (there being two or more)."""
    return joined[: joined.rfind(_SEPARATOR_BYTES)]


def first_tokens(joined: bytes, n: int) -> list[bytes]:
    """The first ``n`` of joined tokens, each as bytes (all of them when there are fewer)."""
    return joined.split(_SEPARATOR_BYTES, n)[:n]


def words(text: str) -> list[str]:
    """The same tokens as :func:`tokens`, with their case kept (names and numbers stand out)."""
    return _split(text)


def word_hashes(toks: list[str], cache: dict[str, int] | None = None) -> list[int]:
    """One 64-bit xxhash a token (each distinct token hashed once, through ``cache``)."""
    cache = {} if cache is None else cache
    h = xxhash.xxh64_intdigest
    for t in set(toks).difference(cache):
        cache[t] = h(t.encode())
    return list(map(cache.__getitem__, toks))


def shingle_sets(hashes: list[int], max_n: int) -> tuple[frozenset[int], frozenset[int]]:
    """Hashes of every word n-gram for n in 1..max_n, and of the longest n-grams alone.

    The first set is what similarity is measured on; the second, rarer, finds candidates.
    An n-gram's hash is folded from its words' hashes, so each word is hashed once.
    """
    out = set(hashes)
    top = hashes
    prev = hashes
    for _n in range(2, max_n + 1):
        nxt = [((a * _MIX) ^ b) & _MASK64 for a, b in zip(prev, hashes[_n - 1 :])]
        if not nxt:
            break
        out.update(nxt)
        top = prev = nxt
    return frozenset(out), frozenset(top)


def token_shingles(toks: list[str], max_n: int, cache: dict[str, int] | None = None) -> tuple[frozenset[int], frozenset[int]]:
    """:func:`shingle_sets` of the tokens' :func:`word_hashes` (``cache`` serves the Python code)."""
    if native is not None:
        sets: tuple[frozenset[int], frozenset[int]] = native.shingle_sets(toks, max_n)
        return sets
    return shingle_sets(word_hashes(toks, cache), max_n)


def text_key(toks: list[str]) -> int:
    """A hash of the whole token sequence: equal keys mean equal text up to case and typography
    (a run takes it of joined tokens: :func:`joined_key`)."""
    return joined_key(SEPARATOR.join(toks).encode())
