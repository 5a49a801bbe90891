"""Follow-up texts after a good call, and replies of STOP.

A campaign has one message template with the same {merge_fields} as its script (core/script.py),
e.g. "Thanks {first_name}! Saturday's action: {action_link|https://example.org}". Texts are plain,
so merged values are not Markdown-escaped here.

Sending is refused for numbers on the do-not-call list and outside the campaign's calling window
(PECR: the same consent and hours as a call), and happens at most once per contact and campaign,
so a double click never texts anyone twice.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from core.audit import record_event
from core.calling_hours import is_open
from core.config import Settings
from core.dialing import (
    Dialer,
    DialerError,
    SmsRecipientOptedOut,
    campaign_texting_mode,
    sms_dialer,
    text_spec,
)
from core.event_texts import decline_by_reply, is_decline_reply
from core.phones import InvalidPhone, mask_phone, normalise_phone
from core.script import (
    STANDARD_FIELDS,
    VOLUNTEER_FIELDS,
    fill_merge_fields,
    merge_values,
    script_fields,
    volunteer_fields,
)
from core.suppression import add_suppression, is_suppressed
from db.engine import Database
from db.models import Campaign, Contact, SmsMessage, User
from db.tables import MESSAGE

log = logging.getLogger(__name__)

MAX_SMS_LENGTH = 1600
CAMPAIGN_FIELDS = ("campaign_name",)
# Replies that mean "stop texting me", as carriers and Twilio's own opt-out handling read them.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
STOP_CONFIRMATION = "You will not be contacted by this campaign again."

# The grammar of core/script.py: {name}, {name|fallback}, {{ and }} for literal braces.
_TRAILING_PUNCTUATION = string.punctuation + " \t\r\n"


class SmsRefused(ValueError):
    """The text may not be sent; str() says why, for the volunteer."""


@dataclass(frozen=True)
class SmsDraft:
    """A follow-up ready to send: who to, from which number, what it says."""

    campaign_id: int
    contact_id: int
    volunteer_id: int | None
    to: str
    from_: str
    body: str


@dataclass(frozen=True)
class SmsResult:
    message_id: int
    status: str
    provider_id: str | None


@dataclass(frozen=True)
class InboundResult:
    stopped: bool
    reply: str


def is_stop_reply(body: str) -> bool:
    """STOP, stop, ' Stop. ', UNSUBSCRIBE...: the whole message is one opt-out word."""
    return (body or "").strip(_TRAILING_PUNCTUATION).upper() in STOP_WORDS


def template_problems(
    template: str, custom_keys: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """What is wrong with a template, in words (empty when it is fine)."""
    problems: list[str] = []
    if len(template) > MAX_SMS_LENGTH:
        problems.append(f"Texts are limited to {MAX_SMS_LENGTH} characters.")
    known = set(STANDARD_FIELDS) | set(VOLUNTEER_FIELDS) | set(CAMPAIGN_FIELDS) | set(custom_keys)
    unknown = [name for name in script_fields(template) if name not in known]
    if unknown:
        problems.append(
            "No contact column called " + ", ".join(f"{{{name}}}" for name in unknown)
            + ": give a fallback like {name|text} or fix the spelling."
        )
    return problems


def render_sms(template: str, values: dict[str, str]) -> str:
    """Fill merge fields with plain text; a missing or empty value uses its |fallback."""
    return fill_merge_fields(template, values, lambda value: " ".join(value.split())).strip()


def sms_template(*, session: Session, campaign_id: int) -> str:
    campaign = session.get(Campaign, campaign_id)
    return campaign.sms_template if campaign is not None else ""


def save_sms_template(*, session: Session, campaign_id: int, template: str,
                      actor_id: int | None = None) -> None:
    """Raises: SmsRefused when the template has a problem (see template_problems)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SmsRefused("That campaign no longer exists.")
    problems = template_problems(template, _custom_keys(session))
    if problems:
        raise SmsRefused(" ".join(problems))
    campaign.sms_template = template.strip()
    campaign.updated_at = datetime.now(UTC)
    session.add(campaign)
    record_event(session=session, action="sms_template_saved", actor_id=actor_id,
                 target=f"campaign:{campaign_id}")


def _custom_keys(session: Session) -> set[str]:
    keys: set[str] = set()
    for custom in session.exec(select(Contact.custom).limit(200)):
        keys.update(str(k) for k in (custom or {}))
    return keys


def _already_sent(session: Session, campaign_id: int, contact_id: int) -> bool:
    return session.exec(
        select(SmsMessage.id)
        .where(SmsMessage.campaign_id == campaign_id)
        .where(SmsMessage.contact_id == contact_id)
        .where(SmsMessage.direction == "out")
        # Event confirmations and reminders (core/event_texts.py) are not follow-ups.
        .where(SmsMessage.purpose == "followup")
        .where(col(SmsMessage.status) != "failed")
    ).first() is not None


def prepare_followup(
    *,
    session: Session,
    campaign_id: int,
    contact_id: int,
    volunteer_id: int | None,
    sender_numbers: tuple[str, ...] = (),
    now: datetime | None = None,
) -> SmsDraft:
    """Check that a follow-up may go, and write it.

    Raises:
        SmsRefused: no template, no number to send from, the contact is on the do-not-call list,
            calling hours are over, or a follow-up already went.
    """
    now = now or datetime.now(UTC)
    campaign = session.get(Campaign, campaign_id)
    contact = session.get(Contact, contact_id)
    if campaign is None or contact is None:
        raise SmsRefused("That contact or campaign no longer exists.")
    if not campaign.sms_template.strip():
        raise SmsRefused("This campaign has no follow-up text: an organiser can write one.")
    from_ = campaign.caller_id or (sender_numbers[0] if sender_numbers else "")
    if not from_:
        raise SmsRefused("This campaign has no number to text from: an organiser can set one.")
    if is_suppressed(session=session, phone=contact.phone):
        raise SmsRefused("This person asked not to be contacted, so no text will be sent.")
    if not is_open(campaign.calling_window, campaign.timezone, now):
        raise SmsRefused("Texts go only within the campaign's calling hours.")
    if _already_sent(session, campaign_id, contact_id):
        raise SmsRefused(ALREADY_SENT)
    volunteer = session.get(User, volunteer_id) if volunteer_id else None
    contact_fields = [f for f in script_fields(campaign.sms_template)
                      if f not in VOLUNTEER_FIELDS and f not in CAMPAIGN_FIELDS]
    values = merge_values(contact_fields, contact=contact.model_dump(), custom=contact.custom)
    values.update(volunteer_fields(volunteer.name if volunteer else ""))
    values["campaign_name"] = campaign.name
    body = render_sms(campaign.sms_template, values)[:MAX_SMS_LENGTH]
    if not body:
        raise SmsRefused("The follow-up text came out empty for this person.")
    return SmsDraft(campaign_id=campaign_id, contact_id=contact_id, volunteer_id=volunteer_id,
                    to=contact.phone, from_=from_, body=body)


ALREADY_SENT = "A follow-up text has already gone to this person for this campaign."


def _insert_unless_taken(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a message unless a unique index refuses it (one follow-up, one inbound SID)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(MESSAGE).values(**values).on_conflict_do_nothing().returning(MESSAGE.c.id)
    return session.execute(statement).scalar()


def _take_followup_place(session: Session, draft: SmsDraft) -> int | None:
    """Record the follow-up as "sending" before it goes; None if one is already taken.

    ux_sms_one_followup makes this the check: of four clicks at once, one insert wins and the
    others are refused, where a read-then-send let three texts through.
    """
    return _insert_unless_taken(session, {
        "campaign_id": draft.campaign_id, "contact_id": draft.contact_id,
        "volunteer_id": draft.volunteer_id, "direction": "out", "purpose": "followup",
        "phone": draft.to, "body": draft.body, "status": "sending", "error": "",
        "created_at": datetime.now(UTC),
    })


def _finish_followup(session: Session, message_id: int, *, status: str,
                     provider_id: str | None = None, error: str = "") -> None:
    session.execute(sa.update(MESSAGE).where(MESSAGE.c.id == message_id).values(
        status=status[:32], provider_id=provider_id, error=error[:500]))


def send_followup_sms(
    *,
    database: Database,
    dialer: Dialer,
    campaign_id: int,
    contact_id: int,
    volunteer_id: int | None,
    sender_numbers: tuple[str, ...] = (),
    now: datetime | None = None,
) -> SmsResult:
    """Check, send and record a follow-up text.

    Takes the Database rather than a session: the Twilio request sits between write
    transactions, so that no database lock is held while the network is slow. The place is
    taken before the request and freed (status "failed") if the request fails.

    Raises:
        SmsRefused: not allowed (see prepare_followup), or another click took the place first.
        DialerError: Twilio refused or could not be reached (the failure is recorded).
    """
    with database.session() as session:
        draft = prepare_followup(
            session=session, campaign_id=campaign_id, contact_id=contact_id,
            volunteer_id=volunteer_id, sender_numbers=sender_numbers, now=now,
        )
    with database.write() as session:
        message_id = _take_followup_place(session, draft)
    if message_id is None:
        raise SmsRefused(ALREADY_SENT)
    try:
        receipt = dialer.send_sms(draft.to, draft.from_, draft.body)
    except DialerError as exc:
        with database.write() as session:
            _finish_followup(session, message_id, status="failed", error=str(exc))
            if isinstance(exc, SmsRecipientOptedOut):
                add_suppression(session=session, phone=draft.to, source="sms_stop",
                                reason="Replied STOP to the campaign number (reported by Twilio)")
        raise
    with database.write() as session:
        _finish_followup(session, message_id, status=receipt.status,
                         provider_id=receipt.provider_id)
    log.info("follow-up text sent to %s", mask_phone(draft.to))
    return SmsResult(message_id=message_id, status=receipt.status,
                     provider_id=receipt.provider_id)


def preview_followup(
    *,
    session: Session,
    campaign_id: int,
    contact_id: int,
    volunteer_id: int | None,
    sender_numbers: tuple[str, ...] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """What the page shows before the click: the text, or why it cannot go."""
    try:
        draft = prepare_followup(
            session=session, campaign_id=campaign_id, contact_id=contact_id,
            volunteer_id=volunteer_id, sender_numbers=sender_numbers, now=now,
        )
    except SmsRefused as exc:
        return {"can_send": False, "body": "", "reason": str(exc)}
    return {"can_send": True, "body": draft.body, "reason": ""}


def record_inbound_sms(
    *,
    session: Session,
    from_phone: str,
    body: str,
    provider_id: str | None = None,
    region: str = "GB",
) -> InboundResult:
    """Store a reply; STOP and its variants put the number on the do-not-call list at once."""
    try:
        phone = normalise_phone(from_phone, region=region).e164
    except InvalidPhone:
        phone = from_phone.strip()
    contact = session.exec(select(Contact).where(Contact.phone == phone)).first()
    latest_out = None
    if contact is not None:
        latest_out = session.exec(
            select(SmsMessage)
            .where(SmsMessage.contact_id == contact.id)
            .where(SmsMessage.direction == "out")
            .order_by(col(SmsMessage.id).desc())
        ).first()
    stored = _insert_unless_taken(session, {
        "campaign_id": latest_out.campaign_id if latest_out else None,
        "contact_id": contact.id if contact else None,
        "direction": "in", "purpose": "reply", "phone": phone[:20],
        "body": (body or "")[:MAX_SMS_LENGTH],
        "provider_id": (provider_id or None) and provider_id[:64],
        "status": "received", "error": "", "created_at": datetime.now(UTC),
    })
    if stored is None:
        # A replay of a text already stored (Twilio retries; a captured signed request sent
        # again): nothing new is written, and the reply is the same as the first time.
        log.info("inbound text %s already stored", (provider_id or "")[:64])
    stopped = is_stop_reply(body)
    if stopped:
        add_suppression(session=session, phone=phone, source="sms_stop",
                        reason="Replied STOP to a text")
        log.info("STOP reply from %s: suppressed", mask_phone(phone))
    elif contact is not None and contact.id is not None and is_decline_reply(body):
        # NO / CANT to an event text gives the place back; the organiser sees it on Events.
        declined = decline_by_reply(session=session, contact_id=contact.id,
                                    now=datetime.now(UTC))
        if declined is not None:
            session.flush()
            return InboundResult(stopped=False, reply=declined.reply)
    session.flush()
    return InboundResult(stopped=stopped, reply=STOP_CONFIRMATION if stopped else "")


def _campaign_sender(session: Session, campaign_id: int, settings: Settings
                     ) -> tuple[str, tuple[str, ...]]:
    """The campaign's dialer kind and the numbers its texts may come from."""
    campaign = session.get(Campaign, campaign_id)
    kind = campaign.dialer if campaign is not None else "tel"
    spec = text_spec(settings, kind)
    return kind, spec.caller_ids(settings) if spec is not None else ()


def preview_campaign_followup(
    *, session: Session, settings: Settings, campaign_id: int, contact_id: int,
    volunteer_id: int | None,
) -> dict[str, Any]:
    """What the calling page shows before the click: can a text go here at all, then the text
    itself or why it cannot go."""
    texting = campaign_texting_mode(session=session, campaign_id=campaign_id, settings=settings)
    if not texting.can_text:
        return {"available": False, "can_send": False, "body": "", "reason": texting.problem}
    _, senders = _campaign_sender(session, campaign_id, settings)
    return {"available": True, **preview_followup(
        session=session, campaign_id=campaign_id, contact_id=contact_id,
        volunteer_id=volunteer_id, sender_numbers=senders)}


def send_campaign_followup(
    *, database: Database, settings: Settings, campaign_id: int, contact_id: int,
    volunteer_id: int | None,
) -> SmsResult:
    """Send the follow-up through whichever dialer texts for this campaign.

    Raises:
        SmsRefused, DialerError: see send_followup_sms.
    """
    with database.session() as session:
        kind, senders = _campaign_sender(session, campaign_id, settings)
    return send_followup_sms(
        database=database, dialer=sms_dialer(settings, kind), campaign_id=campaign_id,
        contact_id=contact_id, volunteer_id=volunteer_id, sender_numbers=senders)
