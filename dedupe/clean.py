"""Text repair: mojibake, HTML entities, control characters and Unicode NFC, with ftfy.

ftfy's ``fix_text`` is thorough but slow (about 1 MB/s), so :func:`repair` runs it only on
the lines that :func:`needs_repair` flags. The check is built from ftfy's own tables, so it
fires on every character any enabled ftfy fixer acts on; ``tests/test_repair.py`` checks
that it misses nothing on real mojibake.
"""

from __future__ import annotations

import re
import unicodedata

import ftfy
from ftfy import chardata
from ftfy.badness import is_bad

# ftfy as dedupe uses it: text, not HTML, so entities are always decoded; the publisher's
# curly quotes and full-width characters are kept (matching ignores them anyway).
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=True,
    uncurl_quotes=False,
    fix_character_width=False,
    explain=False,
)

_NEWLINES_RE = re.compile("\r\n?|[\u2028\u2029\u0085]")

# Characters some enabled ftfy fixer acts on, besides mojibake (which is_bad detects) and
# entities: its control characters, C1 controls, ligatures, surrogates and line breaks.
_TRIGGER_CHARS = (
    "".join(re.escape(chr(c)) for c in sorted(chardata.CONTROL_CHARS))
    + "".join(re.escape(chr(c)) for c in sorted(chardata.LIGATURES))
    + "\x80-\x9f\ud800-\udfff\r\u2028\u2029"
)
_TRIGGER_RE = re.compile(f"[{_TRIGGER_CHARS}]|{chardata.HTML_ENTITY_RE.pattern}")


def normalize_newlines(text: str) -> str:
    """Turn CRLF, CR and Unicode line separators into ``\\n``."""
    return _NEWLINES_RE.sub("\n", text)


def needs_repair(line: str) -> bool:
    """Cheap test: could ftfy change this line? False means it certainly would not."""
    if line.isascii():
        return "&" in line or _TRIGGER_RE.search(line) is not None
    return (
        _TRIGGER_RE.search(line) is not None
        or is_bad(line)
        or not unicodedata.is_normalized("NFC", line)
    )


def repair_line(line: str) -> str:
    """Repair one line with ftfy if the cheap check says it needs it."""
    if needs_repair(line):
        return ftfy.fix_text(line, FTFY_CONFIG)
    return line


def repair(text: str) -> tuple[str, bool]:
    """Repair a whole text line by line; also reports whether anything changed."""
    text = normalize_newlines(text)
    lines = text.split("\n")
    changed = False
    for i, line in enumerate(lines):
        if needs_repair(line):
            fixed = ftfy.fix_text(line, FTFY_CONFIG)
            if fixed != line:
                # A fix may add line breaks (an entity such as &#10;); they stay line breaks.
                lines[i] = normalize_newlines(fixed)
                changed = True
    return ("\n".join(lines), changed) if changed else (text, False)
