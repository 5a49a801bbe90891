"""From a call to a volunteer at the door: the funnel per campaign and per event.

Definitions (the dashboard shows them too):
- reached: contacts with at least one conversation (as on the dashboard's headline);
- yes: contacts who gave the campaign's recruit answer (Campaign.recruit_rule);
- signed up: contacts this campaign's calls booked on at least one event (whatever happened
  to the booking afterwards: someone who later said NO still signed up);
- confirmed: of those, people told their time and place (a text, or the organiser marked the
  confirmation sent from the export);
- attended: people ticked at the check-in of an event this campaign booked them on;
- no-show: people with a booking still standing for an event that has ended, not ticked.
Per event the same stages count places rather than people, and walk-ins are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.calling_hours import zone
from core.events import SignupStatus
from core.stats import people_reached, recruit_count
from db.models import CallAttempt, EventCampaign, RecruitedVolunteer
from db.tables import EVENT, SIGNUP

STAGES = ("reached", "yes", "signed_up", "confirmed", "attended", "no_show")
STAGE_LABELS = {
    "reached": "Reached", "yes": "Said yes", "signed_up": "Signed up",
    "confirmed": "Confirmed", "attended": "Came", "no_show": "Did not come",
}


@dataclass(frozen=True)
class Funnel:
    reached: int = 0
    yes: int = 0
    signed_up: int = 0
    confirmed: int = 0
    attended: int = 0
    no_show: int = 0

    def rows(self) -> list[dict[str, Any]]:
        return [{"stage": STAGE_LABELS[s], "people": getattr(self, s)} for s in STAGES]


def _signup_people(session: Session, campaign_id: int | None, now: datetime) -> dict[str, int]:
    """Signed up / confirmed / attended / no-show people, from one pass over the bookings."""
    ended = EVENT.c.ends_at <= now
    standing = SIGNUP.c.status == SignupStatus.BOOKED
    where: list[Any] = [SIGNUP.c.walk_in.is_(False), SIGNUP.c.contact_id.is_not(None)]
    where.append(SIGNUP.c.campaign_id == campaign_id if campaign_id is not None
                 else SIGNUP.c.campaign_id.is_not(None))
    per_person = (
        sa.select(
            SIGNUP.c.contact_id,
            sa.func.max(sa.case((SIGNUP.c.confirmed_at.is_not(None), 1), else_=0)).label("c"),
            sa.func.max(sa.case((SIGNUP.c.attended_at.is_not(None), 1), else_=0)).label("a"),
            sa.func.max(sa.case((sa.and_(standing, ended, SIGNUP.c.attended_at.is_(None)), 1),
                                else_=0)).label("n"),
        )
        .select_from(SIGNUP.join(EVENT, EVENT.c.id == SIGNUP.c.event_id))
        .where(*where)
        .group_by(SIGNUP.c.contact_id)
        .subquery()
    )
    row = session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(per_person.c.c), 0),
        sa.func.coalesce(sa.func.sum(per_person.c.a), 0),
        sa.func.coalesce(sa.func.sum(per_person.c.n), 0),
    ).select_from(per_person)).one()
    return {"signed_up": int(row[0]), "confirmed": int(row[1]), "attended": int(row[2]),
            "no_show": int(row[3])}


def campaign_funnel(*, session: Session, campaign_id: int | None,
                    now: datetime | None = None) -> Funnel:
    """Reached → yes → signed up → confirmed → attended, and no-shows, for one campaign (or
    all campaigns, adding up each campaign's people)."""
    now = now or datetime.now(UTC)
    return Funnel(
        reached=people_reached(session=session, campaign_id=campaign_id),
        yes=recruit_count(session=session, campaign_id=campaign_id),
        **_signup_people(session, campaign_id, now),
    )


@dataclass(frozen=True)
class EventCounts:
    event_id: int
    booked: int = 0  # places standing now
    signed_up: int = 0  # every booking made on a call, including those since given back
    confirmed: int = 0
    attended: int = 0  # booked people who came
    walk_ins: int = 0
    no_show: int = 0
    given_back: int = 0  # declined by text, withdrawn, or the event was cancelled


def event_counts(*, session: Session, event_ids: list[int] | None = None,
                 now: datetime | None = None) -> dict[int, EventCounts]:
    """Per event: bookings, confirmations, who came, walk-ins and no-shows (places, not people)."""
    now = now or datetime.now(UTC)
    standing = SIGNUP.c.status == SignupStatus.BOOKED
    booked = sa.and_(standing, SIGNUP.c.walk_in.is_(False))

    def count_if(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = (
        sa.select(
            SIGNUP.c.event_id,
            count_if(booked),
            count_if(SIGNUP.c.walk_in.is_(False)),
            count_if(sa.and_(SIGNUP.c.walk_in.is_(False), SIGNUP.c.confirmed_at.is_not(None))),
            count_if(sa.and_(SIGNUP.c.walk_in.is_(False), SIGNUP.c.attended_at.is_not(None))),
            count_if(SIGNUP.c.walk_in.is_(True)),
            count_if(sa.and_(booked, EVENT.c.ends_at <= now, SIGNUP.c.attended_at.is_(None))),
            count_if(sa.not_(standing)),
        )
        .select_from(SIGNUP.join(EVENT, EVENT.c.id == SIGNUP.c.event_id))
        .group_by(SIGNUP.c.event_id)
    )
    if event_ids is not None:
        query = query.where(SIGNUP.c.event_id.in_(event_ids))
    result = {}
    for row in session.execute(query):
        result[int(row[0])] = EventCounts(int(row[0]), *(int(v) for v in row[1:]))
    return result


def signups_by_volunteer(*, session: Session, campaign_id: int | None) -> dict[int, int]:
    """Bookings each volunteer made on their calls (for the leaderboard)."""
    query = (sa.select(SIGNUP.c.volunteer_id, sa.func.count())
             .where(SIGNUP.c.walk_in.is_(False), SIGNUP.c.volunteer_id.is_not(None))
             .group_by(SIGNUP.c.volunteer_id))
    if campaign_id is not None:
        query = query.where(SIGNUP.c.campaign_id == campaign_id)
    else:
        query = query.where(SIGNUP.c.campaign_id.is_not(None))
    return {int(v): int(n) for v, n in session.execute(query)}


def recruited_callers(*, session: Session, campaign_id: int | None) -> dict[str, int]:
    """Volunteers who joined from this campaign's recruit invites, and the calls they made
    ("recruited 12 callers who made 340 calls")."""
    recruited = sa.select(col(RecruitedVolunteer.user_id))
    if campaign_id is not None:
        recruited = recruited.where(col(RecruitedVolunteer.campaign_id) == campaign_id)
    callers = int(session.execute(
        sa.select(sa.func.count()).select_from(recruited.subquery())).scalar_one())
    calls = int(session.execute(
        sa.select(sa.func.count()).select_from(CallAttempt)
        .where(col(CallAttempt.volunteer_id).in_(recruited))).scalar_one()) if callers else 0
    return {"callers": callers, "calls": calls}


def event_funnels(*, session: Session, campaign_id: int | None,
                  now: datetime | None = None, limit: int = 30) -> list[dict[str, Any]]:
    """Per event the campaign offers (or every event): bookings through to the door, the
    events nearest today first (upcoming soonest, then the most recent past)."""
    now = now or datetime.now(UTC)
    query = sa.select(EVENT.c.id, EVENT.c.title, EVENT.c.starts_at, EVENT.c.timezone,
                      EVENT.c.status, EVENT.c.capacity)
    if campaign_id is not None:
        query = query.where(EVENT.c.id.in_(
            sa.select(col(EventCampaign.event_id)).where(
                col(EventCampaign.campaign_id) == campaign_id)))
    upcoming = session.execute(query.where(EVENT.c.ends_at > now)
                               .order_by(EVENT.c.starts_at).limit(limit)).all()
    past = session.execute(query.where(EVENT.c.ends_at <= now)
                           .order_by(EVENT.c.starts_at.desc()).limit(limit)).all()
    rows = [*upcoming, *past][:limit]
    counts = event_counts(session=session, event_ids=[r.id for r in rows], now=now)
    result = []
    for r in rows:
        c = counts.get(r.id, EventCounts(r.id))
        starts = r.starts_at if r.starts_at.tzinfo else r.starts_at.replace(tzinfo=UTC)
        local = starts.astimezone(zone(r.timezone))
        result.append({
            "event": r.title + (" (cancelled)" if r.status == "cancelled" else ""),
            "when": f"{local:%a %d %b %H:%M}", "places": r.capacity,
            "signed_up": c.signed_up, "booked": c.booked, "confirmed": c.confirmed,
            "came": c.attended, "walk_ins": c.walk_ins, "no_show": c.no_show,
            "gave_back": c.given_back,
        })
    return result


def events_by_contact(*, session: Session, contact_ids: tuple[int, ...]
                      ) -> dict[int, list[str]]:
    """The events each person has a standing booking for or came to (the recruits list)."""
    if not contact_ids:
        return {}
    rows = session.execute(
        sa.select(SIGNUP.c.contact_id, EVENT.c.title, SIGNUP.c.attended_at)
        .select_from(SIGNUP.join(EVENT, EVENT.c.id == SIGNUP.c.event_id))
        .where(SIGNUP.c.contact_id.in_(list(contact_ids)),
               sa.or_(SIGNUP.c.status == SignupStatus.BOOKED,
                      SIGNUP.c.attended_at.is_not(None)))
        .order_by(EVENT.c.starts_at)
    ).all()
    found: dict[int, list[str]] = {}
    for contact_id, title, attended in rows:
        found.setdefault(int(contact_id), []).append(title + (" ✓" if attended else ""))
    return found
