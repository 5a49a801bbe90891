"""Segments: which contacts a campaign should call, counted and attached in SQL.

A Segment is a plain dataclass (it round-trips through a dict for st.session_state). Every
filter becomes a WHERE condition on `contact`; the rules that protect people are not filters
and cannot be switched off:
- a number on the do-not-call list (as the contact's number or one of their other numbers);
- a number a volunteer reported as wrong (bad_number);
- a TPS-registered number, unless the contact is a consenting member.

Exclusions use uncorrelated `NOT IN (SELECT ...)` subqueries: both SQLite and PostgreSQL
evaluate them once into a hash or index and probe per contact, which keeps a count over
550,000 contacts in the low hundreds of milliseconds (bench/targeting.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from core.importing import CUSTOM, normalise_tags
from core.outcomes import OPEN_QUEUE_STATUSES, QueueStatus
from db.models import (
    CallAttempt,
    Campaign,
    Event,
    ImportBatch,
    Outcome,
    QueueEntry,
    SavedSegment,
)
from db.tables import CONTACT, EVENT, QE, SIGNUP, SUPPRESSION

CUSTOM_OPERATORS = {
    "equals": "equals",
    "in": "is one of",
    "contains": "contains",
    "empty": "is empty",
    "not_empty": "is not empty",
}
PHONE_TYPES = ("", "mobile", "landline")


class SegmentError(ValueError):
    """A filter cannot be used as given; str() says which and why."""


@dataclass
class CustomFilter:
    field: str
    op: str = "equals"
    value: str | list[str] = ""


@dataclass
class Segment:
    constituencies: list[str] = field(default_factory=list)
    wards: list[str] = field(default_factory=list)
    tags_any: list[str] = field(default_factory=list)  # has at least one of these tags
    tags_none: list[str] = field(default_factory=list)  # has none of these tags
    custom: list[CustomFilter] = field(default_factory=list)
    phone_type: str = ""  # "" (any), "mobile" or "landline"
    last_contacted_before: date | None = None  # never contacted counts as before
    exclude_outcomes: list[str] = field(default_factory=list)
    outcome_days: int = 30
    exclude_queued_elsewhere: bool = True
    # "Signed up for X but did not come": booked for one of these events, ended, not ticked.
    no_show_event_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.last_contacted_before is not None:
            data["last_contacted_before"] = self.last_contacted_before.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        values = dict(data)
        values["custom"] = [CustomFilter(**f) for f in values.get("custom", [])]
        before = values.get("last_contacted_before")
        if isinstance(before, str):
            values["last_contacted_before"] = date.fromisoformat(before)
        return cls(**values)


def custom_field(key: str, dialect: str) -> ColumnElement[Any]:
    """The text of one custom field, on either backend (SQLite json_extract, PostgreSQL ->>)."""
    if not key or '"' in key or "\\" in key:
        raise SegmentError(f"custom field name {key!r} cannot be used in a filter")
    if dialect == "postgresql":
        return CONTACT.c.custom.op("->>", return_type=sa.String)(sa.literal(key, sa.String))
    return sa.func.json_extract(CONTACT.c.custom, sa.literal(f'$."{key}"', sa.String),
                                type_=sa.String)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _custom_condition(flt: CustomFilter, dialect: str) -> ColumnElement[bool]:
    value = custom_field(flt.field, dialect)
    lowered = sa.func.lower(sa.func.trim(value))
    if flt.op == "equals":
        return lowered == str(flt.value).strip().lower()
    if flt.op == "in":
        items = flt.value if isinstance(flt.value, list) else str(flt.value).split(",")
        wanted = [str(v).strip().lower() for v in items if str(v).strip()]
        if not wanted:
            raise SegmentError(f"{flt.field}: give at least one value for 'is one of'")
        return lowered.in_(wanted)
    if flt.op == "contains":
        needle = str(flt.value).strip().lower()
        if not needle:
            raise SegmentError(f"{flt.field}: give some text for 'contains'")
        return lowered.like(f"%{_like_escape(needle)}%", escape="\\")
    if flt.op == "empty":
        return sa.or_(value.is_(None), sa.func.trim(value) == "")
    if flt.op == "not_empty":
        return sa.and_(value.is_not(None), sa.func.trim(value) != "")
    raise SegmentError(f"unknown operator {flt.op!r} for {flt.field}")


def _place(column: Any, dialect: str) -> ColumnElement[Any]:
    """The column, kept from steering SQLite's planner onto ix_contact_constituency_ward.

    SQLite would walk that index and fetch each matching row by id, which at a few seats of
    550,000 contacts is three times slower than the one pass it makes over the table anyway
    (bench/targeting.py); PostgreSQL's planner weighs this itself.
    """
    return column.op("||")("") if dialect == "sqlite" else column


def _tag_condition(tag: str) -> ColumnElement[bool]:
    wrapped = normalise_tags(tag)
    return CONTACT.c.tags.like(f"%{_like_escape(wrapped)}%", escape="\\")


@dataclass
class SegmentSql:
    """A segment as SQL: conditions checked on each contact row, and the (small) sets of
    contact ids to leave out (do-not-call, queued elsewhere, recent outcomes)."""

    conditions: list[ColumnElement[bool]]
    excluded: list[sa.Select[Any]]

    def where(self) -> list[ColumnElement[bool]]:
        """All of it as one WHERE: the number itself checked against the do-not-call list
        (excluded[0] as a hashable set of numbers), the other sets by contact id."""
        return [
            *self.conditions,
            CONTACT.c.phone.not_in(sa.select(SUPPRESSION.c.phone)),
            *(CONTACT.c.id.not_in(ids) for ids in self.excluded[1:]),
        ]


def _other_number_suppressed(dialect: str) -> ColumnElement[bool]:
    """One of the contact's other numbers is on the do-not-call list (add_suppression pulls
    such contacts from queues too). Checked row by row, and only for rows that have other
    numbers at all: as an uncorrelated set, PostgreSQL misjudges its size (json functions
    have no statistics) and stops hashing it."""
    unnest = "json_array_elements_text" if dialect == "postgresql" else "json_each"
    numbers = getattr(sa.func, unnest)(CONTACT.c.other_phones).table_valued(
        "value", joins_implicitly=True)
    return sa.and_(
        sa.cast(CONTACT.c.other_phones, sa.String) != "[]",
        sa.exists(sa.select(1).select_from(numbers).where(
            numbers.c.value.in_(sa.select(SUPPRESSION.c.phone)))),
    )


def callable_conditions(dialect: str = "sqlite") -> SegmentSql:
    """The protections every segment applies: never suppressed, bad or TPS (unless consenting)."""
    by_phone = CONTACT.alias("suppressed_contact")
    suppressed = sa.select(by_phone.c.id).select_from(
        SUPPRESSION.join(by_phone, by_phone.c.phone == SUPPRESSION.c.phone))
    return SegmentSql(
        conditions=[
            CONTACT.c.bad_number.is_(False),
            sa.or_(CONTACT.c.tps.is_(False), CONTACT.c.consenting_member.is_(True)),
            sa.not_(_other_number_suppressed(dialect)),
        ],
        excluded=[suppressed],
    )


def segment_sql(
    segment: Segment, *, dialect: str, campaign_id: int | None = None,
    now: datetime | None = None,
) -> SegmentSql:
    """A segment's conditions and exclusions, the protections included.

    Raises:
        SegmentError: a filter cannot be used as given.
    """
    now = now or datetime.now(UTC)
    sql = callable_conditions(dialect)
    # Cheap and selective tests first: SQLite checks a row's conditions in this order and
    # stops at the first that fails, so the JSON work is done only for rows still in.
    conditions: list[ColumnElement[bool]] = []
    if segment.constituencies:
        conditions.append(_place(CONTACT.c.constituency, dialect).in_(segment.constituencies))
    if segment.wards:
        conditions.append(_place(CONTACT.c.ward, dialect).in_(segment.wards))
    if segment.phone_type:
        if segment.phone_type not in PHONE_TYPES:
            raise SegmentError(f"unknown phone type {segment.phone_type!r}")
        conditions.append(CONTACT.c.phone_type == segment.phone_type)
    if segment.last_contacted_before is not None:
        cutoff = datetime.combine(segment.last_contacted_before, time.min, tzinfo=UTC)
        conditions.append(sa.or_(CONTACT.c.last_contacted_at.is_(None),
                                 CONTACT.c.last_contacted_at < cutoff))
    conditions += sql.conditions
    if segment.tags_any:
        conditions.append(sa.or_(*(_tag_condition(t) for t in segment.tags_any)))
    for tag in segment.tags_none:
        conditions.append(sa.not_(_tag_condition(tag)))
    for flt in segment.custom:
        conditions.append(_custom_condition(flt, dialect))
    if segment.no_show_event_ids:
        conditions.append(CONTACT.c.id.in_(no_shows(segment.no_show_event_ids, now)))
    sql.conditions = conditions
    if segment.exclude_outcomes:
        if segment.outcome_days < 1:
            raise SegmentError("the outcome window must be at least one day")
        since = now - timedelta(days=segment.outcome_days)
        sql.excluded.append(
            sa.select(col(CallAttempt.contact_id))
            .where(col(CallAttempt.outcome_code).in_(segment.exclude_outcomes))
            .where(col(CallAttempt.started_at) >= since)
            .where(col(CallAttempt.contact_id).is_not(None))  # NULL would make NOT IN empty
        )
    if segment.exclude_queued_elsewhere:
        queued = (
            sa.select(col(QueueEntry.contact_id))
            .join(Campaign, col(Campaign.id) == QueueEntry.campaign_id)
            .where(col(Campaign.status) == "active")
            .where(col(QueueEntry.status).in_(OPEN_QUEUE_STATUSES))
        )
        if campaign_id is not None:
            queued = queued.where(col(QueueEntry.campaign_id) != campaign_id)
        sql.excluded.append(queued)
    return sql


def no_shows(event_ids: list[int], now: datetime) -> Any:
    """Contacts still booked for one of these events after it ended, never ticked as come."""
    return (sa.select(SIGNUP.c.contact_id)
            .select_from(SIGNUP.join(EVENT, EVENT.c.id == SIGNUP.c.event_id))
            .where(SIGNUP.c.event_id.in_(list(event_ids)), SIGNUP.c.status == "booked",
                   SIGNUP.c.walk_in.is_(False), SIGNUP.c.attended_at.is_(None),
                   SIGNUP.c.contact_id.is_not(None), EVENT.c.ends_at <= now))


def segment_conditions(
    segment: Segment, *, dialect: str, campaign_id: int | None = None,
    now: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Every WHERE condition of a segment, exclusions as NOT IN, the protections included."""
    return segment_sql(segment, dialect=dialect, campaign_id=campaign_id, now=now).where()


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # JIT compiling these scans costs PostgreSQL more than running them (~0.3 s of
        # inlining and optimisation at 550,000 contacts); off for this transaction only.
        session.execute(sa.text("SET LOCAL jit = off"))
    return dialect


def count_segment(*, session: Session, segment: Segment, campaign_id: int | None = None) -> int:
    """How many contacts the segment holds (for campaign_id: as attaching would see it)."""
    dialect = _dialect(session)
    sql = segment_sql(segment, dialect=dialect, campaign_id=campaign_id)
    if dialect != "sqlite":
        # PostgreSQL hashes each NOT IN subquery once and probes it per row: one pass.
        return int(session.execute(
            sa.select(sa.func.count()).select_from(CONTACT).where(*sql.where())).scalar_one())
    # SQLite: counted as (rows meeting the conditions) - (those of them in the excluded sets): the
    # first is one pass over contact, the second is driven by the small excluded sets, where a
    # NOT IN probe per contact would cost most of the 300 ms budget at 550,000 contacts.
    total = session.execute(
        sa.select(sa.func.count()).select_from(CONTACT).where(*sql.conditions)).scalar_one()
    if not sql.excluded:
        return int(total)
    left_out = session.execute(
        sa.select(sa.func.count()).select_from(CONTACT)
        .where(*sql.conditions, CONTACT.c.id.in_(sa.union(*sql.excluded)))).scalar_one()
    return int(total) - int(left_out)


def preview_segment(
    *, session: Session, segment: Segment, limit: int = 10, campaign_id: int | None = None
) -> list[dict[str, str]]:
    """A few contacts of the segment: names and constituency only (no numbers on screen)."""
    conditions = segment_conditions(segment, dialect=_dialect(session), campaign_id=campaign_id)
    query = (
        sa.select(CONTACT.c.first_name, CONTACT.c.last_name, CONTACT.c.constituency)
        .where(*conditions).order_by(CONTACT.c.id).limit(limit)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def attach_segment(
    *, session: Session, segment: Segment, campaign_id: int, actor_id: int | None = None
) -> int:
    """Queue the segment's contacts in a campaign in one INSERT ... SELECT; return how many.

    Contacts already in that campaign's queue are left as they are, so attaching again adds
    only the new matches.

    Raises:
        SegmentError: no such campaign, or it is closed; or a filter is unusable.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SegmentError("no such campaign")
    if campaign.status == "closed":
        raise SegmentError("this campaign is closed")
    conditions = segment_conditions(segment, dialect=_dialect(session), campaign_id=campaign_id)
    already = select(QueueEntry.contact_id).where(QueueEntry.campaign_id == campaign_id)
    now = datetime.now(UTC)
    rows = sa.select(
        sa.literal(campaign_id, sa.Integer), CONTACT.c.id,
        sa.literal(QueueStatus.FRESH, sa.String),
        sa.literal(0, sa.Integer), sa.literal(0, sa.Integer),
        sa.bindparam("attached_at", now, type_=QE.c.created_at.type),
        CONTACT.c.constituency, CONTACT.c.ward,  # for the dashboard's progress per ward
    ).where(*conditions, CONTACT.c.id.not_in(already))
    statement = QE.insert().from_select(
        ["campaign_id", "contact_id", "status", "priority", "attempts", "created_at",
         "constituency", "ward"], rows
    )
    # INSERT ... SELECT rowcount is only kept on request (SQLAlchemy 2.1, psycopg).
    added = session.execute(
        statement.execution_options(preserve_rowcount=True)).rowcount  # type: ignore[attr-defined]
    session.flush()
    return int(added or 0)


def segment_options(*, session: Session) -> dict[str, Any]:
    """What the segment builder offers: constituencies with their wards, tags, custom fields,
    outcome codes, and the campaigns a segment can be attached to."""
    places: dict[str, list[str]] = {}
    for constituency, ward in session.execute(
        sa.select(CONTACT.c.constituency, CONTACT.c.ward).distinct()
        .order_by(CONTACT.c.constituency, CONTACT.c.ward)
    ):
        wards = places.setdefault(constituency or "", [])
        if ward:
            wards.append(ward)
    tags: set[str] = set()
    for (wrapped,) in session.execute(
        sa.select(CONTACT.c.tags).distinct().where(CONTACT.c.tags != "")
    ):
        tags.update(t for t in wrapped.split(",") if t)
    custom: list[str] = []
    for mapping in session.exec(
        select(ImportBatch.mapping).where(ImportBatch.status != "undone")
    ):
        for column, field_name in (mapping or {}).items():
            if field_name == CUSTOM and column not in custom:
                custom.append(column)
    outcomes = {
        code: label
        for code, label in session.execute(
            sa.select(col(Outcome.code), col(Outcome.label)).distinct().order_by(col(Outcome.code))
        )
    }
    campaigns = [
        {"id": c.id, "name": c.name, "status": c.status}
        for c in session.exec(
            select(Campaign).where(Campaign.status != "closed").order_by(col(Campaign.name))
        )
    ]
    past_events = {
        int(event_id): f"{title} ({starts:%d %b})"
        for event_id, title, starts in session.execute(
            sa.select(col(Event.id), col(Event.title), col(Event.starts_at))
            .where(col(Event.ends_at) <= datetime.now(UTC), col(Event.status) == "scheduled")
            .order_by(col(Event.starts_at).desc()).limit(100))
    }
    return {
        "past_events": past_events,
        "constituencies": sorted(k for k in places if k),
        "wards": places,
        "tags": sorted(tags),
        "custom_fields": sorted(custom),
        "outcomes": outcomes,
        "campaigns": campaigns,
    }


# --------------------------------------------------------------------------------------------
# Saved segments: named, built before any campaign exists, attached later
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedSegmentView:
    id: int
    name: str
    segment: Segment


def save_segment(*, session: Session, name: str, segment: Segment,
                 actor_id: int | None) -> SavedSegmentView:
    """Save `segment` under `name` (saving again under the same name replaces its filters).

    Raises:
        SegmentError: the name is empty or too long.
    """
    clean = " ".join(name.split())
    if not clean:
        raise SegmentError("Give the segment a name to save it under.")
    if len(clean) > 120:
        raise SegmentError("A segment's name can be at most 120 characters.")
    row = session.exec(select(SavedSegment).where(SavedSegment.name == clean)).first()
    if row is None:
        row = SavedSegment(name=clean, created_by_id=actor_id)
    row.filters = segment.to_dict()
    row.updated_at = datetime.now(UTC)
    session.add(row)
    session.flush()
    assert row.id is not None
    return SavedSegmentView(id=row.id, name=row.name, segment=segment)


def list_saved_segments(*, session: Session) -> list[SavedSegmentView]:
    rows = session.exec(select(SavedSegment).order_by(col(SavedSegment.name)))
    return [SavedSegmentView(id=r.id, name=r.name, segment=Segment.from_dict(r.filters))
            for r in rows if r.id is not None]


def delete_saved_segment(*, session: Session, segment_id: int) -> None:
    row = session.get(SavedSegment, segment_id)
    if row is not None:
        session.delete(row)
