"""Event files for organisers: an event's roster, and the texts to send by hand.

The same rules as every export (core/exports.py): organisers only, audited with the row count,
spreadsheet formulas neutralised, read outside the write transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from core.event_texts import PURPOSE_LABELS, texts_to_send_by_hand
from core.events import get_event
from core.exports import (
    FORMATS,
    ExportNotAllowed,
    ExportResult,
    UnknownExport,
    filename_for,
    record_export,
    write_csv,
    write_xlsx,
)
from core.users import UserView
from db.engine import Database
from db.tables import CAMPAIGN, CONTACT, SIGNUP, USER

EVENT_EXPORT_KINDS = {
    "event_roster": "Who is booked on this event (names, numbers, who came)",
    "event_texts": "Event texts to send by hand (confirmations, reminders, cancellations)",
}


def _roster(session: Session, event_id: int) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    header = ["signup_id", "first_name", "last_name", "phone", "email", "status", "walk_in",
              "booked_at", "confirmed_at", "confirmed_via", "came", "booked_by", "campaign"]
    rows = session.execute(
        sa.select(SIGNUP.c.id, CONTACT.c.first_name, CONTACT.c.last_name, CONTACT.c.phone,
                  CONTACT.c.email, SIGNUP.c.name, SIGNUP.c.phone.label("walk_in_phone"),
                  SIGNUP.c.status, SIGNUP.c.walk_in, SIGNUP.c.created_at,
                  SIGNUP.c.confirmed_at, SIGNUP.c.confirmed_via, SIGNUP.c.attended_at,
                  USER.c.name.label("volunteer"), CAMPAIGN.c.name.label("campaign"))
        .select_from(SIGNUP.outerjoin(CONTACT, CONTACT.c.id == SIGNUP.c.contact_id)
                     .outerjoin(USER, USER.c.id == SIGNUP.c.volunteer_id)
                     .outerjoin(CAMPAIGN, CAMPAIGN.c.id == SIGNUP.c.campaign_id))
        .where(SIGNUP.c.event_id == event_id)
        .order_by(CONTACT.c.last_name, CONTACT.c.first_name, SIGNUP.c.id)
    ).all()

    def lines() -> Iterator[tuple[Any, ...]]:
        for r in rows:
            first, last = r.first_name or "", r.last_name or ""
            if not (first or last) and r.name:
                first, _, last = r.name.partition(" ")
            phone = r.phone or r.walk_in_phone or ""
            yield (r.id, first, last, phone, r.email or "",
                   r.status, r.walk_in, r.created_at, r.confirmed_at, r.confirmed_via,
                   r.attended_at is not None, r.volunteer or "", r.campaign or "")

    return header, lines()


def _texts(session: Session, now: datetime, public_url: str
           ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    header = ["kind", "first_name", "last_name", "phone", "email", "event", "message"]
    texts = texts_to_send_by_hand(session=session, now=now, public_url=public_url)
    return header, ((PURPOSE_LABELS[t.purpose], t.first_name, t.last_name, t.to,
                     t.email, t.event_title, t.body) for t in texts)


def run_event_export(*, database: Database, kind: str, fmt: str, out: IO[bytes],
                     actor: UserView, event_id: int | None = None, public_url: str = "",
                     timezone: str = "Europe/London", now: datetime | None = None
                     ) -> ExportResult:
    """Write an event export to `out`, then audit it.

    Raises:
        ExportNotAllowed: actor is not an organiser.
        UnknownExport: no such kind or format, or a roster without an event.
        core.events.EventNotFound: no such event.
    """
    if not actor.is_organiser:
        raise ExportNotAllowed(actor.id)
    if kind not in EVENT_EXPORT_KINDS or fmt not in FORMATS or (
            kind == "event_roster" and event_id is None):
        raise UnknownExport(f"{kind}.{fmt}")
    now = now or datetime.now(UTC)
    with database.session() as session:
        scope = None
        if kind == "event_roster":
            assert event_id is not None
            scope = get_event(session=session, event_id=event_id).title
            header, rows = _roster(session, event_id)
        else:
            header, rows = _texts(session, now, public_url)
        writer = write_csv if fmt == "csv" else write_xlsx
        count = writer(header, rows, out, timezone=timezone)
    result = ExportResult(kind=kind, fmt=fmt, rows=count, mime=FORMATS[fmt],
                          filename=filename_for(kind, fmt, scope,
                                                now.astimezone(ZoneInfo(timezone))))
    with database.write() as session:
        record_export(session=session, result=result, actor=actor, campaign_id=None)
    return result
