"""Writing records: merging into contacts under the duplicate policy, with the accounting."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.importing.fields import FLAG_FIELDS, TEXT_FIELDS
from core.importing.rows import (
    FIELD_LIMITS,
    ROW_COLUMNS,
    ROW_WIDTH,
    WIRE_OTHERS,
    WIRE_PHONE,
    ParsedChunk,
    RowRecord,
    from_wire,
    normalise_tags,
    tag_list,
)
from core.outcomes import OPEN_QUEUE_STATUSES, QueueStatus
from core.queue_areas import refresh_queue_areas
from db.models import (
    ImportBatch,
    ImportChange,
    ImportRejection,
    ImportWarning,
)
from db.tables import CONTACT, QE, SUPPRESSION, table_of

# Fields an import may change on an existing contact, and so what ImportChange snapshots.
MERGED_FIELDS = (*TEXT_FIELDS, "tags", "tps", "consenting_member", "other_phones",
                 "phone_notes", "custom")
# What an undo puts back for a field a snapshot lacks (one taken before the field existed).
SNAPSHOT_DEFAULTS: dict[str, Any] = {"other_phones": [], "phone_notes": {}, "custom": {}}


def merge_into(state: dict[str, Any], record: RowRecord, policy: str) -> bool:
    """Apply a duplicate row to a contact's values in place; True if anything changed.

    update_empty fills only empty fields (tags and custom fields are added to); overwrite lets
    the file's non-empty values win. Either way no number is lost, and a TPS flag is kept:
    a file that omits it must not make a registered number callable.
    """
    if policy == "skip":
        return False
    changed = False
    for key, value in record.values.items():
        current = state.get(key)
        if key == "tags":
            if policy == "overwrite":
                new = value
            else:
                new = normalise_tags(tag_list(current or "") + tag_list(value))
            if len(new) > FIELD_LIMITS["tags"]:
                continue
        elif key in FLAG_FIELDS:
            new = (bool(current) or value) if policy == "update_empty" else value
        else:
            new = value if (policy == "overwrite" or not current) else current
        if new != current:
            state[key] = new
            changed = True
    others = list(state.get("other_phones") or [])
    for number in [record.phone, *record.other_phones]:
        if number != state["phone"] and number not in others:
            others.append(number)
    if others != (state.get("other_phones") or []):
        state["other_phones"] = others
        changed = True
    for name, incoming in (("phone_notes", record.phone_notes), ("custom", record.custom)):
        current_map = state.get(name) or {}
        merged = dict(current_map)
        for key, value in incoming.items():
            if policy == "overwrite" or not merged.get(key):
                merged[key] = value
        if merged != current_map:
            state[name] = merged
            changed = True
    return changed


@dataclass(frozen=True)
class ImportProgress:
    rows_done: int
    rows_per_second: float
    fraction: float  # of the file read, 0..1 (estimated from bytes or sheet rows)


@dataclass
class ImportResult:
    batch_id: int
    filename: str
    status: str
    total_rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    rejected: int = 0
    suppressed: int = 0
    do_not_call: int = 0
    warnings: int = 0
    # Numbers put on the do-not-call list from a ZIP's unsubscribed/cleaned files, by file
    # (their people are do-not-contact: listed, never made contacts).
    listed_from_files: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    encoding: str = ""
    delimiter: str = ""
    error: str = ""

    @property
    def balanced(self) -> bool:
        return self.inserted + self.updated + self.unchanged + self.merged + self.rejected == (
            self.total_rows)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImportFailed(Exception):
    """The import stopped part-way; the batch is marked failed and can be undone."""

    def __init__(self, message: str, result: ImportResult):
        super().__init__(message)
        self.result = result


@dataclass
class BatchState:
    batch_id: int
    policy: str
    now: datetime
    result: ImportResult
    snapshotted: set[int] = field(default_factory=set)  # contacts with an ImportChange
    touched: set[int] = field(default_factory=set)  # stored contacts a row of this batch matched
    pending: tuple[set[int], set[int], set[str]] = field(
        default_factory=lambda: (set(), set(), set()))
    # The do-not-call list, read once: it only feeds the "suppressed" count (queueing checks
    # the live table), and one read beats an IN query per chunk.
    suppressed: set[str] = field(default_factory=set)
    # When the contact table was empty at the start, a number can only be stored already if
    # this batch stored it, so lookups go to the database only for those numbers.
    only_own: bool = False
    inserted: set[str] = field(default_factory=set)
    pending_inserted: list[str] = field(default_factory=list)


# SQLite >= 3.32 binds up to 32766 parameters, PostgreSQL 65535; older SQLite only 999.
_LOOKUP_CHUNK = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 900
_STATE_COLUMNS = [CONTACT.c.id, CONTACT.c.phone, CONTACT.c.import_batch_id,
                  *(CONTACT.c[name] for name in MERGED_FIELDS)]


def _lookup(session: Session, phones: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(phones), _LOOKUP_CHUNK):
        chunk = phones[start : start + _LOOKUP_CHUNK]
        rows = session.execute(sa.select(*_STATE_COLUMNS).where(CONTACT.c.phone.in_(chunk)))
        for row in rows.mappings():
            found[row["phone"]] = dict(row)
    return found


_INSERT_COLUMNS = [c.name for c in CONTACT.columns if c.name != "id"]
_BATCH_COLUMNS = ("import_batch_id", "last_contacted_at", "created_at", "updated_at")
assert tuple(_INSERT_COLUMNS) == (*ROW_COLUMNS, *_BATCH_COLUMNS), _INSERT_COLUMNS
_JSON_COLUMNS = {"other_phones": "[]", "phone_notes": "{}", "custom": "{}"}


def _state_of(record: RowRecord) -> dict[str, Any]:
    """A new contact's values as a dict, for a later row of the file to merge into."""
    state = dict(zip(ROW_COLUMNS, record.row, strict=True))
    state["other_phones"] = list(record.other_phones)
    state["phone_notes"] = dict(record.phone_notes)
    state["custom"] = dict(record.custom)
    return state


def _row_of(state: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (json.dumps(state[name]) if state[name] else _JSON_COLUMNS[name])
        if name in _JSON_COLUMNS else state[name]
        for name in ROW_COLUMNS)


def _insert_contacts(session: Session, new: list[Any], state: BatchState) -> None:
    """Insert new contacts with one driver-level executemany.

    SQLAlchemy's per-row parameter processing cost more than SQLite's own insert work
    (bench/import.py), so the parsing process encodes each row as the column types would
    (JSON as json.dumps text), and here the batch's own values are added: its id, and one
    timestamp for every row (UTCDateTime as naive UTC; on SQLite, SQLAlchemy's text format).
    A row that later rows merged into is a dict, encoded here the same way.
    """
    connection = session.connection()
    naive = state.now.astimezone(UTC).replace(tzinfo=None)
    if connection.dialect.name == "sqlite":
        stamp: Any = naive.strftime("%Y-%m-%d %H:%M:%S.%f")
        mark = "?"
    else:
        stamp, mark = naive, "%s"
    tail = (state.batch_id, None, stamp, stamp)
    params = [entry[:ROW_WIDTH] + tail if type(entry) is not dict else _row_of(entry) + tail
              for entry in new]
    statement = (f"INSERT INTO contact ({', '.join(_INSERT_COLUMNS)}) "
                 f"VALUES ({', '.join([mark] * len(_INSERT_COLUMNS))})")
    connection.exec_driver_sql(statement, params)


UPDATE_CONTACT = (
    sa.update(CONTACT)
    .where(CONTACT.c.id == sa.bindparam("b_id"))
    .values({name: sa.bindparam(f"b_{name}") for name in (*MERGED_FIELDS, "updated_at")})
)


def write_chunk(session: Session, state: BatchState, chunk: ParsedChunk) -> None:
    """Merge a parsed chunk into the contacts under the batch's policy, and count it."""
    result, policy, now = state.result, state.policy, state.now
    records = chunk.records
    primaries = list({r[WIRE_PHONE] for r in records})
    if state.only_own:
        primaries = [p for p in primaries if p in state.inserted]
    existing = _lookup(session, primaries) if primaries else {}
    # New contacts by number: the parsed record itself, or a dict once a later row merged in.
    new: dict[str, Any] = {}
    dirty: dict[int, dict[str, Any]] = {}
    moved: set[int] = set()  # contacts whose constituency or ward this chunk changes
    changes: list[dict[str, Any]] = []
    # What this chunk adds to the batch's sets, merged in by commit_chunk once it commits (a
    # retried transaction starts again from the sets as they were).
    touched: set[int] = set()
    snapshotted: set[int] = set()
    state.pending = (touched, snapshotted, set())
    inserted = merged = updated = unchanged = 0
    for entry in records:
        phone = entry[WIRE_PHONE]
        earlier = new.get(phone)
        if earlier is not None:
            if type(earlier) is not dict:
                earlier = new[phone] = _state_of(from_wire(earlier))
            merge_into(earlier, from_wire(entry), policy)
            merged += 1
            continue
        stored = existing.get(phone)
        if stored is None:
            new[phone] = entry
            inserted += 1
            continue
        record = from_wire(entry)
        contact_id = stored["id"]
        if (stored["import_batch_id"] == state.batch_id or contact_id in state.touched
                or contact_id in touched):
            merged += 1  # an earlier row of this file already has this number
            first_touch = False
        else:
            first_touch = True
            touched.add(contact_id)
        if policy == "skip":
            if first_touch:
                merged += 1
            continue
        before = {name: stored[name] for name in MERGED_FIELDS}
        area = (stored["constituency"], stored["ward"])
        changed = merge_into(stored, record, policy)
        if first_touch:
            if changed:
                updated += 1
            else:
                unchanged += 1
        if changed:
            dirty[contact_id] = stored
            if contact_id not in state.snapshotted and contact_id not in snapshotted:
                snapshotted.add(contact_id)  # the values from before this batch, once
                changes.append({"batch_id": state.batch_id, "contact_id": contact_id,
                                "before": before})
            if (stored["constituency"], stored["ward"]) != area:
                moved.add(contact_id)
    result.inserted += inserted
    result.merged += merged
    result.updated += updated
    result.unchanged += unchanged
    if new:
        _insert_contacts(session, list(new.values()), state)
    state.pending_inserted = list(new)
    if dirty:
        session.execute(UPDATE_CONTACT, [
            {"b_id": cid, "b_updated_at": now, **{f"b_{n}": s[n] for n in MERGED_FIELDS}}
            for cid, s in dirty.items()
        ])
        refresh_queue_areas(session=session, contact_ids=moved)
    if changes:
        session.execute(sa.insert(table_of(ImportChange)), changes)
    if chunk.rejections:
        session.execute(sa.insert(table_of(ImportRejection)), chunk.rejections)
    if chunk.warnings:
        session.execute(sa.insert(table_of(ImportWarning)), chunk.warnings)
        result.warnings += len(chunk.warnings)
    refused = [from_wire(r) for r in chunk.refused]
    if refused:
        state.pending[2].update(_add_to_do_not_call(session, state, refused, existing))
        result.do_not_call += len(refused)
    blocked = state.suppressed | state.pending[2] if state.pending[2] else state.suppressed
    if blocked:
        result.suppressed += sum(
            1 for r in records
            if r[WIRE_PHONE] in blocked
            or (r[WIRE_OTHERS] != "[]" and blocked.intersection(json.loads(r[WIRE_OTHERS])))
        )
    result.rejected += len(chunk.rejections)
    result.total_rows = (result.inserted + result.updated + result.unchanged + result.merged
                         + result.rejected)
    batches = table_of(ImportBatch)
    session.execute(
        sa.update(batches)
        .where(batches.c.id == state.batch_id)
        .values(**{name: getattr(result, name) for name in COUNTERS})
    )


COUNTERS = ("inserted", "updated", "unchanged", "merged", "rejected", "suppressed",
            "do_not_call", "warnings", "total_rows")


def commit_chunk(state: BatchState) -> None:
    """Merge what a committed chunk added into the batch's sets."""
    touched, snapshotted, suppressed = state.pending
    state.touched |= touched
    state.snapshotted |= snapshotted
    state.suppressed |= suppressed
    state.pending = (set(), set(), set())
    if state.only_own:
        state.inserted.update(state.pending_inserted)


def _upsert_suppressions(session: Session, numbers: list[str], batch_id: int, now: datetime,
                         reason: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    session.execute(
        upsert(SUPPRESSION).on_conflict_do_nothing(index_elements=["phone"]),
        [{"phone": n, "reason": reason, "source": "import", "created_at": now,
          "import_batch_id": batch_id} for n in numbers])


def list_as_do_not_contact(session: Session, *, numbers: set[str], batch_id: int,
                           now: datetime, reason: str) -> None:
    """Put numbers on the do-not-call list and take any stored contact holding one (as its
    number or another) out of every queue."""
    ordered = sorted(numbers)
    for start in range(0, len(ordered), 900):
        chunk = ordered[start : start + 900]
        _upsert_suppressions(session, chunk, batch_id, now, reason)
        contact_ids = sa.select(CONTACT.c.id).where(CONTACT.c.phone.in_(chunk))
        session.execute(
            sa.update(QE).where(QE.c.contact_id.in_(contact_ids))
            .where(QE.c.status.in_(OPEN_QUEUE_STATUSES))
            .values(status="excluded", claimed_by_id=None, due_at=None, release_at=None))


def _add_to_do_not_call(session: Session, state: BatchState, refused: list[RowRecord],
                        existing: dict[str, dict[str, Any]]) -> set[str]:
    """Put every number of rows the file flags "do not call" on the do-not-call list, and take
    stored contacts with them out of every queue (new contacts are in none yet)."""
    numbers = {n for r in refused for n in (r.phone, *r.other_phones)}
    new_numbers = sorted(numbers - state.suppressed)
    if new_numbers:
        _upsert_suppressions(session, new_numbers, state.batch_id, state.now,
                             f"do-not-call flag in import #{state.batch_id}")
    stored_ids = [existing[r.phone]["id"] for r in refused if r.phone in existing]
    if stored_ids:
        session.execute(
            sa.update(QE).where(QE.c.contact_id.in_(stored_ids))
            .where(QE.c.status.in_(OPEN_QUEUE_STATUSES))
            .values(status=QueueStatus.EXCLUDED, claimed_by_id=None, due_at=None,
                    release_at=None))
    return set(new_numbers)
