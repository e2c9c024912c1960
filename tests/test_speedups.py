"""The compiled kernels (dedupe._speedups) give exactly what the Python and numpy code they stand in for gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from dedupe import document, minhash, shingle
from dedupe import segment as segment_module
from dedupe.config import CleanOptions, SignatureOptions
from dedupe.segment import CJK, segment
from dedupe.speedups import native

from .conftest import FIXTURES
from .test_candidates import write_chance_scrape
from .test_run import outputs

ROOT = Path(__file__).resolve().parent.parent

if native is None and not os.environ.get("DEDUPE_PURE_PYTHON"):
    pytest.fail("dedupe._speedups is not built: `pip install -e .` compiles it (it needs a C compiler)",
                pytrace=False)
pytestmark = pytest.mark.skipif(native is None, reason="DEDUPE_PURE_PYTHON is set")

# letters and digits of several scripts, '_', CJK at the edges of its ranges, marks, spaces, punctuation
_CHARS = st.one_of(
    st.sampled_from(list("aZ09_ -.,'\u00df\u00e9\u0130\u0301\u0663\u00b2\u2167\u3040\u30ff\u3400\u4dbf\u4e00\u9fff"
                         "\uf900\ufaff\uac00\ud7af\U00020000\U0002fa1f\u303f\u30fc\uff21\U0001d400\n\t")),
    st.characters(blacklist_categories=()),  # anything, lone surrogates too
)
_TEXT = st.text(_CHARS, max_size=60)
# any characters but the separator of joined tokens (which no real token holds: tokens are words)
_TOKEN = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1f"), min_size=1, max_size=40)
# up to 80 tokens: past the 16 values that the C sort leaves to insertion sort, with repeats
_PARAGRAPHS = st.lists(st.lists(st.one_of(_TOKEN, st.sampled_from(["a", "news", "día", "東"])), max_size=80), max_size=6)


@given(_TEXT)
def test_tokens_are_the_regex_s(text):
    assert native.tokens(text) == shingle._TOKEN_RE.findall(text)
    assert shingle.tokens(text) == shingle._TOKEN_RE.findall(text.casefold())


def _joined(toks: list[str]) -> bytes:
    """Tokens joined as token_texts joins them."""
    return "\x1f".join(toks).encode()


@given(st.lists(_TEXT, max_size=5), st.booleans())
def test_token_texts_are_the_tokens_joined(texts, as_tuple):
    # the batch kernel of _Article: each text casefolded and split, its tokens joined; their key is text_key's
    given_texts = tuple(texts) if as_tuple else texts
    want = [shingle._TOKEN_RE.findall(text.casefold()) for text in texts]
    joined, counts = native.token_texts(given_texts)
    assert joined == [_joined(t) for t in want] and counts == [len(t) for t in want]
    assert [shingle.joined_key(j) for j in joined] == [shingle.text_key(t) for t in want]
    assert [shingle.joined_tokens(j) for j in joined] == want
    assert [shingle.token_text(text) for text in texts] == list(zip(joined, counts))
    with mock.patch.object(shingle, "native", None):
        assert shingle.token_texts(given_texts) == (joined, counts)


_ASCII_TEXT = st.lists(st.sampled_from([*"aZq09 _-.,'\n\t@[`{/:", "The", "NEWS", "x" * 70]), max_size=40).map("".join)


@given(st.lists(_ASCII_TEXT | _TEXT, max_size=6))
def test_ascii_texts_are_lowered_as_casefold_lowers_them(texts):
    # ASCII texts are split and lower-cased in one pass (no casefolded copy); a long token, and words
    # met in texts of other kinds before or after, come out the same
    want = [shingle._TOKEN_RE.findall(text.casefold()) for text in texts]
    assert native.token_texts(texts) == ([_joined(t) for t in want], [len(t) for t in want])


def test_token_texts_of_wide_characters_and_cjk():
    # four-byte characters (each CJK one a token of its own, with a separator before it: five bytes a
    # character) and every script of the real feeds come out as the regex's tokens joined
    lines = (FIXTURES / "run" / "scrape" / "feeds" / "languages.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    texts += ["\U00020000" * 50, "a\U0002fa1f\U00020000b", "\U0001d400\U0001d401 x"]
    want = [shingle._TOKEN_RE.findall(text.casefold()) for text in texts]
    assert native.token_texts(texts) == ([_joined(t) for t in want], [len(t) for t in want])


def test_tokens_at_the_edges_of_the_cjk_ranges():
    # each range's first and last character, and their neighbours outside it, between two letters
    # (the ranges of dedupe.segment.CJK, which the C code spells out again)
    assert len(CJK) % 3 == 0 and all(CJK[i] == "-" for i in range(1, len(CJK), 3))
    edges = [ord(c) for i in range(0, len(CJK), 3) for c in (CJK[i], CJK[i + 2])]
    for c in {e + d for e in edges for d in (-1, 0, 1)}:
        text = f"a{chr(c)}b {chr(c)}{chr(c)}9"
        assert native.tokens(text) == shingle._TOKEN_RE.findall(text), hex(c)


def test_tokens_of_real_text_in_many_scripts():
    lines = (FIXTURES / "run" / "scrape" / "feeds" / "languages.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    assert any("\u4e00" <= c <= "\u9fff" for t in texts for c in t)  # Chinese among them
    for text in texts + [(FIXTURES / "seed" / "kursk-article.txt").read_text(encoding="utf-8")]:
        assert native.tokens(text) == shingle._TOKEN_RE.findall(text)


@given(_PARAGRAPHS, st.integers(1, 6))
def test_paragraph_shingles_are_numpy_s(paragraphs, words):
    hashes, sizes = minhash.paragraph_shingles([_joined(p) for p in paragraphs], words)
    expected_hashes, expected_sizes = minhash._paragraph_shingles(paragraphs, words)
    assert hashes.dtype == np.uint32 and sizes.dtype == np.int64
    assert hashes.tolist() == expected_hashes.tolist() and sizes.tolist() == expected_sizes.tolist()


@given(st.lists(st.lists(_TOKEN | st.sampled_from(["a", "b", "news"]), min_size=30, max_size=200), min_size=1, max_size=3),
       st.integers(1, 6))
def test_long_paragraphs_are_sorted_as_numpy_sorts(paragraphs, words):
    # paragraphs of 32 shingles or more are sorted by the radix sort (byte by byte), shorter ones by the introsort
    hashes, sizes = minhash.paragraph_shingles([_joined(p) for p in paragraphs], words)
    expected_hashes, expected_sizes = minhash._paragraph_shingles(paragraphs, words)
    assert hashes.tolist() == expected_hashes.tolist() and sizes.tolist() == expected_sizes.tolist()


def test_real_paragraphs_shingle_as_numpy_does():
    text = (FIXTURES / "seed" / "kursk-article.txt").read_text(encoding="utf-8")
    paragraphs = [shingle.tokens(p) for p in segment(text).paragraphs]
    paragraphs.append([w for p in paragraphs for w in p])  # one long paragraph of them all
    assert max(map(len, paragraphs)) > 300
    hashes, sizes = minhash.paragraph_shingles([_joined(p) for p in paragraphs], 5)
    expected_hashes, expected_sizes = minhash._paragraph_shingles(paragraphs, 5)
    assert hashes.tolist() == expected_hashes.tolist() and sizes.tolist() == expected_sizes.tolist()


@given(st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=40), max_size=8), st.sampled_from([16, 40, 128]))
def test_signatures_are_numpy_s(sets, num_perm):
    opts = SignatureOptions(num_perm=num_perm, seed=3)
    hashes = np.array([h for s in sets for h in s], np.uint32)
    counts = np.array([len(s) for s in sets], np.int64)
    a, b = minhash.permutations(num_perm, 3)
    expected = minhash._signatures(hashes, counts, a, b, np.full((len(sets), num_perm), 2**32 - 1, np.uint32))
    assert np.array_equal(minhash.signatures(hashes, counts, opts), expected)


# dedupe.segment's horizontal spaces and trimmed ends, other white space, line breaks, letters of three widths
_LAYOUT_TEXT = st.text(st.sampled_from(list(" \t\f\v\u00a0\u1680\u2000\u2005\u200a\u202f\u205f\u3000\u200b\u200c"
                                            "\u200d\u2060\ufeff\n\n\r\x1c\x85\u2028aZé東\U0001d400.")), max_size=80)


# ... and one-byte texts alone, which the kernel reads by a loop of their own
_LATIN1_LAYOUT_TEXT = st.text(st.sampled_from(list(" \t\f\v\u00a0\n\r\x1c\x85aZé.")), max_size=80)


def _python_lines_layout(text: str) -> tuple[list[str], int]:
    with mock.patch.object(segment_module, "native", None):
        return segment_module._lines_layout(text)


@given(_LAYOUT_TEXT | _LATIN1_LAYOUT_TEXT | _TEXT)
def test_lines_layout_is_python_s(text):
    assert native.lines_layout(text) == _python_lines_layout(text)


def test_lines_layout_of_real_text():
    lines = (FIXTURES / "run" / "scrape" / "feeds" / "languages.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    for text in texts + [(FIXTURES / "seed" / "kursk-article.txt").read_text(encoding="utf-8")]:
        assert native.lines_layout(text) == _python_lines_layout(text)


_U32_SETS = st.lists(st.sampled_from([0, 1, 7, 2**31 - 1, 2**31, 2**31 + 7, 2**32 - 1]) | st.integers(0, 2**32 - 1),
                     max_size=60)


@given(_U32_SETS, _U32_SETS)
def test_shared_count_is_intersect1d_s(a, b):
    # sorted distinct uint32 (values past 2**31 too: unsigned order), as the spill stores them ('<u4')
    x, y = np.unique(np.array(a, np.uint32)), np.unique(np.array(b, "<u4"))
    assert native.shared_count(x, y) == np.intersect1d(x, y, assume_unique=True).size == minhash.shared_count(x, y)


@given(st.lists(_TOKEN, max_size=12), st.integers(1, 6))
def test_shingle_sets_are_python_s(toks, max_n):
    assert native.shingle_sets(toks, max_n) == shingle.shingle_sets(shingle.word_hashes(toks), max_n)


@given(st.lists(_TOKEN | st.sampled_from(["a", "b", "news"]), min_size=13, max_size=200), st.integers(1, 6))
def test_long_shingle_sets_are_python_s(toks, max_n):
    # 64 n-grams or more are sorted by the 64-bit radix sort, fewer by the introsort
    assert native.shingle_sets(toks, max_n) == shingle.shingle_sets(shingle.word_hashes(toks), max_n)


@given(st.lists(st.lists(st.text("ab\u00e9\u6771 ", max_size=3), max_size=40), max_size=6), st.integers(1, 6))
def test_separators_anywhere_are_cut_as_split_cuts_them(paragraphs, words):
    # joined tokens that no tokenizer makes (empty tokens: separators side by side or at either end,
    # as many separators as bytes) are cut as str.split cuts them, and the kernels' room for them holds
    joined = ["\x1f".join(toks).encode() for toks in paragraphs]
    hashes, sizes = minhash.paragraph_shingles(joined, words)
    expected_hashes, expected_sizes = minhash._paragraph_shingles(list(map(shingle.joined_tokens, joined)), words)
    assert hashes.tolist() == expected_hashes.tolist() and sizes.tolist() == expected_sizes.tolist()
    assert set(native.may_repeat(joined, words, 0.8, 2.0)) <= set(range(len(joined)))
    heads, _ = native.cluster(list(range(len(joined))), joined, [0] * len(joined), [False] * len(joined), set(),
                              (words, 1, 8, 100, 0.8, 0.8, 0.8))
    assert all(0 <= h <= i for i, h in enumerate(heads))


def test_long_tokens_hash_as_xxhash_does():
    # every tail of xxh32's 16-byte and xxh64's 32-byte stripes
    for n in range(0, 80):
        word = "".join(chr(97 + (i * 7) % 26) for i in range(n)) + "é" * (n % 3)
        if word:
            assert native.shingle_sets([word], 1)[0] == {xxhash.xxh64_intdigest(word.encode())}
            expected = xxhash.xxh32_intdigest(word.encode())
            assert minhash.paragraph_shingles([word.encode()], 5)[0].tolist() == [expected]


@given(st.one_of(st.lists(st.integers(0, 2**64 - 1), min_size=17, max_size=300),
                 st.lists(st.integers(0, 5), min_size=17, max_size=300), st.lists(st.integers(0, 2**64 - 1), max_size=16)),
       st.sampled_from(["as drawn", "sorted", "reversed", "organ pipe"]), st.sampled_from([0, 1, 3, 64]))
def test_the_sort_with_any_depth_before_heapsort(values, order, depth):
    # depth 0 is heapsort alone; the kernels start with 2 log2(n) (sorted and reversed runs, few distinct values)
    if order != "as drawn":
        values = sorted(values, reverse=order == "reversed")
    if order == "organ pipe":
        values = values[::2] + values[1::2][::-1]
    assert native._sorted_u64(values, depth) == sorted(values)


def test_wrong_input_raises_not_crashes():
    with pytest.raises(TypeError):
        native.tokens(b"bytes")
    with pytest.raises(TypeError):
        native.shingle_sets(["a", 1], 5)
    with pytest.raises(TypeError):
        native.paragraph_shingles([b"a", "not bytes"], 5)
    with pytest.raises(ValueError):
        native.paragraph_shingles([b"a"], 0)
    with pytest.raises(UnicodeEncodeError):  # as str.encode() raises
        native.shingle_sets(["\udc80"], 1)
    with pytest.raises(TypeError):
        native.token_texts(["a", b"bytes"])
    with pytest.raises(TypeError):
        native.token_texts("not a list")
    with pytest.raises(TypeError):
        native.may_repeat([b"a b", ["a", "b"]], 2, 0.8, 2.0)
    with pytest.raises(TypeError):
        native.cluster([0, 1], [b"a", "a"], [1, 1], [False, False], set(), (2, 5, 8, 100, 0.8, 0.8, 0.8))
    with pytest.raises(ValueError):
        native.signatures(np.zeros(3, np.uint32), np.array([4], np.int64), np.zeros(2, np.uint32),
                          np.zeros(2, np.uint32), np.zeros((1, 2), np.uint32))


_WORDS = st.sampled_from("the storm hit coast power homes a of in East ｄ día 東 京 ß ss".split())


@st.composite
def _articles(draw):
    """Paragraphs of a small vocabulary, some copied again with a word or two changed, cut or added."""
    paras = draw(st.lists(st.lists(_WORDS, max_size=16).map(" ".join), min_size=0, max_size=6))
    for _ in range(draw(st.integers(0, 4))):
        if not paras:
            break
        words = draw(st.sampled_from(paras)).split()
        if words and draw(st.booleans()):
            words[draw(st.integers(0, len(words) - 1))] = draw(_WORDS)
        cut = draw(st.booleans())
        words = words[: draw(st.integers(0, len(words)))] if cut else words + draw(st.lists(_WORDS, max_size=3))
        end = draw(st.sampled_from(["", "", "...", "…"])) if cut else ""  # a summary cut off
        paras.insert(draw(st.integers(0, len(paras))), " ".join(words[draw(st.integers(0, 2)):]) + end)
    return tuple(paras)


@given(_articles(), st.integers(1, 5), st.sampled_from([0.3, 0.5, 0.8, 1.0]), st.sampled_from([0.5, 0.9, 1.0]))
def test_may_repeat_is_python_s(paragraphs, size, threshold, containment):
    art = document._Article(paragraphs, CleanOptions(shingle_size=size, threshold=threshold, containment=containment))
    assert art.may_repeat() == art._may_repeat()


@given(_articles(), st.integers(1, 5), st.sampled_from([0.3, 0.5, 0.8, 1.0]), st.sampled_from([0.5, 0.9, 1.0]),
       st.integers(1, 12), st.sets(st.integers(0, 4), max_size=2), st.sampled_from([1, 2, 200]))
def test_cluster_is_python_s(paragraphs, size, threshold, containment, min_words, skip, cap):
    # a small cap: n-grams of more heads than it stop finding candidates (common words, here)
    opts = CleanOptions(shingle_size=size, threshold=threshold, containment=containment, min_words=min_words)
    art = document._Article(paragraphs, opts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(document, "POSTING_CAP", cap)
        assert document._cluster(art, skip) == document._py_cluster(art, skip)


def test_cluster_edges():
    # a paragraph that matches two heads equally well joins the first; a copy of exactly
    # SUBSET_RATIO of the other's length is contained (the bound is inclusive); a cut-off summary
    # (an ellipsis) is contained though it starts mid-sentence, the same words without it are not
    body = "storm winds cut power to thousands of homes along the east coast overnight".split()
    tied = (" ".join(body[:12] + ["alpha"]), " ".join(body[:12] + ["beta"]), " ".join(body[:12] + ["gamma"]))
    nine, ten = " ".join(body[:9]), " ".join(body[:9] + ["tonight"])
    cut = " ".join(body[3:12])
    cases = ((tied, 0.5, {1: 0, 2: 0}), ((ten, nine), 0.9, {1: 0}), ((" ".join(body), cut + "..."), 0.9, {1: 0}),
             ((" ".join(body), cut), 0.9, {}))
    for paragraphs, threshold, expected in cases:
        art = document._Article(paragraphs, CleanOptions(shingle_size=2, threshold=threshold, containment=0.8, min_words=5))
        heads, matched = document._cluster(art, set())
        assert (heads, matched) == document._py_cluster(art, set())
        assert {i: m.target for i, m in matched.items()} == expected
    assert len(nine.split()) == document.SUBSET_RATIO * len(ten.split())


def test_may_repeat_and_cluster_on_real_articles():
    # every fixture article of the clean cases, and the scraper pool's lines as one long page
    texts = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "clean").glob("*.txt"))]
    pool = [json.loads(line)["text"] for line in (FIXTURES / "pool" / "lines.jsonl").read_text(encoding="utf-8").splitlines()]
    texts.append("\n\n".join(pool + pool[::3]))
    repeating = 0
    for text in texts:
        for opts in (CleanOptions(), CleanOptions(shingle_size=4, threshold=0.5, containment=0.6)):
            art = document._Article(segment(text).paragraphs, opts)
            assert art.may_repeat() == art._may_repeat()
            assert document._cluster(art, {0}) == document._py_cluster(art, {0})
            repeating += bool(art._may_repeat())
    assert repeating >= 60


def _run(scrape: Path, out: Path, pure: bool) -> tuple[dict[str, bytes], list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "DEDUPE_PURE_PYTHON"}
    if pure:
        env["DEDUPE_PURE_PYTHON"] = "1"
    report = out.with_suffix(".jsonl")
    done = subprocess.run([sys.executable, "-m", "dedupe.cli", "run", str(scrape), "--out", str(out), "--report",
                           str(report), "--jobs", "2"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return outputs(out), [line for line in report.read_text(encoding="utf-8").splitlines() if '"summary"' not in line]


@pytest.mark.parametrize("which", ["fixture", "chance"])
def test_a_run_without_the_kernels_gives_the_same_outputs_and_report(tmp_path, which):
    # the run fixture (feeds in many languages, bad files) and 280 articles of real lines drawn at random
    if which == "fixture":
        scrape = FIXTURES / "run" / "scrape"
    else:
        scrape = tmp_path / "scrape"
        write_chance_scrape(scrape)
    files, report = _run(scrape, tmp_path / "native", pure=False)
    pure_files, pure_report = _run(scrape, tmp_path / "pure", pure=True)
    assert len(files) >= 25 and sum('"duplicate_document"' in line for line in report) >= 10
    assert files == pure_files
    assert report == pure_report


def test_the_environment_variable_leaves_the_kernels_unused():
    code = "from dedupe import minhash, shingle, speedups; print(speedups.native, minhash.native, shingle._split)"
    env = {**os.environ, "DEDUPE_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.startswith("None None <built-in method findall of re.Pattern")


def test_tokens_of_texts_that_share_words():
    # the tokenizer hands out again the string it made for a short token of one-byte text: words
    # shared by ASCII and Latin-1 texts, in every order, must come out as the regex gives them
    texts = ["the café said", "café the", "the", "thé the said", "été the café", "saidthe the said"] * 3
    for text in texts + texts[::-1]:
        assert native.tokens(text) == shingle._TOKEN_RE.findall(text)


def test_tokens_of_every_one_byte_character():
    # each of the 256 one-byte characters (ASCII, Latin-1) between letters, doubled, alone
    for c in range(256):
        text = f"a{chr(c)}b {chr(c)}{chr(c)}9 {chr(c)}"
        assert native.tokens(text) == shingle._TOKEN_RE.findall(text), hex(c)
