"""Event texts without a database: reminder timing across clock changes, what each text says,
the calendar file, and which replies give a place back (issue #17)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.calling_hours import default_window
from core.event_texts import (
    TextPurpose,
    ics_calendar,
    ics_link,
    is_decline_reply,
    reminder_due_at,
    text_body,
)
from core.events import EventView


def event(**overrides) -> EventView:
    fields = dict(
        id=7, title="Door knocking, Crewe; North", kind="canvass", description="Bring water",
        starts_at=datetime(2026, 12, 12, 10, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 12, 13, 0, tzinfo=UTC), timezone="Europe/London",
        place="Crewe Library", online_url="", constituency="Crewe and Nantwich", ward="",
        capacity=20, places_taken=3, status="scheduled", ics_token="tok123")
    fields.update(overrides)
    return EventView(**fields)


@pytest.mark.parametrize(("starts_at", "expected"), [
    # Winter: 10:00 London the day before is 10:00 UTC.
    (datetime(2026, 12, 12, 10, 0, tzinfo=UTC), datetime(2026, 12, 11, 10, 0, tzinfo=UTC)),
    # Clocks go forward on Sunday 29 March 2026: the event is Monday 09:00 BST (08:00 UTC);
    # the reminder is Sunday 10:00 BST = 09:00 UTC, not 24 hours earlier (08:00 UTC = 09:00).
    (datetime(2026, 3, 30, 8, 0, tzinfo=UTC), datetime(2026, 3, 29, 9, 0, tzinfo=UTC)),
    # Clocks go back on Sunday 25 October 2026: event Monday 09:00 GMT, reminder Sunday
    # 10:00 GMT = 10:00 UTC (24 hours before the event would be 09:00).
    (datetime(2026, 10, 26, 9, 0, tzinfo=UTC), datetime(2026, 10, 25, 10, 0, tzinfo=UTC)),
    # An event on the day clocks go forward, at 11:00 BST: reminder Saturday 10:00 GMT.
    (datetime(2026, 3, 29, 10, 0, tzinfo=UTC), datetime(2026, 3, 28, 10, 0, tzinfo=UTC)),
])
def test_the_reminder_goes_at_ten_the_day_before_on_the_local_clock(starts_at, expected) -> None:
    assert reminder_due_at(starts_at, "Europe/London", default_window()) == expected


def test_a_reminder_waits_for_the_calling_window_to_open() -> None:
    window = {**default_window(), "4": ["13:00", "20:00"]}  # Friday afternoons only
    # Saturday 12 December event; Friday's window opens at 13:00.
    assert reminder_due_at(datetime(2026, 12, 12, 10, 0, tzinfo=UTC), "Europe/London",
                           window) == datetime(2026, 12, 11, 13, 0, tzinfo=UTC)


def test_no_reminder_when_no_sending_time_comes_before_the_event() -> None:
    closed_friday = {**default_window(), "4": [], "5": ["12:00", "20:00"]}
    assert reminder_due_at(datetime(2026, 12, 12, 10, 0, tzinfo=UTC), "Europe/London",
                           closed_friday) is None


def test_the_confirmation_gives_time_place_calendar_link_and_how_to_reply() -> None:
    body = text_body(TextPurpose.CONFIRM, event(), first_name="Asha",
                     link=ics_link("https://calls.example.org/", "tok123"))
    assert body == (
        "Hi Asha! You're booked for Door knocking, Crewe; North, Sat 12 Dec, 10:00–13:00, at "
        "Crewe Library. Add it to your calendar: https://calls.example.org/events/tok123.ics "
        "Reply NO if you can't make it, or STOP for no more texts.")
    assert "calendar" not in text_body(TextPurpose.CONFIRM, event(), first_name="", link="")


def test_the_calendar_file_is_utc_escaped_and_folded() -> None:
    long_description = "Meet at the front door. " * 10
    ics = ics_calendar(event(description=long_description),
                       now=datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    lines = ics.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and ics.endswith("END:VCALENDAR\r\n")
    assert "DTSTART:20261212T100000Z" in lines and "DTEND:20261212T130000Z" in lines
    assert "SUMMARY:Door knocking\\, Crewe\\; North" in lines
    assert "STATUS:CONFIRMED" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)  # the description was folded
    assert "STATUS:CANCELLED" in ics_calendar(event(status="cancelled")).split("\r\n")


@pytest.mark.parametrize(("body", "declines"), [
    ("NO", True), ("no", True), (" No. ", True), ("Can't", True), ("cant!", True),
    ("can’t", True), ("CANNOT", True), ("not coming", True),
    ("No idea what this is", False), ("yes", False), ("STOP", False), ("", False),
])
def test_only_a_whole_no_gives_the_place_back(body: str, declines: bool) -> None:
    assert is_decline_reply(body) is declines
