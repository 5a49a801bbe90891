"""Running an import end to end: read, parse (in a worker process for big files), write."""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO, NamedTuple

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
    CsvRecords,
    FileFormat,
    OpenFile,
    ReadLimits,
    RowFramer,
    UndecodableRow,
    csv_source,
    detect_format,
    is_do_not_contact_member,
    open_rows,
    undecodable_row_error,
)
from core.importing.phones import PhoneNormaliser
from core.importing.rows import (
    ParsedChunk,
    RowParser,
    RowRejected,
    phones_in_cell,
    to_wire,
)
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
BLOCK_BYTES = 1 << 20  # of a CSV file's bytes handed to the parsing process at a time
AHEAD = 3  # chunks of workbook rows parsed ahead of the writer, at most
# A CSV file's blocks in flight to the parsing process, at most: enough that it always has one
# to parse while the writer works through a block it left to the writer (~10 MB of memory).
CSV_AHEAD = 6


@dataclass(frozen=True)
class ParseJob:
    """What parsing one import's rows needs; the same job is one ChunkParser per process."""

    headers: tuple[str, ...]
    mapping: tuple[tuple[str, str], ...]
    region: str
    batch_id: int
    refusals: tuple[tuple[str, tuple[str, ...]], ...]  # do-not-call values per column
    all_refused: bool  # every row is do-not-call (a ZIP's unsubscribed file)
    chunk_rows: int
    csv: FileFormat | None = None  # the format of a CSV whose bytes are parsed (feed)
    header_row: int = 1


class RowsToParse(NamedTuple):
    """A block's rows, read and framed by the parsing process but left for the writer to parse
    (when the parsing process is behind, so that on two cores both share the parsing)."""

    rows: list[tuple[int, list[str]]]


Parsed = ParsedChunk | RowsToParse | ImportFileError  # what parsing a block gives, in order


class ParsedBlock(NamedTuple):
    """What parsing a block gives, and what it cost the parsing process."""

    items: list[Parsed]
    seconds: float  # wall clock: how fast the parsing process gets through blocks now
    rows: int  # the rows in items (kept, rejected, or left to the writer)


class ParsingShare:
    """Which of a CSV file's blocks the writer parses itself, so that the two processes keep
    pace with each other and neither waits.

    The writer can only parse a block whose rows the parsing process has read and handed back
    (a CSV record may run over a block's end, so the file is framed in one process, in order),
    and so it decides, as it hands each block over, whether to leave that block's rows to
    itself. The share is the one that balances the two processes' time per row as measured so
    far (wall clock, so that it follows what each gets of a shared machine):
        parsing process: (1 - s) * parse + s * frame  =  writer: write + s * own_parse
    A wide export costs twice as much to parse as to write, a narrow one about the same.
    """

    def __init__(self) -> None:
        self.per_row: dict[str, float] = {}  # "parse", "frame", "write", "own_parse"
        self.owed = 0.0

    def note(self, kind: str, seconds: float, rows: int) -> None:
        if rows <= 0:
            return
        cost = seconds / rows
        earlier = self.per_row.get(kind)
        self.per_row[kind] = cost if earlier is None else 0.7 * earlier + 0.3 * cost

    def share(self) -> float:
        costs = self.per_row
        parse, write = costs.get("parse"), costs.get("write")
        if parse is None or write is None or parse <= write:
            return 0.0
        frame = costs.get("frame", parse / 5)
        own = costs.get("own_parse", parse)
        return min(0.9, max(0.0, (parse - write) / max(parse - frame + own, 1e-9)))

    def leave_next_to_writer(self) -> bool:
        self.owed += self.share()
        if self.owed >= 1.0:
            self.owed -= 1.0
            return True
        return False


class ChunkParser:
    """One import's parsing: rows (or a CSV file's bytes, block by block) in, ParsedChunks of
    chunk_rows rows out, in file order.

    For a CSV file the parsing process reads the bytes itself (CsvRecords, RowFramer): the
    writer then only reads blocks and writes, and no row is pickled on its way to be parsed.
    """

    def __init__(self, job: ParseJob):
        self.job = job
        self.parser = RowParser(
            list(job.headers), dict(job.mapping), PhoneNormaliser(job.region),
            do_not_call={column: list(values) for column, values in job.refusals},
            all_do_not_call=job.all_refused)
        self.records: list[tuple[Any, ...]] = []
        self.rejections: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.refused: list[tuple[Any, ...]] = []
        self.rows = 0  # in the chunk being filled
        self.rows_read = 0  # parsed or left to the writer, in all
        self.last_row = 0
        self.done: list[ParsedChunk] = []
        self.csv = CsvRecords(job.csv) if job.csv is not None else None
        self.framer = RowFramer(len(job.headers))

    def parse_rows(self, rows: Iterable[tuple[int, list[str]]]) -> None:
        parse, batch_id, headers = self.parser.parse, self.job.batch_id, self.job.headers
        chunk_rows = self.job.chunk_rows
        for row_number, cells in rows:
            try:
                record = parse(row_number, cells)
            except RowRejected as exc:
                self.rejections.append({
                    "batch_id": batch_id, "row_number": row_number, "reason": str(exc)[:500],
                    "raw": dict(zip(headers, cells, strict=False)),
                })
            else:
                wire = to_wire(record)
                self.records.append(wire)
                if record.warnings:
                    self.warnings.extend(
                        {"batch_id": batch_id, "row_number": row_number, "message": m[:500]}
                        for m in record.warnings)
                if record.do_not_call:
                    self.refused.append(wire)
            self.last_row = row_number
            self.rows += 1
            self.rows_read += 1
            if self.rows >= chunk_rows:
                self.end_chunk()

    def end_chunk(self) -> None:
        if self.rows:
            self.done.append(ParsedChunk(self.records, self.rejections, self.warnings,
                                         self.refused, self.last_row))
        self.records, self.rejections, self.warnings, self.refused = [], [], [], []
        self.rows = 0

    def feed(self, block: bytes, final: bool, split_only: bool = False) -> list[Parsed]:
        """The chunks a CSV file's next block completes (with the rest, when final); a row that
        cannot be read ends the list with its error, after the full chunks before it.

        split_only: the block's rows are returned unparsed (RowsToParse, after the chunk begun
        so far), for the writer to parse while this process is behind.
        """
        assert self.csv is not None
        records = self.csv.feed(block, final)
        header_row = self.job.header_row
        if records and records[0][0] <= header_row:  # the header, and any title rows above it
            records = [r for r in records if r[0] > header_row]
        out: list[Parsed] = []
        if split_only and self.csv.error is None:
            rows = list(self.framer.rows(records, self.csv.nul_free))
            if final:
                last = self.framer.last()
                if last is not None:
                    rows.append(last)
            self.end_chunk()  # the rows parsed so far are written first
            out.extend(self.take())
            self.rows_read += len(rows)
            if rows:
                out.append(RowsToParse(rows))
            return out
        self.parse_rows(self.framer.rows(records, self.csv.nul_free))
        if self.csv.error is not None:  # the rows before it are written, then the import stops
            out.extend(self.take())
            out.append(self.csv.error)
            return out
        if final:
            last = self.framer.last()
            if last is not None:
                self.parse_rows([last])
            self.end_chunk()
        out.extend(self.take())
        return out

    def take(self) -> list[ParsedChunk]:
        done, self.done = self.done, []
        return done


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


_parsers: dict[ParseJob, ChunkParser] = {}
# In the parsing process: how many of the next blocks the writer, finding itself about to wait
# for a block still being parsed, asks for back unparsed (a shared multiprocessing.Value).
_hand_back: Any = None


def _start_parsing_process(hand_back: Any) -> None:
    global _hand_back
    _hand_back = hand_back


def _handing_back() -> bool:
    if _hand_back is None:
        return False
    with _hand_back.get_lock():
        if _hand_back.value > 0:
            _hand_back.value -= 1
            return True
    return False


def _parser_for(job: ParseJob) -> ChunkParser:
    parser = _parsers.get(job)
    if parser is None:  # one per import and process, so the phone cache spans chunks
        _parsers.clear()
        parser = _parsers[job] = ChunkParser(job)
    return parser


def parse_block(job: ParseJob, block: bytes, final: bool, split_only: bool = False
                ) -> ParsedBlock:
    """Parse a CSV file's next block of bytes (in the one parsing process: blocks arrive in
    file order, and a record cut by a block's end is finished with the next block)."""
    started = time.perf_counter()
    split_only = split_only or _handing_back()
    parser = _parser_for(job)
    rows_before = parser.rows_read
    chunks = parser.feed(block, final, split_only)
    if final or (chunks and isinstance(chunks[-1], ImportFileError)):
        _parsers.clear()
    return ParsedBlock(chunks, time.perf_counter() - started, parser.rows_read - rows_before)


def parse_rows(job: ParseJob, rows: list[tuple[int, list[str]]]) -> ParsedChunk:
    """Parse one chunk of a workbook's rows (read by the writer) into a ParsedChunk."""
    parser = _parser_for(job)
    parser.parse_rows(rows)
    parser.end_chunk()
    chunks = parser.take()
    return chunks[0] if chunks else ParsedChunk([], [], [], [], 0)


def _csv_chunks(source: BinaryIO, job: ParseJob, pool: ProcessPoolExecutor | None,
                hand_back: Any = None) -> Iterator[ParsedChunk]:
    """A CSV file's chunks in order: its bytes read here, block by block, and parsed in the
    pool's one process while earlier chunks are written (or here, without a pool).

    The parsing process hands some blocks' rows back unparsed, for this process to parse
    between its writes, so that on two cores both share the parsing: the blocks ParsingShare
    picks as they are handed over, and (hand_back, the pool's shared counter) the next block
    it starts whenever this process finds it has to wait for a block still being parsed.
    """
    source.seek(0)
    local = ChunkParser(job) if pool is None else None
    helper: ChunkParser | None = None  # parses the rows the parsing process leaves to us
    share = ParsingShare()
    in_flight: deque[Future[ParsedBlock] | ParsedBlock] = deque()
    following = source.read(BLOCK_BYTES)
    ended = False

    def submit() -> None:
        nonlocal following, ended
        block, following = following, source.read(BLOCK_BYTES)
        ended = not following
        if local is not None:
            in_flight.append(ParsedBlock(local.feed(block, ended), 0.0, 0))
        else:
            assert pool is not None
            in_flight.append(pool.submit(parse_block, job, block, ended,
                                         share.leave_next_to_writer()))

    def written(chunk: ParsedChunk) -> Iterator[ParsedChunk]:
        began = time.perf_counter()
        yield chunk  # (the caller writes it meanwhile)
        share.note("write", time.perf_counter() - began, len(chunk.records)
                   + len(chunk.rejections))

    while True:
        while not ended and len(in_flight) <= CSV_AHEAD:
            submit()
        if not in_flight:
            return
        item = in_flight.popleft()
        if isinstance(item, Future) and hand_back is not None and not item.done():
            with hand_back.get_lock():
                hand_back.value = max(hand_back.value, 1)
        parsed_block = item.result() if isinstance(item, Future) else item
        left_to_us = any(isinstance(p, RowsToParse) for p in parsed_block.items)
        share.note("frame" if left_to_us else "parse", parsed_block.seconds, parsed_block.rows)
        for parsed in parsed_block.items:
            if isinstance(parsed, ImportFileError):
                raise parsed
            if isinstance(parsed, RowsToParse):
                # Work for the parsing process to do meanwhile, then our share of the parsing.
                while not ended and len(in_flight) <= CSV_AHEAD:
                    submit()
                if helper is None:
                    helper = ChunkParser(replace(job, csv=None))
                began = time.perf_counter()
                helper.parse_rows(parsed.rows)
                helper.end_chunk()
                share.note("own_parse", time.perf_counter() - began, len(parsed.rows))
                for chunk in helper.take():
                    yield from written(chunk)
            else:
                yield from written(parsed)


def _row_chunks(rows: Iterator[tuple[int, list[str]]], job: ParseJob,
                pool: ProcessPoolExecutor | None) -> Iterator[ParsedChunk]:
    """A workbook's chunks in order: rows read here, parsed in the pool (or here)."""
    in_flight: deque[tuple[list[tuple[int, list[str]]], Future[ParsedChunk] | None]] = deque()

    def parsed(chunk: list[tuple[int, list[str]]], future: Future[ParsedChunk] | None
               ) -> ParsedChunk:
        if future is not None:
            try:
                return future.result()
            except BrokenProcessPool:
                pass  # parsed here instead, below
        return parse_rows(job, chunk)

    broken = pool is None
    for chunk in _chunks(rows, job.chunk_rows):
        future = None
        if not broken:
            assert pool is not None
            try:
                future = pool.submit(parse_rows, job, chunk)
            except (BrokenProcessPool, RuntimeError):
                broken = True
        in_flight.append((chunk, future))
        if len(in_flight) > AHEAD or broken:
            yield parsed(*in_flight.popleft())
    while in_flight:
        yield parsed(*in_flight.popleft())


def _parsed_chunks(opened: OpenFile, source: BinaryIO | None, job: ParseJob,
                   pool: ProcessPoolExecutor | None, hand_back: Any = None
                   ) -> Iterator[ParsedChunk]:
    """The file's chunks in order. A pool that breaks (e.g. a script with no __main__ guard
    cannot start one) leaves the parsing to this process, from where it had got to."""
    if source is None:
        yield from _row_chunks(opened.rows, job, pool)
        return
    written = 0
    try:
        for chunk in _csv_chunks(source, job, pool, hand_back):
            written = chunk.last_row
            yield chunk
    except BrokenProcessPool:
        if pool is None:
            raise
        pool.shutdown(wait=False, cancel_futures=True)
        for chunk in _csv_chunks(source, job, None):
            if chunk.last_row > written:
                yield chunk


def _write_with_retries(database: Database, state: BatchState, chunk: ParsedChunk) -> None:
    """Write one chunk; a retried transaction starts again from the counts before it."""
    counts = {name: getattr(state.result, name) for name in COUNTERS}

    def attempt(session: Session) -> None:
        for name, value in counts.items():
            setattr(state.result, name, value)
        write_chunk(session, state, chunk)

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
    # A CSV file's bytes go to the parsing process, which reads them in order: one process.
    source = csv_source(stream, fmt, limits) if fmt.kind in ("csv", "zip") else None
    if source is not None:
        opened.close()  # (read to the header only)
        workers = min(workers, 1)
    spawn = multiprocessing.get_context("spawn")
    hand_back = spawn.Value("i", 0) if workers > 0 and source is not None else None
    pool = (
        ProcessPoolExecutor(max_workers=workers, mp_context=spawn,
                            initializer=_start_parsing_process, initargs=(hand_back,))
        if workers > 0 else None
    )
    job = ParseJob(
        headers=tuple(opened.headers), mapping=tuple(complete.items()), region=region,
        batch_id=batch_id,
        refusals=tuple((column, tuple(values)) for column, values in refusals.items()),
        all_refused=fmt.do_not_contact, chunk_rows=chunk_rows,
        csv=(replace(fmt, kind="csv") if source is not None else None),
        header_row=opened.header_row)
    try:
        # Parsing runs ahead in the pool while this process writes, a few blocks at most in
        # flight so memory stays flat; chunks are written in file order.
        try:
            for chunk in _parsed_chunks(opened, source, job, pool, hand_back):
                _write_with_retries(database, state, chunk)
                report()
        except UndecodableRow as exc:
            assert source is not None
            raise undecodable_row_error(source, fmt, str(exc)) from None
        finally:
            if source is not None and source is not stream:
                source.close()
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
