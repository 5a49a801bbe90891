"""Callbacks a volunteer has promised: how far ahead, how many, who holds which, and releasing them.

"Call back later" parks a contact with one volunteer until the time they picked. Unbounded, one
volunteer could park a whole campaign years ahead (1,339 contacts in 5 s through the core call),
so a callback is at most the campaign's `callback_max_days` ahead and never after its end
(`callback_deadline`), and one volunteer holds at most `max_callbacks_per_volunteer` at once in
a campaign. Organisers see who holds how many and can release them; a volunteer sees their own
(when, and whom by name only) and can release one.

Releasing hands the contact back to everyone at its callback time (clamped to today's bound):
the person still asked to be called then, just not necessarily by the same volunteer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from core.audit import record_event
from db.models import Campaign
from db.tables import CAMPAIGN, CONTACT, QE, USER

DEFAULT_CALLBACK_MAX_DAYS = 14
DEFAULT_MAX_CALLBACKS_PER_VOLUNTEER = 30


def callback_deadline(now: datetime, max_days: int, ends_at: datetime | None) -> datetime:
    """The latest a callback booked at `now` may be: max_days ahead, and not after the end."""
    latest = now + timedelta(days=max_days)
    return min(latest, ends_at) if ends_at is not None else latest


def campaign_end(day: date | None, zone: str) -> datetime | None:
    """The end of `day` in the campaign's zone, in UTC: a campaign ending on 6 Dec ends at
    midnight after it, local time."""
    if day is None:
        return None
    local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))
    return local.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class HeldCallback:
    """One callback a volunteer promised: when and whom (by name only, never a number)."""

    queue_entry_id: int
    campaign_id: int
    campaign_name: str
    timezone: str
    due_at: datetime
    contact_name: str


@dataclass(frozen=True)
class VolunteerCallbacks:
    volunteer_id: int
    name: str
    callbacks: int
    next_due_at: datetime | None
    last_due_at: datetime | None


def _open(campaign_id: int | None = None, owner_id: int | None = None) -> list[sa.ColumnElement]:
    conditions: list[sa.ColumnElement] = [QE.c.status == "callback",
                                          QE.c.callback_owner_id.is_not(None)]
    if campaign_id is not None:
        conditions.append(QE.c.campaign_id == campaign_id)
    if owner_id is not None:
        conditions.append(QE.c.callback_owner_id == owner_id)
    return conditions


def count_held(*, session: Session, campaign_id: int, volunteer_id: int) -> int:
    """Callbacks this volunteer holds in this campaign now (ix_queue_callback_owner)."""
    return int(session.execute(
        sa.select(sa.func.count()).select_from(QE).where(
            QE.c.campaign_id == campaign_id, QE.c.callback_owner_id == volunteer_id,
            QE.c.status == "callback")
    ).scalar() or 0)


def my_callbacks(*, session: Session, volunteer_id: int,
                 campaign_id: int | None = None) -> list[HeldCallback]:
    """The volunteer's own callbacks, soonest first."""
    rows = session.execute(
        sa.select(QE.c.id, QE.c.campaign_id, CAMPAIGN.c.name, CAMPAIGN.c.timezone, QE.c.due_at,
                  CONTACT.c.first_name, CONTACT.c.last_name)
        .select_from(QE.join(CAMPAIGN, CAMPAIGN.c.id == QE.c.campaign_id)
                     .join(CONTACT, CONTACT.c.id == QE.c.contact_id))
        .where(*_open(campaign_id, volunteer_id))
        .order_by(QE.c.due_at, QE.c.id)
    ).all()
    return [
        HeldCallback(
            queue_entry_id=row.id, campaign_id=row.campaign_id, campaign_name=row.name,
            timezone=row.timezone, due_at=row.due_at,
            contact_name=" ".join(p for p in (row.first_name, row.last_name) if p) or "(no name)",
        )
        for row in rows
    ]


def callbacks_by_volunteer(*, session: Session, campaign_id: int) -> list[VolunteerCallbacks]:
    """Who holds how many callbacks in a campaign, most first (for organisers)."""
    rows = session.execute(
        sa.select(QE.c.callback_owner_id, USER.c.name, sa.func.count(),
                  sa.func.min(QE.c.due_at), sa.func.max(QE.c.due_at))
        .select_from(QE.join(USER, USER.c.id == QE.c.callback_owner_id))
        .where(*_open(campaign_id))
        .group_by(QE.c.callback_owner_id, USER.c.name)
        .order_by(sa.func.count().desc(), USER.c.name)
    ).all()
    return [
        VolunteerCallbacks(volunteer_id=owner, name=name, callbacks=int(count),
                           next_due_at=first, last_due_at=last)
        for owner, name, count, first, last in rows
    ]


def release_callbacks(
    *,
    session: Session,
    campaign_id: int,
    owner_id: int,
    now: datetime,
    actor_id: int | None,
    queue_entry_ids: list[int] | None = None,
) -> int:
    """Hand callbacks back to everyone at their time (clamped to the campaign's bound).

    Without `queue_entry_ids`, all the owner's callbacks in the campaign go. Returns how many.
    A volunteer releases their own; organisers anyone's (the page decides who may ask).
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    latest = callback_deadline(now, campaign.callback_max_days, campaign.ends_at)
    conditions = _open(campaign_id, owner_id)
    if queue_entry_ids is not None:
        conditions.append(QE.c.id.in_(queue_entry_ids))
    due = sa.case((QE.c.due_at > latest, sa.literal(latest, QE.c.due_at.type)),
                  else_=QE.c.due_at)
    result = session.execute(
        sa.update(QE).where(*conditions)
        .values(callback_owner_id=None, due_at=due, release_at=due)
        .execution_options(synchronize_session=False)
    )
    released = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if released:
        record_event(session=session, action="callbacks_released", actor_id=actor_id,
                     target=f"user:{owner_id}",
                     details={"campaign_id": campaign_id, "count": released})
    return released
