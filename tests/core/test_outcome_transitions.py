"""Every outcome behaviour × attempts so far × the campaign's max attempts, pinned in one table.

`core.outcomes.transition` is what both a real save and the demo loader apply, so this table is
the definition of what each behaviour does to a queue entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.outcomes import (
    DEFAULT_OUTCOMES,
    Behaviour,
    CallbackTimeNeeded,
    EntryState,
    QueueChange,
    QueueStatus,
    transition,
)
from db.models import PROGRESS_CALLED, PROGRESS_COMPLETED, PROGRESS_REACHED

NOW = datetime(2026, 5, 16, 11, 0, tzinfo=UTC)
CALLBACK_AT = NOW + timedelta(hours=3)
GRACE_MINUTES = 45
RETRY_HOURS = 4


@dataclass(frozen=True)
class Rule:
    behaviour: str
    retry_after_hours: float = RETRY_HOURS
    is_conversation: bool = False
    is_completion: bool = False


def _done(attempts: int, **extra: object) -> QueueChange:
    return QueueChange(status=QueueStatus.DONE, attempts=attempts, progress=PROGRESS_CALLED,
                       **extra)  # type: ignore[arg-type]


def _retry(attempts: int) -> QueueChange:
    return QueueChange(status=QueueStatus.RETRY, attempts=attempts, progress=PROGRESS_CALLED,
                       due_at=NOW + timedelta(hours=RETRY_HOURS))


def _callback(attempts: int) -> QueueChange:
    return QueueChange(
        status=QueueStatus.CALLBACK, attempts=attempts, progress=PROGRESS_CALLED,
        due_at=CALLBACK_AT, release_at=CALLBACK_AT + timedelta(minutes=GRACE_MINUTES),
        owns_callback=True,
    )


# (behaviour, attempts before this call, max attempts, expected change)
TABLE: list[tuple[Behaviour, int, int, QueueChange]] = [
    # final: done whatever the count
    (Behaviour.FINAL, 0, 1, _done(1)),
    (Behaviour.FINAL, 0, 3, _done(1)),
    (Behaviour.FINAL, 1, 3, _done(2)),
    (Behaviour.FINAL, 2, 3, _done(3)),
    (Behaviour.FINAL, 5, 3, _done(6)),
    # retry: again after its hours while this call leaves attempts below the maximum
    (Behaviour.RETRY, 0, 1, _done(1)),
    (Behaviour.RETRY, 0, 3, _retry(1)),
    (Behaviour.RETRY, 1, 3, _retry(2)),
    (Behaviour.RETRY, 2, 3, _done(3)),
    (Behaviour.RETRY, 5, 3, _done(6)),
    (Behaviour.RETRY, 8, 10, _retry(9)),
    (Behaviour.RETRY, 9, 10, _done(10)),
    # callback: always the volunteer's own, released to others after the campaign's grace,
    # even past the maximum (the contact asked to be called)
    (Behaviour.CALLBACK, 0, 1, _callback(1)),
    (Behaviour.CALLBACK, 0, 3, _callback(1)),
    (Behaviour.CALLBACK, 2, 3, _callback(3)),
    (Behaviour.CALLBACK, 5, 3, _callback(6)),
    # wrong number: done here, the number marked bad (and so out of every queue)
    (Behaviour.WRONG_NUMBER, 0, 1, _done(1, bad_number=True)),
    (Behaviour.WRONG_NUMBER, 0, 3, _done(1, bad_number=True)),
    (Behaviour.WRONG_NUMBER, 2, 3, _done(3, bad_number=True)),
    (Behaviour.WRONG_NUMBER, 5, 3, _done(6, bad_number=True)),
    # do not call: done here (not "excluded"), the number onto the do-not-call list
    (Behaviour.DO_NOT_CALL, 0, 1, _done(1, suppress=True)),
    (Behaviour.DO_NOT_CALL, 0, 3, _done(1, suppress=True)),
    (Behaviour.DO_NOT_CALL, 2, 3, _done(3, suppress=True)),
    (Behaviour.DO_NOT_CALL, 5, 3, _done(6, suppress=True)),
]


@pytest.mark.parametrize(
    ("behaviour", "attempts", "max_attempts", "expected"), TABLE,
    ids=[f"{b}-{a}of{m}" for b, a, m, _ in TABLE],
)
def test_each_behaviour_moves_the_entry_as_the_table_says(
    behaviour: Behaviour, attempts: int, max_attempts: int, expected: QueueChange
) -> None:
    entry = EntryState(attempts=attempts, max_attempts=max_attempts,
                       callback_grace_minutes=GRACE_MINUTES)
    callback_at = CALLBACK_AT if behaviour is Behaviour.CALLBACK else None
    assert transition(Rule(behaviour), entry, NOW, callback_at) == expected


def test_the_table_covers_every_behaviour() -> None:
    assert {row[0] for row in TABLE} == set(Behaviour)


@pytest.mark.parametrize(
    ("is_conversation", "is_completion", "bits"),
    [
        (False, False, PROGRESS_CALLED),
        (True, False, PROGRESS_CALLED | PROGRESS_REACHED),
        (True, True, PROGRESS_CALLED | PROGRESS_REACHED | PROGRESS_COMPLETED),
    ],
)
def test_a_call_sets_the_progress_bits_of_its_outcome(
    is_conversation: bool, is_completion: bool, bits: int
) -> None:
    entry = EntryState(attempts=0, max_attempts=3, callback_grace_minutes=GRACE_MINUTES)
    rule = Rule(Behaviour.FINAL, is_conversation=is_conversation, is_completion=is_completion)
    assert transition(rule, entry, NOW).progress == bits


@pytest.mark.parametrize(
    ("callback_at", "message"),
    [
        (None, "Pick when to call back."),
        (NOW, "Pick a callback time in the future."),
        (NOW - timedelta(minutes=1), "Pick a callback time in the future."),
    ],
)
def test_a_callback_needs_a_time_after_now(callback_at: datetime | None, message: str) -> None:
    entry = EntryState(attempts=0, max_attempts=3, callback_grace_minutes=GRACE_MINUTES)
    with pytest.raises(CallbackTimeNeeded, match=message):
        transition(Rule(Behaviour.CALLBACK), entry, NOW, callback_at)


def test_an_unknown_behaviour_is_refused_rather_than_treated_as_final() -> None:
    entry = EntryState(attempts=0, max_attempts=3, callback_grace_minutes=GRACE_MINUTES)
    with pytest.raises(ValueError, match="teleport"):
        transition(Rule("teleport"), entry, NOW)


def test_the_default_outcomes_use_only_known_behaviours() -> None:
    assert {spec.behaviour for spec in DEFAULT_OUTCOMES} == set(Behaviour)


def test_the_queue_summary_has_one_count_per_status_and_waiting_counts_the_open_ones() -> None:
    from dataclasses import fields

    from core.outcomes import OPEN_QUEUE_STATUSES
    from core.queue import QueueSummary

    assert {f.name for f in fields(QueueSummary)} - {"next_due_at"} == set(QueueStatus)
    summary = QueueSummary(**{status.value: 1 << n for n, status in enumerate(QueueStatus)})
    assert summary.total == (1 << len(QueueStatus)) - 1
    assert summary.waiting == sum(getattr(summary, s) for s in OPEN_QUEUE_STATUSES)
    assert summary.waiting == summary.fresh + summary.retry + summary.callback + summary.leased
