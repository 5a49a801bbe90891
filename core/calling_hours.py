"""Calling hours: when a campaign may ring people, per weekday, in the campaign's own time zone.

A window is `{"0": ["09:00", "21:00"], ..., "6": [...]}` (ISO weekday 0=Monday); a missing day
or an empty list means no calling that day. Rules are wall-clock times in the zone, so 09:00 stays
09:00 on both sides of a clock change; instants are compared in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_OPEN = "09:00"
DEFAULT_CLOSE = "21:00"
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Window = dict[str, list[str]]


class CallingWindowError(ValueError):
    """The calling window is not well formed; str() says which day and why."""


def default_window() -> Window:
    return {str(day): [DEFAULT_OPEN, DEFAULT_CLOSE] for day in range(7)}


def zone(name: str | None) -> ZoneInfo:
    """The campaign's zone, Europe/London when unset.

    Raises:
        CallingWindowError: the name is not a known IANA time zone.
    """
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise CallingWindowError(f"unknown time zone {name!r}") from None


def _parse_time(text: str) -> time | None:
    """"HH:MM" to a time; "24:00" (end of day) to None."""
    text = text.strip()
    if text == "24:00":
        return None
    try:
        hour, minute = text.split(":")
        return time(int(hour), int(minute))
    except (ValueError, TypeError):
        raise CallingWindowError(f"{text!r} is not a time like 09:00") from None


def validate_window(window: dict[str, Any]) -> Window:
    """Check and normalise a window; closing must come after opening on the same day.

    Raises:
        CallingWindowError: a day key, a time, or an order is wrong.
    """
    clean: Window = {}
    for key, span in window.items():
        if str(key) not in {str(d) for d in range(7)}:
            raise CallingWindowError(f"{key!r} is not a weekday number 0-6")
        if not span:
            clean[str(key)] = []
            continue
        if len(span) != 2:
            raise CallingWindowError(f"{DAY_NAMES[int(key)]}: give an opening and a closing time")
        start, end = _parse_time(str(span[0])), _parse_time(str(span[1]))
        if start is None:
            raise CallingWindowError(f"{DAY_NAMES[int(key)]}: calling cannot open at 24:00")
        if end is not None and end <= start:
            raise CallingWindowError(f"{DAY_NAMES[int(key)]}: closing must be after opening")
        closing = "24:00" if end is None else end.strftime("%H:%M")
        clean[str(key)] = [start.strftime("%H:%M"), closing]
    return clean


def _span(window: Window, day: date) -> tuple[time, time | None] | None:
    span = window.get(str(day.weekday()))
    if not span:
        return None
    start = _parse_time(span[0])
    assert start is not None
    return start, _parse_time(span[1])


def _local_instant(day: date, at: time | None, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time; a time in the spring gap maps forward past it."""
    if at is None:  # 24:00 is the next day's midnight
        day, at = day + timedelta(days=1), time(0, 0)
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def is_open(window: Window, tz: str | ZoneInfo | None, now: datetime) -> bool:
    """True if `now` (aware) falls inside the day's window in the campaign's zone."""
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    local = now.astimezone(zone_info)
    span = _span(window, local.date())
    if span is None:
        return False
    start, end = span
    opens = _local_instant(local.date(), start, zone_info)
    closes = _local_instant(local.date(), end, zone_info)
    return opens <= now.astimezone(UTC) < closes


def next_opening(window: Window, tz: str | ZoneInfo | None, now: datetime) -> datetime | None:
    """When calling next opens (aware UTC); `now` itself when open, None if never open."""
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    if is_open(window, zone_info, now):
        return now
    today = now.astimezone(zone_info).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        span = _span(window, day)
        if span is None:
            continue
        opens = _local_instant(day, span[0], zone_info)
        if opens > now.astimezone(UTC):
            return opens
    return None


def closes_at(window: Window, tz: str | ZoneInfo | None, now: datetime) -> datetime | None:
    """When today's calling closes (aware UTC), or None if it is closed now."""
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    if not is_open(window, zone_info, now):
        return None
    local_day = now.astimezone(zone_info).date()
    span = _span(window, local_day)
    assert span is not None
    return _local_instant(local_day, span[1], zone_info)


def describe_opening(when: datetime | None, tz: str | ZoneInfo | None, now: datetime) -> str:
    """'today at 09:00', 'tomorrow at 09:00' or 'Monday 2 March at 09:00', in the zone."""
    if when is None:
        return "when an organiser sets calling hours"
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    local = when.astimezone(zone_info)
    days = (local.date() - now.astimezone(zone_info).date()).days
    clock = local.strftime("%H:%M")
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    return f"{DAY_NAMES[local.weekday()]} {local.day} {local.strftime('%B')} at {clock}"


def closed_message(window: Window, tz: str | ZoneInfo | None, now: datetime) -> str:
    """Why calling is closed right now and when it opens, in words, with the zone named.

    Before today's opening: "Calling opens today at 09:00 (Europe/London time)." (not "hours
    are over"); after today's close, or on a day without calling, it says so.
    """
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    opening = next_opening(window, zone_info, now)
    if opening is None:
        return "No calling hours are set for this campaign, so calling is closed."
    when = f"{describe_opening(opening, zone_info, now)} ({zone_info.key} time)"
    today = now.astimezone(zone_info).date()
    if opening.astimezone(zone_info).date() == today:
        return f"Calling opens {when}."
    if _span(window, today) is not None:
        return f"Calling hours are over for today. Calling reopens {when}."
    return f"There is no calling today. Calling opens {when}."
