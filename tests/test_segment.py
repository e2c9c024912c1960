"""Layouts: one paragraph a line, blank-line blocks, hard-wrapped wire copy (detected or forced)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe import Options, clean_text
from dedupe.segment import _ODD_ASCII_SPACE_RE, _ODD_SPACE_RE, _blocks, _lines_layout, segment, squash

from .conftest import FIXTURES

SEED_CANONICAL = (FIXTURES / "seed" / "kursk-article.canonical.txt").read_text(encoding="utf-8")
PARAS = SEED_CANONICAL.strip().split("\n\n")


def wrap(paras: list[str], width: int = 70, indent: str = "   ") -> str:
    return "\n".join(textwrap.fill(p, width, initial_indent=indent) for p in paras) + "\n"


def test_one_paragraph_a_line():
    s = segment("\n".join(PARAS))
    assert s.layout == "lines" and list(s.paragraphs) == PARAS


def test_blank_line_separated():
    s = segment("\n\n".join(PARAS))
    assert s.layout == "lines" and list(s.paragraphs) == PARAS


@pytest.mark.parametrize("width", [60, 70, 78])
def test_hard_wrapped_with_indented_starts_is_detected_and_unwrapped(width):
    body = wrap(PARAS[1:], width)
    s = segment(PARAS[0] + "\n\n" + body)
    assert s.layout == "wrapped"
    assert list(s.paragraphs) == PARAS


def test_a_few_short_wrapped_paragraphs_with_a_dateline_before_the_first_are_wrapped():
    # four line breaks only, and the longest is the first line (the dateline): still a wrapper's
    paras = [
        "LONDON (AFP) - © 2019 Associated Press. All Rights Reserved. This material may not be published, "
        "broadcast, rewritten, or redistributed.",
        "WASHINGTON (AP) — New uncertainty hangs over the Democratic presidential primary as 10 candidates "
        "meet on the debate stage once again.",
        "Prof. Carlos: Estou aqui ao lado do Eugênio Tadeu, que já é de casa.",
        "Reporting by Jane Doe; Editing by John Roe",
    ]
    s = segment("Hollywood to sue net film pirates\n\n" + wrap(paras))
    assert s.layout == "wrapped" and list(s.paragraphs) == ["Hollywood to sue net film pirates", *paras]


def test_hard_wrapped_blocks_without_indent():
    body = "\n\n".join(textwrap.fill(p, 68) for p in PARAS[1:])
    s = segment(PARAS[0] + "\n\n" + body)
    assert s.layout == "wrapped" and list(s.paragraphs) == PARAS


def test_short_lines_such_as_navigation_are_not_joined():
    nav = "Home\nNews\nSport\nWeather\nBusiness\nMarkets\n"
    assert segment(nav).layout == "lines"
    assert len(segment(nav).paragraphs) == 6


def test_headline_lines_over_unspaced_sentences_are_not_read_as_wrapped():
    # Found by the 10,000-document property test: a headline, its "| BBC News" copy and a Japanese
    # sentence twice read as wire copy wrapped at 40 columns (the sentence has no spaces, so any next
    # "word" overran), and the four lines became one paragraph. A 44-column line with spaces in
    # its first 40 columns is one a wrapper at 40 would have broken.
    ja = "ではなぜ、不正に改造したiPhoneを販売すると、商標権侵害になるのでしょうか。"
    text = f"Hollywood to sue net film pirates\nHollywood to sue net film pirates | BBC News\n{ja}\n{ja}\n"
    s = segment(text)
    assert s.layout == "lines" and len(s.paragraphs) == 4
    assert clean_text(text).text == f"Hollywood to sue net film pirates\n\n{ja}\n"


def test_japanese_wrapped_at_a_fixed_width_is_still_wrapped():
    ja = "政府は月曜日、新しい経済対策を発表した。対策には中小企業への支援や、家計の負担を減らすための措置が含まれている。"
    body = "\n\n".join("\n".join(textwrap.wrap(p, 40)) for p in [ja * 2, ja * 3])
    assert "、\n" in body or "。\n" in body  # a line ends at a full stop or comma and is joined all the same
    s = segment(body)
    assert s.layout == "wrapped" and list(s.paragraphs) == [ja * 2, ja * 3]


def test_forced_layouts():
    text = "first line of a block\nsecond line of it\n\nanother block\n"
    assert segment(text, "blocks").paragraphs == ("first line of a block second line of it", "another block")
    assert segment(text, "lines").paragraphs == ("first line of a block", "second line of it", "another block")


def test_wrapped_wire_copy_cleans_to_the_canonical_text():
    wire = PARAS[0] + "\n\n" + wrap(PARAS[1:]) + wrap(PARAS[-3:])  # the last three repeated, wrapped
    assert clean_text(wire).text == SEED_CANONICAL
    assert clean_text(wire, Options.of(layout="wrapped")).text == SEED_CANONICAL


def test_spaces_are_collapsed_and_lines_stripped():
    s = segment("  Storm   hits\tcoast  \n\n\n\nHigh  winds.   \n")
    assert s.paragraphs == ("Storm hits coast", "High winds.")


@given(st.text(alphabet=" \t\u00a0\u2003\u3000\u200b\n\x1cab.", max_size=40))
def test_lines_layout_is_each_line_squashed(text):
    # the whole text is squashed in one pass; the result must be squash() of each non-blank line
    expected = tuple(p for p in (squash(line) for line in text.split("\n") if line.strip()) if p)
    assert segment(text, "lines").paragraphs == expected


def test_the_ascii_scan_finds_the_ascii_odd_spaces():
    # segment scans an ASCII text for odd spaces with a class of three; it must be the full class's ASCII part
    assert [c for c in range(128) if _ODD_SPACE_RE.match(chr(c))] == [
        c for c in range(128) if _ODD_ASCII_SPACE_RE.match(chr(c))
    ]


_LINES = st.sampled_from(["", " ", "\t", "\u3000", "\x1c", "Storm hits coast", "  indented line", "a", "\u200b"])


@given(st.lists(_LINES, max_size=14).map("\n".join))
def test_line_pairs_are_the_blocks_line_pairs(text):
    # segment tests for the wrapped layout only with three or more pairs: the count must be the blocks'
    assert _lines_layout(text)[1] == sum(len(block) - 1 for block in _blocks(text.split("\n")))
