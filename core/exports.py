"""Organisers take the results home: CSV and XLSX, streamed, neutralised, audited.

Every export holds personal data (names, numbers, what people told us), so:
- only organisers may run one (ExportNotAllowed otherwise, whatever page calls it);
- each one is written to the audit trail with its kind, format and row count;
- a cell a spreadsheet would execute (=, +, -, @, tab, carriage return first) is prefixed with a
  single quote, so a contact who gives their name as `=HYPERLINK(...)` cannot run anything on
  an organiser's laptop (CSV/formula injection);
- rows are read in chunks (yield_per) and written as they come: a million attempts never sit in
  memory as ORM objects, and XLSX uses openpyxl's write-only mode.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from openpyxl import Workbook
from sqlmodel import Session, col

from core import stats
from core.audit import record_event
from core.event_funnel import events_by_contact
from core.users import UserView
from db.engine import Database
from db.models import (
    CallAttempt,
    Campaign,
    Contact,
    QueueEntry,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
)

EXPORT_KINDS: dict[str, str] = {
    "attempts": "Call attempts (one row per call)",
    "contacts": "Contact results (one row per contact per campaign)",
    "survey_answers": "Survey answers (one row per answer)",
    "recruits": "Recruits (for follow-up)",
    "suppressions": "Do-not-call list",
}
FORMATS: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A value of only "+" and digits (an E.164 number) has no operator or function a spreadsheet
# could run, so phone numbers keep their usual "+447…" form, with no apostrophe.
PLAIN_NUMBER = re.compile(r"\+\d{1,15}")
CHUNK_ROWS = 2000


class ExportNotAllowed(Exception):
    """Only organisers may export."""


class UnknownExport(ValueError):
    """No such export kind or format."""


@dataclass(frozen=True)
class ExportResult:
    kind: str
    fmt: str
    rows: int
    filename: str
    mime: str


def neutralise_cell(value: Any) -> Any:
    """Text a spreadsheet would execute as a formula, quoted so it shows as text instead."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        if PLAIN_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


# --------------------------------------------------------------------------------------------
# What each export contains
# --------------------------------------------------------------------------------------------


def _streamed(session: Session, query: Any) -> Iterator[sa.Row[Any]]:
    result = session.execute(query.execution_options(yield_per=CHUNK_ROWS))
    try:
        yield from result
    finally:
        result.close()


def _attempts(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    header = ["attempt_id", "campaign", "started_at", "ended_at", "duration_seconds", "outcome",
              "conversation", "completion", "volunteer", "contact_id", "first_name",
              "last_name", "phone", "constituency", "ward", "notes", "outside_window",
              "provider"]
    query = (
        sa.select(
            col(CallAttempt.id),
            col(Campaign.name),
            col(CallAttempt.started_at),
            col(CallAttempt.ended_at),
            col(CallAttempt.duration_seconds),
            col(CallAttempt.outcome_code),
            col(CallAttempt.is_conversation),
            col(CallAttempt.is_completion),
            col(User.name),
            col(CallAttempt.contact_id),
            col(Contact.first_name),
            col(Contact.last_name),
            col(Contact.phone),
            col(Contact.constituency),
            col(Contact.ward),
            col(CallAttempt.notes),
            col(CallAttempt.outside_window),
            col(CallAttempt.provider),
        )
        .join(Campaign, col(Campaign.id) == col(CallAttempt.campaign_id))
        .outerjoin(User, col(User.id) == col(CallAttempt.volunteer_id))
        .outerjoin(Contact, col(Contact.id) == col(CallAttempt.contact_id))
        .where(stats._campaign_filter(col(CallAttempt.campaign_id), campaign_id))
        .order_by(col(CallAttempt.id))
    )
    return header, (tuple(row) for row in _streamed(session, query))


def _contacts(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    header = [
        "campaign",
        "contact_id",
        "first_name",
        "last_name",
        "phone",
        "constituency",
        "ward",
        "postcode",
        "membership_number",
        "queue_status",
        "attempts",
        "last_outcome",
        "last_attempt_at",
        "callback_at",
        "reached",
        "completed",
        "do_not_call",
    ]

    def ever(flag: Any) -> Any:
        return sa.exists().where(
            col(CallAttempt.campaign_id) == col(QueueEntry.campaign_id),
            stats._is_true(flag),
            col(CallAttempt.contact_id) == col(Contact.id),
        )

    query = (
        sa.select(
            col(Campaign.name),
            col(Contact.id),
            col(Contact.first_name),
            col(Contact.last_name),
            col(Contact.phone),
            col(Contact.constituency),
            col(Contact.ward),
            col(Contact.postcode),
            col(Contact.membership_number),
            col(QueueEntry.status),
            col(QueueEntry.attempts),
            col(QueueEntry.last_outcome),
            col(QueueEntry.last_attempt_at),
            # A pending callback's due time is when the volunteer promised to ring back.
            sa.case((col(QueueEntry.status) == "callback", col(QueueEntry.due_at)),
                    else_=None),
            ever(col(CallAttempt.is_conversation)),
            ever(col(CallAttempt.is_completion)),
            col(Suppression.id).is_not(None),
        )
        .select_from(QueueEntry)
        .join(Campaign, col(Campaign.id) == col(QueueEntry.campaign_id))
        .join(Contact, col(Contact.id) == col(QueueEntry.contact_id))
        .outerjoin(Suppression, col(Suppression.phone) == col(Contact.phone))
        .where(stats._campaign_filter(col(QueueEntry.campaign_id), campaign_id))
        .order_by(col(QueueEntry.campaign_id), col(Contact.id))
    )
    return header, (tuple(row) for row in _streamed(session, query))


def _survey_answers(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    header = [
        "campaign",
        "attempt_id",
        "answered_at",
        "contact_id",
        "first_name",
        "last_name",
        "phone",
        "question",
        "answer",
    ]
    query = (
        sa.select(
            col(Campaign.name),
            col(SurveyAnswer.attempt_id),
            col(CallAttempt.started_at),
            col(SurveyAnswer.contact_id),
            col(Contact.first_name),
            col(Contact.last_name),
            col(Contact.phone),
            col(SurveyQuestion.text),
            col(SurveyAnswer.value),
        )
        .select_from(SurveyAnswer)
        .join(Campaign, col(Campaign.id) == col(SurveyAnswer.campaign_id))
        .join(SurveyQuestion, col(SurveyQuestion.id) == col(SurveyAnswer.question_id))
        .join(CallAttempt, col(CallAttempt.id) == col(SurveyAnswer.attempt_id))
        .outerjoin(Contact, col(Contact.id) == col(SurveyAnswer.contact_id))
        .where(stats._campaign_filter(col(SurveyAnswer.campaign_id), campaign_id))
        .order_by(col(SurveyAnswer.id))
    )
    return header, (tuple(row) for row in _streamed(session, query))


def _recruits(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    header = [
        "campaign",
        "contact_id",
        "first_name",
        "last_name",
        "phone",
        "constituency",
        "ward",
        "answered_at",
        "do_not_call",
        "events",
    ]
    rows = stats.recruits(session=session, campaign_id=campaign_id)
    booked = events_by_contact(session=session,
                               contact_ids=tuple({int(r["contact_id"]) for r in rows}))
    return header, (
        (
            r["campaign"],
            r["contact_id"],
            r["first_name"],
            r["last_name"],
            r["phone"],
            r["constituency"],
            r["ward"],
            r["answered_at"],
            r["do_not_call"],
            "; ".join(booked.get(int(r["contact_id"]), [])),
        )
        for r in rows
    )


def _suppressions(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    header = ["phone", "source", "reason", "added_at"]
    query = sa.select(
        col(Suppression.phone),
        col(Suppression.source),
        col(Suppression.reason),
        col(Suppression.created_at),
    ).order_by(col(Suppression.id))
    return header, (tuple(row) for row in _streamed(session, query))


_BUILDERS = {
    "attempts": _attempts,
    "contacts": _contacts,
    "survey_answers": _survey_answers,
    "recruits": _recruits,
    "suppressions": _suppressions,
}


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _plain(value: Any, zone: ZoneInfo, *, for_xlsx: bool) -> Any:
    """One cell: local time for datetimes, yes/no for flags, "" for nothing, neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        local = (
            value.astimezone(zone) if value.tzinfo else value.replace(tzinfo=UTC).astimezone(zone)
        )
        # Excel has no time zones: XLSX gets local wall-clock time, CSV gets ISO with offset.
        return local.replace(tzinfo=None) if for_xlsx else local.isoformat(timespec="seconds")
    return neutralise_cell(value)


def zoned_header(header: list[str], timezone: str) -> list[str]:
    """Name the zone in every time column's heading ("started_at (Europe/London)")."""
    return [f"{name} ({timezone})" if name.endswith("_at") else name for name in header]


def write_csv(
    header: list[str],
    rows: Iterable[tuple],
    out: IO[bytes],
    *,
    timezone: str = stats.DEFAULT_TIMEZONE,
) -> int:
    """Write UTF-8 CSV (with the BOM Excel needs to read accents); returns the row count."""
    zone = ZoneInfo(timezone)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow(zoned_header(header, timezone))
    count = 0
    for row in rows:
        writer.writerow([_plain(v, zone, for_xlsx=False) for v in row])
        count += 1
    text.flush()
    text.detach()  # leave `out` open for the caller
    return count


def write_xlsx(
    header: list[str],
    rows: Iterable[tuple],
    out: IO[bytes],
    *,
    sheet: str = "export",
    timezone: str = stats.DEFAULT_TIMEZONE,
) -> int:
    """Write an XLSX workbook in openpyxl's streaming (write-only) mode; returns the row count."""
    zone = ZoneInfo(timezone)
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    worksheet.append(zoned_header(header, timezone))
    count = 0
    for row in rows:
        worksheet.append([_plain(v, zone, for_xlsx=True) for v in row])
        count += 1
    workbook.save(out)
    return count


def filename_for(kind: str, fmt: str, campaign_name: str | None, now: datetime) -> str:
    scope = "".join(ch if ch.isalnum() else "-" for ch in (campaign_name or "all-campaigns"))
    scope = "-".join(part for part in scope.lower().split("-") if part)[:60]
    return f"ringround-{kind.replace('_', '-')}-{scope}-{now:%Y%m%d-%H%M}.{fmt}"


def write_export(
    *,
    session: Session,
    kind: str,
    fmt: str,
    out: IO[bytes],
    actor: UserView,
    campaign_id: int | None = None,
    timezone: str = stats.DEFAULT_TIMEZONE,
    now: datetime | None = None,
) -> ExportResult:
    """Write one export to `out` (reading only; see run_export for the audited whole).

    Raises:
        ExportNotAllowed: actor is not an organiser.
        UnknownExport: no such kind or format.
        stats.CampaignNotFound: there is no campaign with this id.
    """
    if not actor.is_organiser:
        raise ExportNotAllowed(actor.id)
    if kind not in _BUILDERS or fmt not in FORMATS:
        raise UnknownExport(f"{kind}.{fmt}")
    campaign_name = None
    if campaign_id is not None and kind != "suppressions":
        found = session.execute(
            sa.select(col(Campaign.name), col(Campaign.timezone))
            .where(col(Campaign.id) == campaign_id)
        ).first()
        if found is None:
            raise stats.CampaignNotFound(campaign_id)
        # One campaign's times read in its own zone; `timezone` is for everything else.
        campaign_name, timezone = found[0], found[1] or timezone
    header, rows = _BUILDERS[kind](session, campaign_id)
    if fmt == "csv":
        count = write_csv(header, rows, out, timezone=timezone)
    else:
        count = write_xlsx(header, rows, out, sheet=kind, timezone=timezone)
    moment = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    return ExportResult(
        kind=kind,
        fmt=fmt,
        rows=count,
        mime=FORMATS[fmt],
        filename=filename_for(kind, fmt, campaign_name, moment),
    )


def record_export(
    *, session: Session, result: ExportResult, actor: UserView, campaign_id: int | None
) -> None:
    """Put the export on the audit trail (in the caller's write transaction)."""
    record_event(
        session=session,
        action="export",
        actor_id=actor.id,
        target=f"export:{result.kind}",
        details={
            "kind": result.kind,
            "rows": result.rows,
            "format": result.fmt,
            "campaign_id": campaign_id,
        },
    )


def run_export(
    *,
    database: Database,
    kind: str,
    fmt: str,
    out: IO[bytes],
    actor: UserView,
    campaign_id: int | None = None,
    timezone: str = stats.DEFAULT_TIMEZONE,
) -> ExportResult:
    """Write the export from a read session, then audit it in a short write transaction.

    Reading outside the write transaction matters on SQLite: a big export inside BEGIN
    IMMEDIATE would hold the write lock and stall every volunteer's save until it finished.

    Raises:
        ExportNotAllowed, UnknownExport, stats.CampaignNotFound: see write_export.
    """
    with database.session() as session:
        result = write_export(
            session=session,
            kind=kind,
            fmt=fmt,
            out=out,
            actor=actor,
            campaign_id=campaign_id,
            timezone=timezone,
        )
    with database.write() as session:
        record_export(session=session, result=result, actor=actor, campaign_id=campaign_id)
    return result
