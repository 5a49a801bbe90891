"""A dialer in memory, scripted, for tests and the demo: each status() poll moves a call along.

Wired in by configuration (a campaign whose dialer is "fake", or demo mode without Twilio),
never recognised by production code.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.dialing.port import (
    FINAL_STATUSES,
    CallInfo,
    DialerError,
    SmsReceipt,
    suggested_outcome,
)
from core.dialing.twiml import bridge_twiml

DEFAULT_SCRIPT = ("queued", "ringing", "in-progress", "completed")


@dataclass
class FakeCall:
    sid: str
    volunteer_phone: str
    contact_phone: str
    caller_id: str
    contact_name: str
    twiml: str
    script: tuple[str, ...]
    step: int = 0
    hung_up: bool = False
    duration_seconds: int = 0

    @property
    def status(self) -> str:
        return self.script[min(self.step, len(self.script) - 1)]


@dataclass
class FakeSms:
    sid: str
    to: str
    from_: str
    body: str


def demo_script(contact_phone: str) -> tuple[str, ...]:
    """Vary the demo by the number's last digit, so every final state can be seen."""
    last = contact_phone[-1:] if contact_phone else "0"
    if last in "37":
        return ("queued", "ringing", "ringing", "no-answer")
    if last == "5":
        return ("queued", "ringing", "busy")
    return DEFAULT_SCRIPT


@dataclass
class FakeDialer:
    """Records calls and texts in memory; each status() poll moves a call one step along its script.

    `scripts` maps a contact phone to its own script; `fail_with` makes the next operations raise,
    as Twilio would (bad credentials, rate limits...).
    """

    name: str = "fake"
    bridges: bool = True
    default_script: Sequence[str] = DEFAULT_SCRIPT
    scripts: dict[str, Sequence[str]] = field(default_factory=dict)
    script_for: Callable[[str], Sequence[str]] | None = None
    # Seconds each poll spent in progress adds to the call's duration.
    seconds_per_poll: int = 20
    fail_with: DialerError | None = None
    calls: list[FakeCall] = field(default_factory=list)
    sent: list[FakeSms] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def _raise_if_failing(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def _script(self, contact_phone: str) -> tuple[str, ...]:
        if contact_phone in self.scripts:
            return tuple(self.scripts[contact_phone])
        if self.script_for is not None:
            return tuple(self.script_for(contact_phone))
        return tuple(self.default_script)

    def _find(self, sid: str) -> FakeCall:
        for call in self.calls:
            if call.sid == sid:
                return call
        raise DialerError("Ringround has no record of that call.")

    def start_bridge(
        self, volunteer_phone: str, contact_phone: str, caller_id: str, contact_name: str
    ) -> str:
        self._raise_if_failing()
        with self._lock:
            sid = f"CAfake{next(self._ids):026d}"
            self.calls.append(
                FakeCall(
                    sid=sid,
                    volunteer_phone=volunteer_phone,
                    contact_phone=contact_phone,
                    caller_id=caller_id,
                    contact_name=contact_name,
                    twiml=bridge_twiml(
                        contact_phone=contact_phone, caller_id=caller_id,
                        contact_name=contact_name,
                    ),
                    script=self._script(contact_phone),
                )
            )
        return sid

    def _info(self, call: FakeCall) -> CallInfo:
        status = call.status
        return CallInfo(
            provider=self.name,
            provider_call_id=call.sid,
            provider_status=status,
            duration_seconds=call.duration_seconds if status in FINAL_STATUSES else None,
            suggested_outcome=suggested_outcome(status),
        )

    def status(self, sid: str) -> CallInfo:
        self._raise_if_failing()
        with self._lock:
            call = self._find(sid)
            if not call.hung_up and call.step < len(call.script) - 1:
                if call.status == "in-progress":
                    call.duration_seconds += self.seconds_per_poll
                call.step += 1
            return self._info(call)

    def hang_up(self, sid: str) -> CallInfo:
        self._raise_if_failing()
        with self._lock:
            call = self._find(sid)
            if call.status not in FINAL_STATUSES:
                final = "completed" if call.status == "in-progress" else "canceled"
                call.script = (*call.script[: call.step + 1], final)
                call.step = len(call.script) - 1
                call.hung_up = True
            return self._info(call)

    def send_sms(self, to: str, from_: str, body: str) -> SmsReceipt:
        self._raise_if_failing()
        with self._lock:
            sid = f"SMfake{next(self._ids):026d}"
            self.sent.append(FakeSms(sid=sid, to=to, from_=from_, body=body))
        return SmsReceipt(provider_id=sid, status="queued")

