"""Article signatures on datasketch's MinHash scheme, computed a whole shingle array at once.

A signature is exactly what ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash,
scheme="affine32")`` holds after ``update_batch`` of the same word n-grams (``tests/test_minhash.py``
checks it): each shingle's 32-bit hash (its words' xxh32, folded) is pre-mixed with the MurmurHash3
finalizer, then each of the ``num_perm`` permutations ``a * h + b mod 2**32`` is applied and the
minimum kept. Words are hashed once and n-grams folded in numpy, which is most of the speed; where
the compiled kernels are built (:mod:`dedupe.speedups`) they do the same in C, with the same values.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import chain

import numpy as np
import xxhash

from .config import SignatureOptions
from .shingle import joined_tokens
from .speedups import native

_U32 = np.uint32


FOLD = 0x01000193  # the FNV prime: an n-gram's hash is folded from its words' hashes with it


class _WordHashes(dict[str, int]):
    """xxh32 of each word seen, computed on first use (``map(cache.__getitem__, ...)`` stays in C)."""

    def __missing__(self, word: str) -> int:
        h = self[word] = xxhash.xxh32_intdigest(word.encode())
        return h


CACHE_WORDS = 1 << 18  # a process's word cache is cleared past this many words (about 35 MB)
_WORDS = _WordHashes()


def unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values, as ``np.unique`` gives them: several times faster for one article's
    shingles, and some 70 times for millions of pair keys (numpy 2.4's ``np.unique`` of integers
    takes 4.8 s for 4 million, a sort 0.07 s)."""
    out = np.sort(values)
    if out.size > 1:
        keep = np.empty(out.size, dtype=bool)
        keep[0] = True
        np.not_equal(out[1:], out[:-1], out=keep[1:])
        out = out[keep]
    return out


def shared_count(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two sorted arrays of distinct uint32 share (a merge in the compiled kernels,
    ``np.intersect1d`` without them: it sorts the two together, several times slower)."""
    if native is not None:
        count: int = native.shared_count(np.ascontiguousarray(a, _U32), np.ascontiguousarray(b, _U32))
        return count
    return int(np.intersect1d(a, b, assume_unique=True).size)


def word_hashes(tokens: list[str]) -> np.ndarray:
    """32-bit xxhash of each token; a word is hashed once per process."""
    if len(_WORDS) > CACHE_WORDS:
        _WORDS.clear()
    return np.fromiter(map(_WORDS.__getitem__, tokens), dtype=_U32, count=len(tokens))


def shingle_hash(words: tuple[str, ...] | list[str]) -> int:
    """The hash of one shingle (a word n-gram): its words' xxh32 folded as ``h = h * FOLD + w mod 2**32``.

    This is the hash function dedupe's signatures use; ``datasketch.MinHash(hashfunc=shingle_hash)``
    fed the same word tuples gives the same signature (``tests/test_minhash.py``).
    """
    h = 0
    for w in words:
        h = (h * FOLD + xxhash.xxh32_intdigest(w.encode())) & 0xFFFFFFFF
    return h


def shingle_hashes(tokens: list[str], words: int) -> np.ndarray:
    """Sorted unique hashes (:func:`shingle_hash`) of the word ``words``-grams; the whole text if shorter.

    Each word is hashed once; the n-gram hashes are folded from those arrays in numpy.
    """
    if not tokens:
        return np.empty(0, dtype=_U32)
    wh = word_hashes(tokens)
    n = max(1, len(tokens) - words + 1)
    span = min(words, len(tokens))
    with np.errstate(over="ignore"):
        acc = np.zeros(n, dtype=_U32)
        for k in range(span):
            acc = acc * _U32(FOLD) + wh[k : k + n]
    return unique(acc)


def paragraph_shingles(paragraphs: list[bytes], words: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hashes` of every paragraph (its tokens joined with ``\\x1f``, as
    :func:`dedupe.shingle.token_texts` gives them), computed for the whole article at once.

    Returns the paragraphs' sorted unique hashes one after another in one array, and how many
    each paragraph has. N-grams never cross a paragraph break; a paragraph shorter than
    ``words`` gives one hash (its whole text), an empty one none.
    """
    if native is None:
        return _paragraph_shingles(list(map(joined_tokens, paragraphs)), words)
    hashes, sizes = native.paragraph_shingles(paragraphs, words)
    return np.frombuffer(hashes, _U32), np.frombuffer(sizes, np.int64)


def _paragraph_shingles(paragraphs: list[list[str]], words: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`paragraph_shingles` in numpy, of the paragraphs' token lists."""
    n = len(paragraphs)
    lengths = np.fromiter(map(len, paragraphs), dtype=np.int64, count=n)
    if not lengths.any():
        return np.empty(0, dtype=_U32), np.zeros(n, dtype=np.int64)
    wh = word_hashes(list(chain.from_iterable(paragraphs)))
    starts = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(n, dtype=np.uint64), lengths)
    folds = [wh]  # folds[k - 1][s]: the hash of the k words from position s
    with np.errstate(over="ignore"):
        for k in range(1, min(words, int(lengths.max()))):
            folds.append(folds[-1][:-1] * _U32(FOLD) + wh[k:])
    parts, owners = [], []
    if len(folds) == words:
        full = folds[-1]
        own = owner[: full.size]
        valid = np.arange(full.size) + words <= (starts + lengths)[own.astype(np.int64)]
        parts.append(full[valid])
        owners.append(own[valid])
    short = np.flatnonzero((lengths > 0) & (lengths < words))
    for length in sorted(set(lengths[short].tolist())):
        these = short[lengths[short] == length]
        parts.append(folds[length - 1][starts[these]])
        owners.append(these.astype(np.uint64))
    pairs = unique((np.concatenate(owners) << np.uint64(32)) | np.concatenate(parts).astype(np.uint64))
    sizes = np.bincount((pairs >> np.uint64(32)).astype(np.int64), minlength=n)
    return (pairs & np.uint64(0xFFFFFFFF)).astype(_U32), sizes


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


SIGN_ROWS = 1 << 14  # shingles permuted at a time: a (rows x num_perm) uint32 table, 8 MB at 128


def signature(hashes: np.ndarray, opts: SignatureOptions) -> np.ndarray:
    """The MinHash signature (``num_perm`` uint32 values) of a set of 32-bit shingle hashes."""
    sig: np.ndarray = signatures(hashes, np.array([hashes.size]), opts)[0]
    return sig


def signatures(hashes: np.ndarray, counts: np.ndarray, opts: SignatureOptions) -> np.ndarray:
    """The signatures of several sets at once (one row each): ``hashes`` holds the sets one after
    another, ``counts`` how many hashes each has (a hash repeated within a set changes nothing).

    Shingles are permuted ``SIGN_ROWS`` at a time, a batch of articles together (one pass of array
    calls, each set's minimum then taken over its slice), so memory stays bounded for a huge article.
    """
    a, b = permutations(opts.num_perm, opts.seed)
    out = np.full((len(counts), opts.num_perm), np.iinfo(_U32).max, dtype=_U32)
    hashes = np.ascontiguousarray(hashes, dtype=_U32)
    if native is not None:
        native.signatures(hashes, np.ascontiguousarray(counts, dtype=np.int64), a, b, out)
        return out
    return _signatures(hashes, counts, a, b, out)


def _signatures(hashes: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The minima of :func:`signatures` in numpy, written into ``out``."""
    ends = np.cumsum(counts).tolist()
    row = 0
    for start in range(0, hashes.size, SIGN_ROWS):
        stop = min(hashes.size, start + SIGN_ROWS)
        mixed = _fmix32(hashes[start:stop]).reshape(-1, 1)  # array arithmetic wraps mod 2**32
        values = np.multiply(mixed, a)
        np.add(values, b, out=values)
        at = start
        while at < stop:  # each set's rows in this block (min over a slice: reduceat is far slower)
            while ends[row] <= at:
                row += 1
            end = min(ends[row], stop)
            np.minimum(out[row], values[at - start : end - start].min(axis=0), out=out[row])
            at = end
    return out


def to_datasketch(sig: np.ndarray, opts: SignatureOptions):  # type: ignore[no-untyped-def]
    """The signature as a ``datasketch.LeanMinHash``, for datasketch's LSH and tools."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=opts.seed, hashvalues=sig, scheme=opts.scheme)


_QUADRATURE_NODES = 96  # Gauss-Legendre nodes: the integrands are smooth, this is exact to ~1e-15


def _legendre(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The Legendre polynomial of degree n at x, and its derivative (by the three-term recurrence)."""
    p_prev, p = np.ones_like(x), x
    for k in range(2, n + 1):
        p_prev, p = p, ((2 * k - 1) * x * p - (k - 1) * p_prev) / k
    return p, n * (x * p - p_prev) / (x * x - 1)


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1], by Newton's method on the Legendre polynomial.

    What ``np.polynomial.legendre.leggauss`` gives, without its eigenvalue solver: LAPACK wakes
    OpenBLAS's threads, which then spin for most of a second (0.1 CPU s of a run's other core).
    """
    x = np.cos(np.pi * (np.arange(n, 0, -1) - 0.25) / (n + 0.5))  # near the roots, ascending
    for _ in range(100):
        p, slope = _legendre(x, n)
        step = p / slope
        x = x - step
        if np.abs(step).max() < 1e-15:
            break
    _, slope = _legendre(x, n)
    return x, 2 / ((1 - x * x) * slope * slope)


@lru_cache(maxsize=16)
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """datasketch's optimal (bands, rows) for an LSH threshold: ``MinHashLSH``'s own choice.

    The same search as ``datasketch.lsh._optimal_param`` (the weighted sum of the false-positive
    and false-negative areas under the S-curve, over every ``b * r <= num_perm``), with the areas
    integrated in numpy for all (b, r) at once instead of 1,400 scipy ``quad`` calls, so a run does
    not import scipy. ``tests/test_minhash.py`` checks it against datasketch.
    """
    nodes, weights = _gauss_legendre(_QUADRATURE_NODES)
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], dtype=np.float64).reshape(-1, 1)
    r = np.array([p[1] for p in pairs], dtype=np.float64).reshape(-1, 1)

    def area(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2  # nodes mapped onto [lo, hi]
        caught = 1 - (1 - s**r) ** b  # the chance that a pair of similarity s shares a band
        return caught, (hi - lo) / 2 * weights

    caught, w = area(0.0, threshold)
    fp = caught @ w
    caught, w = area(threshold, 1.0)
    fn = (1 - caught) @ w
    error = fp * fp_weight + fn * fn_weight
    best = int(np.argmin(error))  # the first minimum, as datasketch's strict "<" keeps the first
    return pairs[best]
