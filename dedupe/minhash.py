"""Article signatures on datasketch's MinHash scheme, computed a whole shingle array at once.

A signature is exactly what ``datasketch.MinHash(num_perm, seed, hashfunc=xxh32, scheme="affine32")``
holds after ``update_batch`` of the same shingles (``tests/test_minhash.py`` checks it): the
32-bit xxhash of each shingle is pre-mixed with the MurmurHash3 finalizer, then each of the
``num_perm`` permutations ``a * h + b mod 2**32`` is applied and the minimum kept.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xxhash

from .config import SignatureOptions

_U32 = np.uint32


def shingle_hashes(tokens: list[str], words: int) -> np.ndarray:
    """Sorted unique 32-bit xxhashes of the word ``words``-grams (the whole text if shorter).

    A shingle is its words joined by single spaces, hashed as UTF-8 bytes.
    """
    h = xxhash.xxh32_intdigest
    if not tokens:
        return np.empty(0, dtype=_U32)
    if len(tokens) < words:
        grams = [" ".join(tokens)]
    else:
        grams = [" ".join(tokens[i : i + words]) for i in range(len(tokens) - words + 1)]
    out: np.ndarray = np.unique(np.fromiter((h(g.encode()) for g in grams), dtype=_U32, count=len(grams)))
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
