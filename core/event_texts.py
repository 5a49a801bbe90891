"""Telling people about their place: confirmation after the call, a reminder the day before,
word of a cancellation, the calendar file, and replies of NO.

Every event text obeys the follow-up's rules (core/sms.py): never to a do-not-call number, only
inside the recruiting campaign's calling window, and every one recorded (SmsMessage, with its
purpose and sign-up). Each text is claimed before it is sent, by a guarded UPDATE on the sign-up
(`confirmed_at IS NULL`, `reminded_at IS NULL`, ...), so two app servers running the reminder
job at once never text anyone twice; a failed send gives the claim back for a confirmation (it
then shows in the organiser's list to send by hand) and is recorded.

Without a texting provider the organiser gets the same messages as a list (core/exports.py,
"Event texts to send") and marks them sent; the funnel then counts those confirmations too.

The Twilio request sits between transactions (Database, not Session), so no lock is held while
the network is slow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core import calling_hours
from core.config import Settings
from core.dialing import (
    Dialer,
    DialerError,
    SmsRecipientOptedOut,
    TextingMode,
    campaign_texting_mode,
    sms_dialer,
)
from core.events import EventView, SignupStatus, get_event, release_signup
from core.phones import mask_phone
from core.suppression import add_suppression
from db.engine import Database
from db.models import Campaign
from db.tables import CAMPAIGN, CONTACT, EVENT, MESSAGE, SIGNUP, SUPPRESSION

log = logging.getLogger(__name__)


# The day before, from 10:00 in the event's zone (or when the campaign's calling window next
# opens after that): late enough not to wake anyone, early enough to rearrange the day.
REMINDER_AT = time(10, 0)
# A reply that gives the place back: the whole message is one of these.
DECLINE_WORDS = frozenset({"NO", "CANT", "CAN'T", "CANNOT", "CAN NOT", "NOT COMING"})
_TRAILING = " \t\r\n.!?,;:"


class TextPurpose(StrEnum):
    """SmsMessage.purpose for event texts (and the sign-up column each one is claimed on)."""

    CONFIRM = "event_confirm"
    REMIND = "event_remind"
    CANCEL = "event_cancel"


CLAIM_COLUMN = {
    TextPurpose.CONFIRM: "confirmed_at",
    TextPurpose.REMIND: "reminded_at",
    TextPurpose.CANCEL: "told_cancelled_at",
}
PURPOSE_LABELS = {
    TextPurpose.CONFIRM: "Confirmation",
    TextPurpose.REMIND: "Reminder",
    TextPurpose.CANCEL: "Cancellation",
}


@dataclass(frozen=True)
class EventText:
    """One text ready to go: who to (holds the number: use it at once, never keep it in a page)."""

    signup_id: int
    purpose: TextPurpose
    campaign_id: int
    contact_id: int
    first_name: str
    last_name: str
    email: str
    to: str
    body: str
    event_title: str


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # claimed elsewhere meanwhile, or no longer due

    def describe(self) -> str:
        parts = [f"{self.sent} text{'s' if self.sent != 1 else ''} sent"]
        if self.failed:
            parts.append(f"{self.failed} failed (they are on the list to send by hand)")
        return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Pure: when, what, and the calendar file
# --------------------------------------------------------------------------------------------


def reminder_due_at(starts_at: datetime, timezone: str, window: dict[str, list[str]]
                    ) -> datetime | None:
    """When the day-before reminder goes (aware UTC), or None if no sending time comes first.

    10:00 on the day before, on the wall clock of the event's zone (so a clock change between
    the reminder and the event moves nothing), moved to the campaign's next opening if its
    calling window is shut then.
    """
    tz = calling_hours.zone(timezone)
    day_before = starts_at.astimezone(tz).date() - timedelta(days=1)
    candidate = datetime.combine(day_before, REMINDER_AT, tzinfo=tz).astimezone(UTC)
    due = calling_hours.next_opening(window, tz, candidate)
    if due is None or due >= starts_at:
        return None
    return due


def ics_link(public_url: str, token: str) -> str:
    """The calendar file's address, or "" when the server has no public address to give."""
    return f"{public_url.rstrip('/')}/events/{token}.ics" if public_url else ""


def _ics_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """RFC 5545 folding: lines of at most 75 octets, continued after CRLF and a space."""
    out: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics_calendar(event: EventView, *, now: datetime | None = None) -> str:
    """The event as an iCalendar file (times in UTC, so no VTIMEZONE is needed)."""
    now = now or datetime.now(UTC)
    description = event.description
    if event.online_url:
        description = f"{description}\n\nJoin online: {event.online_url}".strip()
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Ringround//Events//EN",
        "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "BEGIN:VEVENT",
        f"UID:ringround-event-{event.id}-{event.ics_token}",
        f"DTSTAMP:{_utc(now)}", f"DTSTART:{_utc(event.starts_at)}",
        f"DTEND:{_utc(event.ends_at)}", f"SUMMARY:{_ics_text(event.title)}",
        f"LOCATION:{_ics_text(event.place or event.online_url or '')}",
        f"DESCRIPTION:{_ics_text(description)}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
    ]
    if event.online_url:
        lines.append(f"URL:{event.online_url}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def _where(event: EventView) -> str:
    if event.place and event.online_url:
        return f"{event.place} (or online: {event.online_url})"
    return event.place or event.online_url or "the place we will text you"


def text_body(purpose: TextPurpose, event: EventView, *, first_name: str, link: str) -> str:
    """What each text says: the time, the place, the calendar link, and how to reply."""
    hello = f"Hi {first_name}! " if first_name else "Hi! "
    if purpose == TextPurpose.CONFIRM:
        calendar = f" Add it to your calendar: {link}" if link else ""
        return (f"{hello}You're booked for {event.title}, {event.when()}, at {_where(event)}."
                f"{calendar} Reply NO if you can't make it, or STOP for no more texts.")
    if purpose == TextPurpose.REMIND:
        return (f"{hello}A reminder: {event.title}, {event.when()}, at {_where(event)}. "
                "See you there! Reply NO if you can no longer come.")
    return (f"{hello}Sorry: {event.title} on {event.when()} has been cancelled. Thank you for "
            "signing up; we will be in touch about the next one.")


def is_decline_reply(body: str) -> bool:
    """NO, no, "Can't.", "cant": the whole message gives the place back."""
    words = " ".join((body or "").strip(_TRAILING).replace("’", "'").upper().split())
    return words in DECLINE_WORDS


# --------------------------------------------------------------------------------------------
# Which texts are due
# --------------------------------------------------------------------------------------------


def _candidates(session: Session, purpose: TextPurpose, *,
                signup_ids: Sequence[int] | None) -> list[Any]:
    claim = SIGNUP.c[CLAIM_COLUMN[purpose]]
    status = (SignupStatus.EVENT_CANCELLED if purpose == TextPurpose.CANCEL
              else SignupStatus.BOOKED)
    query = (
        sa.select(SIGNUP.c.id, SIGNUP.c.event_id, SIGNUP.c.campaign_id, SIGNUP.c.contact_id,
                  SIGNUP.c.created_at, CONTACT.c.first_name, CONTACT.c.last_name,
                  CONTACT.c.email, CONTACT.c.phone, CAMPAIGN.c.calling_window,
                  CAMPAIGN.c.timezone.label("campaign_timezone"))
        .select_from(SIGNUP.join(CONTACT, CONTACT.c.id == SIGNUP.c.contact_id)
                     .join(CAMPAIGN, CAMPAIGN.c.id == SIGNUP.c.campaign_id))
        # Never to a do-not-call number, whatever list or job asks.
        .outerjoin(SUPPRESSION, SUPPRESSION.c.phone == CONTACT.c.phone)
        .where(SIGNUP.c.status == status, claim.is_(None), SIGNUP.c.walk_in.is_(False),
               SUPPRESSION.c.id.is_(None))
        .order_by(SIGNUP.c.id)
    )
    if signup_ids is not None:
        query = query.where(SIGNUP.c.id.in_(list(signup_ids)))
    return list(session.execute(query).all())


def due_texts(*, session: Session, purpose: TextPurpose, now: datetime,
              public_url: str = "", signup_ids: Sequence[int] | None = None,
              in_window_only: bool = True) -> list[EventText]:
    """The texts of this purpose that should go now (or, for the organiser's list, that are
    owed: in_window_only=False ignores the calling window)."""
    rows = _candidates(session, purpose, signup_ids=signup_ids)
    events: dict[int, EventView] = {}
    texts: list[EventText] = []
    for row in rows:
        if row.event_id not in events:
            events[row.event_id] = get_event(session=session, event_id=row.event_id)
        event = events[row.event_id]
        if purpose != TextPurpose.CANCEL and (event.cancelled or event.starts_at <= now):
            continue
        if purpose == TextPurpose.REMIND:
            due = reminder_due_at(event.starts_at, event.timezone, row.calling_window)
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(
                tzinfo=UTC)
            # Booked after the reminder's time: the confirmation was the reminder.
            if due is None or due > now or created >= due:
                continue
        if in_window_only and not calling_hours.is_open(row.calling_window,
                                                        row.campaign_timezone, now):
            continue
        texts.append(EventText(
            signup_id=int(row.id), purpose=purpose, campaign_id=int(row.campaign_id),
            contact_id=int(row.contact_id), first_name=row.first_name or "",
            last_name=row.last_name or "", email=row.email or "", to=row.phone,
            event_title=event.title,
            body=text_body(purpose, event, first_name=row.first_name or "",
                           link=ics_link(public_url, event.ics_token)),
        ))
    return texts


def texts_to_send_by_hand(*, session: Session, now: datetime, public_url: str = ""
                          ) -> list[EventText]:
    """Everything owed, for an organiser without a texting provider: confirmations, reminders
    that are due, and cancellations."""
    return [text for purpose in TextPurpose
            for text in due_texts(session=session, purpose=purpose, now=now,
                                  public_url=public_url, in_window_only=False)]


def mark_sent_by_hand(*, session: Session, texts: Sequence[EventText], actor_id: int | None,
                      now: datetime) -> int:
    """The organiser sent these themselves: claim them as done (confirmations via "manual")."""
    done = 0
    for text in texts:
        values: dict[str, Any] = {CLAIM_COLUMN[text.purpose]: now}
        if text.purpose == TextPurpose.CONFIRM:
            values["confirmed_via"] = "manual"
        done += _claim(session, text, values)
    from core.audit import record_event

    record_event(session=session, action="event_texts_sent_by_hand", actor_id=actor_id,
                 details={"texts": done})
    return done


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


def _claim(session: Session, text: EventText, values: dict[str, Any]) -> int:
    column = SIGNUP.c[CLAIM_COLUMN[text.purpose]]
    result = session.execute(sa.update(SIGNUP).where(SIGNUP.c.id == text.signup_id,
                                                      column.is_(None)).values(**values))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _record(session: Session, text: EventText, *, status: str, provider_id: str | None = None,
            error: str = "") -> None:
    session.execute(sa.insert(MESSAGE).values(
        campaign_id=text.campaign_id, contact_id=text.contact_id, direction="out", phone=text.to,
        body=text.body[:1600], provider_id=provider_id, status=status[:32], error=error[:500],
        purpose=str(text.purpose), event_signup_id=text.signup_id,
        created_at=datetime.now(UTC)))


def send_texts(*, database: Database, dialer: Dialer, sender: str,
               texts: Sequence[EventText], now: datetime) -> SendReport:
    """Claim, send and record each text; a failure is recorded and (for a confirmation) handed
    back to the organiser's list."""
    sent = failed = skipped = 0
    for text in texts:
        values: dict[str, Any] = {CLAIM_COLUMN[text.purpose]: now}
        if text.purpose == TextPurpose.CONFIRM:
            values["confirmed_via"] = "sms"
        with database.write() as session:
            if not _claim(session, text, values):
                skipped += 1
                continue
        try:
            receipt = dialer.send_sms(text.to, sender, text.body)
        except DialerError as exc:
            failed += 1
            with database.write() as session:
                _record(session, text, status="failed", error=str(exc))
                if text.purpose == TextPurpose.CONFIRM:
                    session.execute(sa.update(SIGNUP).where(SIGNUP.c.id == text.signup_id)
                                    .values(confirmed_at=None, confirmed_via=""))
                if isinstance(exc, SmsRecipientOptedOut):
                    add_suppression(session=session, phone=text.to, source="sms_stop",
                                    reason="Replied STOP to the campaign number (reported by "
                                           "Twilio)")
            log.warning("event text to %s failed: %s", mask_phone(text.to), type(exc).__name__)
            continue
        with database.write() as session:
            _record(session, text, status=receipt.status, provider_id=receipt.provider_id)
        sent += 1
    return SendReport(sent=sent, failed=failed, skipped=skipped)


def send_due_texts(*, database: Database, dialer: Dialer, sender: str, now: datetime,
                   public_url: str = "", signup_ids: Sequence[int] | None = None,
                   purposes: Sequence[TextPurpose] = tuple(TextPurpose)) -> SendReport:
    """Send every due text of these purposes (the scheduled job; and after a call, its own
    confirmations with signup_ids)."""
    total = SendReport()
    for purpose in purposes:
        with database.session() as session:
            texts = due_texts(session=session, purpose=purpose, now=now,
                              public_url=public_url, signup_ids=signup_ids)
        report = send_texts(database=database, dialer=dialer, sender=sender, texts=texts,
                            now=now)
        total = SendReport(total.sent + report.sent, total.failed + report.failed,
                           total.skipped + report.skipped)
    return total


def deliver_due_texts(*, database: Database, settings: Settings, now: datetime | None = None,
                      signup_ids: Sequence[int] | None = None,
                      purposes: Sequence[TextPurpose] = tuple(TextPurpose)) -> SendReport:
    """Send what is due, each campaign's texts from its own number and provider; texts for a
    campaign that cannot text stay owed, for the organiser's list.

    The scheduled job (pages/_ui.housekeeping, `manage.py send-event-texts`) calls this with no
    signup_ids; the calling page calls it with the sign-ups a save just made.
    """
    now = now or datetime.now(UTC)
    total = SendReport()
    for purpose in purposes:
        with database.session() as session:
            texts = due_texts(session=session, purpose=purpose, now=now,
                              public_url=settings.public_url, signup_ids=signup_ids)
            by_campaign: dict[int, list[EventText]] = {}
            for text in texts:
                by_campaign.setdefault(text.campaign_id, []).append(text)
            modes = {cid: (campaign_texting_mode(session=session, campaign_id=cid,
                                                 settings=settings),
                           session.get(Campaign, cid))
                     for cid in by_campaign}
        for cid, campaign_texts in by_campaign.items():
            mode, campaign = modes[cid]
            if not mode.can_text or campaign is None:
                continue
            report = send_texts(database=database, dialer=sms_dialer(settings, campaign.dialer),
                                sender=mode.sender, texts=campaign_texts, now=now)
            total = SendReport(total.sent + report.sent, total.failed + report.failed,
                               total.skipped + report.skipped)
    return total


def can_text(*, session: Session, campaign_id: int, settings: Settings) -> TextingMode:
    """Whether this campaign's event texts go by themselves, or why the organiser sends them."""
    return campaign_texting_mode(session=session, campaign_id=campaign_id, settings=settings)


# --------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclineResult:
    signup_id: int
    event_title: str

    @property
    def reply(self) -> str:
        return (f"Thanks for letting us know. We've freed your place at {self.event_title}; "
                "we hope to see you at another.")


def decline_by_reply(*, session: Session, contact_id: int, now: datetime
                     ) -> DeclineResult | None:
    """A NO reply gives back the place their latest event text was about (if still booked)."""
    latest = session.execute(
        sa.select(MESSAGE.c.event_signup_id)
        .where(MESSAGE.c.contact_id == contact_id, MESSAGE.c.direction == "out",
               MESSAGE.c.event_signup_id.is_not(None),
               MESSAGE.c.purpose.in_([TextPurpose.CONFIRM, TextPurpose.REMIND]))
        .order_by(MESSAGE.c.id.desc()).limit(1)
    ).scalar()
    if latest is None:
        return None
    if not release_signup(session=session, signup_id=int(latest),
                          status=SignupStatus.DECLINED, now=now):
        return None
    title = session.execute(
        sa.select(EVENT.c.title).select_from(SIGNUP.join(EVENT, EVENT.c.id == SIGNUP.c.event_id))
        .where(SIGNUP.c.id == latest)).scalar_one()
    return DeclineResult(signup_id=int(latest), event_title=str(title))


def recent_declines(*, session: Session, limit: int = 20, since: datetime | None = None
                    ) -> list[dict[str, Any]]:
    """Places given back by a reply (since a moment, if given), newest first, for the
    organiser."""
    query = (
        sa.select(SIGNUP.c.cancelled_at, CONTACT.c.first_name, CONTACT.c.last_name,
                  EVENT.c.title)
        .select_from(SIGNUP.join(EVENT, EVENT.c.id == SIGNUP.c.event_id)
                     .join(CONTACT, CONTACT.c.id == SIGNUP.c.contact_id))
        .where(SIGNUP.c.status == SignupStatus.DECLINED)
        .order_by(SIGNUP.c.cancelled_at.desc()).limit(limit)
    )
    if since is not None:
        query = query.where(SIGNUP.c.cancelled_at >= since)
    rows = session.execute(query).all()
    return [{"at": r.cancelled_at, "name": f"{r.first_name} {r.last_name}".strip(),
             "event": r.title} for r in rows]
