"""Dashboard aggregates, each one SQL query (or a few) that an index answers.

Every function takes `campaign_id`: an id for one campaign, or None for all campaigns. "All
campaigns" is written as `campaign_id IN (SELECT id FROM campaign)` rather than no filter at
all, so that both backends still walk the indexes that lead with campaign_id (one range per
campaign) instead of scanning the whole table.

Definitions (shown on the dashboard too):
- contacts: queue entries (one per contact per campaign); remaining: those not done/excluded.
- reached: contacts with at least one conversation; completed: contacts with a completion.
  Across all campaigns, contacts, reached and completed add up the campaigns' figures.
- contact rate: conversations / dials. Average call length: over conversations (a no-answer
  has no call to measure).
- volunteers calling now: distinct holders of a live lease (status 'leased', due_at > now).

Results are plain dicts and lists; the cached ones are shared between sessions, so callers must
not mutate them (build a DataFrame from them instead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col

from core import rollups
from core.campaigns import CampaignNotFound
from core.dialing.session import abandoned_calls
from core.outcomes import OPEN_QUEUE_STATUSES, QueueStatus
from core.stats_cache import DASHBOARD_CACHE, TTLCache
from core.survey import kind_spec
from core.tally import Counts
from db.engine import Database
from db.models import (
    PROGRESS_CALLED,
    PROGRESS_COMPLETED,
    PROGRESS_REACHED,
    ROLLUP_ALL_TIME,
    CallAttempt,
    CallRollup,
    Campaign,
    CampaignRollup,
    Contact,
    Outcome,
    QueueEntry,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
)

DEFAULT_TIMEZONE = "Europe/London"
BUCKET_MINUTES = 15


# --------------------------------------------------------------------------------------------
# Small SQL helpers
# --------------------------------------------------------------------------------------------


def _campaign_filter(column: Any, campaign_id: int | None) -> Any:
    if campaign_id is None:
        return column.in_(sa.select(col(Campaign.id)).scalar_subquery())
    return column == campaign_id


def _is_true(column: Any) -> Any:
    # `= 1` on SQLite, `= true` on PostgreSQL: both are index-usable, unlike `IS 1`.
    return column == sa.true()


def _period(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    clauses = []
    if since is not None:
        clauses.append(column >= since)
    if until is not None:
        clauses.append(column < until)
    return clauses


def _as_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("naive datetime; use an aware UTC datetime")
    return moment.astimezone(UTC)


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants at which `day` starts and ends in zone tz (23 or 25 hours on DST days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_today(tz: str, now: datetime | None = None) -> date:
    return _as_utc(now).astimezone(ZoneInfo(tz)).date()


def campaign_timezone(*, session: Session, campaign_id: int | None,
                      default: str = DEFAULT_TIMEZONE) -> str:
    """The campaign's zone, or the default for all campaigns.

    Raises:
        CampaignNotFound: there is no campaign with this id.
    """
    if campaign_id is None:
        return default
    tz = session.execute(
        sa.select(col(Campaign.timezone)).where(col(Campaign.id) == campaign_id)
    ).scalar()
    if tz is None:
        raise CampaignNotFound(campaign_id)
    return tz or default


# --------------------------------------------------------------------------------------------
# Campaigns to choose from, and the leaderboard switch
# --------------------------------------------------------------------------------------------


def campaign_choices(*, session: Session) -> list[dict[str, Any]]:
    """Every campaign, active first then by name, for the dashboard's selector."""
    rows = session.execute(
        sa.select(
            col(Campaign.id),
            col(Campaign.name),
            col(Campaign.status),
            col(Campaign.timezone),
            col(Campaign.calling_window),
            col(Campaign.leaderboard_visible),
            col(Campaign.recruit_rule),
        ).order_by(
            sa.case((col(Campaign.status) == "active", 0), else_=1),
            col(Campaign.name),
            col(Campaign.id),
        )
    ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "status": r.status,
            "timezone": r.timezone,
            "calling_window": dict(r.calling_window or {}),
            "leaderboard_visible": bool(r.leaderboard_visible),
            "recruit_rule": dict(r.recruit_rule or {}),
        }
        for r in rows
    ]


def set_leaderboard_visible(*, session: Session, campaign_id: int, visible: bool) -> None:
    """Show or hide the campaign's leaderboard on volunteers' own stats page.

    Raises:
        CampaignNotFound: there is no campaign with this id.
    """
    result = session.execute(
        sa.update(Campaign)
        .where(col(Campaign.id) == campaign_id)
        .values(leaderboard_visible=visible, updated_at=datetime.now(UTC))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise CampaignNotFound(campaign_id)


# --------------------------------------------------------------------------------------------
# Headline numbers
# --------------------------------------------------------------------------------------------


def volunteers_calling_now(
    *, session: Session, campaign_id: int | None, now: datetime | None = None
) -> int:
    """Distinct volunteers holding a live lease (a lapsed lease is a closed tab, not a caller)."""
    return int(
        session.execute(
            sa.select(sa.func.count(sa.distinct(col(QueueEntry.claimed_by_id))))
            .where(_campaign_filter(col(QueueEntry.campaign_id), campaign_id))
            .where(col(QueueEntry.status) == QueueStatus.LEASED,
                   col(QueueEntry.due_at) > _as_utc(now))
        ).scalar_one()
    )


@dataclass(frozen=True)
class QueueTally:
    """The queue in one pass: entries per status, and the people reached and completed."""

    statuses: dict[str, int]
    reached: int
    completed: int


def queue_tally(*, session: Session, campaign_id: int | None) -> QueueTally:
    """Entries per status and the progress bits each recorded call ORs in, from one GROUP BY
    in the order of ix_queue_status_progress (covering: no table rows read, no sort). The
    headline used to scan the queue twice, once per status and once for the bits; this is
    queue-sized either way, but a busier day does not grow it. Across all campaigns, each
    campaign's people are added up."""
    rows = session.execute(
        sa.select(col(QueueEntry.status), col(QueueEntry.progress), sa.func.count())
        .where(_campaign_filter(col(QueueEntry.campaign_id), campaign_id))
        .group_by(col(QueueEntry.campaign_id), col(QueueEntry.status), col(QueueEntry.progress))
    ).all()
    statuses: dict[str, int] = {}
    reached = completed = 0
    for status, progress, n in rows:
        statuses[status] = statuses.get(status, 0) + int(n)
        if int(progress) & PROGRESS_REACHED:
            reached += int(n)
        if int(progress) & PROGRESS_COMPLETED:
            completed += int(n)
    return QueueTally(statuses=statuses, reached=reached, completed=completed)


def _quarter(moment: datetime) -> int:
    bucket = rollups.bucket_of(_as_utc(moment))
    if bucket != moment.timestamp():
        raise ValueError(f"a period must start and end on a quarter hour, not {moment}")
    return bucket


def _rollup_rows(table: Any, campaign_id: int | None, since: datetime | None = None,
                 until: datetime | None = None) -> list[Any]:
    """The rows of a rollup table (CampaignRollup, or CallRollup where the volunteer matters)
    for a period: the all-time rows when there is no period, else the rows of the quarter
    hours in it (core/rollups.py keeps both as calls are saved).

    Raises:
        ValueError: a bound is not on a quarter hour (every dashboard period is whole days).
    """
    return [_campaign_filter(col(table.campaign_id), campaign_id),
            *rollup_period(since, until, col(table.bucket))]


def rollup_period(since: datetime | None, until: datetime | None, bucket: Any) -> list[Any]:
    """The clauses on a rollup table's bucket column for a period: the all-time rows when it
    is unbounded, else the quarter hours in it.

    Raises:
        ValueError: a bound is not on a quarter hour.
    """
    if since is None and until is None:
        return [bucket == ROLLUP_ALL_TIME]
    clauses = [bucket >= (0 if since is None else _quarter(since))]
    if until is not None:
        clauses.append(bucket < _quarter(until))
    return clauses


def _sum_if(condition: Any, measure: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, measure), else_=0)), 0)


def people_reached(*, session: Session, campaign_id: int | None) -> int:
    """Contacts with at least one conversation (the headline's "reached")."""
    return queue_tally(session=session, campaign_id=campaign_id).reached


def headline(
    *,
    session: Session,
    campaign_id: int | None,
    now: datetime | None = None,
    default_timezone: str = DEFAULT_TIMEZONE,
) -> dict[str, Any]:
    """The numbers across the top of the dashboard.

    Raises:
        CampaignNotFound: there is no campaign with this id.
    """
    now = _as_utc(now)
    tz = campaign_timezone(session=session, campaign_id=campaign_id, default=default_timezone)
    day_start, day_end = local_day_bounds(local_today(tz, now), tz)

    queue = queue_tally(session=session, campaign_id=campaign_id)
    statuses, reached, completed = queue.statuses, queue.reached, queue.completed
    contacts = sum(statuses.values())
    remaining = sum(n for s, n in statuses.items() if s in OPEN_QUEUE_STATUSES)

    calls = col(CampaignRollup.calls)
    conversation = _is_true(col(CampaignRollup.is_conversation))

    def totals(clauses: list[Any]) -> Any:
        return session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(calls), 0),
                      _sum_if(conversation, calls),
                      _sum_if(_is_true(col(CampaignRollup.is_completion)), calls),
                      _sum_if(conversation, col(CampaignRollup.talk_seconds)),
                      _sum_if(conversation, col(CampaignRollup.timed_calls)))
            .where(*clauses)
        ).one()

    dials, conversations, completions, talk_seconds, timed_calls = (
        int(n) for n in totals(_rollup_rows(CampaignRollup, campaign_id)))
    dials_today, conversations_today, *_ = (
        int(n) for n in totals(_rollup_rows(CampaignRollup, campaign_id, day_start, day_end)))
    return {
        "timezone": tz,
        "contacts": contacts,
        "remaining": remaining,
        "excluded": statuses.get(QueueStatus.EXCLUDED, 0),
        "done": statuses.get(QueueStatus.DONE, 0),
        "reached": reached,
        "completed": completed,
        "dials": dials,
        "conversations": conversations,
        "completions": completions,
        "dials_today": dials_today,
        "conversations_today": conversations_today,
        "contact_rate": (conversations / dials) if dials else 0.0,
        "avg_call_seconds": (talk_seconds / timed_calls) if timed_calls else None,
        "calling_now": volunteers_calling_now(session=session, campaign_id=campaign_id, now=now),
    }


# --------------------------------------------------------------------------------------------
# Through the day
# --------------------------------------------------------------------------------------------


def calls_by_quarter_hour(
    *,
    session: Session,
    campaign_id: int | None,
    day: date,
    default_timezone: str = DEFAULT_TIMEZONE,
) -> list[dict[str, Any]]:
    """Dials and conversations per 15 minutes of `day` (local time), every period of the day.

    Raises:
        CampaignNotFound: there is no campaign with this id.
    """
    tz = campaign_timezone(session=session, campaign_id=campaign_id, default=default_timezone)
    day_start, day_end = local_day_bounds(day, tz)
    calls = col(CampaignRollup.calls)
    rows = session.execute(
        sa.select(col(CampaignRollup.bucket), sa.func.sum(calls),
                  _sum_if(_is_true(col(CampaignRollup.is_conversation)), calls))
        .where(*_rollup_rows(CampaignRollup, campaign_id, day_start, day_end))
        .group_by(col(CampaignRollup.bucket))
    ).all()
    found = {int(b): (int(d), int(c)) for b, d, c in rows}
    zone = ZoneInfo(tz)
    periods = int((day_end - day_start).total_seconds()) // (BUCKET_MINUTES * 60)
    first = _quarter(day_start)
    result = []
    for index in range(periods):
        start = (day_start + timedelta(minutes=BUCKET_MINUTES * index)).astimezone(zone)
        dials, conversations = found.get(first + index * BUCKET_MINUTES * 60, (0, 0))
        result.append({"start": start, "dials": dials, "conversations": conversations})
    return result


# --------------------------------------------------------------------------------------------
# Outcomes and survey results
# --------------------------------------------------------------------------------------------


def outcome_breakdown(
    *,
    session: Session,
    campaign_id: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Attempts per outcome code in the period, most frequent first, with labels and shares."""
    rows = session.execute(
        sa.select(col(CampaignRollup.outcome_code), sa.func.sum(col(CampaignRollup.calls)))
        .where(*_rollup_rows(CampaignRollup, campaign_id, since, until))
        .group_by(col(CampaignRollup.outcome_code))
    ).all()
    per_code: dict[str, int] = {}
    for code, n in rows:
        per_code[code] = per_code.get(code, 0) + int(n)
    label_query = sa.select(col(Outcome.code), col(Outcome.label)).order_by(
        col(Outcome.campaign_id).desc()
    )
    if campaign_id is not None:
        label_query = label_query.where(col(Outcome.campaign_id) == campaign_id)
    labels: dict[str, str] = {}
    for code, label in session.execute(label_query):
        labels.setdefault(code, label)
    total = sum(per_code.values())
    result: list[dict[str, Any]] = [
        {
            "code": code,
            "label": labels.get(code, code),
            "count": n,
            "share": n / total if total else 0.0,
        }
        for code, n in per_code.items()
    ]
    result.sort(key=lambda r: (-int(r["count"]), str(r["code"])))
    return result


def survey_results(*, session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Per question of the campaign, in script order: answers per option (one row per chosen
    option), how many answers and how many people answered."""
    questions = session.execute(
        sa.select(
            col(SurveyQuestion.id),
            col(SurveyQuestion.text),
            col(SurveyQuestion.kind),
            col(SurveyQuestion.options),
        )
        .where(col(SurveyQuestion.campaign_id) == campaign_id)
        .order_by(col(SurveyQuestion.position), col(SurveyQuestion.id))
    ).all()
    # Tallied as each call is saved (core/rollups.py): a few rows per question, however
    # many people have answered.
    tallies = rollups.stored_survey(session=session, campaign_id=campaign_id)
    result = []
    for q in questions:
        values, respondents = tallies.get(q.id, ({}, 0))
        answers: list[dict[str, Any]] = []
        # Free-text answers are personal and unbounded: counted, never listed.
        if kind_spec(q.kind).tallied:
            order = [str(o) for o in (q.options or [])]
            order += sorted(v for v in values if v not in order)  # e.g. a retired option
            answers = [{"value": v, "count": values.get(v, 0)} for v in order]
        result.append(
            {
                "question_id": q.id,
                "text": q.text,
                "kind": q.kind,
                "answers": answers,
                "total": sum(values.values()),
                "respondents": respondents,
            }
        )
    return result


# --------------------------------------------------------------------------------------------
# Progress per area
# --------------------------------------------------------------------------------------------


def progress_by_ward(*, session: Session, campaign_id: int | None) -> list[dict[str, Any]]:
    """Per constituency and ward: contacts, called, reached, completed, remaining.

    One GROUP BY in the order of ix_queue_area_progress, read from the index alone: each queue
    entry carries its contact's area and PROGRESS_* bits (set by record_outcome), so neither
    contact nor callattempt is joined. Across all campaigns, as for the headline, each figure
    adds up the campaigns' own.
    """
    area = (col(QueueEntry.constituency), col(QueueEntry.ward))
    measures = (col(QueueEntry.status), col(QueueEntry.progress))
    # campaign_id first keeps the grouping in index order across all campaigns.
    group = (*area, *measures) if campaign_id is not None else (
        col(QueueEntry.campaign_id), *area, *measures)
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for constituency, ward, status, progress, n in session.execute(
        sa.select(*area, *measures, sa.func.count())
        .where(_campaign_filter(col(QueueEntry.campaign_id), campaign_id))
        .group_by(*group)
    ):
        counts = totals.setdefault((constituency, ward), dict.fromkeys(
            ("contacts", "called", "reached", "completed", "remaining"), 0))
        n = int(n)
        counts["contacts"] += n
        counts["called"] += n if progress & PROGRESS_CALLED else 0
        counts["reached"] += n if progress & PROGRESS_REACHED else 0
        counts["completed"] += n if progress & PROGRESS_COMPLETED else 0
        counts["remaining"] += n if status in OPEN_QUEUE_STATUSES else 0
    result = [{"constituency": c, "ward": w, **counts} for (c, w), counts in totals.items()]
    result.sort(key=lambda r: (r["constituency"], r["ward"]))
    return result


def progress_by_constituency(wards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Roll ward rows up to constituencies, with the share of contacts reached."""
    totals: dict[str, dict[str, Any]] = {}
    for row in wards:
        total = totals.setdefault(
            row["constituency"],
            {
                "constituency": row["constituency"],
                "contacts": 0,
                "called": 0,
                "reached": 0,
                "completed": 0,
                "remaining": 0,
                "wards": 0,
            },
        )
        total["wards"] += 1
        for key in ("contacts", "called", "reached", "completed", "remaining"):
            total[key] += row[key]
    result = list(totals.values())
    for total in result:
        total["reached_share"] = total["reached"] / total["contacts"] if total["contacts"] else 0.0
    result.sort(key=lambda r: r["constituency"])
    return result


# --------------------------------------------------------------------------------------------
# Volunteers
# --------------------------------------------------------------------------------------------


def leaderboard(
    *,
    session: Session,
    campaign_id: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Volunteers by completions, then conversations, then dials, in the period.

    Raises:
        ValueError: a bound of the period is not on a quarter hour.
    """
    flags = (
        col(CallRollup.volunteer_id),
        col(CallRollup.is_conversation),
        col(CallRollup.is_completion),
    )
    rows = session.execute(
        sa.select(*flags, sa.func.sum(col(CallRollup.calls)))
        .where(*_rollup_rows(CallRollup, campaign_id, since, until))
        .group_by(*flags)
    ).all()
    totals: dict[int, dict[str, int]] = {}
    for volunteer_id, conversation, completion, n in rows:
        total = totals.setdefault(volunteer_id, {"dials": 0, "conversations": 0, "completions": 0})
        total["dials"] += int(n)
        total["conversations"] += int(n) if conversation else 0
        total["completions"] += int(n) if completion else 0
    ids = list(totals)
    names: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        names.update(
            session.execute(  # type: ignore[arg-type]
                sa.select(col(User.id), col(User.name)).where(
                    col(User.id).in_(ids[start : start + 900])
                )
            ).all()
        )
    board: list[dict[str, Any]] = [
        {"volunteer_id": vid, "name": names[vid], **total}
        for vid, total in totals.items()
        if vid in names  # the volunteer's account was deleted
    ]
    board.sort(key=lambda r: (-int(r["completions"]), -int(r["conversations"]),
                              -int(r["dials"]), str(r["name"])))
    for rank, row in enumerate(board, start=1):
        row["rank"] = rank
    return board[:limit] if limit else board


def volunteer_counts(
    *,
    session: Session,
    volunteer_id: int,
    periods: Sequence[tuple[datetime | None, datetime | None]],
) -> list[Counts]:
    """A volunteer's dials, conversations and completions over every campaign, in each period
    ((None, None): all time), in one statement over the rollups: a few rows per campaign and
    outcome (and quarter hour), read by ix_callrollup_volunteer, however many calls they made.

    Raises:
        ValueError: a bound of a period is not on a quarter hour.
    """
    calls = col(CallRollup.calls)
    conditions = [sa.and_(*rollup_period(since, until, col(CallRollup.bucket)))
                  for since, until in periods]
    columns = [column for period in conditions for column in (
        _sum_if(period, calls),
        _sum_if(sa.and_(period, _is_true(col(CallRollup.is_conversation))), calls),
        _sum_if(sa.and_(period, _is_true(col(CallRollup.is_completion))), calls))]
    # Each period's rows as their own index range (volunteer, bucket range), OR'd: written
    # as `volunteer = ? AND (period OR period)` both backends would read every bucket of the
    # volunteer's instead, a row per quarter hour of every day they ever called.
    mine = col(CallRollup.volunteer_id) == volunteer_id
    values = [int(n) for n in session.execute(
        sa.select(*columns).where(sa.or_(*(sa.and_(mine, period) for period in conditions)))
    ).one()]
    return [Counts(*values[i:i + 3]) for i in range(0, len(values), 3)]


# --------------------------------------------------------------------------------------------
# Recruits (organisers only: names and phone numbers)
# --------------------------------------------------------------------------------------------


def _recruit_rules(session: Session, campaign_id: int | None) -> list[tuple[int, str, int, str]]:
    """(campaign id, name, question id, value) for each campaign that has a recruit rule."""
    rules = []
    for cid, name, rule in session.execute(
        sa.select(col(Campaign.id), col(Campaign.name), col(Campaign.recruit_rule))
        .where(_campaign_filter(col(Campaign.id), campaign_id))
        .order_by(col(Campaign.id))
    ):
        rule = rule or {}
        if rule.get("question_id") and rule.get("value") not in (None, ""):
            rules.append((cid, name, int(rule["question_id"]), str(rule["value"])))
    return rules


def recruit_count(*, session: Session, campaign_id: int | None) -> int:
    """How many people gave their campaign's recruit answer."""
    total = 0
    for cid, _, question_id, value in _recruit_rules(session, campaign_id):
        people = (
            sa.select(col(SurveyAnswer.contact_id))
            .where(
                col(SurveyAnswer.campaign_id) == cid,
                col(SurveyAnswer.question_id) == question_id,
                col(SurveyAnswer.value) == value,
                col(SurveyAnswer.contact_id).is_not(None),
            )
            .distinct()
            .subquery()
        )
        total += int(session.execute(sa.select(sa.func.count()).select_from(people)).scalar_one())
    return total


def recruits(
    *, session: Session, campaign_id: int | None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Contacts who gave their campaign's recruit answer, newest answer first, for follow-up.

    Each campaign's Campaign.recruit_rule ({"question_id", "value"}) decides; a campaign without
    one has no recruits. `do_not_call` flags anyone since put on the do-not-call list, so that
    the follow-up does not ring them.
    """
    found: list[tuple[int, str, int, int]] = []  # campaign id, name, contact id, attempt id
    for cid, name, question_id, value in _recruit_rules(session, campaign_id):
        seen: set[int] = set()
        # Newest answers first, straight off ix_answer_campaign_question_value (id order within
        # the value); stops as soon as `limit` people are found.
        answers = session.execute(
            sa.select(col(SurveyAnswer.contact_id), col(SurveyAnswer.attempt_id))
            .where(
                col(SurveyAnswer.campaign_id) == cid,
                col(SurveyAnswer.question_id) == question_id,
                col(SurveyAnswer.value) == value,
                col(SurveyAnswer.contact_id).is_not(None),
            )
            .order_by(col(SurveyAnswer.id).desc())
            .execution_options(yield_per=1000)
        )
        for contact_id, attempt_id in answers:
            if contact_id in seen:
                continue
            seen.add(contact_id)
            found.append((cid, name, contact_id, attempt_id))
            if limit and len(seen) >= limit:
                break
        answers.close()
    result: list[dict[str, Any]] = []
    for start in range(0, len(found), 500):
        chunk = found[start : start + 500]
        contacts = {
            row.id: row
            for row in session.execute(
                sa.select(
                    col(Contact.id),
                    col(Contact.first_name),
                    col(Contact.last_name),
                    col(Contact.constituency),
                    col(Contact.ward),
                    col(Contact.phone),
                    col(Suppression.id).label("suppression_id"),
                )
                .outerjoin(Suppression, col(Suppression.phone) == col(Contact.phone))
                .where(col(Contact.id).in_([contact_id for _, _, contact_id, _ in chunk]))
            )
        }
        when = dict(
            session.execute(  # type: ignore[arg-type]
                sa.select(col(CallAttempt.id), col(CallAttempt.started_at)).where(
                    col(CallAttempt.id).in_([attempt_id for _, _, _, attempt_id in chunk])
                )
            ).all()
        )
        for cid, name, contact_id, attempt_id in chunk:
            c = contacts[contact_id]
            result.append(
                {
                    "campaign_id": cid,
                    "campaign": name,
                    "contact_id": contact_id,
                    "first_name": c.first_name,
                    "last_name": c.last_name,
                    "constituency": c.constituency,
                    "ward": c.ward,
                    "phone": c.phone,
                    "answered_at": when.get(attempt_id),
                    "do_not_call": c.suppression_id is not None,
                }
            )
    if campaign_id is None:
        result.sort(
            key=lambda r: r["answered_at"] or datetime.min.replace(tzinfo=UTC), reverse=True
        )
    return result[:limit] if limit else result


# --------------------------------------------------------------------------------------------
# Compliance
# --------------------------------------------------------------------------------------------


def compliance(
    *,
    session: Session,
    campaign_id: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """What a regulator would ask about: calls outside the window (should be 0), abandoned calls
    over the last 24 h (Ofcom: at most 3 % of live answers), numbers put on the do-not-call list
    by source, TPS-registered people kept out of the queue."""
    outside = int(
        session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(col(CampaignRollup.calls)), 0))
            .where(*_rollup_rows(CampaignRollup, campaign_id, since, until),
                   _is_true(col(CampaignRollup.outside_window)))
        ).scalar_one()
    )
    by_source = {
        source: int(n)
        for source, n in session.execute(
            sa.select(col(Suppression.source), sa.func.count())
            .where(*_period(col(Suppression.created_at), since, until))
            .group_by(col(Suppression.source))
        ).all()
    }
    tps_filter = (_is_true(col(Contact.tps)), col(Contact.consenting_member) == sa.false())
    tps_registered = int(
        session.execute(
            sa.select(sa.func.count()).select_from(Contact).where(*tps_filter)
        ).scalar_one()
    )
    tps_queued = int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(Contact)
            .join(QueueEntry, col(QueueEntry.contact_id) == col(Contact.id))
            .where(
                *tps_filter,
                _campaign_filter(col(QueueEntry.campaign_id), campaign_id),
                col(QueueEntry.status).in_(OPEN_QUEUE_STATUSES),
            )
        ).scalar_one()
    )
    abandoned = abandoned_calls(session=session, campaign_id=campaign_id,
                                now=until or datetime.now(UTC))
    return {
        "outside_window": outside,
        # Ofcom: per campaign per 24 h, whatever period the rest of the panel shows.
        "live_answered_24h": abandoned.live_answered,
        "abandoned_24h": abandoned.abandoned,
        "abandoned_amd_estimate_24h": round(abandoned.amd_estimate, 1),
        "abandoned_rate_24h": abandoned.rate,
        "suppressed_by_source": by_source,
        "suppressed_total": sum(by_source.values()),
        "tps_registered": tps_registered,
        "tps_queued": tps_queued,  # should be 0
        "tps_excluded": tps_registered - tps_queued,
    }


# --------------------------------------------------------------------------------------------
# The shared cache in front of it all
# --------------------------------------------------------------------------------------------

QUERIES: dict[str, Callable[..., Any]] = {
    "headline": headline,
    "calls_by_quarter_hour": calls_by_quarter_hour,
    "outcome_breakdown": outcome_breakdown,
    "survey_results": survey_results,
    "progress_by_ward": progress_by_ward,
    "leaderboard": leaderboard,
    "recruits": recruits,
    "recruit_count": recruit_count,
    "compliance": compliance,
    "campaign_choices": campaign_choices,
}



def _event_query(name: str) -> Callable[..., Any]:
    """The events funnel's figures (core/event_funnel.py, which reads this module), shared
    through the same cache; imported when first asked for, to keep the import one way."""

    def run(**params: Any) -> Any:
        from core import event_funnel

        return getattr(event_funnel, name)(**params)

    return run


QUERIES.update({name: _event_query(name) for name in (
    "campaign_funnel", "event_funnels", "signups_by_volunteer", "recruited_callers",
    "events_by_contact")})


def cached(
    name: str,
    *,
    database: Database,
    ttl: float,
    cache: TTLCache = DASHBOARD_CACHE,
    **params: Any,
) -> Any:
    """QUERIES[name](**params), shared by every viewer of this process for `ttl` seconds.

    The key is (database, query, params), so viewers with the same filters share one query
    per TTL, and a call saved now shows up at the first refresh after the TTL.
    """
    query = QUERIES[name]
    key = (
        database.engine.url.render_as_string(hide_password=True),
        name,
        tuple(sorted(params.items())),
    )

    def compute() -> Any:
        with database.session() as session:
            return query(session=session, **params)

    return cache.get_or_compute(key, ttl, compute)
