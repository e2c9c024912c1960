"""Publication dates: from a record's date field, or one the article states near its top."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_MONTHS = {
    m: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")],
        1,
    )
    for m in names
}
_ISO_RE = re.compile(r"\b(\d\d\d\d)-(\d\d)-(\d\d)")  # \d\d\d\d, not \d{4}: re runs a repeat slower
_MDY_RE = re.compile(r"\b([A-Za-z]{3,9})\.? (\d{1,2}),? ((?:19|20)\d\d)\b")
_DMY_RE = re.compile(r"\b(\d{1,2}) ([A-Za-z]{3,9}),? ((?:19|20)\d\d)\b")
_FOUR_DIGITS_RE = re.compile(r"\d\d\d\d")  # every date above has its year: one fast scan rules most texts out
_FOUR_ASCII_DIGITS_RE = re.compile("[0-9][0-9][0-9][0-9]")  # the same in ASCII text, faster still


def _make(year: int, month: int, day: int) -> float | None:
    try:
        return datetime(year, month, day, tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def parse_date(text: str | None) -> float | None:
    """A POSIX timestamp (UTC midnight) for the first date in the text, or None.

    Understands ISO dates (2019-11-19, also with a time), "Nov 19, 2019" and "19 November 2019".

    >>> parse_date("2019-11-19T23:34:00Z") == parse_date("Published 11:34 PM EST Nov 19, 2019")
    True
    """
    if not text or (four := (_FOUR_ASCII_DIGITS_RE if text.isascii() else _FOUR_DIGITS_RE).search(text)) is None:
        return None
    # Every date holds its year, so none starts before the first four digits (an ISO date) or
    # more than 14 characters before them ("September 30, " or "30 September, "); the others
    # need a space before a year of 19xx or 20xx. The regexes scan from there, if at all.
    first = four.start()
    m = _ISO_RE.search(text, first)
    if m:
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if " 19" not in text and " 20" not in text:
        return None
    for rx, (mi, di) in ((_MDY_RE, (1, 2)), (_DMY_RE, (2, 1))):
        for m in rx.finditer(text, max(0, first - 14)):
            month = _MONTHS.get(m[mi].lower())
            if month:
                return _make(int(m[3]), month, int(m[di]))
    return None


def _first_date(text: str) -> float | None:
    """The date patterns tried one after another over the whole text (what the scans above shortcut)."""
    m = _ISO_RE.search(text)
    if m:
        return _make(int(m[1]), int(m[2]), int(m[3]))
    for rx, (mi, di) in ((_MDY_RE, (1, 2)), (_DMY_RE, (2, 1))):
        for m in rx.finditer(text):
            month = _MONTHS.get(m[mi].lower())
            if month:
                return _make(int(m[3]), month, int(m[di]))
    return None
