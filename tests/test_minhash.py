"""Signatures are datasketch's: the same values as datasketch.MinHash for the same hash and seed."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from dedupe import minhash
from dedupe.config import Options, SignatureOptions
from dedupe.minhash import FOLD, lsh_params, paragraph_shingles, shingle_hash, shingle_hashes, signature, to_datasketch
from dedupe.prepare import prepare, prepare_many
from dedupe.records import Article
from dedupe.shingle import tokens

from .conftest import FIXTURES

TEXT = (FIXTURES / "seed" / "kursk-article.canonical.txt").read_text(encoding="utf-8")


def reference(toks: list[str], words: int, num_perm: int, seed: int) -> np.ndarray:
    grams = {tuple(toks[i : i + words]) for i in range(len(toks) - words + 1)}
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    m.update_batch(sorted(grams))
    assert m.scheme == "affine32"
    return m.hashvalues


@pytest.mark.parametrize("num_perm, seed, words", [(128, 1, 5), (64, 7, 3), (256, 42, 5)])
def test_signature_equals_datasketch_minhash(num_perm, seed, words):
    toks = tokens(TEXT)
    opts = SignatureOptions(num_perm=num_perm, seed=seed, shingle_words=words)
    ours = signature(shingle_hashes(toks, words), opts)
    assert ours.dtype == np.uint32
    assert np.array_equal(ours, reference(toks, words, num_perm, seed))


def test_signatures_of_a_batch_are_each_set_s_own(monkeypatch):
    # several articles' shingles signed in one pass, some empty, one spanning several blocks of rows
    monkeypatch.setattr(minhash, "SIGN_ROWS", 50)
    paragraphs = [toks for toks in map(tokens, TEXT.split("\n\n")) if len(toks) >= 5]
    sets = [shingle_hashes(p, 5) for p in paragraphs[:3]] + [np.empty(0, np.uint32)]
    sets += [shingle_hashes(tokens(TEXT), 5), np.empty(0, np.uint32)]
    assert sets[4].size > 2 * 50
    opts = SignatureOptions()
    batch = minhash.signatures(np.concatenate(sets), np.array([s.size for s in sets]), opts)
    assert batch.shape == (len(sets), opts.num_perm)
    for row, words in zip(batch, [*paragraphs[:3], [], tokens(TEXT), []]):
        expected = reference(words, 5, opts.num_perm, opts.seed) if words else np.full(opts.num_perm, 2**32 - 1)
        assert np.array_equal(row, expected)


def test_signature_works_in_datasketch_lsh():
    toks = tokens(TEXT)
    opts = SignatureOptions()
    full = to_datasketch(signature(shingle_hashes(toks, 5), opts), opts)
    most = to_datasketch(signature(shingle_hashes(toks[: int(len(toks) * 0.9)], 5), opts), opts)
    other = to_datasketch(signature(shingle_hashes(tokens("An unrelated story about football scores."), 5), opts), opts)
    lsh = MinHashLSH(threshold=0.5, num_perm=opts.num_perm)
    lsh.insert("full", full)
    assert "full" in lsh.query(most) and "full" not in lsh.query(other)
    assert isinstance(full, LeanMinHash) and full.seed == opts.seed


def test_short_text_is_one_shingle_and_empty_text_the_empty_signature():
    assert shingle_hashes(["only", "three", "words"], 5).size == 1
    empty = signature(shingle_hashes([], 5), SignatureOptions())
    assert (empty == np.iinfo(np.uint32).max).all()


def test_shingle_hash_is_the_fold_of_word_xxhashes():
    words = ("russia", "asserts", "total", "control", "over")
    expected = 0
    for w in words:
        expected = (expected * FOLD + xxhash.xxh32_intdigest(w.encode())) % 2**32
    assert shingle_hash(words) == expected
    assert shingle_hashes(list(words), 5).tolist() == [expected]
    assert len(set(shingle_hashes(tokens(TEXT), 5).tolist())) == len({tuple(tokens(TEXT)[i:i + 5]) for i in range(len(tokens(TEXT)) - 4)})


def _joined(toks: list[str]) -> bytes:
    """Tokens joined as dedupe.shingle.token_texts joins them."""
    return "\x1f".join(toks).encode()


@given(
    st.lists(st.lists(st.sampled_from(["a", "b", "c", "news", "día", "東"]), max_size=12), max_size=6),
    st.integers(1, 6),
)
def test_article_shingles_equal_each_paragraphs_own(paragraphs, words):
    # the whole-article numpy path gives every paragraph exactly its own shingle_hashes
    flat, sizes = paragraph_shingles([_joined(p) for p in paragraphs], words)
    assert sizes.tolist() == [shingle_hashes(p, words).size for p in paragraphs]
    parts = np.split(flat, np.cumsum(sizes)[:-1]) if paragraphs else []
    for part, p in zip(parts, paragraphs):
        assert part.tolist() == shingle_hashes(p, words).tolist()


def test_article_shingles_on_real_paragraphs():
    paragraphs = [tokens(p) for p in TEXT.split("\n\n")]
    flat, sizes = paragraph_shingles([_joined(p) for p in paragraphs], 5)
    assert len(paragraphs) >= 3 and flat.size == sum(shingle_hashes(p, 5).size for p in paragraphs)
    assert flat.tolist() == [h for p in paragraphs for h in shingle_hashes(p, 5).tolist()]


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.35, 0.5, 0.7, 0.8, 0.9])
def test_lsh_params_are_datasketchs_choice(threshold, num_perm):
    from datasketch.lsh import _optimal_param

    assert lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 33, 96])
def test_gauss_legendre_is_numpys(n):
    nodes, weights = minhash._gauss_legendre(n)
    want_nodes, want_weights = np.polynomial.legendre.leggauss(n)
    np.testing.assert_allclose(nodes, want_nodes, rtol=0, atol=1e-14)
    np.testing.assert_allclose(weights, want_weights, rtol=0, atol=1e-14)
    # exact for polynomials of degree 2n - 1: the integral of x**k over [-1, 1]
    for k in range(2 * n):
        assert abs((weights * nodes**k).sum() - (2 / (k + 1) if k % 2 == 0 else 0)) < 1e-13


def test_lsh_params_need_no_lapack(monkeypatch):
    # an eigenvalue solver wakes OpenBLAS's threads, which spin for most of a second after it
    def no_lapack(*args, **kwargs):
        raise AssertionError("LAPACK called")

    monkeypatch.setattr(np.linalg, "eigvalsh", no_lapack)
    monkeypatch.setattr(np.linalg, "eigvals", no_lapack)
    lsh_params.cache_clear()
    try:
        assert lsh_params(0.7, 128) == (14, 9)
    finally:
        lsh_params.cache_clear()


def test_a_run_does_not_import_scipy(tmp_path):
    # datasketch imports scipy (a second or so per process); a run needs neither for its LSH bands
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dedupe import Options, RunOptions, run\n"
        f"run({str(FIXTURES / 'sample')!r}, {str(tmp_path / 'out')!r}, Options(run=RunOptions(jobs=1)))\n"
        "print(sorted(m for m in ('scipy', 'datasketch') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert any((tmp_path / "out").iterdir())


def test_articles_prepared_together_are_as_prepared_alone():
    # a batch's shingles and signatures are split back to the right articles, empty ones included
    seed = (FIXTURES / "seed" / "kursk-article.txt").read_text(encoding="utf-8")
    articles = [
        Article("a", "a.txt", "Headline alone"),
        Article("b", "b.txt", seed),
        Article("c", "c.txt", ""),
        Article("d", "d.json", TEXT, title="A title"),
        Article("e", "e.txt", "\u200b"),
    ]
    together = prepare_many(articles, Options())
    for article, batch in zip(articles, together, strict=True):
        alone = prepare(article, Options())
        assert batch.shingles.tolist() == alone.shingles.tolist()
        assert np.array_equal(batch.signature, alone.signature)
        assert (batch.shingle_sizes, batch.output, batch.matching_keys) == (alone.shingle_sizes, alone.output,
                                                                           alone.matching_keys)
        assert np.array_equal(batch.signature, signature(batch.shingles, SignatureOptions()))
    assert [len(p.shingle_sizes) > 0 for p in together] == [False, True, False, True, False]
