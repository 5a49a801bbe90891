"""Continuous calling (power mode): the volunteer stays on the line and contacts are dialled in.

Start rings the volunteer's confirmed phone once into a conference of their own (a "room").
Whenever they are ready, the next contact is claimed through the same atomic claim as manual
calling (core/queue.py: do-not-call, TPS and calling hours apply exactly as there) and dialled
into the room from the campaign's caller ID, with answering-machine detection:

- a person is put through at once, and the page shows their card and script;
- a machine is hung up on, or read the campaign's voicemail message, and logged by itself;
- busy, no answer and failed calls are logged by themselves, and the next contact is dialled.

One contact per ready volunteer (1:1), so no call is ever abandoned (Ofcom's persistent misuse
policy counts a live answer with no agent as abandoned; predictive pacing is not offered, and
bench/dialer_sim.py shows what it would cost). Contacts ring for RING_SECONDS (Ofcom: at least
15 s). If the volunteer's phone drops, the session pauses and the contact goes back to the queue.

`advance` is the one transition: the page calls it on a timer (polling works without a public
URL) and the signed status/AMD webhook calls it the moment Twilio reports (faster). Each step
commits with a version check, and the network calls sit between transactions, so two callers
at once never dial twice and no database lock is held while Twilio answers.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import queue
from core.config import Settings
from core.dialing.calls import campaign_caller_id
from core.dialing.port import (
    FINAL_STATUSES,
    AnsweredBy,
    CallInfo,
    CallState,
    DialerError,
    LegInfo,
    MachineDetection,
    NoVerifiedPhone,
    RoomDial,
    RoomDialer,
)
from core.dialing.registry import spec_for
from core.outcomes import Behaviour, QueueStatus
from core.phones import mask_phone
from core.suppression import is_suppressed
from db.engine import Database
from db.models import (
    CallingSession,
    Campaign,
    Contact,
    Outcome,
    QueueEntry,
    SessionCall,
    User,
)

log = logging.getLogger(__name__)

# Ofcom's statement on persistent misuse: let a call ring at least 15 s before giving up.
MIN_RING_SECONDS = 15
RING_SECONDS = 25
# With detection on, a line that is up but not yet classified is given this long before the
# volunteer is put through anyway (a silent person is worse than a volunteer hearing a greeting).
AMD_WAIT = timedelta(seconds=6)
SESSION_PATH = "/twilio/session"


class SessionStatus(StrEnum):
    CONNECTING = "connecting"  # ringing the volunteer's phone
    READY = "ready"  # volunteer on the line, nobody dialled yet
    DIALING = "dialing"  # a contact is ringing
    TALKING = "talking"  # a person is through: card and script on screen
    PAUSED = "paused"
    ENDED = "ended"


SESSION_LIVE = frozenset(set(SessionStatus) - {SessionStatus.ENDED})


class LineResult(StrEnum):
    """What a dialled line came to (SessionCall.result)."""

    TALKED = "talked"
    VOICEMAIL_LEFT = "voicemail_left"
    MACHINE = "hung_up_machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    RETURNED = "returned"  # handed back to the queue unlogged (volunteer dropped, session ended)


# The outcome each automatic result is logged as: the first of these codes the campaign has,
# else its first "retry" outcome; a campaign with neither gets the contact back unlogged.
AUTO_OUTCOMES: dict[LineResult, tuple[str, ...]] = {
    LineResult.VOICEMAIL_LEFT: ("voicemail", "no_answer"),
    LineResult.MACHINE: ("no_answer", "voicemail"),
    LineResult.BUSY: ("busy", "no_answer"),
    LineResult.NO_ANSWER: ("no_answer",),
    LineResult.FAILED: ("no_answer",),
}
RESULT_LABELS: dict[str, str] = {
    LineResult.VOICEMAIL_LEFT: "voicemail left",
    LineResult.MACHINE: "answering machine, no message",
    LineResult.BUSY: "busy",
    LineResult.NO_ANSWER: "no answer",
    LineResult.FAILED: "the call failed",
    LineResult.RETURNED: "back in the queue",
}


class SessionError(DialerError):
    """A session could not start or go on; str() says why in words."""


@dataclass(frozen=True)
class OnTheLine:
    """The contact a session has dialled (no phone number: the card comes from the claim)."""

    queue_entry_id: int
    contact_id: int
    status: str
    answered_by: str
    # Reused as the attempt's idempotency key when the volunteer saves the outcome.
    attempt_key: str
    dialled_at: datetime
    call: CallInfo


@dataclass(frozen=True)
class SessionView:
    id: int
    campaign_id: int
    status: str
    notice: str
    pause_requested: bool
    volunteer_connected: bool
    line: OnTheLine | None
    dialled: int
    talked: int
    logged: dict[str, int]

    @property
    def live(self) -> bool:
        return self.status in SESSION_LIVE


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _view(session: Session, row: CallingSession) -> SessionView:
    assert row.id is not None
    line = None
    if row.current_call_id is not None:
        call = session.get(SessionCall, row.current_call_id)
        if call is not None and call.queue_entry_id is not None and call.contact_id is not None:
            line = OnTheLine(
                queue_entry_id=call.queue_entry_id, contact_id=call.contact_id,
                status=call.status, answered_by=call.answered_by,
                attempt_key=call.idempotency_key, dialled_at=call.dialled_at,
                call=CallInfo(provider=row.provider, provider_call_id=call.call_sid or "",
                              provider_status=call.status),
            )
    counts = session.exec(
        select(SessionCall.result, sa.func.count()).where(SessionCall.session_id == row.id)
        .group_by(col(SessionCall.result))
    ).all()
    logged = {result: n for result, n in counts if result}
    return SessionView(
        id=row.id, campaign_id=row.campaign_id, status=row.status, notice=row.notice,
        pause_requested=row.pause_requested,
        volunteer_connected=row.volunteer_status == CallState.IN_PROGRESS,
        line=line, dialled=sum(n for _, n in counts), talked=logged.get(LineResult.TALKED, 0),
        logged={k: v for k, v in logged.items() if k != LineResult.TALKED},
    )


def get_session(*, session: Session, session_id: int) -> SessionView | None:
    row = session.get(CallingSession, session_id)
    return _view(session, row) if row is not None else None


def live_session(*, session: Session, volunteer_id: int) -> SessionView | None:
    """The volunteer's session that has not ended, if any (e.g. after a page reload)."""
    row = session.exec(
        select(CallingSession).where(CallingSession.volunteer_id == volunteer_id)
        .where(col(CallingSession.status).in_(sorted(SESSION_LIVE)))
        .order_by(col(CallingSession.id).desc())
    ).first()
    return _view(session, row) if row is not None else None


# --------------------------------------------------------------------------------------------
# Transitions
# --------------------------------------------------------------------------------------------


class _Lost(Exception):
    """Someone else moved the session on first: this transaction rolls back and reads again."""


def _save(session: Session, row: CallingSession, expected_version: int, now: datetime,
          **changes: Any) -> bool:
    """Apply changes if nobody else moved the session on since it was read.

    On PostgreSQL a concurrent transition waits here on the row and then finds the version
    gone; raising rolls back everything this transaction did (a claim included).

    Raises:
        _Lost: the version moved on.
    """
    result = session.execute(
        sa.update(CallingSession)
        .where(col(CallingSession.id) == row.id, col(CallingSession.version) == expected_version)
        .values(version=expected_version + 1, updated_at=now, **changes)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise _Lost
    return True


def _retrying_lost(action: Any) -> Any:
    for _ in range(4):
        try:
            return action()
        except _Lost:
            continue
    raise SessionError("The session is busy changing: try again.")


def _load(session: Session, session_id: int, volunteer_id: int | None = None) -> CallingSession:
    row = session.get(CallingSession, session_id)
    if row is None or (volunteer_id is not None and row.volunteer_id != volunteer_id):
        raise SessionError("That calling session is not yours or no longer exists.")
    session.refresh(row)
    return row


def _webhook_url(settings: Settings) -> str:
    return f"{settings.public_url}{SESSION_PATH}" if settings.public_url else ""


def start_session(
    *,
    database: Database,
    dialer: RoomDialer,
    settings: Settings,
    campaign_id: int,
    volunteer_id: int,
    now: datetime,
) -> SessionView:
    """Ring the volunteer's confirmed phone into a new room for this campaign.

    Raises:
        NoVerifiedPhone: the volunteer has no confirmed phone.
        SessionError: the campaign does not call through Ringround, or has no caller ID.
        DialerError: the provider refused or could not be reached.
    """
    with database.write() as session:
        campaign = session.get(Campaign, campaign_id)
        user = session.get(User, volunteer_id)
        if campaign is None or user is None:
            raise SessionError("That campaign no longer exists.")
        spec = spec_for(campaign.dialer)
        if spec.rooms is None:
            raise SessionError("Continuous calling needs a campaign that calls through "
                               "Ringround (Twilio).")
        if not (user.phone and user.phone_verified):
            raise NoVerifiedPhone("Ringround rings your own phone first: add and confirm your "
                                  "number in My account.")
        caller_id = campaign_caller_id(campaign, spec, settings)
        for old in session.exec(
            select(CallingSession).where(CallingSession.volunteer_id == volunteer_id)
            .where(col(CallingSession.status).in_(sorted(SESSION_LIVE)))
        ).all():
            old.status, old.ended_at, old.notice = SessionStatus.ENDED, now, "Replaced."
            session.add(old)
        row = CallingSession(
            campaign_id=campaign_id, volunteer_id=volunteer_id, provider=spec.kind,
            room=f"ringround-{secrets.token_hex(8)}", started_at=now, updated_at=now,
            notice="Ringing your phone: answer it to start.",
        )
        session.add(row)
        session.flush()
        volunteer_phone = user.phone
        session_id = row.id
        room = row.room
    assert session_id is not None
    try:
        sid = dialer.ring_into_room(volunteer_phone=volunteer_phone, caller_id=caller_id,
                                    room=room, status_callback=_webhook_url(settings))
    except DialerError:
        with database.write() as session:
            session.execute(sa.update(CallingSession).where(col(CallingSession.id) == session_id)
                            .values(status=SessionStatus.ENDED, ended_at=now))
        raise
    log.info("session %s: ringing volunteer %s", session_id, mask_phone(volunteer_phone))
    with database.write() as session:
        session.execute(sa.update(CallingSession).where(col(CallingSession.id) == session_id)
                        .values(volunteer_call_sid=sid, volunteer_status=CallState.QUEUED))
        view = get_session(session=session, session_id=session_id)
    assert view is not None
    return view


def _pick_outcome(session: Session, campaign_id: int, result: LineResult) -> str | None:
    outcomes = session.exec(
        select(Outcome).where(Outcome.campaign_id == campaign_id).order_by(col(Outcome.position))
    ).all()
    codes = {o.code for o in outcomes}
    for code in AUTO_OUTCOMES.get(result, ()):
        if code in codes:
            return code
    return next((o.code for o in outcomes if o.behaviour == Behaviour.RETRY), None)


def _close_line(session: Session, row: CallingSession, call: SessionCall, result: LineResult,
                leg: LegInfo | None, now: datetime, provider: str) -> str:
    """Log what the line came to (or hand the contact back); the notice for the volunteer."""
    call.result = result
    call.ended_at = now
    if leg is not None:
        call.status = leg.status
    outcome_code = None
    if result is not LineResult.RETURNED and call.queue_entry_id is not None:
        outcome_code = _pick_outcome(session, row.campaign_id, result)
    if outcome_code is not None and call.queue_entry_id is not None:
        try:
            queue.record_outcome(
                session=session, queue_entry_id=call.queue_entry_id,
                volunteer_id=row.volunteer_id, outcome_code=outcome_code,
                idempotency_key=call.idempotency_key, answers={}, notes="",
                started_at=call.dialled_at, now=now, provider=provider,
                provider_call_id=call.call_sid, provider_status=call.status,
                duration_seconds=leg.duration_seconds if leg is not None else None,
            )
            call.outcome_code = outcome_code
        except queue.LeaseLost:
            pass  # the contact went elsewhere meanwhile: nothing of ours to log
    elif call.queue_entry_id is not None:
        queue.release(session=session, queue_entry_id=call.queue_entry_id,
                      volunteer_id=row.volunteer_id, now=now)
    session.add(call)
    contact = session.get(Contact, call.contact_id) if call.contact_id else None
    name = " ".join(p for p in ((contact.first_name, contact.last_name) if contact else ()) if p)
    return f"{name or 'The last contact'}: {RESULT_LABELS.get(result, result)}."


def _machine_result(campaign: Campaign) -> LineResult:
    return LineResult.VOICEMAIL_LEFT if campaign.voicemail_message.strip() else LineResult.MACHINE


FINAL_RESULTS: dict[str, LineResult] = {
    CallState.BUSY: LineResult.BUSY, CallState.NO_ANSWER: LineResult.NO_ANSWER,
    # Twilio cancels a participant that rang out its timeout without an answer.
    CallState.CANCELED: LineResult.NO_ANSWER,
}


def _final_result(status: str) -> LineResult:
    return FINAL_RESULTS.get(status, LineResult.FAILED)


def advance(
    *,
    database: Database,
    dialer: RoomDialer,
    settings: Settings,
    session_id: int,
    now: datetime,
    poll: bool = True,
) -> SessionView:
    """Move the session on as far as the lines allow: observe, log, dial the next contact.

    poll=True asks the provider for each leg's state (no public URL needed); poll=False trusts
    what the webhook stored.

    Raises:
        SessionError: the session is gone.
    """
    seen: dict[str, LegInfo] = {}  # each leg is asked about once per advance
    for _ in range(4):  # at most: close a line, then dial the next; a lost race reads again
        try:
            moved = _step(database, dialer, settings, session_id, now, poll, seen)
        except _Lost:
            moved = True
        if not moved:
            break
    with database.session() as session:
        view = get_session(session=session, session_id=session_id)
    if view is None:
        raise SessionError("That calling session no longer exists.")
    return view


def _leg(dialer: RoomDialer, sid: str | None, stored_status: str | None, stored_by: str,
         poll: bool, seen: dict[str, LegInfo]) -> LegInfo | None:
    if not sid:
        return None
    if not poll:
        return LegInfo(sid=sid, status=stored_status or CallState.QUEUED, answered_by=stored_by)
    if sid not in seen:
        seen[sid] = dialer.leg(sid)
    return seen[sid]


def _step(database: Database, dialer: RoomDialer, settings: Settings, session_id: int,
          now: datetime, poll: bool, seen: dict[str, LegInfo]) -> bool:
    """One transition; True when something changed (so another may follow)."""
    with database.session() as session:
        row = _load(session, session_id)
        call = session.get(SessionCall, row.current_call_id) if row.current_call_id else None
        campaign = session.get(Campaign, row.campaign_id)
    if row.status in (SessionStatus.ENDED,) or campaign is None:
        return False
    version = row.version
    try:
        volunteer = _leg(dialer, row.volunteer_call_sid, row.volunteer_status, "", poll, seen)
        line = (_leg(dialer, call.call_sid, call.status, call.answered_by, poll, seen)
                if call is not None and call.ended_at is None else None)
    except DialerError as exc:
        with database.write() as session:
            _save(session, row, version, now, notice=f"{exc} Still trying…"[:300])
        return False

    # The volunteer's phone dropped: pause, and hand back whoever was on the line.
    if volunteer is not None and volunteer.final and row.status != SessionStatus.PAUSED:
        if line is not None and not line.final:
            _quietly_end(dialer, line.sid)
        with database.write() as session:
            fresh = _load(session, session_id)
            if fresh.version != version:
                return True
            notice = ("Your phone did not answer: the session is paused. Resume rings you "
                      "again." if row.status == SessionStatus.CONNECTING else
                      "Your phone hung up: the session is paused. Resume rings you again.")
            if call is not None and call.ended_at is None:
                current = session.get(SessionCall, call.id)
                assert current is not None
                _close_line(session, fresh, current, LineResult.RETURNED, line, now,
                            row.provider)
                notice += " The contact you were on goes back to the queue."
            _save(session, fresh, version, now, status=SessionStatus.PAUSED,
                  volunteer_status=volunteer.status, volunteer_call_sid=None,
                  current_call_id=None, notice=notice)
        return True

    if row.status == SessionStatus.CONNECTING:
        if volunteer is None or volunteer.status != CallState.IN_PROGRESS:
            return False
        with database.write() as session:
            status = (SessionStatus.PAUSED if row.pause_requested else SessionStatus.READY)
            return _save(session, row, version, now, status=status,
                         volunteer_status=volunteer.status, notice="You are on the line.")

    if row.status == SessionStatus.DIALING and call is not None and line is not None:
        return _observe_dialing(database, dialer, row, version, call, line, campaign, now)

    if row.status == SessionStatus.TALKING and call is not None:
        if not _still_held(database, call, row.volunteer_id):
            # The volunteer saved an outcome (or skipped): the line is done with.
            _line_done(database, dialer, session_id, row.volunteer_id, now)
            return True
        if line is not None and line.status != call.status:
            with database.write() as session:
                session.execute(sa.update(SessionCall).where(col(SessionCall.id) == call.id)
                                .values(status=line.status))
        return False

    if row.status == SessionStatus.READY:
        if row.pause_requested:
            with database.write() as session:
                return _save(session, row, version, now, status=SessionStatus.PAUSED,
                             pause_requested=False, notice="Paused.")
        return _dial_next(database, dialer, settings, row, version, campaign, now)
    return False


def _still_held(database: Database, call: SessionCall, volunteer_id: int) -> bool:
    """True while the contact on the line is still leased to the volunteer (no outcome yet)."""
    if call.queue_entry_id is None:
        return False
    with database.session() as session:
        entry = session.get(QueueEntry, call.queue_entry_id)
        return (entry is not None and entry.status == QueueStatus.LEASED
                and entry.claimed_by_id == volunteer_id)


def _quietly_end(dialer: RoomDialer, sid: str) -> None:
    try:
        dialer.end_leg(sid)
    except DialerError:
        log.warning("session: could not end a leg; Twilio ends it when the room closes")


def _observe_dialing(database: Database, dialer: RoomDialer, row: CallingSession, version: int,
                     call: SessionCall, line: LegInfo, campaign: Campaign, now: datetime
                     ) -> bool:
    result: LineResult | None = None
    if line.status == CallState.IN_PROGRESS or line.status == CallState.COMPLETED:
        if line.answered_by == AnsweredBy.MACHINE or line.answered_by == AnsweredBy.FAX:
            result = _machine_result(campaign)
            # Claim the action first, so a webhook and a poll at once act on the machine once.
            with database.write() as session:
                if not _save(session, row, version, now, notice="An answering machine…"):
                    return True
            version += 1
            try:
                if result is LineResult.VOICEMAIL_LEFT and line.status == CallState.IN_PROGRESS:
                    dialer.leave_message(line.sid, campaign.voicemail_message)
                elif line.status == CallState.IN_PROGRESS:
                    dialer.end_leg(line.sid)
            except DialerError:
                log.warning("session: could not deal with a machine; it hangs up by itself")
        elif (line.answered_by or line.status == CallState.COMPLETED
              or call.answered_at is not None and now - call.answered_at >= AMD_WAIT
              or dialer_detection(campaign) is MachineDetection.OFF):
            with database.write() as session:
                current = session.get(SessionCall, call.id)
                assert current is not None
                current.status, current.answered_by = line.status, line.answered_by
                current.answered_at = current.answered_at or now
                current.result = LineResult.TALKED
                session.add(current)
                return _save(session, row, version, now, status=SessionStatus.TALKING,
                             notice="Connected: say hello.")
        else:
            if call.answered_at is None:  # up, but detection has not decided yet
                with database.write() as session:
                    session.execute(sa.update(SessionCall).where(col(SessionCall.id) == call.id)
                                    .values(answered_at=now, status=line.status))
            return False
    elif line.final:
        result = _final_result(line.status)
    else:
        if line.status != call.status:
            with database.write() as session:
                session.execute(sa.update(SessionCall).where(col(SessionCall.id) == call.id)
                                .values(status=line.status))
        return False
    with database.write() as session:
        fresh = _load(session, row.id or 0)
        current = session.get(SessionCall, call.id)
        if fresh.version != version or current is None or current.ended_at is not None:
            return True
        current.answered_by = line.answered_by
        notice = _close_line(session, fresh, current, result, line, now, row.provider)
        status = SessionStatus.PAUSED if fresh.pause_requested else SessionStatus.READY
        _save(session, fresh, version, now, status=status, current_call_id=None, notice=notice,
              pause_requested=False)
    return True


def dialer_detection(campaign: Campaign) -> MachineDetection:
    """Listen for machines unless the campaign turned it off; wait for the beep only when there
    is a message to leave."""
    if not campaign.machine_detection:
        return MachineDetection.OFF
    return (MachineDetection.AWAIT_BEEP if campaign.voicemail_message.strip()
            else MachineDetection.DETECT)


def _dial_next(database: Database, dialer: RoomDialer, settings: Settings, row: CallingSession,
               version: int, campaign: Campaign, now: datetime) -> bool:
    with database.write() as session:
        fresh = _load(session, row.id or 0)
        if fresh.version != version or fresh.status != SessionStatus.READY:
            return True
        # Take the session first: a second transition waits here, then finds it taken.
        _save(session, fresh, version, now, status=SessionStatus.DIALING)
        version += 1
        try:
            claimed = queue.claim_next_contact(session=session, campaign_id=row.campaign_id,
                                               volunteer_id=row.volunteer_id, now=now)
        except queue.QueueError as exc:
            _save(session, fresh, version, now, status=SessionStatus.PAUSED, notice=str(exc))
            return True
        if claimed is None:
            _save(session, fresh, version, now, status=SessionStatus.READY,
                  notice="Nobody is waiting to be called right now; Ringround keeps checking.")
            return False
        contact = session.get(Contact, claimed.contact_id)
        assert contact is not None
        if is_suppressed(session=session, phone=contact.phone):
            queue.release(session=session, queue_entry_id=claimed.queue_entry_id,
                          volunteer_id=row.volunteer_id, now=now)
            _save(session, fresh, version, now, status=SessionStatus.READY)
            return False
        caller_id = campaign_caller_id(campaign, spec_for(campaign.dialer), settings)
        call = SessionCall(
            session_id=row.id or 0, campaign_id=row.campaign_id,
            queue_entry_id=claimed.queue_entry_id, contact_id=claimed.contact_id,
            idempotency_key=uuid.uuid4().hex, dialled_at=now,
        )
        session.add(call)
        session.flush()
        _save(session, fresh, version, now, status=SessionStatus.DIALING,
              current_call_id=call.id, notice=f"Dialling {claimed.name}…")
        contact_phone, call_id = contact.phone, call.id
    try:
        sid = dialer.dial_into_room(RoomDial(
            room=row.room, contact_phone=contact_phone, caller_id=caller_id,
            ring_seconds=max(RING_SECONDS, MIN_RING_SECONDS),
            detection=dialer_detection(campaign), status_callback=_webhook_url(settings),
        ))
    except DialerError as exc:
        with database.write() as session:
            fresh = _load(session, row.id or 0)
            current = session.get(SessionCall, call_id)
            assert current is not None
            _close_line(session, fresh, current, LineResult.RETURNED, None, now, row.provider)
            _save(session, fresh, fresh.version, now, status=SessionStatus.PAUSED,
                  current_call_id=None, notice=f"{exc} The session is paused."[:300])
        return False
    with database.write() as session:
        session.execute(sa.update(SessionCall).where(col(SessionCall.id) == call_id)
                        .values(call_sid=sid))
    return True


def line_done(
    *, database: Database, dialer: RoomDialer, session_id: int, volunteer_id: int,
    now: datetime,
) -> None:
    _retrying_lost(lambda: _line_done(database, dialer, session_id, volunteer_id, now))


def _line_done(database: Database, dialer: RoomDialer, session_id: int, volunteer_id: int,
               now: datetime) -> None:
    """The volunteer saved the outcome of the person they talked to: hang that line up (if the
    contact has not) and get ready for the next one. advance() then dials it."""
    with database.session() as session:
        row = _load(session, session_id, volunteer_id)
        call = session.get(SessionCall, row.current_call_id) if row.current_call_id else None
    if row.status != SessionStatus.TALKING or call is None:
        return
    if call.call_sid:
        _quietly_end(dialer, call.call_sid)
    with database.write() as session:
        fresh = _load(session, session_id, volunteer_id)
        current = session.get(SessionCall, call.id)
        if current is not None and current.ended_at is None:
            current.ended_at = now
            session.add(current)
        status = SessionStatus.PAUSED if fresh.pause_requested else SessionStatus.READY
        _save(session, fresh, fresh.version, now, status=status, current_call_id=None,
              pause_requested=False, notice="Saved." if status == SessionStatus.READY
              else "Paused.")


def pause(*, database: Database, session_id: int, volunteer_id: int, now: datetime) -> None:
    """Stop dialling new contacts; a call already ringing or connected finishes first."""
    _retrying_lost(lambda: _pause(database, session_id, volunteer_id, now))


def _pause(database: Database, session_id: int, volunteer_id: int, now: datetime) -> None:
    with database.write() as session:
        row = _load(session, session_id, volunteer_id)
        if row.status in (SessionStatus.READY, SessionStatus.CONNECTING):
            _save(session, row, row.version, now, status=SessionStatus.PAUSED
                  if row.status == SessionStatus.READY else row.status,
                  pause_requested=row.status == SessionStatus.CONNECTING, notice="Paused.")
        elif row.status in (SessionStatus.DIALING, SessionStatus.TALKING):
            _save(session, row, row.version, now, pause_requested=True,
                  notice="Pausing after this call.")


def resume(
    *, database: Database, dialer: RoomDialer, settings: Settings, session_id: int,
    volunteer_id: int, now: datetime,
) -> SessionView:
    """Dial again; if the volunteer's phone dropped meanwhile, ring it into a fresh room.

    Raises:
        DialerError: the provider refused or could not be reached.
    """
    row, on_line = _retrying_lost(lambda: _resume(database, session_id, volunteer_id, now))
    if row.status == SessionStatus.PAUSED and not on_line:
        end(database=database, dialer=dialer, session_id=session_id, volunteer_id=volunteer_id,
            now=now)
        return start_session(database=database, dialer=dialer, settings=settings,
                             campaign_id=row.campaign_id, volunteer_id=volunteer_id, now=now)
    return advance(database=database, dialer=dialer, settings=settings, session_id=session_id,
                   now=now)


def _resume(database: Database, session_id: int, volunteer_id: int, now: datetime
            ) -> tuple[CallingSession, bool]:
    with database.write() as session:
        row = _load(session, session_id, volunteer_id)
        on_line = row.volunteer_call_sid is not None and row.volunteer_status not in \
            FINAL_STATUSES
        if row.status == SessionStatus.PAUSED and on_line:
            _save(session, row, row.version, now, status=SessionStatus.READY,
                  pause_requested=False, notice="Back on.")
        elif row.status in (SessionStatus.DIALING, SessionStatus.TALKING):
            _save(session, row, row.version, now, pause_requested=False, notice=row.notice)
    return row, on_line


def end(*, database: Database, dialer: RoomDialer, session_id: int, volunteer_id: int,
        now: datetime) -> None:
    """Hang up everything; a contact still ringing or unlogged goes back to the queue."""
    _retrying_lost(lambda: _end(database, dialer, session_id, volunteer_id, now))


def _end(database: Database, dialer: RoomDialer, session_id: int, volunteer_id: int,
         now: datetime) -> None:
    with database.session() as session:
        row = _load(session, session_id, volunteer_id)
        call = session.get(SessionCall, row.current_call_id) if row.current_call_id else None
    if row.status == SessionStatus.ENDED:
        return
    if call is not None and call.call_sid and call.ended_at is None:
        _quietly_end(dialer, call.call_sid)
    if row.volunteer_call_sid and row.volunteer_status not in FINAL_STATUSES:
        _quietly_end(dialer, row.volunteer_call_sid)
    with database.write() as session:
        fresh = _load(session, session_id, volunteer_id)
        current = session.get(SessionCall, call.id) if call is not None else None
        if current is not None and current.ended_at is None:
            if current.result == LineResult.TALKED:
                current.ended_at = now  # talked to; the page saves (or Stop releases) it
                session.add(current)
            else:
                _close_line(session, fresh, current, LineResult.RETURNED, None, now,
                            row.provider)
        _save(session, fresh, fresh.version, now, status=SessionStatus.ENDED, ended_at=now,
              current_call_id=None, notice="Session ended.")


# --------------------------------------------------------------------------------------------
# Webhook: Twilio's status and AMD callbacks for session legs
# --------------------------------------------------------------------------------------------


def apply_leg_callback(*, session: Session, params: Mapping[str, Any]) -> int | None:
    """Store a leg's status / AnsweredBy from a (verified) callback; the session it belongs to.
    """
    from core.dialing.twilio import answered_by

    sid = str(params.get("CallSid") or "")
    if not sid:
        return None
    status = str(params.get("CallStatus") or "")[:32]
    if not status and params.get("StatusCallbackEvent") == "participant-join":
        status = CallState.IN_PROGRESS  # the conference's own event: they are in the room
    by = answered_by(str(params.get("AnsweredBy") or ""))
    call = session.exec(select(SessionCall).where(SessionCall.call_sid == sid)).first()
    if call is not None:
        if status and call.ended_at is None:
            call.status = status
        if by:
            call.answered_by = by
        session.add(call)
        return call.session_id
    row = session.exec(
        select(CallingSession).where(CallingSession.volunteer_call_sid == sid)).first()
    if row is not None and status:
        row.volunteer_status = status
        session.add(row)
        return row.id
    return None


# --------------------------------------------------------------------------------------------
# Ofcom: abandoned calls per campaign per 24 hours
# --------------------------------------------------------------------------------------------

OFCOM_WINDOW = timedelta(hours=24)
OFCOM_ABANDONED_CAP = 0.03
# Ofcom counts a person whom AMD took for a machine as an abandoned call, and asks for a
# reasoned estimate of them: the share of people AMD misses, as bench/dialer_sim.py assumes.
AMD_FALSE_POSITIVE_ESTIMATE = 0.015


@dataclass(frozen=True)
class AbandonedCalls:
    live_answered: int
    abandoned: int
    # AMD false positives estimated on top (0 when no machine was detected in the window).
    amd_estimate: float

    @property
    def rate(self) -> float:
        """Abandoned (with the AMD estimate) over live answers, the figure held to 3 %."""
        total = self.live_answered + self.amd_estimate
        return (self.abandoned + self.amd_estimate) / total if total else 0.0


def abandoned_calls(*, session: Session, campaign_id: int | None, now: datetime
                    ) -> AbandonedCalls:
    """Continuous sessions' live answers and abandoned calls over the last 24 hours."""
    machine_results = (LineResult.VOICEMAIL_LEFT, LineResult.MACHINE)
    where = [col(SessionCall.dialled_at) > now - OFCOM_WINDOW, col(SessionCall.dialled_at) <= now]
    if campaign_id is not None:
        where.append(col(SessionCall.campaign_id) == campaign_id)
    talked, abandoned, machines = session.execute(
        sa.select(
            sa.func.count().filter(col(SessionCall.result) == LineResult.TALKED),
            sa.func.count().filter(col(SessionCall.abandoned) == sa.true()),
            sa.func.count().filter(col(SessionCall.result).in_(machine_results)),
        ).where(*where)
    ).one()
    live = int(talked) + int(abandoned)
    estimate = AMD_FALSE_POSITIVE_ESTIMATE * live if machines else 0.0
    return AbandonedCalls(live_answered=live, abandoned=int(abandoned), amd_estimate=estimate)
