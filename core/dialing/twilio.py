"""Twilio: bridged calls and texts through the REST API, its errors in words, its webhook signature.

The bridge rings the volunteer's verified phone first, tells them who they are about to speak to,
then dials the contact from the campaign's caller ID, so neither side sees the other's number.
TwiML is sent inline (core/dialing/twiml.py), so Twilio needs no public URL to fetch it.

Every failure the twilio client raises becomes a `DialerError` subclass with a sentence a
volunteer or organiser can act on; none of them ever contains a phone number. Nothing here
touches the database, so saving an outcome never depends on Twilio being reachable.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.config import Settings, TwilioSettings
from core.dialing.port import (
    FINAL_STATUSES,
    AnsweredBy,
    BadCredentials,
    CallerIdNotVerified,
    CallInfo,
    DialerError,
    DialerNotConfigured,
    DialerUnreachable,
    InvalidNumber,
    LegInfo,
    MachineDetection,
    NoGeoPermission,
    RateLimited,
    RoomDial,
    SmsReceipt,
    SmsRecipientOptedOut,
    suggested_outcome,
)
from core.dialing.twiml import bridge_twiml, room_twiml, voicemail_twiml
from core.phones import InvalidPhone, mask_phone, normalise_phone

log = logging.getLogger(__name__)

TWILIO_API_ORIGIN = "https://api.twilio.com"
DEFAULT_TIMEOUT_SECONDS = 10.0
# How long Twilio rings the volunteer's own phone before giving up.
VOLUNTEER_RING_SECONDS = 30


# Twilio error code -> (exception, message). https://www.twilio.com/docs/api/errors
_TWILIO_ERRORS: dict[int, tuple[type[DialerError], str]] = {
    20003: (
        BadCredentials,
        "Twilio refused Ringround's credentials (error 20003). An organiser should check the "
        "account SID and auth token (or API key and secret) in the Twilio settings.",
    ),
    20404: (DialerError, "Twilio has no record of that call or account (error 20404)."),
    20429: (
        RateLimited,
        "Twilio is handling too many requests from this account (error 20429). "
        "Wait a few seconds and try again.",
    ),
    21210: (
        CallerIdNotVerified,
        "The campaign's caller ID is not a number this Twilio account owns or has verified "
        "(error 21210). An organiser should pick another caller ID or verify it in Twilio.",
    ),
    21211: (
        InvalidNumber,
        "Twilio says this number cannot be dialled (error 21211). Record it as a wrong number "
        "if it keeps happening.",
    ),
    21212: (
        CallerIdNotVerified,
        "The campaign's caller ID is not a valid Twilio number (error 21212).",
    ),
    21215: (
        NoGeoPermission,
        "This Twilio account is not allowed to call that country (error 21215). An organiser "
        "can allow it under Voice > Settings > Geo permissions in the Twilio console.",
    ),
    13227: (
        NoGeoPermission,
        "This Twilio account is not allowed to call that country (error 13227). An organiser "
        "can allow it under Voice > Settings > Geo permissions in the Twilio console.",
    ),
    21408: (
        NoGeoPermission,
        "This Twilio account is not allowed to text that country (error 21408). An organiser "
        "can allow it under Messaging > Settings > Geo permissions in the Twilio console.",
    ),
    21606: (
        CallerIdNotVerified,
        "The campaign's number cannot send texts (error 21606): texts need a Twilio number "
        "with SMS enabled.",
    ),
    21610: (
        SmsRecipientOptedOut,
        "This person has replied STOP to the campaign's number, so they cannot be texted "
        "(error 21610).",
    ),
    21614: (
        InvalidNumber,
        "This number cannot receive texts (error 21614): it is not a mobile.",
    ),
}
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def _scrub(text: str) -> str:
    """Twilio's messages quote the numbers they refuse; the volunteer must not see a contact's."""
    return _PHONE_LIKE.sub("[number]", text)


def map_twilio_error(exc: Exception) -> DialerError:
    """Turn whatever the twilio client raised into a DialerError with a message in words."""
    import requests
    from twilio.base.exceptions import TwilioException, TwilioRestException

    if isinstance(exc, DialerError):
        return exc
    if isinstance(exc, TwilioRestException):
        code = int(exc.code) if exc.code else None
        if code in _TWILIO_ERRORS:
            kind, message = _TWILIO_ERRORS[code]
            return kind(message)
        if exc.status == 401:
            kind, message = _TWILIO_ERRORS[20003]
            return kind(message)
        if exc.status == 429:
            kind, message = _TWILIO_ERRORS[20429]
            return kind(message)
        if exc.status >= 500:
            return DialerUnreachable(
                f"Twilio is having trouble (HTTP {exc.status}). Try again in a minute."
            )
        detail = _scrub(str(exc.msg or "")).strip()
        suffix = f": {detail}" if detail else "."
        return DialerError(
            f"Twilio refused the request (error {code or exc.status}){suffix}"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return DialerUnreachable(
            "Twilio did not answer in time. Check the connection and try again."
        )
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | OSError):
        return DialerUnreachable(
            "Ringround could not reach Twilio: the server may be offline. Try again shortly."
        )
    if isinstance(exc, TwilioException):
        return DialerError(f"Twilio could not handle the request: {_scrub(str(exc))}")
    return DialerError(f"Unexpected problem talking to Twilio ({type(exc).__name__}).")


def _rebased_client_class() -> type:
    from twilio.http import HttpClient
    from twilio.http.http_client import TwilioHttpClient

    class RebasedHttpClient(HttpClient):
        """Send the twilio client's requests to another origin (a contract mock in tests).

        The public HttpClient extension point, so no SDK internals are patched.
        """

        def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
            super().__init__(log, is_async=False, timeout=timeout)
            self.base_url = base_url.rstrip("/")
            self.inner = TwilioHttpClient(timeout=timeout)
            # (method, url, HTTP status or None when no answer came), for tests and diagnostics
            self.requests: list[tuple[str, str, int | None]] = []

        def request(  # type: ignore[override]
            self,
            method: str,
            uri: str,
            params: dict[str, object] | None = None,
            data: dict[str, object] | None = None,
            headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None,
            timeout: float | None = None,
            allow_redirects: bool = False,
        ) -> Any:
            if uri.startswith(TWILIO_API_ORIGIN):
                uri = self.base_url + uri[len(TWILIO_API_ORIGIN):]
            self.requests.append((method.upper(), uri, None))
            response = self.inner.request(
                method, uri, params=params, data=data, headers=headers, auth=auth,
                timeout=timeout, allow_redirects=allow_redirects,
            )
            self.requests[-1] = (method.upper(), uri, response.status_code)
            self._test_only_last_request = self.inner._test_only_last_request
            self._test_only_last_response = response
            return response

    return RebasedHttpClient


def rebased_http_client(base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Any:
    """An HttpClient that sends api.twilio.com requests to base_url instead."""
    return _rebased_client_class()(base_url, timeout=timeout)


def answered_by(raw: str | None) -> str:
    """Twilio's AnsweredBy (human, machine_start, machine_end_beep, fax, unknown...) in our
    words; "" while detection has not decided."""
    value = str(raw or "")
    if not value:
        return ""
    if value.startswith("machine"):
        return AnsweredBy.MACHINE
    if value in (AnsweredBy.HUMAN, AnsweredBy.FAX):
        return AnsweredBy(value)
    return AnsweredBy.UNKNOWN


class TwilioDialer:
    """Bridges calls and sends texts through Twilio.

    The twilio Client is built on first use, never at import or construction, so a missing or
    wrong setting shows up as a message on the page that needs it rather than a crash at start.
    """

    name = "twilio"
    bridges = True

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        status_callback_url: str = "",
        http_client: Any = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.settings = settings
        self.status_callback_url = status_callback_url
        self._http_client = http_client
        self._timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The twilio Client.

        Raises:
            DialerNotConfigured: no account SID or no credentials.
        """
        if not self.settings.configured:
            raise DialerNotConfigured(
                "Twilio is not set up: an organiser needs to give the account SID and auth token "
                "(or API key and secret). See Settings."
            )
        with self._lock:
            if self._client is None:
                from twilio.http.http_client import TwilioHttpClient
                from twilio.rest import Client

                http_client = self._http_client
                if http_client is None and self.settings.base_url:
                    http_client = rebased_http_client(self.settings.base_url,
                                                      timeout=self._timeout)
                if http_client is None:
                    http_client = TwilioHttpClient(timeout=self._timeout)
                s = self.settings
                if s.api_key and s.api_secret:
                    username, password = s.api_key, s.api_secret
                else:
                    username, password = s.account_sid, s.auth_token
                self._client = Client(
                    username, password, account_sid=s.account_sid, http_client=http_client,
                    environment={},  # never pick up stray TWILIO_* variables from the process
                )
            return self._client

    def _call(self, operation: Callable[[], Any]) -> Any:
        try:
            return operation()
        except Exception as exc:  # every failure becomes a sentence, never a crash
            mapped = map_twilio_error(exc)
            log.warning("twilio request failed: %s", type(mapped).__name__)
            raise mapped from exc

    def start_bridge(
        self, volunteer_phone: str, contact_phone: str, caller_id: str, contact_name: str
    ) -> str:
        """Ring the volunteer; when they answer, Twilio says who is next and dials the contact.

        Raises:
            DialerError: Twilio refused or could not be reached (message in words).
        """
        if not caller_id:
            raise CallerIdNotVerified(
                "The campaign has no caller ID: an organiser needs to choose one of the Twilio "
                "numbers for it."
            )
        twiml = bridge_twiml(
            contact_phone=contact_phone, caller_id=caller_id, contact_name=contact_name,
            # The contact's leg reports too (with ParentCallSid): its status is the outcome's.
            contact_status_callback=self.status_callback_url,
        )
        options: dict[str, Any] = {"timeout": VOLUNTEER_RING_SECONDS}
        if self.status_callback_url:
            # Twilio sends only the final ("completed") event when no StatusCallbackEvent is given.
            options["status_callback"] = self.status_callback_url
            options["status_callback_method"] = "POST"
        call = self._call(
            lambda: self.client.calls.create(
                to=volunteer_phone, from_=caller_id, twiml=twiml, **options
            )
        )
        log.info("bridge started to volunteer %s", mask_phone(volunteer_phone))
        return str(call.sid)

    def status(self, sid: str) -> CallInfo:
        """The bridge's state as the volunteer experiences it.

        The call Twilio places rings the volunteer; the contact is its child leg, made by <Dial>.
        So "no answer" from the parent means the volunteer's phone was not picked up (the contact
        was never dialled: no outcome to suggest), while the child's status is the contact's.

        Raises:
            DialerError: Twilio refused or could not be reached.
        """
        parent = self._call(lambda: self.client.calls(sid).fetch())
        parent_status = str(parent.status)
        if parent_status in ("queued", "ringing"):
            return CallInfo(
                provider=self.name, provider_call_id=sid, provider_status=parent_status,
                detail="Ringing your phone: answer it to be connected.",
            )
        children = self._call(lambda: self.client.calls.list(parent_call_sid=sid, limit=1))
        if not children:
            if parent_status in FINAL_STATUSES:
                detail = (
                    "Your phone did not answer, so the contact was not called."
                    if parent_status in ("no-answer", "busy", "failed", "canceled")
                    else "The call ended before the contact was dialled."
                )
                # The parent's status is the volunteer's phone's: no outcome to suggest.
                return CallInfo(
                    provider=self.name, provider_call_id=sid, provider_status=parent_status,
                    detail=detail,
                )
            return CallInfo(
                provider=self.name, provider_call_id=sid, provider_status="ringing",
                detail="Connecting you to the contact…",
            )
        child = children[0]
        status = str(child.status)
        if parent_status not in FINAL_STATUSES and status in FINAL_STATUSES:
            status = "in-progress"  # the contact hung up; the volunteer's leg ends next
        duration = int(child.duration) if child.duration not in (None, "") else None
        return CallInfo(
            provider=self.name,
            provider_call_id=sid,
            provider_status=status,
            duration_seconds=duration if status in FINAL_STATUSES else None,
            suggested_outcome=suggested_outcome(status),
        )

    def hang_up(self, sid: str) -> CallInfo:
        """End the bridge (both legs) and report the final state.

        Raises:
            DialerError: Twilio refused or could not be reached.
        """
        call = self._call(lambda: self.client.calls(sid).fetch())
        if str(call.status) not in FINAL_STATUSES:
            # Twilio only cancels a call that is not yet answered, and only completes one that is.
            new_status = "canceled" if str(call.status) in ("queued", "ringing") else "completed"
            self._call(lambda: self.client.calls(sid).update(status=new_status))
        return self.status(sid)

    def send_sms(self, to: str, from_: str, body: str) -> SmsReceipt:
        """Raises: DialerError (opted out, not a mobile, refused, unreachable)."""
        message = self._call(
            lambda: self.client.messages.create(to=to, from_=from_, body=body)
        )
        return SmsReceipt(provider_id=str(message.sid), status=str(message.status or "queued"))

    # ---- continuous calling: the volunteer in a conference, contacts dialled in -------------

    def ring_into_room(
        self, *, volunteer_phone: str, caller_id: str, room: str, status_callback: str = ""
    ) -> str:
        """Ring the volunteer; when they answer they wait, in silence, in their conference.

        Raises:
            DialerError: Twilio refused or could not be reached.
        """
        # Only the final ("completed") call event is asked for over REST; the moment anyone
        # joins the room comes from the conference's own callback (room_twiml's join events).
        # StatusCallbackEvent is left out: Twilio takes it as repeated fields, which the
        # contract mock (Prism) cannot read as the array the description declares.
        options: dict[str, Any] = {"timeout": VOLUNTEER_RING_SECONDS}
        if status_callback:
            options.update(status_callback=status_callback, status_callback_method="POST")
        twiml = room_twiml(room=room, status_callback=status_callback)
        call = self._call(lambda: self.client.calls.create(
            to=volunteer_phone, from_=caller_id, twiml=twiml, **options))
        log.info("session: ringing volunteer %s", mask_phone(volunteer_phone))
        return str(call.sid)

    def dial_into_room(self, dial: RoomDial) -> str:
        """Add the contact to the volunteer's conference, dialled from the campaign's number.

        early_media off: the volunteer hears nothing until the contact answers. Leaving does
        not end the conference (the volunteer stays for the next contact).

        Raises:
            DialerError: Twilio refused or could not be reached.
        """
        options: dict[str, Any] = {
            "timeout": dial.ring_seconds, "early_media": False, "end_conference_on_exit": False,
            "beep": "false", "label": "contact",
        }
        detecting = dial.detection is not MachineDetection.OFF
        if detecting:
            options["machine_detection"] = (
                "DetectMessageEnd" if dial.detection is MachineDetection.AWAIT_BEEP else "Enable")
        if dial.status_callback:
            options.update(status_callback=dial.status_callback, status_callback_method="POST")
            if detecting:
                options.update(amd_status_callback=dial.status_callback,
                               amd_status_callback_method="POST")
        participant = self._call(lambda: self.client.conferences(dial.room).participants.create(
            from_=dial.caller_id, to=dial.contact_phone, **options))
        return str(participant.call_sid)

    def leg(self, sid: str) -> LegInfo:
        """Raises: DialerError."""
        call = self._call(lambda: self.client.calls(sid).fetch())
        duration = int(call.duration) if call.duration not in (None, "") else None
        return LegInfo(sid=sid, status=str(call.status),
                       answered_by=answered_by(call.answered_by), duration_seconds=duration)

    def end_leg(self, sid: str) -> LegInfo:
        """Raises: DialerError."""
        current = self.leg(sid)
        if current.final:
            return current
        # Twilio only cancels a call that is not yet answered, and only completes one that is.
        new_status = "canceled" if current.status in ("queued", "ringing") else "completed"
        self._call(lambda: self.client.calls(sid).update(status=new_status))
        return LegInfo(sid=sid, status=new_status, answered_by=current.answered_by,
                       duration_seconds=current.duration_seconds)

    def leave_message(self, sid: str, message: str) -> None:
        """Raises: DialerError."""
        twiml = voicemail_twiml(message)
        self._call(lambda: self.client.calls(sid).update(twiml=twiml))

    def check_account(self) -> dict[str, str]:
        """Fetch the account, proving the credentials work.

        Raises:
            DialerError: bad credentials, unreachable...
        """
        account = self._call(
            lambda: self.client.api.v2010.accounts(self.settings.account_sid).fetch()
        )
        return {
            "friendly_name": str(account.friendly_name or ""),
            "status": str(account.status or ""),
            "type": str(account.type or ""),
        }



# --------------------------------------------------------------------------------------------
# Webhook signatures
# --------------------------------------------------------------------------------------------

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"


def signature_valid(
    *,
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
) -> bool:
    """True when X-Twilio-Signature proves Twilio sent exactly these params to this URL."""
    from twilio.request_validator import RequestValidator, get_signature_algorithm

    lowered = {key.lower(): value for key, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER, "")
    if not auth_token or not signature:
        return False
    algorithm = get_signature_algorithm(lowered.get(SIGNATURE_SETTINGS_HEADER, ""))
    return bool(RequestValidator(auth_token).validate(url, params, signature, algorithm))


# --------------------------------------------------------------------------------------------
# The organiser's check of the Twilio settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioCheck:
    ok: bool
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    account_name: str = ""


def check_twilio(settings: Settings, *, http_client: Any = None) -> TwilioCheck:
    """Check the Twilio settings and, if they look complete, the credentials with Twilio itself."""
    tw = settings.twilio
    problems: list[str] = []
    notes: list[str] = []
    if not tw.configured:
        problems.append(
            "Twilio is not set up: give TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or "
            "TWILIO_API_KEY and TWILIO_API_SECRET) in the environment or secrets file."
        )
    elif not tw.account_sid.startswith("AC"):
        problems.append("TWILIO_ACCOUNT_SID should start with AC: copy it from the Twilio console.")
    if not tw.caller_ids:
        problems.append("No caller IDs: list the campaign numbers in TWILIO_CALLER_IDS.")
    for number in tw.caller_ids:
        try:
            normalise_phone(number, region=settings.default_region)
        except InvalidPhone:
            problems.append(f"The caller ID {number!r} is not a valid phone number.")
    if not settings.public_url:
        notes.append(
            "RINGROUND_PUBLIC_URL is not set: calls and texts work, but STOP replies and call "
            "status updates from Twilio cannot reach Ringround."
        )
    elif not tw.auth_token:
        notes.append(
            "Webhooks are checked with the auth token, which is not set: Twilio's status "
            "updates and STOP replies will be refused until TWILIO_AUTH_TOKEN is given."
        )
    account_name = ""
    if tw.configured and not problems:
        dialer = TwilioDialer(tw, http_client=http_client)
        try:
            account = dialer.check_account()
        except DialerError as exc:
            problems.append(str(exc))
        else:
            account_name = account["friendly_name"]
            if account["status"] and account["status"] != "active":
                problems.append(f"The Twilio account is {account['status']}, not active.")
            if account["type"].lower() == "trial":
                notes.append(
                    "This is a Twilio trial account: it can only call and text numbers verified "
                    "in the console, and plays a trial message first. Upgrade before a campaign."
                )
    return TwilioCheck(ok=not problems, problems=tuple(problems), notes=tuple(notes),
                       account_name=account_name)
