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
_TRIGGER_CHARS = _char_class(map(ord, _TRIGGERS))  # the same, for the scans of whole texts and lines
_TRIGGER_CHAR_RE = re.compile(f"[{_TRIGGER_CHARS}]")


_COMMON = frozenset(map(ord, "“”‘’–—…«»£€©°·"))  # typography news text is full of


def _rarity(chars: set[int]) -> tuple[int, int, int, int]:
    """How often a line would hold one of these characters: ASCII first, then typography, then
    lower-case letters (the bulk of any cased script: "в" against "Ђ"), then count."""
    return sum(c < 128 for c in chars), len(chars & _COMMON), sum(chr(c).islower() for c in chars), len(chars)


def _required_chars(pattern: re.Pattern[str]) -> str | None:
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
    return _char_class(needed)


_BAD_CHARS = _required_chars(BADNESS_RE)
_MAYBE_BAD_RE = re.compile(f"[{_BAD_CHARS}]" if _BAD_CHARS else "")
# one fast scan: a line with none of these (and no "&", and in NFC) needs nothing from ftfy
_SUSPECT_RE = re.compile(f"[{_TRIGGER_CHARS}{_BAD_CHARS}]" if _BAD_CHARS else "")
_SUSPECT_OR_AMP_RE = re.compile(f"[&{_TRIGGER_CHARS}{_BAD_CHARS}]" if _BAD_CHARS else "")


_BAD_WIDTH = sre_parse.parse(BADNESS_RE.pattern, BADNESS_RE.flags).getwidth()[1]  # longest match: 7


def might_be_bad(line: str) -> bool:
    """ftfy's ``is_bad``, sooner: the regex runs only around the characters any match must contain.

    A match is at most ``_BAD_WIDTH`` characters long and holds one of them, so it lies within
    that distance of one; the windows around them are merged into runs and each run searched
    (``search(line, pos, endpos)`` keeps ``^`` at the line's real start, and the regex has no
    ``$`` or lookahead for ``endpos`` to fool). On long lines of accented text that is a quarter
    of the line or less.
    """
    return _bad_near(line, _MAYBE_BAD_RE, frozenset())


def _bad_near(line: str, finder: re.Pattern[str], triggers: frozenset[str]) -> bool:
    """Whether a character ``finder`` finds is in ``triggers``, or ftfy's mojibake regex matches
    around the others (see :func:`might_be_bad`)."""
    if _BAD_WIDTH > 100:
        return any(m[0] in triggers for m in finder.finditer(line)) or is_bad(line)
    start = end = -1  # the run of windows so far
    for m in finder.finditer(line):
        if m[0] in triggers:
            return True
        at = m.start()
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
    if "&" in line and chardata.HTML_ENTITY_RE.search(line):
        return True
    if line.isascii():
        # printable ASCII holds no trigger character, and no mojibake
        return not line.isprintable() and _TRIGGER_CHAR_RE.search(line) is not None
    # one scan: a trigger character, or mojibake around one of the characters it needs
    if _bad_near(line, _SUSPECT_RE, _TRIGGERS):
        return True
    return not unicodedata.is_normalized("NFC", line)


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
        return _TRIGGER_CHAR_RE.search(text) is None
    return _SUSPECT_RE.search(text) is None and unicodedata.is_normalized("NFC", text)


def _lines_to_check(text: str, lines: list[str]) -> Iterable[int]:
    """The lines :func:`needs_repair` may flag: in a text in NFC, only those holding "&" or a
    character of ftfy's (one scan of the text from line to line, not a call a line)."""
    if not unicodedata.is_normalized("NFC", text):
        return range(len(lines))
    found, at, line = [], 0, 0  # the search resumes at the start of line ``line``, ``at``
    while (m := _SUSPECT_OR_AMP_RE.search(text, at)) is not None:
        line += text.count("\n", at, m.start())
        found.append(line)
        at = text.find("\n", m.start()) + 1
        if at == 0:
            break
        line += 1
    return found


def repair(text: str) -> tuple[str, bool]:
    """Repair a whole text line by line; also reports whether anything changed."""
    text = normalize_newlines(text)
    if clean_throughout(text):
        return text, False
    lines = text.split("\n")
    changed = False
    for i in _lines_to_check(text, lines):
        line = lines[i]
        if needs_repair(line):
            fixed = ftfy.fix_text(line, FTFY_CONFIG)
            if fixed != line:
                # A fix may add line breaks (an entity such as &#10;); they stay line breaks.
                lines[i] = normalize_newlines(fixed)
                changed = True
    return ("\n".join(lines), changed) if changed else (text, False)
