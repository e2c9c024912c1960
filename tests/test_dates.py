"""Publication dates an article states near its top, in the forms news sites print them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe.dates import _first_date, parse_date


def day(y: int, m: int, d: int) -> float:
    return datetime(y, m, d, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2019-11-19T23:34:00Z", day(2019, 11, 19)),
        ("Published 11:34 PM EST Nov 19, 2019 | Updated", day(2019, 11, 19)),
        ("By Jane Doe, Sept. 3, 2021\n\nThe council voted", day(2021, 9, 3)),
        ("Last updated on 19 November 2019 at 10:02", day(2019, 11, 19)),
        ("LONDON, 5 Jan 2005 (Reuters) - Shares fell", day(2005, 1, 5)),
        ("Mayday 5, 2019: not a month, then December 24 2004", day(2004, 12, 24)),
        ("September. 30, 2019", day(2019, 9, 30)),  # the longest lead before a year: 15 characters
        ("The 2019-02-30 date does not exist", None),
        ("Nov 19, 1899 is before the years read", None),
        ("Storm hits coast\n\nHigh winds cut power to 300 homes on Monday.", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_in_news_text(text, expected):
    assert parse_date(text) == expected


@given(st.text(alphabet="0123456789 -,.:TJanNovSeptember\u0663\u0669", min_size=1, max_size=40))
def test_the_pre_scan_never_hides_a_date(text):
    assert parse_date(text) == _first_date(text)


_PIECES = st.sampled_from([
    " ", "  ", ",", ", ", ".", "-", "x", "_", "Nov", "Sept.", "september", "Mayday", "Foo", "12", "5", "1899",
    "2019", "20199", "2004", "19", "20", "-11-", "11", "30", "\u0663\u0669", "\n", "é", "T23:34",
    "September 30, ", "September. 30, ", "30 September, ", "December 24 ", "Sept. 3 ",  # the longest forms
])


@given(st.lists(_PIECES, max_size=30).map("".join))
def test_the_scans_from_the_first_year_find_the_first_date(text):
    # dates built from pieces: months, days and years side by side, near misses, leading text
    assert parse_date(text) == _first_date(text)
