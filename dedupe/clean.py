"""Text repair: mojibake, HTML entities, control characters and Unicode NFC, with ftfy.

ftfy's ``fix_text`` is thorough but slow (about 1 MB/s), so :func:`repair` runs it only on
the lines that :func:`needs_repair` flags. The check is built from ftfy's own tables, so it
fires on every character any enabled ftfy fixer acts on; ``tests/test_repair.py`` checks
that it misses nothing on real mojibake.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

import ftfy
from ftfy import chardata
from ftfy.badness import BADNESS_RE, is_bad

from .speedups import native

# ftfy as dedupe uses it: text, not HTML, so entities are always decoded; the publisher's
# curly quotes and full-width characters are kept (matching ignores them anyway).
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=True,
    uncurl_quotes=False,
    fix_character_width=False,
    explain=False,
)

_NEWLINES_RE = re.compile("\r\n?|[\u2028\u2029\u0085]")


def _char_class(codes: Iterable[int]) -> str:
    """The inside of a regex character class holding these code points (runs written as ranges)."""
    parts = []
    for _, group in itertools.groupby(enumerate(sorted(codes)), lambda pair: pair[1] - pair[0]):
        run = [c for _, c in group]
        first = re.escape(chr(run[0]))
        parts.append(first if len(run) == 1 else f"{first}-{re.escape(chr(run[-1]))}")
    return "".join(parts)


# Characters some enabled ftfy fixer acts on, besides mojibake (which is_bad detects) and
# entities: its control characters, C1 controls, ligatures, surrogates and line breaks.
_TRIGGERS = frozenset(
    map(chr, {*chardata.CONTROL_CHARS, *chardata.LIGATURES, *range(0x80, 0xA0), *range(0xD800, 0xE000), 0x0D, 0x2028, 0x2029})
)


class _CharSet:
    """A set of characters that texts are scanned for: by the compiled scan over a bitmap where it is
    built (8 KB, a bit a code point: 0.44 ns a character against 2.7 for a regex class of 300), else by
    the regex class. ``None`` stands for every character."""

    def __init__(self, chars: frozenset[str] | None) -> None:
        self.regex = re.compile(f"[{_char_class(map(ord, chars))}]" if chars is not None else "")
        self.table: bytes | None = None
        if native is not None and chars is not None and all(c < "\U00010000" for c in chars):
            table = bytearray(8192)
            for code in map(ord, chars):
                table[code >> 3] |= 1 << (code & 7)
            self.table = bytes(table)

    def find(self, text: str, start: int = 0) -> int:
        """Where the first of these characters is from ``start``, or -1."""
        if self.table is not None and native is not None:
            at: int = native.find_char(text, self.table, start)
            return at
        m = self.regex.search(text, start)
        return -1 if m is None else m.start()

    def positions(self, text: str) -> list[int]:
        """Where each of them is, in order."""
        if self.table is not None and native is not None:
            found: list[int] = native.char_positions(text, self.table)
            return found
        return [m.start() for m in self.regex.finditer(text)]


_TRIGGER_SET = _CharSet(_TRIGGERS)


_COMMON = frozenset(map(ord, "“”‘’–—…«»£€©°·"))  # typography news text is full of


def _rarity(chars: set[int]) -> tuple[int, int, int, int]:
    """How often a line would hold one of these characters: ASCII first, then typography, then
    lower-case letters (the bulk of any cased script: "в" against "Ђ"), then count."""
    return sum(c < 128 for c in chars), len(chars & _COMMON), sum(chr(c).islower() for c in chars), len(chars)


def _required_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Characters one of which any match of ``pattern`` must contain, or None if unknown.

    ``pattern`` is an alternation; each branch is a sequence whose plain items are all
    required, so any literal or character set among them is a necessary condition for that
    branch; the one least likely in clean news text is taken. ftfy's mojibake regex is slow to scan; this class of ~300 characters
    tells in one fast pass that most lines (ASCII plus common typography) cannot match it.
    """
    tree = sre_parse.parse(pattern.pattern, pattern.flags)
    if len(tree.data) != 1 or tree.data[0][0] is not sre.BRANCH:
        return None
    needed: set[int] = set()
    for branch in tree.data[0][1][1]:
        best: set[int] | None = None
        for op, av in branch.data:
            chars: set[int] | None = None
            if op is sre.LITERAL:
                chars = {av}
            elif op is sre.IN and all(o in (sre.LITERAL, sre.RANGE) for o, _ in av):
                chars = set()
                for o, a in av:
                    chars.update([a] if o is sre.LITERAL else range(a[0], a[1] + 1))
            if chars is not None and (best is None or _rarity(chars) < _rarity(best)):
                best = chars
        if best is None:
            return None
        needed |= best
    return frozenset(map(chr, needed))


_BAD_CHARS = _required_chars(BADNESS_RE)
_MAYBE_BAD = _CharSet(_BAD_CHARS)
# one fast scan: a line with none of these (and no "&", and in NFC) needs nothing from ftfy
_SUSPECT = _CharSet(_TRIGGERS | _BAD_CHARS if _BAD_CHARS is not None else None)
_SUSPECT_OR_AMP = _CharSet(_TRIGGERS | _BAD_CHARS | {"&"} if _BAD_CHARS is not None else None)


_BAD_WIDTH = sre_parse.parse(BADNESS_RE.pattern, BADNESS_RE.flags).getwidth()[1]  # longest match: 7


def might_be_bad(line: str) -> bool:
    """ftfy's ``is_bad``, sooner: the regex runs only around the characters any match must contain.

    A match is at most ``_BAD_WIDTH`` characters long and holds one of them, so it lies within
    that distance of one; the windows around them are merged into runs and each run searched
    (``search(line, pos, endpos)`` keeps ``^`` at the line's real start, and the regex has no
    ``$`` or lookahead for ``endpos`` to fool). On long lines of accented text that is a quarter
    of the line or less.
    """
    return _bad_near(line, _MAYBE_BAD, frozenset())


def _bad_near(line: str, finder: _CharSet, triggers: frozenset[str]) -> bool:
    """Whether a character ``finder`` finds is in ``triggers``, or ftfy's mojibake regex matches
    around the others (see :func:`might_be_bad`)."""
    found = finder.positions(line)
    if _BAD_WIDTH > 100:
        return any(line[at : at + 1] in triggers for at in found) or is_bad(line)
    start = end = -1  # the run of windows so far
    for at in found:
        if line[at : at + 1] in triggers:
            return True
        if at - _BAD_WIDTH <= end:  # overlaps the run: extend it
            end = at + _BAD_WIDTH + 1
            continue
        if end >= 0 and BADNESS_RE.search(line, start, end):
            return True
        start, end = max(0, at - _BAD_WIDTH), at + _BAD_WIDTH + 1
    return end >= 0 and BADNESS_RE.search(line, start, end) is not None


def normalize_newlines(text: str) -> str:
    """Turn CRLF, CR and Unicode line separators into ``\\n``."""
    # four substring finds outrun one search for a class of four characters (16x on news text)
    if "\r" in text or "\u2028" in text or "\u2029" in text or "\x85" in text:
        return _NEWLINES_RE.sub("\n", text)
    return text


def needs_repair(line: str) -> bool:
    """Cheap test: could ftfy change this line? False means it certainly would not."""
    return _needs_repair(line, in_nfc=False)


def _needs_repair(line: str, in_nfc: bool) -> bool:
    """:func:`needs_repair`, told whether the line is known to be in NFC (a line of a text in NFC is)."""
    if "&" in line and chardata.HTML_ENTITY_RE.search(line):
        return True
    if line.isascii():
        # printable ASCII holds no trigger character, and no mojibake
        return not line.isprintable() and _TRIGGER_SET.find(line) >= 0
    # one scan: a trigger character, or mojibake around one of the characters it needs
    if _bad_near(line, _SUSPECT, _TRIGGERS):
        return True
    return not in_nfc and not unicodedata.is_normalized("NFC", line)


def repair_line(line: str) -> str:
    """Repair one line with ftfy if the cheap check says it needs it."""
    if needs_repair(line):
        return ftfy.fix_text(line, FTFY_CONFIG)
    return line


def clean_throughout(text: str) -> bool:
    """Cheap test of a whole text: True means :func:`needs_repair` is False for every line of it.

    One scan of the text instead of one a line; most articles pass (none of ftfy's characters, no
    "&"), the rest are checked line by line. A line break neither composes nor reorders in NFC, so
    a text in NFC has its lines in NFC.
    """
    if "&" in text:
        return False
    if text.isascii():
        return _TRIGGER_SET.find(text) < 0
    return _SUSPECT.find(text) < 0 and unicodedata.is_normalized("NFC", text)


def _lines_to_check(text: str, lines: list[str]) -> tuple[Iterable[int], bool]:
    """The lines :func:`needs_repair` may flag, and whether the text is in NFC: in a text in NFC,
    only those holding "&" or a character of ftfy's (one scan of the text from line to line, not a
    call a line), and each line is in NFC too (a line break neither composes nor reorders)."""
    if not unicodedata.is_normalized("NFC", text):
        return range(len(lines)), False
    found, at, line = [], 0, 0  # the search resumes at the start of line ``line``, ``at``
    while (hit := _SUSPECT_OR_AMP.find(text, at)) >= 0:
        line += text.count("\n", at, hit)
        found.append(line)
        at = text.find("\n", hit) + 1
        if at == 0:
            break
        line += 1
    return found, True


def repair(text: str) -> tuple[str, bool]:
    """Repair a whole text line by line; also reports whether anything changed."""
    text = normalize_newlines(text)
    if clean_throughout(text):
        return text, False
    lines = text.split("\n")
    changed = False
    checked, in_nfc = _lines_to_check(text, lines)
    for i in checked:
        line = lines[i]
        if _needs_repair(line, in_nfc):
            fixed = ftfy.fix_text(line, FTFY_CONFIG)
            if fixed != line:
                # A fix may add line breaks (an entity such as &#10;); they stay line breaks.
                lines[i] = normalize_newlines(fixed)
                changed = True
    return ("\n".join(lines), changed) if changed else (text, False)
