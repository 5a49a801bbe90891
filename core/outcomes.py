"""What a call's outcome does to the contact's place in the queue, decided in one pure function.

`transition` is the only place that says what "retry", "callback", "do not call" … mean for a
queue entry. The real save (core/queue.py `record_outcome`) and the demo loader (core/demo.py)
both apply its answer, so demo data looks exactly like a day of real calls. A new behaviour is
a member of `Behaviour`, a branch in `transition`, and its rows in
tests/core/test_outcome_transitions.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from db.models import Outcome, progress_bits


class QueueStatus(StrEnum):
    """Where a contact stands in one campaign's queue (QueueEntry.status)."""

    FRESH = "fresh"  # never called in this campaign
    RETRY = "retry"  # to be tried again once due_at passes
    CALLBACK = "callback"  # its owner calls back at due_at; anyone after release_at
    LEASED = "leased"  # on a volunteer's screen until due_at (the lease expiry)
    DONE = "done"  # finished: nothing more to do
    EXCLUDED = "excluded"  # taken out: suppressed, a bad number, or removed by an organiser


# Rows in these states can still be handed out; suppression and bad numbers take them out.
OPEN_QUEUE_STATUSES: tuple[QueueStatus, ...] = (
    QueueStatus.FRESH, QueueStatus.RETRY, QueueStatus.CALLBACK, QueueStatus.LEASED,
)
# Claimable once due_at has passed (the "next due" time an empty queue shows).
DUE_QUEUE_STATUSES: tuple[QueueStatus, ...] = (QueueStatus.RETRY, QueueStatus.CALLBACK)


class Behaviour(StrEnum):
    """What an outcome button does to the queue (Outcome.behaviour)."""

    FINAL = "final"  # done with this contact in this campaign
    RETRY = "retry"  # try again after retry_after_hours, up to the campaign's max attempts
    CALLBACK = "callback"  # the same volunteer calls back at the time they picked
    WRONG_NUMBER = "wrong_number"  # the number is bad: out of every campaign's queue
    DO_NOT_CALL = "do_not_call"  # onto the do-not-call list: never called again, anywhere

    @property
    def description(self) -> str:
        """What the behaviour does, for the organiser's outcome editor."""
        return _BEHAVIOUR_DESCRIPTIONS[self]


_BEHAVIOUR_DESCRIPTIONS = {
    Behaviour.FINAL: "Final: do not call again in this campaign",
    Behaviour.RETRY: "Retry after some hours (up to max attempts)",
    Behaviour.CALLBACK: "Call back at a time the volunteer picks",
    Behaviour.WRONG_NUMBER: "Wrong number: mark the number bad everywhere",
    Behaviour.DO_NOT_CALL: "Do not call: add to the do-not-call list everywhere",
}


class CallbackTimeNeeded(Exception):
    """A callback outcome without a callback time in the future; str() is fit to show."""

    def __init__(self, reason: str = "Pick when to call back.") -> None:
        super().__init__(reason)


class OutcomeRule(Protocol):
    """The parts of an outcome that decide its effect (an `Outcome` row or an `OutcomeSpec`)."""

    @property
    def behaviour(self) -> str: ...
    @property
    def retry_after_hours(self) -> float: ...
    @property
    def is_conversation(self) -> bool: ...
    @property
    def is_completion(self) -> bool: ...


@dataclass(frozen=True)
class EntryState:
    """The queue entry and campaign rules a transition depends on."""

    attempts: int  # calls recorded before this one
    max_attempts: int  # the campaign's: a retry beyond this many calls finishes the contact
    callback_grace_minutes: int  # the campaign's: how long a callback stays its owner's
    # The latest a callback may be booked for (core.callbacks.callback_deadline); None: no bound.
    latest_callback_at: datetime | None = None
    timezone: str = "UTC"  # the campaign's, for saying that bound in words


@dataclass(frozen=True)
class QueueChange:
    """The entry's state after the call, and what else the outcome sets off."""

    status: QueueStatus
    attempts: int
    due_at: datetime | None = None
    release_at: datetime | None = None
    # The caller becomes the callback's owner (only callbacks change the owner).
    owns_callback: bool = False
    # Mark the contact's number bad and exclude it from every campaign's open queue.
    bad_number: bool = False
    # Put the contact's number on the do-not-call list (which pulls it from every queue).
    suppress: bool = False
    # QueueEntry.progress bits this call sets (OR-ed into what is there).
    progress: int = 0


def transition(
    outcome: OutcomeRule, entry: EntryState, now: datetime, callback_at: datetime | None = None
) -> QueueChange:
    """The queue entry's next state once a call with this outcome is recorded at `now`.

    Raises:
        CallbackTimeNeeded: a callback outcome without a callback time after `now`.
        ValueError: the behaviour is not a `Behaviour`.
    """
    behaviour = Behaviour(outcome.behaviour)
    attempts = entry.attempts + 1
    progress = progress_bits(is_conversation=outcome.is_conversation,
                             is_completion=outcome.is_completion)
    done = QueueChange(status=QueueStatus.DONE, attempts=attempts, progress=progress)
    if behaviour is Behaviour.RETRY:
        if attempts >= entry.max_attempts:
            return done
        return QueueChange(
            status=QueueStatus.RETRY, attempts=attempts, progress=progress,
            due_at=now + timedelta(hours=float(outcome.retry_after_hours)),
        )
    if behaviour is Behaviour.CALLBACK:
        if callback_at is None:
            raise CallbackTimeNeeded()
        if callback_at <= now:
            raise CallbackTimeNeeded("Pick a callback time in the future.")
        if entry.latest_callback_at is not None and callback_at > entry.latest_callback_at:
            latest = entry.latest_callback_at.astimezone(ZoneInfo(entry.timezone))
            raise CallbackTimeNeeded(
                "That is too far ahead: this campaign books callbacks up to "
                f"{latest:%a} {latest.day} {latest:%b %Y}, {latest:%H:%M} at the latest. "
                "Pick an earlier time, or choose another outcome.")
        return QueueChange(
            status=QueueStatus.CALLBACK, attempts=attempts, progress=progress,
            due_at=callback_at, owns_callback=True,
            release_at=callback_at + timedelta(minutes=entry.callback_grace_minutes),
        )
    if behaviour is Behaviour.WRONG_NUMBER:
        return QueueChange(status=QueueStatus.DONE, attempts=attempts, progress=progress,
                           bad_number=True)
    if behaviour is Behaviour.DO_NOT_CALL:
        return QueueChange(status=QueueStatus.DONE, attempts=attempts, progress=progress,
                           suppress=True)
    return done


def do_not_call_reason(campaign_name: str) -> str:
    """The do-not-call list's reason for a number suppressed on a call in this campaign."""
    return f"Asked not to be called again ({campaign_name})"


# --------------------------------------------------------------------------------------------
# The outcome buttons a campaign starts with
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    code: str
    label: str
    behaviour: Behaviour
    retry_after_hours: float = 0
    is_conversation: bool = False
    is_completion: bool = False


DEFAULT_OUTCOMES: tuple[OutcomeSpec, ...] = (
    OutcomeSpec("completed", "Talked – completed survey", Behaviour.FINAL,
                is_conversation=True, is_completion=True),
    OutcomeSpec("refused", "Talked – refused", Behaviour.FINAL, is_conversation=True),
    OutcomeSpec("no_answer", "No answer", Behaviour.RETRY, retry_after_hours=4),
    OutcomeSpec("voicemail", "Left voicemail", Behaviour.RETRY, retry_after_hours=24),
    OutcomeSpec("busy", "Busy", Behaviour.RETRY, retry_after_hours=1),
    OutcomeSpec("wrong_number", "Wrong number", Behaviour.WRONG_NUMBER),
    OutcomeSpec("call_back", "Call back later", Behaviour.CALLBACK, is_conversation=True),
    OutcomeSpec("do_not_call", "Do not call again", Behaviour.DO_NOT_CALL,
                is_conversation=True),
    OutcomeSpec("moved_deceased", "Moved or deceased", Behaviour.FINAL),
)


def default_outcome_rows(campaign_id: int) -> list[Outcome]:
    """The default outcome set as rows for one campaign, in button order."""
    return [
        Outcome(
            campaign_id=campaign_id, position=position, code=spec.code, label=spec.label,
            behaviour=spec.behaviour, retry_after_hours=spec.retry_after_hours,
            is_conversation=spec.is_conversation, is_completion=spec.is_completion,
        )
        for position, spec in enumerate(DEFAULT_OUTCOMES)
    ]
