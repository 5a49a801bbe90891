"""Call attempts counted as they are saved, so the dashboard's cost does not grow with the day.

Each saved attempt adds one call to four rollup rows: in CallRollup, keyed by its campaign,
volunteer and whether it was a conversation and a completion (the leaderboard and a
volunteer's own figures: at most three rows per volunteer and period), and in CampaignRollup,
keyed by its campaign, outcome and flags without the volunteer (the campaign's calls per
quarter hour, outcomes and totals, whose rows for a day are then bounded by its quarter hours
and outcomes, not multiplied by the volunteers calling). In each table, the campaign's
all-time row and the row of the 15-minute period the call started in. They go in the save's
own transaction, so a save that rolls back counts nothing and a save counted twice is
impossible (the attempt's idempotency key guards them all). A volunteer's CallRollup rows are
theirs alone; the CampaignRollup rows are shared by the campaign's callers, always taken in
the same order (all-time, then the quarter hour), so concurrent saves queue on them briefly
and never deadlock.

`rebuild` recomputes a campaign's rows from its attempts, for data written in bulk (demo data,
benchmarks, a database from before rollups) and by `manage.py rebuild-rollups`; `from_attempts`
is the same aggregate, read only, which the tests compare with the maintained rows.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from core.survey import kind_spec
from db.models import (
    ROLLUP_ALL_TIME,
    ROLLUP_BUCKET_SECONDS,
    CallRollup,
    Campaign,
    CampaignRollup,
)
from db.tables import ANSWER, ATTEMPT, QUESTION, TALLY, table_of

# Tallied values are options and scores; anything longer is cut to fit the tally's key.
TALLY_VALUE_LENGTH = 500
MEASURES = ("calls", "talk_seconds", "timed_calls")
TALLY_KEY = ("campaign_id", "question_id", "value")
TALLY_MEASURES = ("answers", "respondents")


@dataclass(frozen=True)
class Rollup:
    """One rollup table and the attempt's columns its rows are keyed by (with the bucket)."""

    table: Any
    key: tuple[str, ...]

    @classmethod
    def of(cls, model: Any) -> Rollup:
        """The table's key is its one unique constraint (db/models.py), which the upsert's
        ON CONFLICT names too: declared once, there."""
        table = table_of(model)
        [unique] = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
        return cls(table, tuple(column.name for column in unique.columns))


BY_VOLUNTEER = Rollup.of(CallRollup)
BY_CAMPAIGN = Rollup.of(CampaignRollup)
ROLLUPS = (BY_VOLUNTEER, BY_CAMPAIGN)
# How each key column reads back: ids and buckets are numbers, the outcome a code, the rest
# flags.
_READ = {"campaign_id": int, "bucket": int, "volunteer_id": int, "outcome_code": str}


def bucket_of(moment: datetime) -> int:
    """The UTC epoch second at which the 15-minute period holding `moment` starts."""
    return int(moment.timestamp()) // ROLLUP_BUCKET_SECONDS * ROLLUP_BUCKET_SECONDS


def epoch_seconds(column: Any, dialect_name: str) -> Any:
    """Whole UTC epoch seconds of a UTCDateTime column, in SQL."""
    if dialect_name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' naive UTC.
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)
    # timestamp without time zone: extract(epoch) reads it as UTC, which is how it is stored.
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)


@functools.cache
def _upsert(dialect_name: str, table: Any, key: tuple[str, ...],
            measures: tuple[str, ...]) -> Any:
    """INSERT rows, or add their measures to the rows already there; built once per table and
    dialect, so each save only binds its rows."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={m: getattr(table.c, m) + getattr(statement.excluded, m) for m in measures},
    )


def count_attempt(
    *,
    session: Session,
    campaign_id: int,
    volunteer_id: int | None,
    outcome_code: str,
    is_conversation: bool,
    is_completion: bool,
    outside_window: bool,
    started_at: datetime,
    duration_seconds: int | None,
) -> None:
    """Add one saved attempt to its campaign's rollups (in the caller's transaction)."""
    attempt = {
        "campaign_id": campaign_id, "volunteer_id": volunteer_id or 0,
        "outcome_code": outcome_code, "is_conversation": bool(is_conversation),
        "is_completion": bool(is_completion), "outside_window": bool(outside_window),
        "calls": 1, "talk_seconds": duration_seconds or 0,
        "timed_calls": 1 if duration_seconds is not None else 0,
    }
    connection = session.connection()
    for rollup in ROLLUPS:
        row = {k: attempt[k] for k in (*rollup.key, *MEASURES) if k != "bucket"}
        connection.execute(
            _upsert(connection.dialect.name, rollup.table, rollup.key, MEASURES),
            [{**row, "bucket": bucket} for bucket in (ROLLUP_ALL_TIME, bucket_of(started_at))])


def _aggregate(rollup: Rollup, dialect_name: str, campaign_ids: list[int]) -> Any:
    """Both kinds of row of one rollup table, computed from the attempts of these campaigns."""
    columns: dict[str, Any] = {name: ATTEMPT.c[name] for name in rollup.key if name != "bucket"}
    if "volunteer_id" in columns:
        columns["volunteer_id"] = sa.func.coalesce(ATTEMPT.c.volunteer_id, 0)
    measures = (sa.func.count(), sa.func.coalesce(sa.func.sum(ATTEMPT.c.duration_seconds), 0),
                sa.func.count(ATTEMPT.c.duration_seconds))
    in_campaigns = ATTEMPT.c.campaign_id.in_(campaign_ids)
    period = (epoch_seconds(ATTEMPT.c.started_at, dialect_name) // ROLLUP_BUCKET_SECONDS
              * ROLLUP_BUCKET_SECONDS)

    def per(bucket: Any, grouped_by_bucket: bool) -> Any:
        key = [bucket if name == "bucket" else columns[name] for name in rollup.key]
        return (sa.select(*key, *measures).where(in_campaigns)
                .group_by(*(key if grouped_by_bucket else columns.values())))

    return sa.union_all(per(sa.literal(ROLLUP_ALL_TIME, sa.BigInteger), False),
                        per(period, True))


def _campaign_ids(session: Session, campaign_id: int | None) -> list[int]:
    if campaign_id is not None:
        return [campaign_id]
    return [int(i) for i in session.execute(sa.select(Campaign.id)).scalars()]  # type: ignore[call-overload]


def rebuild(*, session: Session, campaign_id: int | None = None) -> int:
    """Recompute the rollups of one campaign (or all) from their attempts; return the rows
    (of both tables)."""
    ids = _campaign_ids(session, campaign_id)
    connection = session.connection()
    rows = 0
    for rollup in ROLLUPS:
        table = rollup.table
        connection.execute(sa.delete(table).where(table.c.campaign_id.in_(ids)))
        connection.execute(sa.insert(table).from_select(
            [*rollup.key, *MEASURES], _aggregate(rollup, connection.dialect.name, ids)))
        # rowcount of an INSERT ... SELECT is not reported by every driver: count instead.
        rows += int(connection.execute(
            sa.select(sa.func.count()).where(table.c.campaign_id.in_(ids))).scalar_one())
    return rows


def _rows(rollup: Rollup, result: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """{(campaign, bucket, ...the table's key): (calls, seconds, timed calls)}."""
    width = len(rollup.key)
    return {
        tuple(_READ.get(name, bool)(v) for name, v in zip(rollup.key, r[:width], strict=True)):
            tuple(int(v) for v in r[width:])
        for r in result
    }


def from_attempts(*, session: Session, campaign_id: int | None = None) -> dict[str, Any]:
    """What the rollups should hold, recomputed from the attempts: {table name: {key: (calls,
    seconds, timed calls)}}."""
    connection = session.connection()
    ids = _campaign_ids(session, campaign_id)
    return {rollup.table.name: _rows(rollup, connection.execute(
        _aggregate(rollup, connection.dialect.name, ids))) for rollup in ROLLUPS}


def stored(*, session: Session, campaign_id: int | None = None) -> dict[str, Any]:
    """The rollups as maintained, in the same shape as `from_attempts`."""
    ids = _campaign_ids(session, campaign_id)
    result = {}
    for rollup in ROLLUPS:
        table = rollup.table
        query = (sa.select(*(table.c[k] for k in rollup.key), *(table.c[m] for m in MEASURES))
                 .where(table.c.campaign_id.in_(ids), table.c.calls > 0))
        result[table.name] = _rows(rollup, session.connection().execute(query))
    return result


# --------------------------------------------------------------------------------------------
# Survey answers
# --------------------------------------------------------------------------------------------


def _tally_value(value: str, counted_only: bool) -> str:
    return "" if counted_only else value[:TALLY_VALUE_LENGTH]


def count_answers(
    *,
    session: Session,
    campaign_id: int,
    contact_id: int | None,
    answers: Mapping[int, list[str]],
    counted_only: Collection[int] = (),
) -> None:
    """Add a saved call's answers ({question id: values}) to the survey tallies; call it
    before the answers themselves are inserted. `counted_only`: questions whose answers are
    counted but never listed (free text)."""
    answers = {q: values for q, values in answers.items() if values}
    if not answers:
        return
    connection = session.connection()
    answered_before: set[int] = set()
    if contact_id is not None:
        answered_before = {int(q) for q in connection.execute(
            sa.select(ANSWER.c.question_id).distinct()
            .where(ANSWER.c.campaign_id == campaign_id, ANSWER.c.contact_id == contact_id,
                   ANSWER.c.question_id.in_(list(answers)))
        ).scalars()}
    counts: dict[tuple[int, str], list[int]] = {}
    for question_id, values in answers.items():
        first_time = contact_id is not None and question_id not in answered_before
        for n, value in enumerate(values):
            tally = counts.setdefault(
                (question_id, _tally_value(value, question_id in counted_only)), [0, 0])
            tally[0] += 1
            tally[1] += 1 if first_time and n == 0 else 0
    rows = [{"campaign_id": campaign_id, "question_id": q, "value": v, "answers": a,
             "respondents": r} for (q, v), (a, r) in sorted(counts.items())]
    connection.execute(_upsert(connection.dialect.name, TALLY, TALLY_KEY, TALLY_MEASURES), rows)


def _survey_from_answers(session: Session, campaign_ids: list[int],
                         counted_only: Collection[int]) -> list[dict[str, Any]]:
    """The tally rows for these campaigns, recomputed from their answers."""
    connection = session.connection()
    counts = connection.execute(
        sa.select(ANSWER.c.campaign_id, ANSWER.c.question_id, ANSWER.c.value, sa.func.count())
        .where(ANSWER.c.campaign_id.in_(campaign_ids))
        .group_by(ANSWER.c.campaign_id, ANSWER.c.question_id, ANSWER.c.value)
    ).all()
    rows: dict[tuple[int, int, str], dict[str, Any]] = {}
    for campaign_id, question_id, value, n in counts:
        key = (int(campaign_id), int(question_id),
               _tally_value(str(value), int(question_id) in counted_only))
        row = rows.setdefault(key, {"campaign_id": key[0], "question_id": key[1],
                                    "value": key[2], "answers": 0, "respondents": 0})
        row["answers"] += int(n)
    people = connection.execute(
        sa.select(ANSWER.c.campaign_id, ANSWER.c.question_id,
                  sa.func.count(sa.distinct(ANSWER.c.contact_id)))
        .where(ANSWER.c.campaign_id.in_(campaign_ids), ANSWER.c.contact_id.is_not(None))
        .group_by(ANSWER.c.campaign_id, ANSWER.c.question_id)
    ).all()
    for campaign_id, question_id, n in people:
        # Who answered is a count per question: it is kept on the question's first row.
        first = min(k for k in rows if k[:2] == (int(campaign_id), int(question_id)))
        rows[first]["respondents"] = int(n)
    return list(rows.values())


def counted_only_questions(*, session: Session, campaign_ids: list[int]) -> set[int]:
    """The ids of these campaigns' questions whose answers are counted, never listed."""
    return {int(q) for q, kind in session.connection().execute(
        sa.select(QUESTION.c.id, QUESTION.c.kind).where(QUESTION.c.campaign_id.in_(campaign_ids)))
        if not kind_spec(kind).tallied}


def rebuild_survey(*, session: Session, campaign_ids: list[int] | None = None) -> int:
    """Recompute these campaigns' (or all) survey tallies from their answers; return the
    rows."""
    if campaign_ids is None:
        campaign_ids = _campaign_ids(session, None)
    counted_only = counted_only_questions(session=session, campaign_ids=campaign_ids)
    connection = session.connection()
    connection.execute(sa.delete(TALLY).where(TALLY.c.campaign_id.in_(campaign_ids)))
    rows = _survey_from_answers(session, campaign_ids, counted_only)
    if rows:
        connection.execute(sa.insert(TALLY), rows)
    return len(rows)


def survey_totals(rows: Iterable[Any]) -> dict[int, tuple[dict[str, int], int]]:
    """{question id: ({value: answers}, respondents)} from tally rows (question_id, value,
    answers, respondents): the shape the dashboard and the tests compare."""
    result: dict[int, tuple[dict[str, int], int]] = {}
    for question_id, value, answers, respondents in rows:
        values, people = result.get(int(question_id), ({}, 0))
        if answers:
            values[str(value)] = values.get(str(value), 0) + int(answers)
        result[int(question_id)] = (values, people + int(respondents))
    return result


def stored_survey(*, session: Session, campaign_id: int) -> dict[int, Any]:
    return survey_totals(session.connection().execute(
        sa.select(TALLY.c.question_id, TALLY.c.value, TALLY.c.answers, TALLY.c.respondents)
        .where(TALLY.c.campaign_id == campaign_id)))


def survey_from_answers(*, session: Session, campaign_id: int) -> dict[int, Any]:
    counted_only = counted_only_questions(session=session, campaign_ids=[campaign_id])
    return survey_totals((r["question_id"], r["value"], r["answers"], r["respondents"])
                         for r in _survey_from_answers(session, [campaign_id], counted_only))
