"""Calling hours at the window's edges and across the clock changes (Europe/London)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.calling_hours import (
    CallingWindowError,
    closed_message,
    closes_at,
    default_window,
    describe_opening,
    is_open,
    next_opening,
    validate_window,
)

LONDON = "Europe/London"
WINDOW = default_window()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Winter (GMT = UTC): 09:00-21:00 London is 09:00-21:00 UTC.
        (utc(2026, 1, 14, 8, 59, 59), False),
        (utc(2026, 1, 14, 9, 0), True),
        (utc(2026, 1, 14, 20, 59, 59), True),
        (utc(2026, 1, 14, 21, 0), False),
        # Summer (BST = UTC+1): 09:00-21:00 London is 08:00-20:00 UTC.
        (utc(2026, 7, 14, 7, 59), False),
        (utc(2026, 7, 14, 8, 0), True),
        (utc(2026, 7, 14, 19, 59), True),
        (utc(2026, 7, 14, 20, 0), False),
        # Sunday 29 March 2026: clocks go forward at 01:00 UTC; the day is already BST at 09:00.
        (utc(2026, 3, 29, 7, 59), False),
        (utc(2026, 3, 29, 8, 0), True),
        (utc(2026, 3, 29, 19, 59), True),
        (utc(2026, 3, 29, 20, 0), False),
        # The evening before is still GMT.
        (utc(2026, 3, 28, 20, 59), True),
        (utc(2026, 3, 28, 21, 0), False),
        # Sunday 25 October 2026: clocks go back at 01:00 UTC; that day is GMT at 09:00.
        (utc(2026, 10, 25, 8, 30), False),
        (utc(2026, 10, 25, 9, 0), True),
        (utc(2026, 10, 25, 20, 30), True),
        (utc(2026, 10, 25, 21, 0), False),
        # Saturday 24 October is still BST.
        (utc(2026, 10, 24, 8, 0), True),
        (utc(2026, 10, 24, 20, 0), False),
    ],
)
def test_the_window_is_nine_to_nine_london_time_across_the_clock_changes(now, expected) -> None:
    assert is_open(WINDOW, LONDON, now) is expected


def test_next_opening_across_the_spring_change_is_nine_bst() -> None:
    # 22:00 GMT on Saturday 28 March: next opening is 09:00 BST on the Sunday = 08:00 UTC.
    assert next_opening(WINDOW, LONDON, utc(2026, 3, 28, 22, 0)) == utc(2026, 3, 29, 8, 0)


def test_next_opening_across_the_autumn_change_is_nine_gmt() -> None:
    # 21:30 BST on Saturday 24 October = 20:30 UTC: next opening 09:00 GMT = 09:00 UTC.
    assert next_opening(WINDOW, LONDON, utc(2026, 10, 24, 20, 30)) == utc(2026, 10, 25, 9, 0)


def test_next_opening_is_now_while_open_and_later_the_same_day_before_opening() -> None:
    now = utc(2026, 1, 14, 12, 0)
    assert next_opening(WINDOW, LONDON, now) == now
    assert next_opening(WINDOW, LONDON, utc(2026, 1, 14, 6, 0)) == utc(2026, 1, 14, 9, 0)


def test_closed_days_are_skipped_and_a_window_with_no_days_never_opens() -> None:
    weekdays_only = {str(d): (["10:00", "18:00"] if d < 5 else []) for d in range(7)}
    friday_evening = utc(2026, 1, 16, 19, 0)
    assert next_opening(weekdays_only, LONDON, friday_evening) == utc(2026, 1, 19, 10, 0)
    assert not is_open(weekdays_only, LONDON, utc(2026, 1, 17, 12, 0))  # Saturday
    assert next_opening({str(d): [] for d in range(7)}, LONDON, friday_evening) is None


def test_a_window_into_the_spring_gap_opens_at_the_first_real_minute() -> None:
    # 01:30 does not exist in London on 29 March 2026; calling opens at 02:30 BST (01:30 UTC).
    early = {"6": ["01:30", "03:00"]}
    assert next_opening(early, LONDON, utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 29, 1, 30)
    assert is_open(early, LONDON, utc(2026, 3, 29, 1, 45))
    assert not is_open(early, LONDON, utc(2026, 3, 29, 2, 0))  # 03:00 BST


def test_other_zones_use_their_own_wall_clock() -> None:
    assert is_open(WINDOW, "America/New_York", utc(2026, 1, 14, 14, 0))  # 09:00 EST
    assert not is_open(WINDOW, "America/New_York", utc(2026, 1, 14, 13, 59))


def test_closes_at_and_an_open_ended_day() -> None:
    assert closes_at(WINDOW, LONDON, utc(2026, 7, 14, 12, 0)) == utc(2026, 7, 14, 20, 0)
    assert closes_at(WINDOW, LONDON, utc(2026, 7, 14, 21, 0)) is None
    late = validate_window({"2": ["18:00", "24:00"]})
    assert is_open(late, LONDON, utc(2026, 1, 14, 23, 59))


@pytest.mark.parametrize(
    "window",
    [{"2": ["21:00", "09:00"]}, {"9": ["09:00", "17:00"]}, {"1": ["nine", "five"]},
     {"1": ["09:00"]}],
)
def test_malformed_windows_are_refused(window) -> None:
    with pytest.raises(CallingWindowError):
        validate_window(window)


def test_the_reopening_time_is_described_in_the_campaigns_zone() -> None:
    now = utc(2026, 7, 14, 21, 0)  # 22:00 BST on a Tuesday
    when = next_opening(WINDOW, LONDON, now)
    assert describe_opening(when, LONDON, now) == "tomorrow at 09:00"
    assert describe_opening(utc(2026, 7, 14, 22, 30), LONDON, utc(2026, 7, 14, 6, 0)) == (
        "today at 23:30")
    assert describe_opening(utc(2026, 7, 20, 8, 0), LONDON, now) == "Monday 20 July at 09:00"


WEEKDAYS_ONLY = {**default_window(), "5": [], "6": []}


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        # Wednesday 14 January 2026, before opening: it opens today, hours are not "over".
        (WINDOW, utc(2026, 1, 14, 7, 30),
         "Calling opens today at 09:00 (Europe/London time)."),
        (WINDOW, utc(2026, 1, 14, 21, 30),
         "Calling hours are over for today. Calling reopens tomorrow at 09:00 "
         "(Europe/London time)."),
        # Saturday 17 January, weekdays only.
        (WEEKDAYS_ONLY, utc(2026, 1, 17, 12, 0),
         "There is no calling today. Calling opens Monday 19 January at 09:00 "
         "(Europe/London time)."),
        # Summer time: 09:00 in London is 08:00 UTC.
        (WINDOW, utc(2026, 7, 14, 7, 0),
         "Calling opens today at 09:00 (Europe/London time)."),
        ({str(d): [] for d in range(7)}, utc(2026, 1, 14, 12, 0),
         "No calling hours are set for this campaign, so calling is closed."),
    ],
)
def test_a_closed_campaign_says_when_calling_opens(window, now, expected) -> None:
    assert closed_message(window, LONDON, now) == expected
