"""How Ringround writes dates, times and counts for people: one helper for every screen.

UK style, in the zone given (a campaign's own, or the default): "Sat 6 Dec, 14:30". The year is
added only when it is not this year's, so an old import reads "Tue 3 Jun 2025, 09:12".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # the database keeps UTC


def uk_date(day: date, *, today: date | None = None) -> str:
    """'Sat 6 Dec' (with the year when it is not this year's)."""
    text = f"{day:%a} {day.day} {day:%b}"
    if day.year != (today or date.today()).year:
        text += f" {day.year}"
    return text


def uk_datetime(when: datetime, zone: str | ZoneInfo, *, now: datetime | None = None) -> str:
    """'Sat 6 Dec, 14:30' in `zone` (with the year when it is not this year's)."""
    zone_info = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    local = _aware(when).astimezone(zone_info)
    today = _aware(now or datetime.now(UTC)).astimezone(zone_info).date()
    return f"{uk_date(local.date(), today=today)}, {local:%H:%M}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """'1 person', '2 people', '1,204 calls'."""
    word = one if count == 1 else (many or one + "s")
    return f"{count:,} {word}"
