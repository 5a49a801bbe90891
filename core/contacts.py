"""Contacts for organisers: find, history, edit, erase on request, and note retention.

Data protection (UK GDPR):
- Erasure (art. 17) removes the contact, their survey answers, their SMS messages, their event
  sign-ups and attendance (walk-ins matched by number), what imports
  recorded about them, and the free-text notes volunteers wrote about their calls. The call
  attempts themselves stay, anonymised (no contact, no notes), so campaign totals do not change.
- A do-not-call entry is keyed by number, not by contact, and is kept: the right to object
  (art. 21, PECR) must outlive the erasure, or a re-import would have them called again.
- Notes are free text about a person; a retention period (Setting "notes_retention_months",
  off by default) blanks notes older than that many months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import rollups
from core.audit import record_event
from core.events import erase_contact_signups
from core.importing import normalise_postcode, normalise_tags, tag_list
from core.phones import InvalidPhone, display_phone, normalise_phone
from core.queue_areas import refresh_queue_areas
from core.suppression import add_suppression
from db.models import (
    AuditEvent,
    CallAttempt,
    CallingSession,
    Campaign,
    Contact,
    ImportChange,
    ImportRejection,
    QueueEntry,
    SessionCall,
    Setting,
    SmsMessage,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
)
from db.tables import CONTACT, table_of

NOTES_RETENTION_KEY = "notes_retention_months"
EDITABLE_TEXT = ("first_name", "last_name", "email", "postcode", "constituency", "ward",
                 "membership_number")
EDITABLE_FLAGS = ("tps", "consenting_member", "bad_number")


class ContactError(ValueError):
    """The change cannot be made; str() says why, for the organiser."""


@dataclass(frozen=True)
class ContactSummary:
    id: int
    name: str
    phone: str  # formatted for reading
    constituency: str
    ward: str
    suppressed: bool


@dataclass(frozen=True)
class ContactDetail:
    id: int
    phone: str  # E.164
    phone_display: str
    phone_type: str
    other_phones: list[str]
    first_name: str
    last_name: str
    email: str
    postcode: str
    constituency: str
    ward: str
    membership_number: str
    tags: list[str]
    tps: bool
    consenting_member: bool
    bad_number: bool
    custom: dict[str, Any] = field(default_factory=dict)
    suppressed: bool = False
    last_contacted_at: datetime | None = None
    created_at: datetime | None = None
    phone_note: str = ""  # the words an import read beside the number ("after 6pm")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or "(no name)"


def _suppressed_numbers(session: Session, numbers: list[str]) -> set[str]:
    if not numbers:
        return set()
    return set(session.exec(select(Suppression.phone).where(col(Suppression.phone).in_(numbers))))


def _detail(session: Session, contact: Contact) -> ContactDetail:
    assert contact.id is not None
    numbers = [contact.phone, *contact.other_phones]
    return ContactDetail(
        id=contact.id, phone=contact.phone, phone_display=display_phone(contact.phone),
        phone_type=contact.phone_type, other_phones=list(contact.other_phones),
        first_name=contact.first_name, last_name=contact.last_name, email=contact.email,
        postcode=contact.postcode, constituency=contact.constituency, ward=contact.ward,
        membership_number=contact.membership_number, tags=tag_list(contact.tags),
        tps=contact.tps, consenting_member=contact.consenting_member,
        bad_number=contact.bad_number, custom=dict(contact.custom),
        suppressed=bool(_suppressed_numbers(session, numbers)),
        last_contacted_at=contact.last_contacted_at, created_at=contact.created_at,
        phone_note=(contact.phone_notes or {}).get(contact.phone, ""),
    )


_PHONEISH = re.compile(r"^[\d\s+()\-.]+$")


def find_contacts(*, session: Session, query: str, limit: int = 50) -> list[ContactSummary]:
    """Contacts matching a name (each word a prefix of first or last name), an email, a
    membership number, or a phone number (in any format, or its last digits)."""
    text = query.strip()
    if not text:
        return []
    digits = re.sub(r"\D", "", text)
    statement = select(Contact)
    if _PHONEISH.match(text) and len(digits) >= 4:
        conditions = [col(Contact.phone).endswith(digits[-10:])]
        try:
            e164 = normalise_phone(text).e164
            conditions += [col(Contact.phone) == e164,
                           sa.cast(Contact.other_phones, sa.String).contains(f'"{e164}"')]
        except InvalidPhone:
            pass
        conditions.append(col(Contact.membership_number) == text)
        statement = statement.where(sa.or_(*conditions))
    else:
        lowered = text.lower()
        words = [w for w in re.split(r"\s+", lowered) if w]
        name_match = sa.and_(*(
            sa.or_(sa.func.lower(Contact.first_name).startswith(w, autoescape=True),
                   sa.func.lower(Contact.last_name).startswith(w, autoescape=True))
            for w in words
        ))
        statement = statement.where(sa.or_(
            name_match, sa.func.lower(Contact.email) == lowered,
            col(Contact.membership_number) == text,
        ))
    contacts = session.exec(
        statement.order_by(col(Contact.last_name), col(Contact.first_name), col(Contact.id))
        .limit(limit)
    ).all()
    blocked = _suppressed_numbers(session, [c.phone for c in contacts])
    return [
        ContactSummary(
            id=c.id or 0, name=f"{c.first_name} {c.last_name}".strip() or "(no name)",
            phone=display_phone(c.phone), constituency=c.constituency, ward=c.ward,
            suppressed=c.phone in blocked,
        )
        for c in contacts
    ]


def get_contact(*, session: Session, contact_id: int) -> ContactDetail | None:
    contact = session.get(Contact, contact_id)
    return _detail(session, contact) if contact else None


def contact_history(*, session: Session, contact_id: int) -> dict[str, list[dict[str, Any]]]:
    """Calls (with answers and notes), queue places and text messages, newest first."""
    attempts = session.execute(
        sa.select(col(CallAttempt.id), col(CallAttempt.started_at), col(Campaign.name),
                  col(CallAttempt.outcome_code),
                  col(User.name).label("volunteer"), col(CallAttempt.notes),
                  col(CallAttempt.duration_seconds))
        .join(Campaign, col(Campaign.id) == CallAttempt.campaign_id)
        .outerjoin(User, col(User.id) == CallAttempt.volunteer_id)
        .where(col(CallAttempt.contact_id) == contact_id)
        .order_by(col(CallAttempt.started_at).desc())
    ).all()
    answers: dict[int, list[str]] = {}
    for attempt_id, question, value in session.execute(
        sa.select(col(SurveyAnswer.attempt_id), col(SurveyQuestion.text), col(SurveyAnswer.value))
        .join(SurveyQuestion, col(SurveyQuestion.id) == SurveyAnswer.question_id)
        .where(col(SurveyAnswer.contact_id) == contact_id)
        .order_by(col(SurveyAnswer.id))
    ):
        answers.setdefault(attempt_id, []).append(f"{question}: {value}")
    calls = [
        {"when": a.started_at, "campaign": a.name, "outcome": a.outcome_code,
         "volunteer": a.volunteer or "", "seconds": a.duration_seconds, "notes": a.notes,
         "answers": "; ".join(answers.get(a.id, []))}
        for a in attempts
    ]
    queues = [
        {"campaign": name, "status": status, "attempts": tries, "last_outcome": last or ""}
        for name, status, tries, last in session.execute(
            sa.select(col(Campaign.name), col(QueueEntry.status), col(QueueEntry.attempts),
                      col(QueueEntry.last_outcome))
            .join(Campaign, col(Campaign.id) == QueueEntry.campaign_id)
            .where(col(QueueEntry.contact_id) == contact_id).order_by(col(Campaign.name))
        )
    ]
    messages = [
        {"when": m.created_at, "direction": m.direction, "body": m.body, "status": m.status}
        for m in session.exec(
            select(SmsMessage).where(SmsMessage.contact_id == contact_id)
            .order_by(col(SmsMessage.created_at).desc())
        )
    ]
    return {"calls": calls, "queues": queues, "messages": messages}


def update_contact(
    *, session: Session, contact_id: int, changes: dict[str, Any], region: str = "GB"
) -> ContactDetail:
    """Edit a contact's details.

    Raises:
        ContactError: no such contact, an unknown field, an invalid or already-used number.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ContactError("no such contact")
    area = (contact.constituency, contact.ward)
    for key, value in changes.items():
        if key in EDITABLE_TEXT:
            text = str(value or "").strip()
            if key == "postcode":
                text = normalise_postcode(text)
            limit = getattr(CONTACT.c[key].type, "length", None)
            if limit and len(text) > limit:
                raise ContactError(f"{key.replace('_', ' ')} is longer than {limit} characters")
            setattr(contact, key, text)
        elif key in EDITABLE_FLAGS:
            setattr(contact, key, bool(value))
        elif key == "tags":
            contact.tags = normalise_tags(value if isinstance(value, list) else str(value or ""))
        elif key == "custom":
            contact.custom = {str(k): str(v) for k, v in dict(value or {}).items()}
        elif key == "phone":
            try:
                phone = normalise_phone(str(value or ""), region=region)
            except InvalidPhone as exc:
                raise ContactError(f"phone: {exc}") from None
            if phone.e164 != contact.phone:
                taken = session.exec(select(Contact.id).where(Contact.phone == phone.e164)).first()
                if taken is not None:
                    raise ContactError("another contact already has that number")
                others = [n for n in contact.other_phones if n != phone.e164]
                contact.other_phones = [contact.phone, *others]
                contact.phone, contact.phone_type = phone.e164, phone.kind
        else:
            raise ContactError(f"{key} cannot be edited here")
    contact.updated_at = datetime.now(UTC)
    session.add(contact)
    session.flush()
    if (contact.constituency, contact.ward) != area:
        refresh_queue_areas(session=session, contact_ids=[contact_id])
    return _detail(session, contact)


def reveal_numbers(
    *, session: Session, contact_ids: list[int], actor_id: int | None, where: str
) -> dict[int, str]:
    """Contacts' numbers, for display, each reveal audited (as on the calling card).

    Organisers' screens show a number only when asked: who saw which contact's number, from
    which screen, is in the audit trail, and never the number itself.
    """
    rows = session.execute(
        sa.select(col(Contact.id), col(Contact.phone)).where(col(Contact.id).in_(contact_ids))
    ).all()
    for contact_id, _ in rows:
        record_event(session=session, action="number_revealed", actor_id=actor_id,
                     target=f"contact:{contact_id}", details={"where": where})
    return {contact_id: display_phone(phone) for contact_id, phone in rows}


# Every table, and what erasing a contact does to what it holds about them. The erasure test
# (tests/db/test_erasure.py) holds the models' metadata to this list, so that a new table
# fails it until someone has decided how erasure covers it, and then checks every column of
# every table for the person's name and numbers after an erasure.
ERASURE_COVERAGE: dict[str, str] = {
    "contact": "erased: the row is deleted",
    "callattempt": "erased: notes blanked, the contact unlinked (counts stay anonymous)",
    "surveyanswer": "erased: deleted",
    "smsmessage": "erased: deleted, by contact and by any of their numbers",
    "importrejection": "erased: raw text blanked where it names them or holds their number",
    "importchange": "erased: deleted",
    "queueentry": "erased: deleted",
    "eventsignup": "erased: deleted, walk-ins matched by number (core.events)",
    "sessioncall": "erased: the contact unlinked by its foreign key",
    "callingsession": "erased: a notice naming them is blanked",
    "suppression": "kept on purpose: the do-not-call entry outlives the contact (art. 21)",
    "auditevent": "none: ids only, never a name or number (core/audit.py)",
    "callrollup": "none: counts per campaign and volunteer",
    "campaignrollup": "none: counts per campaign and outcome",
    "answertally": "erased: their answers are recounted out; free text is never kept there",
    "campaign": "none", "campaignmember": "none", "outcome": "none", "surveyquestion": "none",
    "event": "none", "eventcampaign": "none", "eventhelper": "none",
    "importbatch": "none: counts and the column mapping", "importwarning": "none: row numbers",
    "setting": "none",
    "savedsegment": "none: a name and filters (seats, tags), never a contact",
    "loginsession": "none about contacts (volunteers' own sign-ins)",
    "loginthrottle": "none about contacts (hashed usernames and addresses)",
    "user": "none about contacts (volunteers' own accounts)",
    "invite": "none", "passwordreset": "none", "phoneverification": "none about contacts",
    "recruitedvolunteer": "none about contacts",
}

_DIGITS = re.compile(r"\d")


def _holds_person(raw: dict[str, Any], contact: Contact, numbers: list[str]) -> bool:
    """Whether a rejected row's text is about this person: one of their numbers, or their
    email, membership number or full name (in one cell, or first and last name in two)."""
    cells = [str(value).strip() for value in raw.values() if str(value or "").strip()]
    folded = {cell.casefold() for cell in cells}
    for cell in cells:
        if len(_DIGITS.findall(cell)) >= 7:
            try:
                if normalise_phone(cell).e164 in numbers:
                    return True
            except InvalidPhone:
                pass
    identifiers = [contact.email, contact.membership_number,
                   f"{contact.first_name} {contact.last_name}".strip()]
    if any(value and value.casefold() in folded for value in identifiers):
        return True
    return bool(contact.first_name and contact.last_name
                and contact.first_name.casefold() in folded
                and contact.last_name.casefold() in folded)


def _blank_rejected_rows(session: Session, contact: Contact, numbers: list[str]) -> int:
    """Blank the kept text of rejected import rows about this person (row and reason stay)."""
    table = table_of(ImportRejection)
    rows = session.execute(
        sa.select(table.c.id, table.c.raw).where(sa.cast(table.c.raw, sa.Text) != "{}")
    ).all()
    ids = [row.id for row in rows if _holds_person(dict(row.raw or {}), contact, numbers)]
    if ids:
        session.execute(sa.update(table).where(table.c.id.in_(ids)).values(raw={}))
    return len(ids)


def _blank_session_notices(session: Session, contact: Contact) -> None:
    """A continuous-calling notice such as "Dialling Ann Smith…" names the person."""
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    if not name:
        return
    calling, calls = table_of(CallingSession), table_of(SessionCall)
    session.execute(
        sa.update(calling)
        .where(calling.c.id.in_(sa.select(calls.c.session_id)
                                .where(calls.c.contact_id == contact.id)),
               calling.c.notice.contains(name, autoescape=True))
        .values(notice="")
    )


def erase_contact(
    *, session: Session, contact_id: int, actor_id: int | None = None,
    do_not_call: bool = False,
) -> dict[str, int | bool]:
    """Erase a contact on request (right to erasure) and say what went.

    With do_not_call, their numbers go on the do-not-call list first. Existing do-not-call
    entries for their numbers always stay; nothing else about them does.

    Raises:
        ContactError: no such contact.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ContactError("no such contact")
    numbers = [contact.phone, *contact.other_phones]
    if do_not_call:
        for number in numbers:
            add_suppression(session=session, phone=number, source="erasure", actor_id=actor_id,
                            reason="Asked not to be called when their details were erased")
    kept = len(_suppressed_numbers(session, numbers))
    attempt_ids = select(CallAttempt.id).where(CallAttempt.contact_id == contact_id)
    theirs = sa.or_(col(SurveyAnswer.contact_id) == contact_id,
                    col(SurveyAnswer.attempt_id).in_(attempt_ids))
    answered_in = [int(c) for c in session.execute(
        sa.select(col(SurveyAnswer.campaign_id)).distinct().where(theirs)).scalars()]
    answers = session.execute(
        sa.delete(SurveyAnswer).where(theirs).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if answered_in:
        # Their answers leave the dashboard's survey tallies too (erasure is rare: recount).
        rollups.rebuild_survey(session=session, campaign_ids=answered_in)
    notes = session.execute(
        sa.update(CallAttempt)
        .where(col(CallAttempt.contact_id) == contact_id, col(CallAttempt.notes) != "")
        .values(notes="").execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(sa.update(CallAttempt).where(col(CallAttempt.contact_id) == contact_id)
                    .values(contact_id=None).execution_options(synchronize_session=False))
    # Texts go by contact and by number: a reply from one of their other numbers, or sent
    # before they were imported, is linked to no contact but is theirs all the same.
    messages = session.execute(
        sa.delete(SmsMessage).where(sa.or_(col(SmsMessage.contact_id) == contact_id,
                                           col(SmsMessage.phone).in_(numbers)))
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    rejected_rows = _blank_rejected_rows(session, contact, numbers)
    _blank_session_notices(session, contact)
    # Sign-ups and attendance are political activity: they go too, and booked places free up.
    signups = erase_contact_signups(session=session, contact_id=contact_id, phones=numbers)
    for model in (ImportChange, QueueEntry):
        table = table_of(model)
        session.execute(sa.delete(table).where(table.c.contact_id == contact_id))
    session.expunge(contact)
    session.execute(sa.delete(Contact).where(col(Contact.id) == contact_id)
                    .execution_options(synchronize_session=False))
    summary: dict[str, int | bool] = {
        "answers": int(answers or 0), "notes": int(notes or 0),
        "messages": int(messages or 0), "signups": signups, "rejected_rows": rejected_rows,
        "suppression_kept": kept > 0,
    }
    # No name or number in the audit trail: the erasure would otherwise be undone by its log.
    record_event(session=session, action="contact_erased", actor_id=actor_id,
                 target=f"contact:{contact_id}", details=dict(summary))
    session.flush()
    return summary


# --------------------------------------------------------------------------------------------
# Notes retention
# --------------------------------------------------------------------------------------------


def get_notes_retention_months(*, session: Session) -> int | None:
    """Months after which call notes are blanked, or None when retention is off (default)."""
    setting = session.get(Setting, NOTES_RETENTION_KEY)
    if setting is None or setting.value in (None, "", 0):
        return None
    return int(setting.value)


def set_notes_retention_months(
    *, session: Session, months: int | None, actor_id: int | None = None
) -> None:
    """Set the retention period in months (None turns it off).

    Raises:
        ContactError: not a whole number of months between 1 and 120.
    """
    if months is not None and (int(months) != months or not 1 <= months <= 120):
        raise ContactError("retention must be between 1 and 120 months, or off")
    setting = session.get(Setting, NOTES_RETENTION_KEY) or Setting(key=NOTES_RETENTION_KEY)
    setting.value = months
    setting.updated_at = datetime.now(UTC)
    session.add(setting)
    session.flush()


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's end)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    days_in_month = [31, 29 if (year % 4 == 0 and (year % 100 or year % 400 == 0)) else 28,
                     31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days_in_month))


def purge_old_notes(*, session: Session, now: datetime | None = None) -> int:
    """Blank call notes older than the retention period; return how many were blanked."""
    months = get_notes_retention_months(session=session)
    if months is None:
        return 0
    now = now or datetime.now(UTC)
    cutoff = months_before(now, months)
    blanked = session.execute(
        sa.update(CallAttempt)
        .where(col(CallAttempt.started_at) < cutoff, col(CallAttempt.notes) != "")
        .values(notes="").execution_options(synchronize_session=False)
    ).rowcount or 0  # type: ignore[attr-defined]
    if blanked:
        record_event(session=session, action="notes_purged", target="callattempt.notes",
                     details={"count": int(blanked), "months": months,
                              "before": cutoff.isoformat()})
    session.flush()
    return int(blanked)


def notes_retention_status(*, session: Session, now: datetime | None = None) -> dict[str, Any]:
    """For the settings page: the period, notes now due for purging, and the last purge."""
    months = get_notes_retention_months(session=session)
    now = now or datetime.now(UTC)
    due = 0
    if months is not None:
        due = int(session.execute(
            sa.select(sa.func.count()).select_from(CallAttempt)
            .where(col(CallAttempt.started_at) < months_before(now, months),
                   col(CallAttempt.notes) != "")
        ).scalar_one())
    last = session.exec(
        select(AuditEvent).where(AuditEvent.action == "notes_purged")
        .order_by(col(AuditEvent.at).desc()).limit(1)
    ).first()
    return {
        "months": months,
        "due": due,
        "last_purge_at": last.at if last else None,
        "last_purge_count": int(last.details.get("count", 0)) if last else 0,
    }
