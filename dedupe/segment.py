"""Split repaired text into paragraphs: one a line, blank-line blocks, or hard-wrapped copy.

Scraped articles come in three layouts. ``lines``: each non-empty line is a paragraph (most
extractors, and files with blank lines between one-line paragraphs). ``blocks``: paragraphs
are separated by blank lines and a paragraph's lines are joined. ``wrapped``: wire copy
hard-wrapped at a fixed width, where a paragraph starts after a blank line or at an
indented line. ``auto`` picks ``wrapped`` only when the line lengths say so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .speedups import native

_SENTENCE_END = tuple('.!?:"\'”’»。！？')
_SPACES = "[ \\t\\f\\v\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000]"  # horizontal white space
_SPACE_RE = re.compile(_SPACES + "+")
# the runs squash changes: all but a lone plain space (so a whole text is squashed in one quick pass)
_SPACE_RUN_RE = re.compile(f"(?! ){_SPACES}+| {_SPACES}+")
_ODD_SPACE_RE = re.compile(_SPACES.replace("[ ", "["))  # the same class without the plain space: a fast scan
_ODD_ASCII_SPACE_RE = re.compile("[\t\f\v]")  # its ASCII members: faster still, where the text is ASCII
_BLANK = " \u200b\u200c\u200d\u2060\ufeff"  # space and zero-width characters, trimmed at the ends
# Han, kana and hangul: unspaced scripts, which a wrapper may break after any character
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f"
_CJK_PUNCTUATION = "\u3001-\u303f\uff01-\uff60"  # 、。「」 and full-width forms
_BREAK_RE = re.compile(f"[ \t{CJK}{_CJK_PUNCTUATION}]")
_CJK_RE = re.compile(f"[{CJK}{_CJK_PUNCTUATION}]")
_FIRST_WORD_RE = re.compile(f"[{CJK}{_CJK_PUNCTUATION}]|[^\\s{CJK}{_CJK_PUNCTUATION}]+")  # one character of CJK


@dataclass(frozen=True, slots=True)
class Segmented:
    """Paragraph texts (spaces collapsed, stripped) and the layout that produced them."""

    paragraphs: tuple[str, ...]
    layout: str


def squash(text: str) -> str:
    """Collapse runs of horizontal white space to one space; trim spaces and zero-width characters."""
    return _SPACE_RE.sub(" ", text).strip(_BLANK)


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _is_indented(line: str) -> bool:
    return line[:1] in (" ", "\t")


def looks_wrapped(blocks: list[list[str]]) -> bool:
    """True when lines look cut at a fixed width rather than at paragraph ends.

    Greedy wrapping (textwrap, wire systems) breaks a line only where the next word would not
    fit, so in wrapped copy nearly every line plus the next line's first word overruns the
    width, and most breaks fall mid-sentence. One-paragraph-a-line text fails the first test
    on its short lines and the second on its sentence ends.
    """
    pairs: list[tuple[str, str]] = []
    for block in blocks:
        for line, nxt in zip(block, block[1:]):
            # a line repeated (a headline and its copy) is a scraper's copy, never a wrapper's break
            if not _is_indented(nxt) and line.strip().casefold() != nxt.strip().casefold():
                pairs.append((line.rstrip(), nxt))
    if len(pairs) < 3:
        return False
    lengths = sorted(len(line) for line, _ in pairs)
    # the 90th percentile, robust to a stray long line (a URL) among ten or more; below that, the
    # longest (a wire copy of a few short paragraphs: a dateline put before its first line)
    width = lengths[math.ceil(0.9 * (len(lengths) - 1))]
    if not 40 <= width <= 100 or lengths[-1] > 100 and sum(n > 100 for n in lengths) > len(lengths) / 10:
        return False
    pairs = [(line, _first_word(nxt)) for line, nxt in pairs]  # the next lines' first words, only now
    greedy = sum(1 for line, word in pairs if _full(line, word, width))
    mid_sentence = sum(1 for line, word in pairs if not line.endswith(_SENTENCE_END) or word[:1].islower())
    return greedy / len(pairs) >= 0.8 and mid_sentence / len(pairs) >= 0.6


def _first_word(line: str) -> str:
    """What a wrapper would have had to fit on the line before: a word, or one character of CJK."""
    found = _FIRST_WORD_RE.match(line.lstrip())
    return found[0] if found else ""


def _full(line: str, word: str, width: int) -> bool:
    """Whether a greedy wrapper at ``width`` would end ``line`` where it ends: the next word does
    not fit, and a longer line has nowhere to break before the width (one long word, a URL)."""
    if len(line) > width:
        return not _BREAK_RE.search(line.strip(), 1, width + 1)
    return len(line) + 1 + len(word) > width


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        line = line.strip()
        if not out:
            out = line
        elif out.endswith("-") and out[-2:-1].isalpha() and line[:1].islower():
            out += line  # a compound broken at its hyphen: "well-" / "known"
        elif _CJK_RE.match(out[-1]) and _CJK_RE.match(line[:1]):
            out += line  # unspaced script broken between two characters
        else:
            out += " " + line
    return squash(out)


def _wrapped_paragraphs(blocks: list[list[str]]) -> list[str]:
    paragraphs: list[str] = []
    for block in blocks:
        current: list[str] = []
        for line in block:
            if current and _is_indented(line):
                paragraphs.append(_join(current))
                current = []
            current.append(line)
        paragraphs.append(_join(current))
    return paragraphs


def _lines_layout(text: str) -> tuple[list[str], int]:
    """The ``lines`` layout's paragraphs (each non-blank line, its runs of space squashed and its
    ends trimmed, empty ones left out) and how many non-blank lines follow another (wrapped text
    has three such pairs or more). The compiled kernel (:mod:`dedupe.speedups`) gives the same."""
    if native is not None:
        found: tuple[list[str], int] = native.lines_layout(text)
        return found
    lines = text.split("\n")
    full = [bool(line.strip()) for line in lines]
    pairs = sum(a and b for a, b in zip(full, full[1:]))
    # squash(line) for each non-blank line, with the spaces of the whole text collapsed at once
    if "  " in text or (_ODD_ASCII_SPACE_RE if text.isascii() else _ODD_SPACE_RE).search(text):
        lines = _SPACE_RUN_RE.sub(" ", text).split("\n")
    return [p for line, keep in zip(lines, full) if keep and (p := line.strip(_BLANK))], pairs


def segment(text: str, layout: str = "auto") -> Segmented:
    """Split text (``\\n`` line endings) into paragraphs under the given or detected layout."""
    if layout in ("auto", "lines"):
        paras, pairs = _lines_layout(text)
        # fewer than three line pairs: fewer than looks_wrapped needs, so no blocks to make
        if layout == "auto" and pairs >= 3 and looks_wrapped(blocks := _blocks(text.split("\n"))):
            return Segmented(tuple(p for p in _wrapped_paragraphs(blocks) if p), "wrapped")
        return Segmented(tuple(paras), "lines")
    blocks = _blocks(text.split("\n"))
    paras = [_join(block) for block in blocks] if layout == "blocks" else _wrapped_paragraphs(blocks)
    return Segmented(tuple(p for p in paras if p), layout)
