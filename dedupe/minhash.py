"""Article signatures on datasketch's MinHash scheme, computed a whole shingle array at once.

A signature is exactly what ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash,
scheme="affine32")`` holds after ``update_batch`` of the same word n-grams (``tests/test_minhash.py``
checks it): each shingle's 32-bit hash (its words' xxh32, folded) is pre-mixed with the MurmurHash3
finalizer, then each of the ``num_perm`` permutations ``a * h + b mod 2**32`` is applied and the
minimum kept. Words are hashed once and n-grams folded in numpy, which is most of the speed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xxhash

from .config import SignatureOptions

_U32 = np.uint32


FOLD = 0x01000193  # the FNV prime: an n-gram's hash is folded from its words' hashes with it


def word_hashes(tokens: list[str], cache: dict[str, int] | None = None) -> np.ndarray:
    """32-bit xxhash of each token, through a cache: a token is hashed once however often it occurs."""
    cache = {} if cache is None else cache
    h = xxhash.xxh32_intdigest
    for t in set(tokens).difference(cache):
        cache[t] = h(t.encode())
    return np.fromiter(map(cache.__getitem__, tokens), dtype=_U32, count=len(tokens))


def shingle_hash(words: tuple[str, ...] | list[str]) -> int:
    """The hash of one shingle (a word n-gram): its words' xxh32 folded as ``h = h * FOLD + w mod 2**32``.

    This is the hash function dedupe's signatures use; ``datasketch.MinHash(hashfunc=shingle_hash)``
    fed the same word tuples gives the same signature (``tests/test_minhash.py``).
    """
    h = 0
    for w in words:
        h = (h * FOLD + xxhash.xxh32_intdigest(w.encode())) & 0xFFFFFFFF
    return h


def shingle_hashes(tokens: list[str], words: int, cache: dict[str, int] | None = None) -> np.ndarray:
    """Sorted unique hashes (:func:`shingle_hash`) of the word ``words``-grams; the whole text if shorter.

    Each word is hashed once; the n-gram hashes are folded from those arrays in numpy.
    """
    if not tokens:
        return np.empty(0, dtype=_U32)
    wh = word_hashes(tokens, cache)
    n = max(1, len(tokens) - words + 1)
    span = min(words, len(tokens))
    with np.errstate(over="ignore"):
        acc = np.zeros(n, dtype=_U32)
        for k in range(span):
            acc = acc * _U32(FOLD) + wh[k : k + n]
    out: np.ndarray = np.unique(acc)
    return out


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b) for this seed."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=_U32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    out: np.ndarray = h ^ (h >> _U32(16))
    return out


def signature(hashes: np.ndarray, opts: SignatureOptions) -> np.ndarray:
    """The MinHash signature (``num_perm`` uint32 values) of a set of 32-bit shingle hashes."""
    a, b = permutations(opts.num_perm, opts.seed)
    if hashes.size == 0:
        return np.full(opts.num_perm, np.iinfo(_U32).max, dtype=_U32)
    with np.errstate(over="ignore"):
        mixed = _fmix32(hashes.astype(_U32, copy=False)).reshape(-1, 1)
        sig: np.ndarray = (mixed * a + b).min(axis=0)
    return sig


def to_datasketch(sig: np.ndarray, opts: SignatureOptions):  # type: ignore[no-untyped-def]
    """The signature as a ``datasketch.LeanMinHash``, for datasketch's LSH and tools."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=opts.seed, hashvalues=sig, scheme=opts.scheme)
