"""bench/dashboard.py builds its data in SQL; the data must have the shape a real day leaves
(as record_outcome would), or the timings it prints say nothing about Ringround (#19)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench.dashboard import FLAGS, ISSUES, OUTCOME_WEIGHTS, build
from core import rollups, stats
from db.engine import Database
from db.models import (
    PROGRESS_CALLED,
    PROGRESS_COMPLETED,
    PROGRESS_REACHED,
    CallAttempt,
    QueueEntry,
    SurveyAnswer,
    SurveyQuestion,
    User,
)


def _index_names(database: Database) -> set[str]:
    inspector = sa.inspect(database.engine)
    return {index["name"] for table in ("callattempt", "surveyanswer")
            for index in inspector.get_indexes(table)}


def test_the_dashboard_bench_builds_the_day_record_outcome_would_have_left(
    database: Database,
) -> None:
    indexes = _index_names(database)
    ids = build(database, attempts=3000, contacts=1000, volunteers=20)
    now = datetime.now(UTC)
    day_start, _ = stats.local_day_bounds(stats.local_today("Europe/London", now),
                                          "Europe/London")

    assert _index_names(database) == indexes  # dropped for the load, every one built again
    with database.session() as s:
        attempts = s.execute(sa.select(
            CallAttempt.id, CallAttempt.campaign_id, CallAttempt.contact_id,
            CallAttempt.volunteer_id, CallAttempt.outcome_code, CallAttempt.is_conversation,
            CallAttempt.is_completion, CallAttempt.started_at, CallAttempt.duration_seconds,
            CallAttempt.idempotency_key)).all()
        queue = {row.contact_id: row for row in s.execute(sa.select(
            QueueEntry.contact_id, QueueEntry.campaign_id, QueueEntry.attempts,
            QueueEntry.progress))}
        answers = s.execute(sa.select(SurveyAnswer.attempt_id, SurveyAnswer.question_id,
                                      SurveyAnswer.value, SurveyAnswer.contact_id)).all()
        volunteers = set(s.execute(sa.select(User.id)).scalars())
        options = dict(s.execute(sa.select(SurveyQuestion.id, SurveyQuestion.options)).all())
        assert rollups.stored(session=s) == rollups.from_attempts(session=s)
        assert rollups.stored_survey(session=s, campaign_id=ids["big"]) == (
            rollups.survey_from_answers(session=s, campaign_id=ids["big"]))

    assert len(attempts) == 3000 and len(queue) == 1000
    assert len({a.idempotency_key for a in attempts}) == 3000
    codes = Counter(a.outcome_code for a in attempts)
    assert set(codes) == set(OUTCOME_WEIGHTS)
    assert 0.30 < codes["no_answer"] / 3000 < 0.46  # 38 % of calls
    for a in attempts:
        assert (a.is_conversation, a.is_completion) == FLAGS[a.outcome_code]
        assert a.campaign_id == queue[a.contact_id].campaign_id  # the contact's campaign
        assert a.volunteer_id in volunteers
        assert now - timedelta(days=31) < a.started_at <= now + timedelta(minutes=1)
        assert (90 <= a.duration_seconds <= 420) if a.is_conversation else (
            5 <= a.duration_seconds <= 40)
    today = sum(1 for a in attempts if a.started_at >= day_start)
    assert 0.05 < today / 3000 < 0.15  # a tenth of the calls are today's
    assert len({a.volunteer_id for a in attempts}) == 20
    assert sum(1 for row in queue.values() if row.campaign_id == ids["big"]) == 900

    # Each queue entry carries the attempts and progress bits its calls left.
    calls: dict[int, list[Any]] = {}
    for a in attempts:
        calls.setdefault(a.contact_id, []).append(a)
    for contact_id, row in queue.items():
        theirs = calls.get(contact_id, [])
        bits = (PROGRESS_CALLED if theirs else 0) | (
            PROGRESS_REACHED if any(a.is_conversation for a in theirs) else 0) | (
            PROGRESS_COMPLETED if any(a.is_completion for a in theirs) else 0)
        assert (row.attempts, row.progress) == (len(theirs), bits)

    # Every completion in the big campaign answered yes or no and one or two issues.
    completed = {a.id: a for a in attempts if a.is_completion and a.campaign_id == ids["big"]}
    assert completed
    by_attempt: dict[int, list[tuple[int, str]]] = {}
    for answer in answers:
        assert answer.contact_id == completed[answer.attempt_id].contact_id
        by_attempt.setdefault(answer.attempt_id, []).append((answer.question_id, answer.value))
    assert set(by_attempt) == set(completed)
    assert options[ids["q2"]] == ISSUES
    for given in by_attempt.values():
        yes_no = [v for q, v in given if q == ids["q1"]]
        issues = [v for q, v in given if q == ids["q2"]]
        assert len(yes_no) == 1 and yes_no[0] in ("Yes", "No")
        assert 1 <= len(issues) <= 2 and len(set(issues)) == len(issues)
        assert set(issues) <= set(ISSUES)
    assert Counter(len(g) for g in by_attempt.values()).keys() == {2, 3}
