"""The port every dialer implements, in words any provider can use.

A dialer places a bridged call (ring the volunteer, then the contact), reports its state, hangs
it up and sends texts. Its failures are `DialerError` subclasses whose str() is a sentence a
volunteer or organiser can act on, and never contains a phone number.

Call states are provider-neutral (`CallState`); a provider maps its own vocabulary onto them
(Twilio's happen to be spelled the same, which is why the values look like Twilio's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# The package's public face (core/dialing/__init__.py re-exports exactly these).
__all__ = [
    "CallState", "LIVE_STATUSES", "FINAL_STATUSES", "SUGGESTED_OUTCOMES", "STATUS_LABELS",
    "DialerError", "BridgeRefused", "DialerNotConfigured", "BadCredentials", "CallerIdNotVerified",
    "NoGeoPermission", "RateLimited", "DialerUnreachable", "InvalidNumber", "SmsRecipientOptedOut",
    "NoVerifiedPhone", "NotABridge", "CallInfo", "SmsReceipt", "suggested_outcome", "tel_link",
    "Dialer", "AnsweredBy", "MachineDetection", "LegInfo", "RoomDial", "RoomDialer",
]


class CallState(StrEnum):
    """Where one call leg is, in the order a call goes through them."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"


LIVE_STATUSES: tuple[str, ...] = (CallState.QUEUED, CallState.RINGING, CallState.IN_PROGRESS)
# StrEnum members hash and compare as their values, so plain strings look these up too.
FINAL_STATUSES: frozenset[str] = frozenset({
    CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED,
    CallState.CANCELED,
})
# The outcome the page pre-selects for the volunteer to confirm; the codes of core/outcomes.py.
SUGGESTED_OUTCOMES: dict[str, str] = {CallState.NO_ANSWER: "no_answer", CallState.BUSY: "busy"}

STATUS_LABELS: dict[str, str] = {
    CallState.QUEUED: "Starting the call…",
    CallState.RINGING: "Ringing…",
    CallState.IN_PROGRESS: "Connected",
    CallState.COMPLETED: "Call ended",
    CallState.BUSY: "Busy",
    CallState.NO_ANSWER: "No answer",
    CallState.FAILED: "The call failed",
    CallState.CANCELED: "Call cancelled",
}


# --------------------------------------------------------------------------------------------
# Domain exceptions: the UI shows str(exc) as it is.
# --------------------------------------------------------------------------------------------


class DialerError(Exception):
    """A call or text could not be placed; str() says why in words, without any phone number."""


class BridgeRefused(DialerError):
    """No call may be placed now: not the caller's lease, a paused campaign, or out of hours."""


class DialerNotConfigured(DialerError):
    pass


class BadCredentials(DialerError):
    pass


class CallerIdNotVerified(DialerError):
    pass


class NoGeoPermission(DialerError):
    pass


class RateLimited(DialerError):
    pass


class DialerUnreachable(DialerError):
    pass


class InvalidNumber(DialerError):
    pass


class SmsRecipientOptedOut(DialerError):
    """The recipient texted STOP to the campaign number: the provider refuses to text them."""


class NoVerifiedPhone(DialerError):
    """The volunteer has not confirmed a phone for Ringround to ring."""


class NotABridge(DialerError):
    """The campaign uses volunteers' own phones; there is no call for Ringround to place."""


# --------------------------------------------------------------------------------------------
# What a dialer reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallInfo:
    """The state of one bridged call, as the calling page stores it with the attempt."""

    provider: str
    provider_call_id: str
    provider_status: str
    duration_seconds: int | None = None
    # An outcome code ("no_answer", "busy") for the volunteer to confirm, or None.
    suggested_outcome: str | None = None
    # A sentence for the volunteer when the status alone would mislead them.
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.provider_status in FINAL_STATUSES

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.provider_status, self.provider_status)


@dataclass(frozen=True)
class SmsReceipt:
    provider_id: str
    status: str


def suggested_outcome(status: str | None) -> str | None:
    return SUGGESTED_OUTCOMES.get(status or "")


def tel_link(phone: str) -> str:
    """A tel: link a phone or softphone opens to dial the number itself."""
    return "tel:" + re.sub(r"[^\d+]", "", phone)


class Dialer(Protocol):
    name: str
    # True when Ringround places the call (Twilio, fake); False for the volunteer's own phone.
    bridges: bool

    def start_bridge(
        self, volunteer_phone: str, contact_phone: str, caller_id: str, contact_name: str
    ) -> str: ...

    def status(self, sid: str) -> CallInfo: ...

    def hang_up(self, sid: str) -> CallInfo: ...

    def send_sms(self, to: str, from_: str, body: str) -> SmsReceipt: ...


# --------------------------------------------------------------------------------------------
# Continuous calling: the volunteer held in a room, contacts dialled into it
# --------------------------------------------------------------------------------------------


class AnsweredBy(StrEnum):
    """Who picked up, as answering-machine detection decided ("" until it has)."""

    HUMAN = "human"
    MACHINE = "machine"
    FAX = "fax"
    UNKNOWN = "unknown"


class MachineDetection(StrEnum):
    """How to listen for a machine: `DETECT` answers as soon as it knows; `AWAIT_BEEP` waits for
    the greeting to end, so a message left afterwards is recorded whole."""

    OFF = "off"
    DETECT = "detect"
    AWAIT_BEEP = "await_beep"


@dataclass(frozen=True)
class LegInfo:
    """One leg of a continuous session (the volunteer's, or a contact's)."""

    sid: str
    status: str  # CallState
    answered_by: str = ""  # AnsweredBy, or "" while unknown
    duration_seconds: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class RoomDial:
    """What dialling a contact into a volunteer's room needs, whichever dialer places it."""

    room: str
    contact_phone: str
    caller_id: str  # the number the contact sees
    ring_seconds: int
    detection: MachineDetection
    status_callback: str = ""


class RoomDialer(Protocol):
    """A dialer that can hold a volunteer on the line and dial contacts in to them."""

    name: str

    def ring_into_room(
        self, *, volunteer_phone: str, caller_id: str, room: str, status_callback: str = ""
    ) -> str:
        """Ring the volunteer and, once they answer, hold them in `room`; the leg's id."""
        ...

    def dial_into_room(self, dial: RoomDial) -> str:
        """Dial the contact from its caller id and join them to its room; the leg's id."""
        ...

    def leg(self, sid: str) -> LegInfo: ...

    def end_leg(self, sid: str) -> LegInfo:
        """Hang the leg up (cancel it while it rings)."""
        ...

    def leave_message(self, sid: str, message: str) -> None:
        """Read `message` to whoever (or whatever) answered the leg, then hang up."""
        ...
