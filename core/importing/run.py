"""Running an import end to end: read, parse (in a worker process for big files), write."""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlmodel import Session, select

from core.importing.fields import (
    PHONE_FIELDS,
    ImportFileError,
    check_do_not_call_values,
    check_mapping,
    guess_mapping,
)
from core.importing.files import (
    LIMITS,
    FileFormat,
    ReadLimits,
    detect_format,
    is_do_not_contact_member,
    open_rows,
)
from core.importing.phones import PhoneNormaliser
from core.importing.rows import RowParser, RowRecord, RowRejected, phones_in_cell
from core.importing.writer import (
    COUNTERS,
    BatchState,
    ImportFailed,
    ImportProgress,
    ImportResult,
    commit_chunk,
    list_as_do_not_contact,
    write_chunk,
)
from db.engine import Database
from db.models import (
    DUPLICATE_POLICY_VALUES,
    Contact,
    ImportBatch,
    Suppression,
)

PARALLEL_FROM_BYTES = 8 << 20  # ~60,000 rows: below this, starting a process costs more
_Parsed = tuple[list[RowRecord], list[dict[str, Any]]]
# headers, mapping, region, batch id, do-not-call values per column, every row do-not-call
_Job = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str, int,
             tuple[tuple[str, tuple[str, ...]], ...], bool]
_parsers: dict[tuple[Any, ...], RowParser] = {}


def _file_size(stream: BinaryIO) -> int:
    position = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return size


def _chunks(
    rows: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parse_chunk(job: _Job, rows: list[tuple[int, list[str]]]) -> _Parsed:
    """Parse rows into records and rejections (runs in a worker process for big files)."""
    headers, mapping, region, batch_id, refusals, all_refused = job
    key = job
    parser = _parsers.get(key)
    if parser is None:  # one per import and process, so the phone cache spans chunks
        _parsers.clear()
        parser = _parsers[key] = RowParser(
            list(headers), dict(mapping), PhoneNormaliser(region),
            do_not_call={column: list(values) for column, values in refusals},
            all_do_not_call=all_refused)
    records: list[RowRecord] = []
    rejections: list[dict[str, Any]] = []
    for row_number, cells in rows:
        try:
            records.append(parser.parse(row_number, cells))
        except RowRejected as exc:
            rejections.append({
                "batch_id": batch_id, "row_number": row_number, "reason": str(exc)[:500],
                "raw": dict(zip(headers, cells, strict=False)),
            })
    return records, rejections


def _write_with_retries(
    database: Database, state: BatchState, records: list[RowRecord],
    rejections: list[dict[str, Any]],
) -> None:
    """Write one chunk; a retried transaction starts again from the counts before it."""
    counts = {name: getattr(state.result, name) for name in COUNTERS}

    def attempt(session: Session) -> None:
        for name, value in counts.items():
            setattr(state.result, name, value)
        write_chunk(session, state, records, rejections)

    try:
        try:
            database.retrying(attempt)
        except sa.exc.IntegrityError:
            if not state.only_own:
                raise
            # Someone else stored contacts meanwhile: look every number up from now on.
            state.only_own = False
            database.retrying(attempt)
    except BaseException:
        for name, value in counts.items():  # the batch row shows only what was committed
            setattr(state.result, name, value)
        raise
    commit_chunk(state)


def run_import(
    *,
    database: Database,
    stream: BinaryIO,
    filename: str,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    policy: str = "update_empty",
    region: str = "GB",
    actor_id: int | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    chunk_rows: int = 5000,
    workers: int | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    do_not_call_values: dict[str, list[str]] | None = None,
    limits: ReadLimits = LIMITS,
) -> ImportResult:
    """Import a file end to end and return its accounting.

    Takes the Database rather than a session: the import commits chunk by chunk (see module
    docstring), so that other sessions keep working while a large file goes in.
    workers: processes that parse rows while this one writes; None picks one for files of
    PARALLEL_FROM_BYTES or more on a machine with two or more cores, 0 parses in-process.
    sheet: the workbook's sheet or the ZIP's CSV file to read (None: detected).
    header_row: the file's row holding the column names (None: detected).
    do_not_call_values: for each column mapped to the do-not-call flag, the values that mean
    "do not call" (None: guessed from its header).

    Raises:
        ImportFileError: the file cannot be read or the mapping is unusable (nothing written).
        ImportFailed: the import stopped part-way; the batch is marked failed.
    """
    if policy not in DUPLICATE_POLICY_VALUES:
        raise ImportFileError(f"unknown duplicate policy {policy!r}")
    started = time.perf_counter()
    fmt = detect_format(stream, filename=filename, encoding=encoding, delimiter=delimiter,
                        sheet=sheet, limits=limits)
    opened = open_rows(stream, fmt, header_row=header_row, limits=limits)
    try:
        complete = check_mapping(opened.headers, mapping if mapping is not None
                                 else guess_mapping(opened.headers))
        refusals = check_do_not_call_values(complete, do_not_call_values)
    except ImportFileError:
        opened.rows.close()  # type: ignore[attr-defined]
        raise
    now = datetime.now(UTC)
    options = {"sheet": fmt.sheet, "header_row": opened.header_row, "kind": fmt.kind,
               "do_not_call_values": refusals, "do_not_contact_file": fmt.do_not_contact}

    def create_batch(session: Session) -> int:
        batch = ImportBatch(
            filename=filename[:300], created_by_id=actor_id, encoding=fmt.encoding or fmt.kind,
            delimiter=fmt.delimiter, mapping=complete, duplicate_policy=policy, status="running",
            options=options,
        )
        session.add(batch)
        session.flush()
        assert batch.id is not None
        return batch.id

    batch_id = database.retrying(create_batch)
    result = ImportResult(batch_id=batch_id, filename=filename, status="running",
                          encoding=fmt.encoding or fmt.kind, delimiter=fmt.delimiter)
    state = BatchState(batch_id=batch_id, policy=policy, now=now, result=result)
    with database.session() as session:
        state.suppressed = set(session.exec(select(Suppression.phone)))
        state.only_own = session.exec(select(Contact.id).limit(1)).first() is None

    def report() -> None:
        if progress is not None:
            elapsed = max(time.perf_counter() - started, 1e-6)
            progress(ImportProgress(result.total_rows, result.total_rows / elapsed,
                                    opened.fraction()))

    def finish(session: Session, status: str, error: str = "") -> None:
        batch = session.get(ImportBatch, batch_id)
        assert batch is not None
        batch.status = status
        batch.error = error[:2000]
        batch.finished_at = datetime.now(UTC)
        batch.seconds = result.seconds
        for name in COUNTERS:
            setattr(batch, name, getattr(result, name))
        batch.options = dict(options)

    if workers is None:
        big = _file_size(stream) >= PARALLEL_FROM_BYTES
        workers = 1 if big and (os.cpu_count() or 1) > 1 else 0
    pool = (
        ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 0 else None
    )
    job: _Job = (tuple(opened.headers), tuple(complete.items()), region, batch_id,
                 tuple((column, tuple(values)) for column, values in refusals.items()),
                 fmt.do_not_contact)
    try:
        # Parsing runs ahead in the pool while this process writes, a few chunks at most in
        # flight so memory stays flat; chunks are written in file order.
        in_flight: deque[tuple[list[tuple[int, list[str]]], Future[_Parsed] | None]] = deque()

        def parsed(chunk: list[tuple[int, list[str]]], future: Future[_Parsed] | None
                   ) -> _Parsed:
            nonlocal pool
            if future is not None:
                try:
                    return future.result()
                except BrokenProcessPool:  # e.g. a script without a __main__ guard
                    if pool is not None:
                        pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
            return parse_chunk(job, chunk)

        for chunk in _chunks(opened.rows, chunk_rows):
            future = None
            # When the parsing process is behind (its oldest chunk not parsed yet), this
            # process parses the chunk itself rather than wait idle for it: on two cores the
            # two processes then share the parsing.
            behind = (pool is not None and len(in_flight) >= 2 * max(workers, 1)
                      and in_flight[0][1] is not None and not in_flight[0][1].done())
            if pool is not None and not behind:
                try:
                    future = pool.submit(parse_chunk, job, chunk)
                except (BrokenProcessPool, RuntimeError):
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
            in_flight.append((chunk, future))
            if len(in_flight) > 2 * max(workers, 1) or pool is None:
                _write_with_retries(database, state, *parsed(*in_flight.popleft()))
                report()
        while in_flight:
            _write_with_retries(database, state, *parsed(*in_flight.popleft()))
            report()
        if fmt.kind == "zip" and not fmt.do_not_contact:
            result.listed_from_files = _list_do_not_contact_files(
                database, stream, fmt, batch_id, region, limits, now)
            options["listed_from_files"] = result.listed_from_files
    except Exception as exc:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        result.status = "failed"
        result.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        result.seconds = time.perf_counter() - started
        database.retrying(lambda s: finish(s, "failed", result.error))
        if isinstance(exc, ImportFileError):
            raise ImportFailed(result.error, result) from exc
        raise ImportFailed(f"the import stopped: {result.error}", result) from exc
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    result.status = "done"
    result.seconds = time.perf_counter() - started
    database.retrying(lambda s: finish(s, "done"))
    return result


def _list_do_not_contact_files(database: Database, stream: BinaryIO, fmt: FileFormat,
                               batch_id: int, region: str, limits: ReadLimits,
                               now: datetime) -> dict[str, int]:
    """A ZIP's unsubscribed and cleaned files (Mailchimp's, beside the subscribed one read):
    every number in them goes onto the do-not-call list, so that a person who unsubscribed is
    never called, even if an earlier import stored them. None of them becomes a contact."""
    listed: dict[str, int] = {}
    normalise = PhoneNormaliser(region)
    for member in fmt.sheets:
        if member == fmt.sheet or not is_do_not_contact_member(member):
            continue
        member_fmt = detect_format(stream, sheet=member, limits=limits)
        opened = open_rows(stream, member_fmt, limits=limits)
        columns = [i for i, f in enumerate(guess_mapping(opened.headers).values())
                   if f in PHONE_FIELDS]
        numbers: set[str] = set()
        for _number, cells in opened.rows:
            for index in columns:
                if index < len(cells) and cells[index]:
                    numbers.update(p.e164 for p in phones_in_cell(cells[index], normalise)[0])
        reason = f"{member} in import #{batch_id} (unsubscribed or cleaned)"[:500]

        def list_them(session: Session, numbers: set[str] = numbers, reason: str = reason
                      ) -> None:
            list_as_do_not_contact(session, numbers=numbers, batch_id=batch_id, now=now,
                                   reason=reason)

        database.retrying(list_them)
        listed[member] = len(numbers)
    stream.seek(0)
    return listed
