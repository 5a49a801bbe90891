"""A volunteer's own running tally: dials, conversations and completed surveys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.calling_hours import zone
from db.tables import ATTEMPT


@dataclass(frozen=True)
class Counts:
    dials: int = 0
    conversations: int = 0
    completions: int = 0


@dataclass(frozen=True)
class Tally:
    session: Counts
    day: Counts


def counts_since(
    *, session: Session, volunteer_id: int, since: Sequence[datetime | None]
) -> list[Counts]:
    """A volunteer's dials, conversations and completions since each time (None: all time),
    in one statement (the calling sidebar redraws on every click of every volunteer)."""

    def count(*conditions: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*conditions), 1), else_=0)), 0)

    periods = [sa.true() if start is None else ATTEMPT.c.started_at >= start for start in since]
    columns = [column for period in periods for column in (
        count(period), count(period, ATTEMPT.c.is_conversation),
        count(period, ATTEMPT.c.is_completion))]
    query = sa.select(*columns).where(ATTEMPT.c.volunteer_id == volunteer_id)
    if since and None not in since:
        # ix_attempt_volunteer_started keeps this a range read of one volunteer's own rows.
        query = query.where(ATTEMPT.c.started_at >= min(s for s in since if s is not None))
    values = [int(value) for value in session.execute(query).one()]
    return [Counts(*values[i:i + 3]) for i in range(0, len(values), 3)]


def volunteer_counts(*, session: Session, volunteer_id: int, since: datetime | None) -> Counts:
    """A volunteer's dials, conversations and completions since `since` (None: all time)."""
    return counts_since(session=session, volunteer_id=volunteer_id, since=[since])[0]


def volunteer_tally(
    *,
    session: Session,
    volunteer_id: int,
    now: datetime,
    session_started_at: datetime,
    timezone: str = "Europe/London",
) -> Tally:
    """Counts since this calling session began, and since local midnight in `timezone`.

    One statement for both (the sidebar redraws on every click of every volunteer).
    """
    local_midnight = datetime.combine(now.astimezone(zone(timezone)).date(), time(0),
                                      tzinfo=zone(timezone)).astimezone(UTC)
    in_session, in_day = counts_since(session=session, volunteer_id=volunteer_id,
                                      since=[session_started_at, local_midnight])
    return Tally(session=in_session, day=in_day)
