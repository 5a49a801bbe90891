"""Twilio's callbacks: call status updates and inbound texts, each proven by X-Twilio-Signature.

Anyone on the internet can POST to a public URL, so a request whose signature does not match
(wrong token, tampered body, different URL, or no header at all) is refused with 403 before
anything is read from or written to the database. The body is bounded too: Twilio's requests are
a few kilobytes, so a request with no signature header is refused before its body is read, and
one that claims or turns out to be larger than MAX_BODY_BYTES is refused with 413 (server.py
stops reading at the cap), so that an unsigned flood cannot spool gigabytes or hold a CPU.

Framework-free: server.py adapts Starlette requests to these functions, and tests call them
directly with plain dicts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

import sqlalchemy as sa
from sqlmodel import Session, col

from core.config import Settings
from core.dialing.port import FINAL_STATUSES, DialerError
from core.dialing.registry import room_dialer_for
from core.dialing.session import SESSION_PATH, advance, apply_leg_callback
from core.dialing.twilio import SIGNATURE_HEADER, signature_valid
from core.dialing.twiml import callback_twiml, sms_reply
from core.phones import InvalidPhone, normalise_phone
from core.sms import record_inbound_sms
from db.engine import Database
from db.models import CallAttempt, CallingSession, Campaign

log = logging.getLogger(__name__)

STATUS_PATH = "/twilio/status"
SMS_PATH = "/twilio/sms"
VOICE_PATH = "/twilio/voice"


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: str
    media_type: str = "text/plain"


FORBIDDEN = WebhookResponse(403, "Forbidden: invalid or missing X-Twilio-Signature")
TOO_LARGE = WebhookResponse(413, "Request body too large")
BAD_REQUEST = WebhookResponse(400, "Bad request")
# Twilio's status callbacks and inbound texts are a few KB (a 1,600-character text with every
# parameter is under 8 KB); 64 KiB leaves room and still refuses a flood at once.
MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 200


class FormParams(Mapping[str, str]):
    """Form fields: the first value of each as a mapping, every value through getlist().

    Twilio's RequestValidator signs every value of a repeated field (it calls getlist when the
    params have it), so repeated fields must survive parsing for signatures to match.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> str:
        return self._lists[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def getlist(self, key: str) -> list[str]:
        return list(self._lists.get(key, []))


def refuse_before_body(settings: Settings, headers: Mapping[str, str]) -> WebhookResponse | None:
    """Why a webhook is refused from its headers alone, before a byte of its body is read.

    None means: read the body (at most MAX_BODY_BYTES) and check the signature.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    if not settings.public_url or not settings.twilio.auth_token:
        log.warning("Twilio webhook refused: RINGROUND_PUBLIC_URL or TWILIO_AUTH_TOKEN unset")
        return FORBIDDEN
    if not lowered.get(SIGNATURE_HEADER, ""):
        log.warning("Twilio webhook refused: no signature header")
        return FORBIDDEN
    length = lowered.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            return BAD_REQUEST
        if int(length) > MAX_BODY_BYTES:
            log.warning("Twilio webhook refused: body of %s bytes", length.strip())
            return TOO_LARGE
    return None


def parse_form(body: bytes) -> FormParams | None:
    """The fields of an application/x-www-form-urlencoded body; None when it is not one."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    return FormParams(pairs)


def expected_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio signed: the public one it was given, not whatever a proxy forwarded."""
    url = public_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def _verified(settings: Settings, path: str, query: str, params: Mapping[str, Any],
              headers: Mapping[str, str]) -> bool:
    if not settings.public_url or not settings.twilio.auth_token:
        # Without both there is nothing to check a signature against: refuse everything.
        log.warning("Twilio webhook refused: RINGROUND_PUBLIC_URL or TWILIO_AUTH_TOKEN unset")
        return False
    ok = signature_valid(
        auth_token=settings.twilio.auth_token,
        url=expected_url(settings.public_url, path, query),
        params=params,
        headers=headers,
    )
    if not ok:
        log.warning("Twilio webhook refused: bad signature on %s", path)
    return ok


class Webhook(Protocol):
    """What server.py calls for one of Twilio's POSTs."""

    def __call__(self, *, database: Database, settings: Settings, params: Mapping[str, Any],
                 headers: Mapping[str, str], query: str = "", **extra: Any
                 ) -> WebhookResponse: ...


def signed_by_twilio(path: str) -> Callable[[Callable[..., WebhookResponse]], Webhook]:
    """Make `act(database=, settings=, params=, ...)` the webhook at `path`: a request whose
    X-Twilio-Signature does not match is refused (403) before anything is read or written."""

    def webhook(act: Callable[..., WebhookResponse]) -> Webhook:
        @functools.wraps(act)
        def checked(*, database: Database, settings: Settings, params: Mapping[str, Any],
                    headers: Mapping[str, str], query: str = "", **extra: Any
                    ) -> WebhookResponse:
            if not _verified(settings, path, query, params, headers):
                return FORBIDDEN
            return act(database=database, settings=settings, params=params, **extra)

        return checked

    return webhook


def _duration(raw: Any) -> int | None:
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


def apply_call_status(*, session: Session, params: Mapping[str, Any]) -> int:
    """Store a call's status and duration on its attempt; the number of attempts updated.

    A callback from the contact's leg (it carries ParentCallSid) is the outcome that matters
    and always wins; one from the volunteer's leg only fills an attempt that has no final status
    yet (e.g. the outcome was saved while the call was still going).
    """
    status = str(params.get("CallStatus") or "")[:32]
    duration = _duration(params.get("CallDuration"))
    parent_sid = str(params.get("ParentCallSid") or "")
    call_sid = str(params.get("CallSid") or "")
    if not status or not (parent_sid or call_sid):
        return 0
    statement = sa.update(CallAttempt).values(provider_status=status)
    if duration is not None:
        statement = statement.values(duration_seconds=duration)
    if parent_sid:
        statement = statement.where(col(CallAttempt.provider_call_id) == parent_sid)
    else:
        statement = statement.where(col(CallAttempt.provider_call_id) == call_sid).where(
            col(CallAttempt.provider_status).is_(None)
            | col(CallAttempt.provider_status).not_in(sorted(FINAL_STATUSES))
        )
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@signed_by_twilio(STATUS_PATH)
def handle_status_callback(
    *, database: Database, settings: Settings, params: Mapping[str, Any]
) -> WebhookResponse:
    """POST /twilio/status."""
    updated = database.retrying(lambda session: apply_call_status(session=session, params=params))
    return WebhookResponse(200, f"updated {updated}")


@signed_by_twilio(SMS_PATH)
def handle_inbound_sms(
    *, database: Database, settings: Settings, params: Mapping[str, Any]
) -> WebhookResponse:
    """POST /twilio/sms: store the reply; STOP suppresses the number and confirms."""
    if not str(params.get("From") or "").strip():
        return WebhookResponse(200, sms_reply(), media_type="application/xml")
    result = database.retrying(
        lambda session: record_inbound_sms(
            session=session,
            from_phone=str(params.get("From") or ""),
            body=str(params.get("Body") or ""),
            provider_id=str(params.get("MessageSid") or "") or None,
            region=settings.default_region,
        )
    )
    return WebhookResponse(200, sms_reply(result.reply), media_type="application/xml")


@signed_by_twilio(SESSION_PATH)
def handle_session_callback(
    *, database: Database, settings: Settings, params: Mapping[str, Any],
    now: datetime | None = None,
) -> WebhookResponse:
    """POST /twilio/session: a continuous session's leg changed (status or AnsweredBy).

    Stored, then the session is advanced at once from what was stored, so the next contact is
    dialled (or a machine dealt with) without waiting for the volunteer's page to poll.
    """
    session_id = database.retrying(
        lambda session: apply_leg_callback(session=session, params=params))
    if session_id is None:
        return WebhookResponse(200, "unknown call")
    with database.session() as session:
        row = session.get(CallingSession, session_id)
        provider = row.provider if row is not None else ""
    dialer = room_dialer_for(provider, settings)
    if dialer is not None:
        try:
            advance(database=database, dialer=dialer, settings=settings, session_id=session_id,
                    now=now or datetime.now(UTC), poll=False)
        except DialerError as exc:
            log.warning("session %s: could not advance from a callback: %s", session_id,
                        type(exc).__name__)
    return WebhookResponse(200, "ok")


def campaign_calling_from(*, session: Session, number: str, region: str = "GB") -> str:
    """The name of the campaign (most recently changed) presenting this caller ID, or ""."""
    try:
        wanted = normalise_phone(number, region=region).e164
    except InvalidPhone:
        return ""
    for name, caller_id in session.execute(
        sa.select(col(Campaign.name), col(Campaign.caller_id))
        .where(col(Campaign.caller_id) != "").order_by(col(Campaign.updated_at).desc())
    ).all():
        try:
            if normalise_phone(caller_id, region=region).e164 == wanted:
                return str(name)
        except InvalidPhone:
            continue
    return ""


@signed_by_twilio(VOICE_PATH)
def handle_inbound_call(
    *, database: Database, settings: Settings, params: Mapping[str, Any]
) -> WebhookResponse:
    """POST /twilio/voice: someone rang the campaign number back; say who called, how to stop."""
    with database.session() as session:
        name = campaign_calling_from(session=session, number=str(params.get("To") or ""),
                                     region=settings.default_region)
    return WebhookResponse(200, callback_twiml(name), media_type="application/xml")
