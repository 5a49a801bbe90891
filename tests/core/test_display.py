"""Dates, times and counts as people read them (core.display)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.display import plural, uk_date, uk_datetime

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "zone", "expected"),
    [
        (datetime(2026, 12, 5, 14, 30, tzinfo=UTC), "Europe/London", "Sat 5 Dec, 14:30"),
        (datetime(2026, 7, 4, 13, 5, tzinfo=UTC), "Europe/London", "Sat 4 Jul, 14:05"),  # BST
        (datetime(2026, 7, 4, 13, 5), "Europe/London", "Sat 4 Jul, 14:05"),  # naive = UTC
        (datetime(2025, 6, 3, 8, 12, tzinfo=UTC), "Europe/London", "Tue 3 Jun 2025, 09:12"),
        (datetime(2026, 12, 5, 23, 30, tzinfo=UTC), "Europe/Paris", "Sun 6 Dec, 00:30"),
    ],
)
def test_times_read_the_uk_way_in_the_zone_given(when, zone, expected) -> None:
    assert uk_datetime(when, zone, now=NOW) == expected


def test_a_day_reads_without_its_year_this_year() -> None:
    assert uk_date(date(2026, 12, 6), today=date(2026, 12, 1)) == "Sun 6 Dec"
    assert uk_date(date(2025, 12, 6), today=date(2026, 12, 1)) == "Sat 6 Dec 2025"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 people"), (1, "1 person"), (2, "2 people"), (1204, "1,204 people")],
)
def test_counts_take_the_right_plural(count, expected) -> None:
    assert plural(count, "person", "people") == expected
    assert plural(1, "call") == "1 call" and plural(3, "call") == "3 calls"
