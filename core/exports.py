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
from collections.abc import Callable, Iterable, Iterator
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


Columns = dict[str, Any]  # an export's heading -> the column or expression under it


def _person(contact_id: Any) -> Columns:
    """The columns naming a contact, in the order every export of people gives them."""
    return {"contact_id": contact_id, "first_name": col(Contact.first_name),
            "last_name": col(Contact.last_name), "phone": col(Contact.phone)}


def _table(session: Session, columns: Columns,
           query: Callable[[Any], Any]) -> tuple[list[str], Iterator[tuple]]:
    """The headings, and the rows of `query` applied to a SELECT of the columns."""
    selected = query(sa.select(*columns.values()))
    return list(columns), (tuple(row) for row in _streamed(session, selected))


def _attempts(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    columns = {
        "attempt_id": col(CallAttempt.id),
        "campaign": col(Campaign.name),
        "started_at": col(CallAttempt.started_at),
        "ended_at": col(CallAttempt.ended_at),
        "duration_seconds": col(CallAttempt.duration_seconds),
        "outcome": col(CallAttempt.outcome_code),
        "conversation": col(CallAttempt.is_conversation),
        "completion": col(CallAttempt.is_completion),
        "volunteer": col(User.name),
        **_person(col(CallAttempt.contact_id)),
        "constituency": col(Contact.constituency),
        "ward": col(Contact.ward),
        "notes": col(CallAttempt.notes),
        "outside_window": col(CallAttempt.outside_window),
        "provider": col(CallAttempt.provider),
    }
    return _table(session, columns, lambda select: (
        select.join(Campaign, col(Campaign.id) == col(CallAttempt.campaign_id))
        .outerjoin(User, col(User.id) == col(CallAttempt.volunteer_id))
        .outerjoin(Contact, col(Contact.id) == col(CallAttempt.contact_id))
        .where(stats._campaign_filter(col(CallAttempt.campaign_id), campaign_id))
        .order_by(col(CallAttempt.id))
    ))


def _contacts(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    def ever(flag: Any) -> Any:
        return sa.exists().where(
            col(CallAttempt.campaign_id) == col(QueueEntry.campaign_id),
            stats._is_true(flag),
            col(CallAttempt.contact_id) == col(Contact.id),
        )

    columns = {
        "campaign": col(Campaign.name),
        **_person(col(Contact.id)),
        "phone_note": col(Contact.phone_notes),  # (the map: the dialled number's note below)
        "constituency": col(Contact.constituency),
        "ward": col(Contact.ward),
        "postcode": col(Contact.postcode),
        "membership_number": col(Contact.membership_number),
        "queue_status": col(QueueEntry.status),
        "attempts": col(QueueEntry.attempts),
        "last_outcome": col(QueueEntry.last_outcome),
        "last_attempt_at": col(QueueEntry.last_attempt_at),
        # A pending callback's due time is when the volunteer promised to ring back.
        "callback_at": sa.case((col(QueueEntry.status) == "callback", col(QueueEntry.due_at)),
                               else_=None),
        "reached": ever(col(CallAttempt.is_conversation)),
        "completed": ever(col(CallAttempt.is_completion)),
        "do_not_call": col(Suppression.id).is_not(None),
    }
    header, rows = _table(session, columns, lambda select: (
        select.select_from(QueueEntry)
        .join(Campaign, col(Campaign.id) == col(QueueEntry.campaign_id))
        .join(Contact, col(Contact.id) == col(QueueEntry.contact_id))
        .outerjoin(Suppression, col(Suppression.phone) == col(Contact.phone))
        .where(stats._campaign_filter(col(QueueEntry.campaign_id), campaign_id))
        .order_by(col(QueueEntry.campaign_id), col(Contact.id))
    ))
    # The words an import read beside the number dialled ("after 6pm"), not the whole map.
    note_at, phone_at = header.index("phone_note"), header.index("phone")
    return header, ((*row[:note_at], (row[note_at] or {}).get(row[phone_at], ""),
                     *row[note_at + 1:]) for row in rows)


def _survey_answers(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    columns = {
        "campaign": col(Campaign.name),
        "attempt_id": col(SurveyAnswer.attempt_id),
        "answered_at": col(CallAttempt.started_at),
        **_person(col(SurveyAnswer.contact_id)),
        "question": col(SurveyQuestion.text),
        "answer": col(SurveyAnswer.value),
    }
    return _table(session, columns, lambda select: (
        select.select_from(SurveyAnswer)
        .join(Campaign, col(Campaign.id) == col(SurveyAnswer.campaign_id))
        .join(SurveyQuestion, col(SurveyQuestion.id) == col(SurveyAnswer.question_id))
        .join(CallAttempt, col(CallAttempt.id) == col(SurveyAnswer.attempt_id))
        .outerjoin(Contact, col(Contact.id) == col(SurveyAnswer.contact_id))
        .where(stats._campaign_filter(col(SurveyAnswer.campaign_id), campaign_id))
        .order_by(col(SurveyAnswer.id))
    ))


# The recruits export is stats.recruits()'s rows, under the same names, and their events.
RECRUIT_FIELDS = ["campaign", "contact_id", "first_name", "last_name", "phone", "constituency",
                  "ward", "answered_at", "do_not_call"]


def _recruits(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    rows = stats.recruits(session=session, campaign_id=campaign_id)
    booked = events_by_contact(session=session,
                               contact_ids=tuple({int(r["contact_id"]) for r in rows}))
    return [*RECRUIT_FIELDS, "events"], (
        (*(r[name] for name in RECRUIT_FIELDS),
         "; ".join(booked.get(int(r["contact_id"]), [])))
        for r in rows
    )


def _suppressions(session: Session, campaign_id: int | None) -> tuple[list[str], Iterator[tuple]]:
    columns = {
        "phone": col(Suppression.phone),
        "source": col(Suppression.source),
        "reason": col(Suppression.reason),
        "added_at": col(Suppression.created_at),
    }
    return _table(session, columns, lambda select: select.order_by(col(Suppression.id)))


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


def _write_rows(append: Callable[[list[Any]], object], header: list[str], rows: Iterable[tuple],
                *, timezone: str, for_xlsx: bool) -> int:
    """Append the zoned heading, then every row as plain cells; returns the row count."""
    zone = ZoneInfo(timezone)
    append(zoned_header(header, timezone))
    count = 0
    for row in rows:
        append([_plain(v, zone, for_xlsx=for_xlsx) for v in row])
        count += 1
    return count


def write_csv(
    header: list[str],
    rows: Iterable[tuple],
    out: IO[bytes],
    *,
    timezone: str = stats.DEFAULT_TIMEZONE,
) -> int:
    """Write UTF-8 CSV (with the BOM Excel needs to read accents); returns the row count."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    count = _write_rows(csv.writer(text).writerow, header, rows, timezone=timezone,
                        for_xlsx=False)
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
    workbook = Workbook(write_only=True)
    count = _write_rows(workbook.create_sheet(sheet[:31]).append, header, rows,
                        timezone=timezone, for_xlsx=True)
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
