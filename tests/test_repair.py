"""Text repair: ftfy is called only where a cheap check fires, and the check misses nothing.

The claim to prove: whenever ftfy (as dedupe configures it) would change a line,
``needs_repair`` says so. Checked on real lines damaged the ways scrapers damage them, and
on arbitrary generated text.
"""

from __future__ import annotations

import html
import json
import unicodedata

import ftfy
import pytest
from ftfy.badness import is_bad
from hypothesis import given
from hypothesis import strategies as st

from dedupe import clean, clean_text
from dedupe.clean import (
    _TRIGGERS,
    FTFY_CONFIG,
    _lines_to_check,
    clean_throughout,
    might_be_bad,
    needs_repair,
    normalize_newlines,
    repair,
)
from dedupe.speedups import native

from .conftest import FIXTURES

LINES = [
    json.loads(line)["text"]
    for line in (FIXTURES / "pool" / "lines.jsonl").read_text(encoding="utf-8").splitlines()
]


def mojibake(text: str, encoding: str) -> str | None:
    try:
        return text.encode("utf-8").decode(encoding)
    except UnicodeDecodeError:
        return None


def damaged_variants(line: str) -> list[str]:
    out = [line, unicodedata.normalize("NFD", line), html.escape(line), line.replace(" ", "&nbsp;", 2)]
    out.append(line[: len(line) // 2] + "\x00\x1b[31m\x7f\u200b\ufeff" + line[len(line) // 2 :])
    out.append("".join(f"&#{ord(c)};" if not c.isascii() else c for c in line))
    for enc in ("windows-1252", "latin-1", "mac_roman", "cp437", "windows-1251", "iso-8859-2"):
        bad = mojibake(line, enc)
        if bad is not None:
            out.append(bad)
            twice = mojibake(bad, enc)
            if twice is not None:
                out.append(twice)
    return out


def test_fixture_has_real_non_ascii_lines():
    assert len(LINES) >= 300
    assert sum(not line.isascii() for line in LINES) >= 200


def test_check_fires_on_every_line_ftfy_would_change():
    changed = 0
    for line in LINES:
        for variant in damaged_variants(line):
            if ftfy.fix_text(variant, FTFY_CONFIG) != variant:
                changed += 1
                assert needs_repair(variant), variant
    assert changed > 1000  # the damage really was damage for ftfy


def test_check_stays_quiet_on_most_clean_lines():
    # The point of the check: clean text (curly quotes, accents, other scripts) skips ftfy.
    quiet = sum(not needs_repair(line) for line in LINES)
    assert quiet / len(LINES) > 0.9


@pytest.mark.parametrize(
    "damaged, clean",
    [
        ("Itâ€™s a â€œdealâ€\x9d, he said â€” again.", "It’s a “deal”, he said — again."),
        ("AT&amp;T&#8217;s chief &quot;quit&quot;", "AT&T’s chief \"quit\""),
        ("Caf\u0065\u0301 au lait", "Caf\u00e9 au lait"),
        ("Ð\x9cÐ¾Ñ\x81ÐºÐ²Ð° Ð·Ð° Ð¼Ð¸Ñ€", "Москва за мир"),
        ("tab\there\x00 and\x08 there", "tab\there and there"),
    ],
)
def test_repair_examples_keep_typography(damaged, clean):
    fixed, changed = repair(damaged)
    assert fixed == clean and changed


def test_repaired_article_matches_its_clean_twin():
    line = LINES[0]
    bad = mojibake(line, "windows-1252")
    assert bad is not None and bad != line
    assert clean_text(bad + "\n").text == clean_text(line + "\n").text


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_check_misses_nothing_on_arbitrary_text(text):
    for line in text.replace("\r", "\n").split("\n"):
        if ftfy.fix_text(line, FTFY_CONFIG) != line:
            assert needs_repair(line)


_MOJIBAKE_ALPHABET = "".join(
    sorted({c for line in LINES for v in damaged_variants(line) for c in v} | set(" aZ\t’“”—–…°ØÙ√‚Ä"))
)


@given(st.text(alphabet=_MOJIBAKE_ALPHABET, max_size=60))
def test_mojibake_precheck_agrees_with_ftfy(text):
    # might_be_bad runs ftfy's regex only around the characters a match needs: same answer
    assert might_be_bad(text) == is_bad(text)


def test_mojibake_precheck_agrees_on_real_damage():
    variants = [v for line in LINES for v in damaged_variants(line)]
    assert sum(is_bad(v) for v in variants) > 500
    assert all(might_be_bad(v) == is_bad(v) for v in variants)


_LINE_STARTS = st.sampled_from(["\n", "\n\u0301", "\n\u0327", "&", "\u00e9", "\u2019", "\x00", "\n\u1161"])


@given(st.lists(st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
                          st.sampled_from(LINES[:50]), _LINE_STARTS), max_size=12))
def test_a_text_that_passes_whole_has_no_line_to_repair(parts):
    # the whole-text test lets repair skip the line-by-line check: it must never pass a text that
    # has a line the check flags (combining marks and jamo after a line break included)
    text = "".join(parts).replace("\r", "\n")
    if clean_throughout(text):
        assert not any(needs_repair(line) for line in text.split("\n")), text
        assert repair(text) == (text, False)


def test_lines_of_plain_text_pass_whole():
    # curly quotes and accents are among the characters mojibake is made of: those lines go line by line
    assert sum(clean_throughout(line) for line in LINES) / len(LINES) > 0.6
    assert clean_throughout("It is a deal, he said - again.\n北京\n東京")
    assert not clean_throughout("AT&amp;T\nclean") and not clean_throughout("Cafe\u0301\nx")


@given(st.text(st.sampled_from("ab é\n\r\u2028\u2029\x85\r\n"), max_size=40))
def test_every_line_break_becomes_a_newline(text):
    out = normalize_newlines(text)
    assert not any(c in out for c in "\r\u2028\u2029\x85")
    assert out == text.replace("\r\n", "\n").translate({0x0D: "\n", 0x2028: "\n", 0x2029: "\n", 0x85: "\n"})


_LONG_PARTS = st.sampled_from(
    [v for line in LINES[:40] for v in damaged_variants(line)] + LINES[:40]
    + ["Viver uma verdadeira experiência amorosa é um dos maiores prazeres da vida.", "São Paulo, £5 — ", "é", " "]
)


@given(st.lists(_LONG_PARTS, max_size=40).map(" ".join))
def test_mojibake_precheck_agrees_on_long_lines(text):
    # long lines, many needed characters far apart, damage anywhere: the merged windows find what is_bad finds
    assert might_be_bad(text) == is_bad(text)


@given(st.lists(st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
                          st.sampled_from(LINES[:50]), _LONG_PARTS, _LINE_STARTS, st.just("\n"),
                          st.sampled_from(["&amp;", "&#10;", "caf\u00e9", "cafe\u0301", "\x85", "\u2028"])),
                max_size=16))
def test_only_lines_with_a_suspect_character_are_checked(parts):
    # repair checks the lines a scan of the whole text points at; every line the check would flag is among them
    text = normalize_newlines("".join(parts))
    lines = text.split("\n")
    flagged = [i for i, line in enumerate(lines) if needs_repair(line)]
    assert set(flagged) <= set(_lines_to_check(text, lines)[0])


_CHAR_SETS = {
    "triggers": (clean._TRIGGER_SET, _TRIGGERS),
    "mojibake's needs": (clean._MAYBE_BAD, clean._BAD_CHARS),
    "suspects": (clean._SUSPECT, _TRIGGERS | clean._BAD_CHARS),
    "suspects and &": (clean._SUSPECT_OR_AMP, _TRIGGERS | clean._BAD_CHARS | {"&"}),
}
_EVERY_CHARACTER = "".join(map(chr, range(0x110000)))


@pytest.mark.parametrize("name", _CHAR_SETS)
def test_a_scan_finds_exactly_its_set(name):
    # the compiled scan's bitmap, the regex class (the scan where it is not built) and the set agree
    # on every code point; needs_repair tests each suspect character against the set
    scan, chars = _CHAR_SETS[name]
    want = sorted(map(ord, chars))
    assert [m.start() for m in scan.regex.finditer(_EVERY_CHARACTER)] == want
    if native is not None:
        assert scan.table is not None
        assert scan.positions(_EVERY_CHARACTER) == want
        assert native.char_positions(_EVERY_CHARACTER, scan.table) == want


_SCAN_TEXT = st.text(alphabet=st.sampled_from(
    list("ab &\n\x00\x85\r\t") + ["\u00e9", "\u00c3", "\u00a9", "\u201d", "\u0412", "\u0440", "\u2028",
                                      "\ufb01", "\ud800", "\U0001f600", "\u4e2d", "\u00ff"]), max_size=40)


@pytest.mark.skipif(native is None, reason="the compiled kernels are not built")
@pytest.mark.parametrize("name", _CHAR_SETS)
@given(text=_SCAN_TEXT, start=st.integers(-3, 45))
def test_the_compiled_scan_is_the_regex(name, text, start):
    # in texts of one, two and four bytes a character, from any start
    scan = _CHAR_SETS[name][0]
    m = scan.regex.search(text, max(start, 0))
    assert native.find_char(text, scan.table, start) == (-1 if m is None else m.start())
    assert scan.positions(text) == [m.start() for m in scan.regex.finditer(text)]


def test_the_compiled_scan_checks_its_arguments():
    if native is None:
        pytest.skip("the compiled kernels are not built")
    with pytest.raises(ValueError, match="8192 bytes"):
        native.find_char("text", b"short")
    with pytest.raises(TypeError, match="takes a str"):
        native.char_positions(b"text", bytes(8192))
