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
from core.importing.writer import CONTACT_TABLE, MERGED_FIELDS, UPDATE_CONTACT
from core.queue_areas import refresh_queue_areas
from db.models import (
    ImportBatch,
    ImportChange,
    ImportRejection,
)


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
            "merged": b.merged, "rejected": b.rejected, "suppressed": b.suppressed,
            "seconds": round(b.seconds, 2), "policy": b.duplicate_policy,
            "encoding": b.encoding, "delimiter": DELIMITER_NAMES.get(b.delimiter, b.delimiter),
            "error": b.error, "undone_at": b.undone_at,
        }
        for b in batches
    ]


def get_batch(*, session: Session, batch_id: int) -> dict[str, Any] | None:
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        return None
    return {
        "id": batch.id, "filename": batch.filename, "status": batch.status,
        "total_rows": batch.total_rows, "inserted": batch.inserted, "updated": batch.updated,
        "merged": batch.merged, "rejected": batch.rejected, "suppressed": batch.suppressed,
        "mapping": dict(batch.mapping), "policy": batch.duplicate_policy,
    }


# Rejected rows are kept as read so the organiser can fix the file and import them again; after
# this many days that is done or never will be, and the raw text (names, numbers, whatever the
# file held) is personal data kept for no purpose. Row number and reason stay, so the batch's
# accounting still adds up.
REJECTED_ROWS_KEEP_DAYS = 30


def purge_old_rejections(*, session: Session, now: datetime | None = None) -> int:
    """Blank the raw text of rejected rows in batches older than REJECTED_ROWS_KEEP_DAYS."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=REJECTED_ROWS_KEEP_DAYS)
    old_batches = sa.select(col(ImportBatch.id)).where(col(ImportBatch.created_at) < cutoff)
    rejected = ImportRejection.__table__  # type: ignore[attr-defined]
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


def _inert(cell: str) -> str:
    """A cell Excel or Sheets would run as a formula, made plain text (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def rejections_csv(*, session: Session, batch_id: int) -> bytes:
    """The rejected rows as a UTF-8 CSV (with BOM, for Excel): row, reason, then the row as read."""
    rejections = list_rejections(session=session, batch_id=batch_id)
    columns: list[str] = []
    for rejection in rejections:
        for key in rejection["raw"]:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "reason", *columns])
    for rejection in rejections:
        writer.writerow([rejection["row_number"], rejection["reason"],
                         *(_inert(str(rejection["raw"].get(c, ""))) for c in columns)])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


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
         **{f"b_{name}": change.before.get(name) for name in MERGED_FIELDS}}
        for change in changes
    ]
    if restore:
        session.execute(UPDATE_CONTACT, restore)
        refresh_queue_areas(session=session, contact_ids=[c.contact_id for c in changes])
    deleted = session.execute(
        sa.delete(CONTACT_TABLE).where(CONTACT_TABLE.c.import_batch_id == batch_id)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(sa.delete(ImportChange.__table__)  # type: ignore[attr-defined]
                    .where(ImportChange.__table__.c.batch_id == batch_id))  # type: ignore[attr-defined]
    batch.status = "undone"
    batch.undone_at = datetime.now(UTC)
    session.add(batch)
    record_event(session=session, action="import_undone", actor_id=actor_id,
                 target=f"import:{batch_id}",
                 details={"deleted": deleted, "restored": len(restore)})
    session.flush()
    return {"deleted": deleted, "restored": len(restore)}
