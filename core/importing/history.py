"""Import history, rejected rows, retention and undo."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.audit import record_event
from core.importing.files import DELIMITER_NAMES
from core.importing.writer import (
    MERGED_FIELDS,
    SNAPSHOT_DEFAULTS,
    UPDATE_CONTACT,
)
from core.queue_areas import refresh_queue_areas
from db.models import (
    ImportBatch,
    ImportChange,
    ImportRejection,
    ImportWarning,
)
from db.tables import CONTACT, table_of


class ImportUndoError(Exception):
    """The batch cannot be undone (unknown, running, or already undone)."""


def list_batches(*, session: Session, limit: int = 50) -> list[dict[str, Any]]:
    batches = session.exec(
        select(ImportBatch).order_by(col(ImportBatch.created_at).desc(),
                                     col(ImportBatch.id).desc()).limit(limit)
    )
    return [
        {
            "id": b.id, "filename": b.filename, "created_at": b.created_at, "status": b.status,
            "total_rows": b.total_rows, "inserted": b.inserted, "updated": b.updated,
            "unchanged": b.unchanged, "merged": b.merged, "rejected": b.rejected,
            "suppressed": b.suppressed, "do_not_call": b.do_not_call, "warnings": b.warnings,
            "seconds": round(b.seconds, 2), "options": dict(b.options or {}),
            "rows_kept": rows_still_kept(b.created_at), "policy": b.duplicate_policy,
            "encoding": b.encoding, "delimiter": DELIMITER_NAMES.get(b.delimiter, b.delimiter),
            "error": b.error, "undone_at": b.undone_at,
        }
        for b in batches
    ]


# Rejected rows are kept as read so the organiser can fix the file and import them again; after
# this many days that is done or never will be, and the raw text (names, numbers, whatever the
# file held) is personal data kept for no purpose. Row number and reason stay, so the batch's
# accounting still adds up.
REJECTED_ROWS_KEEP_DAYS = 30


def rows_still_kept(created_at: datetime, now: datetime | None = None) -> bool:
    """Whether a batch's rejected rows still hold their text (it is blanked after the days)."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at >= (now or datetime.now(UTC)) - timedelta(days=REJECTED_ROWS_KEEP_DAYS)


def purge_old_rejections(*, session: Session, now: datetime | None = None) -> int:
    """Blank the raw text of rejected rows in batches older than REJECTED_ROWS_KEEP_DAYS."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=REJECTED_ROWS_KEEP_DAYS)
    old_batches = sa.select(col(ImportBatch.id)).where(col(ImportBatch.created_at) < cutoff)
    rejected = table_of(ImportRejection)
    blanked = session.execute(
        sa.update(rejected)
        # As text: PostgreSQL's json type has no equality, and both backends store {} as "{}".
        .where(rejected.c.batch_id.in_(old_batches), sa.cast(rejected.c.raw, sa.Text) != "{}")
        .values(raw={})
    ).rowcount or 0  # type: ignore[attr-defined]
    if blanked:
        record_event(session=session, action="rejected_rows_purged",
                     target="importrejection.raw",
                     details={"count": int(blanked), "days": REJECTED_ROWS_KEEP_DAYS,
                              "before": cutoff.isoformat()})
    session.flush()
    return int(blanked)


def list_rejections(*, session: Session, batch_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(ImportRejection).where(ImportRejection.batch_id == batch_id)
        .order_by(col(ImportRejection.row_number))
    )
    return [{"row_number": r.row_number, "reason": r.reason, "raw": dict(r.raw)} for r in rows]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(cell: str) -> str:
    """A cell Excel or Sheets would run as a formula, made plain text (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    """Rows as a UTF-8 CSV with a BOM (for Excel), every cell, headers included, made inert."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([inert_cell(str(cell)) for cell in row])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def rejections_csv(*, session: Session, batch_id: int) -> bytes:
    """The rejected rows as a UTF-8 CSV (with BOM, for Excel): row, reason, then the row as read."""
    rejections = list_rejections(session=session, batch_id=batch_id)
    columns: list[str] = []
    for rejection in rejections:
        for key in rejection["raw"]:
            if key not in columns:
                columns.append(key)
    return _csv_bytes([["row", "reason", *columns]] + [
        [r["row_number"], r["reason"], *(r["raw"].get(c, "") for c in columns)]
        for r in rejections
    ])


def list_warnings(*, session: Session, batch_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(ImportWarning).where(ImportWarning.batch_id == batch_id)
        .order_by(col(ImportWarning.row_number), col(ImportWarning.id))
    )
    return [{"row_number": w.row_number, "message": w.message} for w in rows]


def warnings_csv(*, session: Session, batch_id: int) -> bytes:
    """The kept rows' warnings as a UTF-8 CSV: row and what could not be used."""
    return _csv_bytes([["row", "warning"]] + [
        [w["row_number"], w["message"]] for w in list_warnings(session=session, batch_id=batch_id)
    ])


def undo_batch(*, session: Session, batch_id: int, actor_id: int | None = None) -> dict[str, int]:
    """Delete the contacts a batch created and put back what it changed on others.

    Raises:
        ImportUndoError: no such batch, still running, or already undone.
    """
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise ImportUndoError("no such import")
    if batch.status == "running":
        raise ImportUndoError("this import is still running")
    if batch.status == "undone":
        raise ImportUndoError("this import has already been undone")
    changes = list(session.exec(select(ImportChange).where(ImportChange.batch_id == batch_id)))
    restore = [
        {"b_id": change.contact_id, "b_updated_at": datetime.now(UTC),
         **{f"b_{name}": change.before.get(name, SNAPSHOT_DEFAULTS.get(name))
            for name in MERGED_FIELDS}}
        for change in changes
    ]
    if restore:
        session.execute(UPDATE_CONTACT, restore)
        refresh_queue_areas(session=session, contact_ids=[c.contact_id for c in changes])
    deleted = session.execute(
        sa.delete(CONTACT).where(CONTACT.c.import_batch_id == batch_id)
    ).rowcount  # type: ignore[attr-defined]
    change_log = table_of(ImportChange)
    session.execute(sa.delete(change_log).where(change_log.c.batch_id == batch_id))
    batch.status = "undone"
    batch.undone_at = datetime.now(UTC)
    session.add(batch)
    record_event(session=session, action="import_undone", actor_id=actor_id,
                 target=f"import:{batch_id}",
                 details={"deleted": deleted, "restored": len(restore)})
    session.flush()
    return {"deleted": deleted, "restored": len(restore)}
