"""A volunteer's own running tally: dials, conversations and completed surveys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.calling_hours import zone
from db.models import CallAttempt

ATTEMPT = CallAttempt.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Counts:
    dials: int = 0
    conversations: int = 0
    completions: int = 0


@dataclass(frozen=True)
class Tally:
    session: Counts
    day: Counts


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
    in_session = ATTEMPT.c.started_at >= session_started_at
    in_day = ATTEMPT.c.started_at >= local_midnight

    def count(*conditions: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*conditions), 1), else_=0)), 0)

    # ix_attempt_volunteer_started keeps this a range read of one volunteer's own rows.
    row = session.execute(
        sa.select(
            count(in_session), count(in_session, ATTEMPT.c.is_conversation),
            count(in_session, ATTEMPT.c.is_completion),
            count(in_day), count(in_day, ATTEMPT.c.is_conversation),
            count(in_day, ATTEMPT.c.is_completion),
        ).where(ATTEMPT.c.volunteer_id == volunteer_id,
                ATTEMPT.c.started_at >= min(session_started_at, local_midnight))
    ).one()
    values = [int(value) for value in row]
    return Tally(session=Counts(*values[:3]), day=Counts(*values[3:]))
