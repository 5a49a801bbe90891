"""A dialer in memory, scripted, for tests and the demo: each status() poll moves a call along.

Wired in by configuration (a campaign whose dialer is "fake", or demo mode without Twilio),
never recognised by production code.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.dialing.port import (
    FINAL_STATUSES,
    CallInfo,
    DialerError,
    LegInfo,
    MachineDetection,
    RoomDial,
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



# --------------------------------------------------------------------------------------------
# Continuous calling: scripted call lives, and the callbacks Twilio would send
# --------------------------------------------------------------------------------------------


class CallLife(StrEnum):
    """How a fake contact's phone behaves when a session dials it."""

    HUMAN = "human"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


# Each poll (or tick) moves a leg one step; the last step holds.
LIFE_SCRIPTS: dict[CallLife, tuple[tuple[str, str], ...]] = {
    CallLife.HUMAN: (("queued", ""), ("ringing", ""), ("in-progress", "human")),
    CallLife.MACHINE: (("queued", ""), ("ringing", ""), ("in-progress", "machine")),
    CallLife.BUSY: (("queued", ""), ("busy", "")),
    CallLife.NO_ANSWER: (("queued", ""), ("ringing", ""), ("ringing", ""), ("no-answer", "")),
    CallLife.FAILED: (("queued", ""), ("failed", "")),
}
VOLUNTEER_SCRIPT: tuple[tuple[str, str], ...] = (("queued", ""), ("ringing", ""),
                                                  ("in-progress", ""))


def demo_life(contact_phone: str) -> CallLife:
    """Vary the demo by the number's last digit, as demo_script does for the bridge."""
    last = contact_phone[-1:] if contact_phone else "0"
    if last in "37":
        return CallLife.NO_ANSWER
    if last == "5":
        return CallLife.BUSY
    if last == "9":
        return CallLife.MACHINE
    return CallLife.HUMAN


@dataclass
class FakeLeg:
    sid: str
    phone: str
    caller_id: str
    room: str
    script: tuple[tuple[str, str], ...]
    status_callback: str = ""
    ring_seconds: int = 0
    detection: str = ""
    step: int = 0
    ended: str = ""  # the final status it was ended with, if ended
    message: str = ""  # what was read to it before hanging up
    seconds: int = 0

    @property
    def status(self) -> str:
        return self.ended or self.script[min(self.step, len(self.script) - 1)][0]

    @property
    def answered_by(self) -> str:
        return self.script[min(self.step, len(self.script) - 1)][1]


@dataclass
class FakeRoomDialer:
    """Plays scripted call lives (`lives` by contact phone, else `life_for`) for sessions.

    `drop_volunteer_after` makes the volunteer's phone hang up after that many of its polls.
    With `status_callback` given, each change is queued in `callbacks` as (url, params), the
    form Twilio would POST, for a test to sign and deliver; `tick()` moves every live leg once
    (as time passing would) without anyone polling.
    """

    name: str = "fake"
    lives: dict[str, CallLife] = field(default_factory=dict)
    life_for: Callable[[str], CallLife] = demo_life
    drop_volunteer_after: int | None = None
    seconds_per_step: int = 20
    fail_with: DialerError | None = None
    legs: list[FakeLeg] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def _new_leg(self, **fields: Any) -> FakeLeg:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            leg = FakeLeg(sid=f"CAroom{next(self._ids):026d}", **fields)
            self.legs.append(leg)
        return leg

    def _find(self, sid: str) -> FakeLeg:
        for leg in self.legs:
            if leg.sid == sid:
                return leg
        raise DialerError("Ringround has no record of that call.")

    def _info(self, leg: FakeLeg) -> LegInfo:
        return LegInfo(sid=leg.sid, status=leg.status, answered_by=leg.answered_by,
                       duration_seconds=leg.seconds if leg.status in FINAL_STATUSES else None)

    def _report(self, leg: FakeLeg) -> None:
        if leg.status_callback:
            params = {"CallSid": leg.sid, "CallStatus": leg.status}
            if leg.answered_by:
                params["AnsweredBy"] = leg.answered_by
            self.callbacks.append((leg.status_callback, params))

    def _step(self, leg: FakeLeg) -> None:
        if leg.status in FINAL_STATUSES:
            return
        is_volunteer = leg.script is VOLUNTEER_SCRIPT
        if is_volunteer and self.drop_volunteer_after is not None:
            self.drop_volunteer_after -= 1
            if self.drop_volunteer_after < 0:
                leg.ended = "completed"
                self._report(leg)
                return
        if leg.step < len(leg.script) - 1:
            leg.step += 1
            self._report(leg)
        elif leg.status == "in-progress":
            leg.seconds += self.seconds_per_step

    def ring_into_room(
        self, *, volunteer_phone: str, caller_id: str, room: str, status_callback: str = ""
    ) -> str:
        return self._new_leg(phone=volunteer_phone, caller_id=caller_id, room=room,
                             script=VOLUNTEER_SCRIPT, status_callback=status_callback).sid

    def dial_into_room(self, dial: RoomDial) -> str:
        life = self.lives.get(dial.contact_phone) or self.life_for(dial.contact_phone)
        script = LIFE_SCRIPTS[CallLife(life)]
        if dial.detection is MachineDetection.OFF:
            script = tuple((status, "") for status, _ in script)
        return self._new_leg(phone=dial.contact_phone, caller_id=dial.caller_id, room=dial.room,
                             script=script, status_callback=dial.status_callback,
                             ring_seconds=dial.ring_seconds, detection=str(dial.detection)).sid

    def leg(self, sid: str) -> LegInfo:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            leg = self._find(sid)
            self._step(leg)
            return self._info(leg)

    def tick(self) -> list[tuple[str, dict[str, str]]]:
        """Move every live leg one step; the callbacks that produced (and clears them)."""
        with self._lock:
            for leg in self.legs:
                self._step(leg)
            sent, self.callbacks = self.callbacks, []
        return sent

    def end_leg(self, sid: str) -> LegInfo:
        with self._lock:
            leg = self._find(sid)
            if leg.status not in FINAL_STATUSES:
                leg.ended = "completed" if leg.status == "in-progress" else "canceled"
                self._report(leg)
            return self._info(leg)

    def leave_message(self, sid: str, message: str) -> None:
        with self._lock:
            leg = self._find(sid)
            leg.message = message
            if leg.status not in FINAL_STATUSES:
                leg.ended = "completed"
                self._report(leg)

    def leg_to(self, phone: str) -> FakeLeg:
        """The latest leg dialled to this phone (for tests)."""
        return next(leg for leg in reversed(self.legs) if leg.phone == phone)
