"""Events people are signed up for on a call: editing, offering, places, and check-in.

Places are taken and given back only by guarded UPDATEs on `event.places_taken`
(`... SET places_taken = places_taken + 1 WHERE places_taken < capacity`): the row the UPDATE
changes is the proof a place was free. Nothing counts sign-ups in Python and then inserts,
which is how two volunteers would both book the last place. On SQLite writes are serialised
by BEGIN IMMEDIATE; on PostgreSQL the UPDATE takes the row lock and re-checks the condition on
the newest row, so the twenty-first of fifty concurrent bookings finds it false.

Times are aware UTC in the database and wall-clock times in the event's zone everywhere a
person sees or types them; "the same time next week" is computed on the wall clock, so an
event at 10:00 stays at 10:00 across a clock change.

Callers pass a write session for changes (Database.write()); every function here only adds
to that transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.audit import record_event
from core.calling_hours import CallingWindowError, zone
from core.phones import InvalidPhone, display_phone, normalise_phone
from db.models import (
    Campaign,
    Contact,
    Event,
    EventCampaign,
    EventHelper,
    EventSignup,
    User,
)
from db.tables import CONTACT, EVENT, SIGNUP

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_CAPACITY = 100_000


class EventKind(StrEnum):
    CANVASS = "canvass"
    STALL = "stall"
    PHONE_BANK = "phone_bank"
    MEETING = "meeting"
    OTHER = "other"


EVENT_KIND_LABELS = {
    EventKind.CANVASS: "Canvassing session",
    EventKind.STALL: "Street stall",
    EventKind.PHONE_BANK: "Phone bank",
    EventKind.MEETING: "Meeting",
    EventKind.OTHER: "Other",
}


class SignupStatus(StrEnum):
    BOOKED = "booked"
    DECLINED = "declined"  # they replied NO / CANT to a text
    WITHDRAWN = "withdrawn"  # an organiser took them off
    EVENT_CANCELLED = "event_cancelled"


# --------------------------------------------------------------------------------------------
# Errors the pages show as they are
# --------------------------------------------------------------------------------------------


class EventError(ValueError):
    """The event cannot be saved as given; `field` names the input, str() says why."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(message)


class EventNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__("That event no longer exists.")


class SignupRefused(Exception):
    """A place could not be taken; str() is fit to read out to the person on the phone."""


class EventFull(SignupRefused):
    def __init__(self, title: str):
        self.title = title
        super().__init__(f"“{title}” is full: every place has gone. Offer another event.")


class EventUnavailable(SignupRefused):
    def __init__(self, title: str, why: str):
        self.title = title
        super().__init__(f"“{title}” {why}.")


class CheckInNotAllowed(PermissionError):
    def __init__(self) -> None:
        super().__init__("You are not running the check-in for this event.")


# --------------------------------------------------------------------------------------------
# What pages get back
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventDraft:
    """An event as the organiser typed it: wall-clock date and times in `timezone`."""

    title: str
    day: date
    start: time
    end: time
    timezone: str = "Europe/London"
    kind: str = EventKind.CANVASS
    description: str = ""
    place: str = ""
    online_url: str = ""
    constituency: str = ""
    ward: str = ""
    capacity: int | None = None
    campaign_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class EventView:
    id: int
    title: str
    kind: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    place: str
    online_url: str
    constituency: str
    ward: str
    capacity: int | None
    places_taken: int
    status: str
    ics_token: str
    campaign_ids: tuple[int, ...] = ()
    helper_ids: tuple[int, ...] = ()

    @property
    def places_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.places_taken, 0)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def where(self) -> str:
        """The place as a person reads it: the address, "Online", or both."""
        if self.place and self.online_url:
            return f"{self.place} (or online)"
        return self.place or ("Online" if self.online_url else "Place to be confirmed")

    def local_start(self) -> datetime:
        return self.starts_at.astimezone(zone(self.timezone))

    def local_end(self) -> datetime:
        return self.ends_at.astimezone(zone(self.timezone))

    def when(self) -> str:
        """'Sat 5 Dec, 10:00–13:00' in the event's zone."""
        start, end = self.local_start(), self.local_end()
        day = f"{start.strftime('%a')} {start.day} {start.strftime('%b')}"
        if start.date() == end.date():
            return f"{day}, {start:%H:%M}–{end:%H:%M}"
        return f"{day}, {start:%H:%M} – {end.strftime('%a')} {end.day} {end:%b %H:%M}"

    def draft(self) -> EventDraft:
        start, end = self.local_start(), self.local_end()
        return EventDraft(
            title=self.title, day=start.date(), start=start.time(), end=end.time(),
            timezone=self.timezone, kind=self.kind, description=self.description,
            place=self.place, online_url=self.online_url, constituency=self.constituency,
            ward=self.ward, capacity=self.capacity, campaign_ids=self.campaign_ids,
        )


@dataclass(frozen=True)
class EventOffer:
    """One event a caller may offer, with how near it is to the contact."""

    event: EventView
    nearness: int  # 0 same ward, 1 same constituency, 2 online or anywhere, 3 elsewhere

    @property
    def id(self) -> int:
        return self.event.id

    @property
    def full(self) -> bool:
        return self.event.places_left == 0

    def label(self) -> str:
        """What the caller reads: title, time, place and places left."""
        left = self.event.places_left
        places = ("no limit" if left is None else "full" if left == 0
                  else f"{left} place{'s' if left != 1 else ''} left")
        return f"{self.event.title} · {self.event.when()} · {self.event.where} · {places}"


@dataclass(frozen=True)
class CheckInRow:
    signup_id: int
    name: str
    attended: bool
    walk_in: bool
    phone: str = ""  # formatted; only when numbers were asked for (audited)


@dataclass(frozen=True)
class SignupResult:
    signup_ids: tuple[int, ...] = ()
    already: tuple[int, ...] = field(default_factory=tuple)  # events they were booked on


# --------------------------------------------------------------------------------------------
# Editing events
# --------------------------------------------------------------------------------------------


def _instants(draft: EventDraft) -> tuple[datetime, datetime]:
    try:
        tz = zone(draft.timezone)
    except CallingWindowError as exc:
        raise EventError("timezone", str(exc)) from None
    starts = datetime.combine(draft.day, draft.start, tzinfo=tz).astimezone(UTC)
    # An end at or before the start is taken to run past midnight (a late meeting).
    end_day = draft.day if draft.end > draft.start else draft.day + timedelta(days=1)
    ends = datetime.combine(end_day, draft.end, tzinfo=tz).astimezone(UTC)
    return starts, ends


def validate_event(draft: EventDraft) -> dict[str, object]:
    """Check a draft and return the columns to store.

    Raises:
        EventError: a field is missing or wrong; `.field` names it.
    """
    title = " ".join(draft.title.split())
    if not title:
        raise EventError("title", "Give the event a title.")
    if len(title) > MAX_TITLE:
        raise EventError("title", f"Keep the title under {MAX_TITLE} characters.")
    if draft.kind not in set(EventKind):
        raise EventError("kind", f"Unknown kind of event {draft.kind!r}.")
    description = draft.description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise EventError("description",
                         f"Keep the description under {MAX_DESCRIPTION} characters.")
    if draft.end == draft.start:
        raise EventError("end", "The event must end after it starts.")
    place = " ".join(draft.place.split())
    url = draft.online_url.strip()
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise EventError("online_url", "The online link must start with https:// "
                             "(or http://) and name a site.")
    if not place and not url:
        raise EventError("place", "Say where it is: an address, or an online link.")
    if draft.capacity is not None and not 1 <= draft.capacity <= MAX_CAPACITY:
        raise EventError("capacity", f"Places must be between 1 and {MAX_CAPACITY:,} "
                         "(leave empty for no limit).")
    if not draft.campaign_ids:
        raise EventError("campaign_ids", "Choose at least one campaign whose callers may "
                         "offer it.")
    starts_at, ends_at = _instants(draft)
    return {
        "title": title, "kind": str(draft.kind), "description": description,
        "starts_at": starts_at, "ends_at": ends_at, "timezone": draft.timezone,
        "place": place[:500], "online_url": url[:500],
        "constituency": draft.constituency.strip()[:120], "ward": draft.ward.strip()[:120],
        "capacity": draft.capacity,
    }


def _set_campaigns(session: Session, event_id: int, campaign_ids: Iterable[int]) -> None:
    wanted = sorted(set(campaign_ids))
    known = set(session.exec(select(Campaign.id).where(col(Campaign.id).in_(wanted))))
    missing = [c for c in wanted if c not in known]
    if missing:
        raise EventError("campaign_ids", "One of the chosen campaigns no longer exists.")
    session.execute(sa.delete(EventCampaign).where(col(EventCampaign.event_id) == event_id))
    session.add_all(EventCampaign(event_id=event_id, campaign_id=c) for c in wanted)


def create_event(*, session: Session, draft: EventDraft, actor_id: int | None,
                 now: datetime | None = None) -> int:
    """Create an event; returns its id.

    Raises:
        EventError: see validate_event.
    """
    values = validate_event(draft)
    now = now or datetime.now(UTC)
    event = Event(**values, ics_token=secrets.token_urlsafe(18)[:24],  # type: ignore[arg-type]
                  created_by_id=actor_id, created_at=now, updated_at=now)
    session.add(event)
    session.flush()
    assert event.id is not None
    _set_campaigns(session, event.id, draft.campaign_ids)
    record_event(session=session, action="event_created", actor_id=actor_id,
                 target=f"event:{event.id}")
    return event.id


def update_event(*, session: Session, event_id: int, draft: EventDraft, actor_id: int | None,
                 now: datetime | None = None) -> None:
    """Save changes to an event.

    Raises:
        EventNotFound: no such event.
        EventError: see validate_event, or fewer places than people already booked.
    """
    values = validate_event(draft)
    event = session.get(Event, event_id)
    if event is None:
        raise EventNotFound()
    if event.status == "cancelled":
        raise EventError("title", "This event was cancelled; duplicate it to run it again.")
    capacity = values["capacity"]
    # Guarded like a booking: a place taken while the organiser typed still counts.
    result = session.execute(
        sa.update(EVENT)
        .where(EVENT.c.id == event_id,
               sa.true() if capacity is None else EVENT.c.places_taken <= capacity)
        .values(**values, updated_at=now or datetime.now(UTC))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(event)
        raise EventError("capacity", f"{event.places_taken} people are booked already, so "
                         f"there cannot be fewer than {event.places_taken} places.")
    _set_campaigns(session, event_id, draft.campaign_ids)
    session.expire(event)
    record_event(session=session, action="event_updated", actor_id=actor_id,
                 target=f"event:{event_id}")


def cancel_event(*, session: Session, event_id: int, actor_id: int | None,
                 now: datetime | None = None) -> list[int]:
    """Cancel an event; returns the sign-ups that were booked, so that they can be told.

    Raises:
        EventNotFound: no such event.
    """
    now = now or datetime.now(UTC)
    event = session.get(Event, event_id)
    if event is None:
        raise EventNotFound()
    if event.status == "cancelled":
        return []
    booked = list(session.exec(
        select(EventSignup.id).where(EventSignup.event_id == event_id,
                                     EventSignup.status == SignupStatus.BOOKED)))
    session.execute(
        sa.update(SIGNUP).where(SIGNUP.c.event_id == event_id,
                                SIGNUP.c.status == SignupStatus.BOOKED)
        .values(status=SignupStatus.EVENT_CANCELLED, cancelled_at=now))
    session.execute(sa.update(EVENT).where(EVENT.c.id == event_id).values(
        status="cancelled", cancelled_at=now, updated_at=now, places_taken=0))
    session.expire(event)
    record_event(session=session, action="event_cancelled", actor_id=actor_id,
                 target=f"event:{event_id}", details={"booked": len(booked)})
    return [int(i) for i in booked if i is not None]


def shift_draft(draft: EventDraft, *, weeks: int = 1) -> EventDraft:
    """The same event `weeks` later, at the same wall-clock times."""
    return EventDraft(**{**draft.__dict__, "day": draft.day + timedelta(weeks=weeks)})


def duplicate_event(*, session: Session, event_id: int, actor_id: int | None,
                    weeks: int = 1, now: datetime | None = None) -> int:
    """Copy an event to the same time `weeks` later (same campaigns and helpers, no sign-ups).

    Raises:
        EventNotFound: no such event.
    """
    view = get_event(session=session, event_id=event_id)
    new_id = create_event(session=session, draft=shift_draft(view.draft(), weeks=weeks),
                          actor_id=actor_id, now=now)
    session.add_all(EventHelper(event_id=new_id, user_id=u) for u in view.helper_ids)
    return new_id


def set_helpers(*, session: Session, event_id: int, user_ids: Sequence[int],
                actor_id: int | None) -> None:
    """Choose the trusted volunteers who may run the event's check-in."""
    if session.get(Event, event_id) is None:
        raise EventNotFound()
    session.execute(sa.delete(EventHelper).where(col(EventHelper.event_id) == event_id))
    session.add_all(EventHelper(event_id=event_id, user_id=u) for u in sorted(set(user_ids)))
    record_event(session=session, action="event_helpers_set", actor_id=actor_id,
                 target=f"event:{event_id}", details={"helpers": len(set(user_ids))})


# --------------------------------------------------------------------------------------------
# Reading events
# --------------------------------------------------------------------------------------------


def _views(session: Session, rows: Sequence[Event]) -> list[EventView]:
    ids = [r.id for r in rows if r.id is not None]
    campaigns: dict[int, list[int]] = {}
    helpers: dict[int, list[int]] = {}
    if ids:
        for event_id, campaign_id in session.execute(
                sa.select(col(EventCampaign.event_id), col(EventCampaign.campaign_id))
                .where(col(EventCampaign.event_id).in_(ids))):
            campaigns.setdefault(event_id, []).append(campaign_id)
        for event_id, user_id in session.execute(
                sa.select(col(EventHelper.event_id), col(EventHelper.user_id))
                .where(col(EventHelper.event_id).in_(ids))):
            helpers.setdefault(event_id, []).append(user_id)
    return [
        EventView(
            id=int(r.id or 0), title=r.title, kind=r.kind, description=r.description,
            starts_at=r.starts_at, ends_at=r.ends_at, timezone=r.timezone, place=r.place,
            online_url=r.online_url, constituency=r.constituency, ward=r.ward,
            capacity=r.capacity, places_taken=r.places_taken, status=r.status,
            ics_token=r.ics_token, campaign_ids=tuple(sorted(campaigns.get(r.id or 0, []))),
            helper_ids=tuple(sorted(helpers.get(r.id or 0, []))),
        )
        for r in rows
    ]


def get_event(*, session: Session, event_id: int) -> EventView:
    """Raises: EventNotFound."""
    event = session.get(Event, event_id)
    if event is None:
        raise EventNotFound()
    return _views(session, [event])[0]


def event_by_token(*, session: Session, token: str) -> EventView | None:
    event = session.exec(select(Event).where(Event.ics_token == token)).first()
    return _views(session, [event])[0] if event is not None else None


def list_events(*, session: Session, now: datetime | None = None, past: bool = False,
                include_cancelled: bool = True) -> list[EventView]:
    """Upcoming (or, with past=True, finished) events, soonest first (most recent first)."""
    now = now or datetime.now(UTC)
    query = select(Event)
    if past:
        query = query.where(col(Event.ends_at) <= now).order_by(col(Event.starts_at).desc())
    else:
        query = query.where(col(Event.ends_at) > now).order_by(col(Event.starts_at), col(Event.id))
    if not include_cancelled:
        query = query.where(Event.status == "scheduled")
    return _views(session, list(session.exec(query.limit(500))))


def nearness(event: EventView, constituency: str, ward: str) -> int:
    """0 in the contact's ward, 1 in their constituency, 2 online or for anywhere, 3 elsewhere."""
    same_seat = bool(event.constituency) and (
        event.constituency.casefold() == (constituency or "").casefold())
    if same_seat and event.ward and event.ward.casefold() == (ward or "").casefold():
        return 0
    if same_seat and not event.ward:
        return 1
    if same_seat:
        return 1
    if not event.constituency or (event.online_url and not event.place):
        return 2
    return 3


def offerable_events(*, session: Session, campaign_id: int, constituency: str = "",
                     ward: str = "", now: datetime | None = None) -> list[EventOffer]:
    """Upcoming events this campaign may offer, nearest the contact first, then soonest.

    Full events stay in the list (marked full) so the caller can say so rather than wonder.
    """
    now = now or datetime.now(UTC)
    rows = list(session.exec(
        select(Event)
        .join(EventCampaign, col(EventCampaign.event_id) == col(Event.id))
        .where(EventCampaign.campaign_id == campaign_id, Event.status == "scheduled",
               col(Event.starts_at) > now)
        .order_by(col(Event.starts_at), col(Event.id))
        .limit(200)
    ))
    offers = [EventOffer(event=v, nearness=nearness(v, constituency, ward))
              for v in _views(session, rows)]
    return sorted(offers, key=lambda o: (o.nearness, o.event.starts_at, o.event.id))


def offers_for_contact(*, session: Session, campaign_id: int, contact_id: int,
                       now: datetime | None = None) -> list[EventOffer]:
    """offerable_events ordered for this contact's area (read here: the calling card need not
    show the area for the order to use it)."""
    area = session.execute(sa.select(CONTACT.c.constituency, CONTACT.c.ward)
                           .where(CONTACT.c.id == contact_id)).first()
    return offerable_events(session=session, campaign_id=campaign_id,
                            constituency=area.constituency if area else "",
                            ward=area.ward if area else "", now=now)


# --------------------------------------------------------------------------------------------
# Taking and giving back places
# --------------------------------------------------------------------------------------------


def _take_place(session: Session, event_id: int, now: datetime) -> bool:
    """One guarded UPDATE: True when a place was free and is now taken."""
    result = session.execute(
        sa.update(EVENT)
        .where(EVENT.c.id == event_id, EVENT.c.status == "scheduled", EVENT.c.starts_at > now,
               sa.or_(EVENT.c.capacity.is_(None), EVENT.c.places_taken < EVENT.c.capacity))
        .values(places_taken=EVENT.c.places_taken + 1)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _give_back_place(session: Session, event_id: int) -> None:
    session.execute(sa.update(EVENT).where(EVENT.c.id == event_id, EVENT.c.places_taken > 0)
                    .values(places_taken=EVENT.c.places_taken - 1))


def _refusal(session: Session, event_id: int, now: datetime) -> SignupRefused:
    row = session.execute(sa.select(EVENT.c.title, EVENT.c.status, EVENT.c.starts_at)
                          .where(EVENT.c.id == event_id)).first()
    if row is None:
        return EventUnavailable("That event", "no longer exists")
    if row.status == "cancelled":
        return EventUnavailable(row.title, "has been cancelled")
    starts_at = row.starts_at if row.starts_at.tzinfo else row.starts_at.replace(tzinfo=UTC)
    if starts_at <= now:
        return EventUnavailable(row.title, "has already started")
    return EventFull(row.title)


def sign_up(
    *,
    session: Session,
    event_ids: Sequence[int],
    contact_id: int,
    campaign_id: int,
    volunteer_id: int | None,
    now: datetime,
    attempt_id: int | None = None,
    question_id: int | None = None,
) -> SignupResult:
    """Book the contact a place at each event, all or none (inside the caller's transaction).

    A place they already hold is kept, not taken twice.

    Raises:
        EventFull: an event has no places left (the caller's transaction must roll back).
        EventUnavailable: an event is cancelled, started, gone, or not offered by the campaign.
    """
    made: list[int] = []
    already: list[int] = []
    for event_id in dict.fromkeys(int(e) for e in event_ids):
        offered = session.execute(
            sa.select(EventCampaign.event_id)  # type: ignore[call-overload]
            .where(EventCampaign.event_id == event_id, EventCampaign.campaign_id == campaign_id)
        ).first()
        if offered is None:
            title = session.execute(sa.select(EVENT.c.title).where(EVENT.c.id == event_id)
                                    ).scalar()
            raise EventUnavailable(title or "That event", "is not offered by this campaign")
        existing = session.execute(
            sa.select(SIGNUP.c.id, SIGNUP.c.status)
            .where(SIGNUP.c.event_id == event_id, SIGNUP.c.contact_id == contact_id)
        ).first()
        if existing is not None and existing.status == SignupStatus.BOOKED:
            already.append(event_id)
            continue
        if not _take_place(session, event_id, now):
            raise _refusal(session, event_id, now)
        values = {
            "campaign_id": campaign_id, "attempt_id": attempt_id, "question_id": question_id,
            "volunteer_id": volunteer_id, "status": SignupStatus.BOOKED, "created_at": now,
            "cancelled_at": None, "confirmed_at": None, "confirmed_via": "",
            "reminded_at": None, "attended_at": None, "walk_in": False,
        }
        if existing is not None:  # booked again after saying no: a fresh booking
            session.execute(sa.update(SIGNUP).where(SIGNUP.c.id == existing.id).values(**values))
            made.append(int(existing.id))
        else:
            new_id = session.execute(
                sa.insert(SIGNUP).values(event_id=event_id, contact_id=contact_id, **values)
                .returning(SIGNUP.c.id)).scalar_one()
            made.append(int(new_id))
    return SignupResult(signup_ids=tuple(made), already=tuple(already))


def release_signup(*, session: Session, signup_id: int, status: SignupStatus,
                   actor_id: int | None = None, now: datetime | None = None) -> bool:
    """Give a booked place back (declined by text, withdrawn by an organiser).

    True when the place was booked and is now free; False if it was not booked any more.
    """
    now = now or datetime.now(UTC)
    row = session.execute(sa.select(SIGNUP.c.event_id).where(SIGNUP.c.id == signup_id)).first()
    if row is None:
        return False
    # Guarded on the status, so a reply and an organiser's click free the place once.
    result = session.execute(
        sa.update(SIGNUP).where(SIGNUP.c.id == signup_id, SIGNUP.c.status == SignupStatus.BOOKED)
        .values(status=status, cancelled_at=now))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if not _is_walk_in(session, signup_id):
        _give_back_place(session, int(row.event_id))
    record_event(session=session, action=f"event_signup_{status}", actor_id=actor_id,
                 target=f"signup:{signup_id}")
    return True


def _is_walk_in(session: Session, signup_id: int) -> bool:
    return bool(session.execute(sa.select(SIGNUP.c.walk_in).where(SIGNUP.c.id == signup_id)
                                ).scalar())


def erase_contact_signups(*, session: Session, contact_id: int, phones: Sequence[str]) -> int:
    """Delete a person's sign-ups and attendance (right to erasure), freeing booked places.

    Walk-ins are matched by the numbers they gave at the door.
    """
    rows = session.execute(
        sa.select(SIGNUP.c.id, SIGNUP.c.event_id, SIGNUP.c.status, SIGNUP.c.walk_in)
        .where(sa.or_(SIGNUP.c.contact_id == contact_id,
                      sa.and_(SIGNUP.c.walk_in.is_(True), SIGNUP.c.phone.in_(list(phones)))
                      if phones else sa.false()))
    ).all()
    for row in rows:
        if row.status == SignupStatus.BOOKED and not row.walk_in:
            _give_back_place(session, int(row.event_id))
    if rows:
        session.execute(sa.delete(SIGNUP).where(SIGNUP.c.id.in_([r.id for r in rows])))
    return len(rows)


# --------------------------------------------------------------------------------------------
# On the day: check-in
# --------------------------------------------------------------------------------------------


def may_check_in(*, session: Session, event_id: int, user_id: int) -> bool:
    """Organisers, and the volunteers an organiser chose for this event."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return False
    if user.role == "organiser":
        return True
    return session.get(EventHelper, (event_id, user_id)) is not None


def check_in_events(*, session: Session, user_id: int, now: datetime | None = None,
                    days: int = 1) -> list[EventView]:
    """Events this user may check people in for: ended within the last day, or starting
    today or up to `days` calendar days ahead on the event's own clock (so on Friday morning
    Saturday's 10:00 canvass is there, though it is more than 24 hours off)."""
    now = now or datetime.now(UTC)
    user = session.get(User, user_id)
    if user is None:
        return []
    # A day's slack either side of the widest zone offsets; the exact day is checked below.
    query = (select(Event).where(Event.status == "scheduled",
                                 col(Event.ends_at) > now - timedelta(days=1),
                                 col(Event.starts_at) < now + timedelta(days=days + 2))
             .order_by(col(Event.starts_at), col(Event.id)))
    if user.role != "organiser":
        query = query.join(EventHelper, col(EventHelper.event_id) == col(Event.id)).where(
            EventHelper.user_id == user_id)
    views = _views(session, list(session.exec(query)))
    return [view for view in views
            if view.local_start().date()
            <= now.astimezone(zone(view.timezone)).date() + timedelta(days=days)]


def runs_a_check_in(*, session: Session, user_id: int, now: datetime | None = None) -> bool:
    """True when the user has an event's check-in to run today or tomorrow."""
    return bool(check_in_events(session=session, user_id=user_id, now=now))


def _require_check_in(session: Session, event_id: int, user_id: int) -> None:
    if not may_check_in(session=session, event_id=event_id, user_id=user_id):
        raise CheckInNotAllowed()


def check_in_list(*, session: Session, event_id: int, user_id: int,
                  with_numbers: bool = False) -> list[CheckInRow]:
    """Who is booked and who came, by name; numbers only when asked for, and that is audited.

    Raises:
        CheckInNotAllowed: the user is not an organiser or one of the event's helpers.
    """
    _require_check_in(session, event_id, user_id)
    rows = session.execute(
        sa.select(SIGNUP.c.id, SIGNUP.c.name, SIGNUP.c.phone, SIGNUP.c.walk_in,
                  SIGNUP.c.attended_at, CONTACT.c.first_name, CONTACT.c.last_name,
                  CONTACT.c.phone.label("contact_phone"))
        .select_from(SIGNUP.outerjoin(CONTACT, CONTACT.c.id == SIGNUP.c.contact_id))
        .where(SIGNUP.c.event_id == event_id,
               sa.or_(SIGNUP.c.status == SignupStatus.BOOKED, SIGNUP.c.walk_in.is_(True)))
    ).all()
    result = []
    for r in rows:
        name = r.name or f"{r.first_name or ''} {r.last_name or ''}".strip() or "(no name)"
        phone = r.contact_phone or r.phone or ""
        result.append(CheckInRow(
            signup_id=int(r.id), name=name, attended=r.attended_at is not None,
            walk_in=bool(r.walk_in),
            phone=display_phone(phone) if with_numbers and phone else ""))
    result.sort(key=lambda row: (row.name.casefold(), row.signup_id))
    if with_numbers:
        record_event(session=session, action="checkin_numbers_shown", actor_id=user_id,
                     target=f"event:{event_id}", details={"people": len(result)})
    return result


def mark_attended(*, session: Session, signup_id: int, attended: bool, user_id: int,
                  now: datetime | None = None) -> None:
    """Tick (or untick) someone on the check-in list.

    Raises:
        CheckInNotAllowed: see check_in_list.
        EventNotFound: the sign-up is gone.
    """
    event_id = session.execute(sa.select(SIGNUP.c.event_id).where(SIGNUP.c.id == signup_id)
                               ).scalar()
    if event_id is None:
        raise EventNotFound()
    _require_check_in(session, int(event_id), user_id)
    session.execute(sa.update(SIGNUP).where(SIGNUP.c.id == signup_id).values(
        attended_at=(now or datetime.now(UTC)) if attended else None,
        checked_in_by_id=user_id if attended else None))


def add_walk_in(*, session: Session, event_id: int, name: str, phone: str = "",
                user_id: int, region: str = "GB", now: datetime | None = None) -> int:
    """Someone came who was not booked: add them, ticked. Walk-ins take no booked place.

    A number that belongs to a contact links the walk-in to them (and to their no-show, if
    they were booked: they are ticked instead).

    Raises:
        CheckInNotAllowed: see check_in_list.
        EventError: no name, or a number that is not a phone number.
    """
    _require_check_in(session, event_id, user_id)
    now = now or datetime.now(UTC)
    name = " ".join(name.split())
    if not name:
        raise EventError("name", "Write the walk-in's name.")
    e164 = ""
    if phone.strip():
        try:
            e164 = normalise_phone(phone, region=region).e164
        except InvalidPhone as exc:
            raise EventError("phone", f"{phone.strip()!r} is not a phone number: {exc}") from None
    contact_id = None
    if e164:
        contact_id = session.exec(select(Contact.id).where(Contact.phone == e164)).first()
    if contact_id is not None:
        existing = session.execute(sa.select(SIGNUP.c.id).where(
            SIGNUP.c.event_id == event_id, SIGNUP.c.contact_id == contact_id)).scalar()
        if existing is not None:
            session.execute(sa.update(SIGNUP).where(SIGNUP.c.id == existing).values(
                attended_at=now, checked_in_by_id=user_id))
            return int(existing)
    new_id = session.execute(sa.insert(SIGNUP).values(
        event_id=event_id, contact_id=contact_id, status=SignupStatus.BOOKED, walk_in=True,
        name=name[:200], phone=e164, volunteer_id=user_id, attended_at=now,
        checked_in_by_id=user_id, created_at=now, confirmed_via="",
    ).returning(SIGNUP.c.id)).scalar_one()
    return int(new_id)
