"""A volunteer's own running tally: dials, conversations and completed surveys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

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


def _counts(session: Session, volunteer_id: int, since: datetime) -> Counts:
    # ix_attempt_volunteer_started keeps this a range read of one volunteer's own rows.
    row = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((ATTEMPT.c.is_conversation, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((ATTEMPT.c.is_completion, 1), else_=0)), 0),
        ).where(ATTEMPT.c.volunteer_id == volunteer_id, ATTEMPT.c.started_at >= since)
    ).one()
    return Counts(dials=int(row[0]), conversations=int(row[1]), completions=int(row[2]))


def volunteer_tally(
    *,
    session: Session,
    volunteer_id: int,
    now: datetime,
    session_started_at: datetime,
    timezone: str = "Europe/London",
) -> Tally:
    """Counts since this calling session began, and since local midnight in `timezone`."""
    local_midnight = datetime.combine(now.astimezone(zone(timezone)).date(), time(0),
                                      tzinfo=zone(timezone)).astimezone(UTC)
    return Tally(
        session=_counts(session, volunteer_id, session_started_at),
        day=_counts(session, volunteer_id, local_midnight),
    )
