"""Reading files: CSV in any common encoding and delimiter, .xlsx workbooks, and ZIPs of CSVs.

Files arrive as people make them: a title row or two above the header (the header row is
detected, and can be chosen), data on the second sheet (the sheet with data is chosen, and can
be changed), a totals line at the end (not a member). A workbook is a ZIP of XML, and a small
one can unpack to gigabytes: ReadLimits caps what is unpacked, read and the time spent, and the
refusal names the limit.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO

from core.importing.fields import (
    DO_NOT_CALL,
    ImportFileError,
    guess_do_not_call_values,
    guess_mapping,
    known_fields,
)

DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|", "comma": ",",
              "semicolon": ";", "pipe": "|", "\\t": "\t"}
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-32")
_XLSX_MAGIC = b"PK\x03\x04"
_SNIFF_BYTES = 64 * 1024
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileFormat:
    kind: str  # "csv" | "xlsx" | "zip" (a ZIP of CSV files, read one member as CSV)
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""  # the workbook's sheet, or the ZIP's member file, that is read
    sheets: tuple[str, ...] = ()  # every sheet (or CSV member) there is to choose from
    do_not_contact: bool = False  # a ZIP member of people who unsubscribed: none is callable


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost; a file past any of them is refused, naming it."""

    uncompressed_bytes: int = 1 << 30  # a workbook or ZIP, all its parts unpacked
    shared_strings_bytes: int = 100 << 20  # a workbook's text table, held in memory whole
    rows: int = 1_100_000  # read, blank ones included (Excel's own limit is 1,048,576)
    cells: int = 60_000_000
    seconds: float = 900.0


LIMITS = ReadLimits()
# A preview reads only what it shows, and must answer while the organiser waits.
PREVIEW_LIMITS = ReadLimits(rows=5_000, cells=2_000_000, seconds=30.0)
HEADER_SEARCH_ROWS = 30  # title rows above the header: the header is among the first of these


class FileTooLarge(ImportFileError):
    """The file is past one of the ReadLimits; str() says which."""


@dataclass(frozen=True)
class FilePreview:
    format: FileFormat
    headers: list[str]
    sample: list[list[str]]
    mapping: dict[str, str]
    header_row: int = 1  # the file's row (1 = the first) the header was read from
    top_rows: tuple[tuple[int, tuple[str, ...]], ...] = ()  # to choose the header row from
    do_not_call: dict[str, list[str]] = field(default_factory=dict)  # guessed, per column


def parse_delimiter(text: str | None) -> str | None:
    """"tab", "\\t", ";", "semicolon"... to the character; None stays None.

    Raises:
        ImportFileError: not a delimiter Ringround reads.
    """
    if text is None or text == "":
        return None
    if text in DELIMITERS:
        return DELIMITERS[text]
    lowered = text.strip().lower()
    if lowered in DELIMITERS:
        return DELIMITERS[lowered]
    raise ImportFileError(f"unknown delimiter {text!r}; use comma, semicolon, tab or pipe")


def detect_encoding(stream: BinaryIO) -> str:
    """utf-8-sig (BOM), utf-8, cp1252 or latin-1, checked over the whole file."""
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    # Excel's "Unicode text" is UTF-16 with a byte order mark; UTF-32 is rarer but marked too.
    # Read by any 8-bit codec they would come out as garbage with NULs between the letters.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        candidates: tuple[str, ...] = ("utf-32",)
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    elif head.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig", "cp1252", "latin-1")
    else:
        candidates = ("utf-8", "cp1252", "latin-1")
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        stream.seek(0)
        try:
            while block := stream.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        finally:
            stream.seek(0)
        return encoding
    if candidates[0] in ("utf-16", "utf-32"):
        raise ImportFileError(f"the file starts like {candidates[0].upper()} text but is not "
                              f"valid {candidates[0].upper()}; save it as CSV UTF-8")
    return "latin-1"  # unreachable: latin-1 decodes every byte


def detect_delimiter(sample: str) -> str:
    """The delimiter that splits the first records into the most, equally long, fields."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short by the sample size
    text = "".join(lines[:200])
    best, best_score = ",", (False, 1)
    for delimiter in (",", ";", "\t", "|"):
        try:
            records = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not records:
            continue
        width = len(records[0])
        consistent = all(len(r) == width for r in records[1:])
        score = (consistent, width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _unique_headers(raw: list[str]) -> list[str]:
    headers: list[str] = []
    seen: dict[str, int] = {}
    for position, header in enumerate(raw, start=1):
        name = header.strip() or f"Column {position}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        headers.append(name)
    return headers


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed into Excel come back as floats
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _zip_names(stream: BinaryIO) -> list[zipfile.ZipInfo] | None:
    """The ZIP's members, or None if this is not a ZIP at all."""
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    finally:
        stream.seek(0)


def _check_unpacked_size(infos: list[zipfile.ZipInfo], limits: ReadLimits, what: str) -> None:
    """Refuse a ZIP or workbook that would unpack past the limits (zip bombs), before reading.

    The sizes are the ones the archive declares; zipfile stops at the declared size and fails
    on a mismatch, so a file that lies about them cannot unpack more.
    """
    total = sum(info.file_size for info in infos)
    if total > limits.uncompressed_bytes:
        raise FileTooLarge(
            f"the {what} unpacks to {total / 2**20:,.0f} MB, more than the "
            f"{limits.uncompressed_bytes / 2**20:,.0f} MB limit for uncompressed size")
    for info in infos:
        if info.filename.lower().endswith("sharedstrings.xml") and (
                info.file_size > limits.shared_strings_bytes):
            raise FileTooLarge(
                f"the workbook's text table (sharedStrings.xml) unpacks to "
                f"{info.file_size / 2**20:,.0f} MB, more than the "
                f"{limits.shared_strings_bytes / 2**20:,.0f} MB limit for shared strings")


_TABLE_MEMBER = (".csv", ".tsv", ".txt")
_DO_NOT_CONTACT_MEMBER = re.compile(r"unsubscribed|cleaned|opted[ _-]?out|do[ _-]?not", re.I)


def is_do_not_contact_member(name: str) -> bool:
    """A ZIP member of people who left or bounced (Mailchimp's unsubscribed/cleaned files)."""
    return bool(_DO_NOT_CONTACT_MEMBER.search(name.rsplit("/", 1)[-1]))


def _choose_member(infos: list[zipfile.ZipInfo], wanted: str | None) -> tuple[str, list[str]]:
    tables = [i.filename for i in infos if not i.is_dir()
              and i.filename.lower().endswith(_TABLE_MEMBER)
              and not i.filename.startswith("__MACOSX/")]
    if not tables:
        listed = ", ".join(i.filename for i in infos[:5]) or "nothing"
        raise ImportFileError(f"this is a ZIP file, and it holds no CSV file ({listed}); "
                              "unzip it and upload the CSV or .xlsx inside")
    if wanted:
        for name in tables:
            if wanted in (name, name.rsplit("/", 1)[-1]):
                return name, tables
        raise ImportFileError(f"the ZIP has no file {wanted!r}; it holds {', '.join(tables)}")
    callable_tables = [n for n in tables if not is_do_not_contact_member(n)]
    if len(tables) == 1:
        return tables[0], tables
    if len(callable_tables) == 1:  # Mailchimp: subscribed beside unsubscribed and cleaned
        return callable_tables[0], tables
    raise ImportFileError(
        f"this is a ZIP of {len(tables)} files ({', '.join(tables)}); choose which file to "
        "import (or unzip it and upload that file)")


def _extract_member(stream: BinaryIO, name: str, limits: ReadLimits) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # the caller closes it
    stream.seek(0)
    with zipfile.ZipFile(stream) as archive, archive.open(name) as member:
        copied = 0
        while block := member.read(_BLOCK):
            copied += len(block)
            if copied > limits.uncompressed_bytes:
                spool.close()
                raise FileTooLarge(f"{name} unpacks to more than the "
                                   f"{limits.uncompressed_bytes / 2**20:,.0f} MB limit")
            spool.write(block)
    stream.seek(0)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def detect_format(
    stream: BinaryIO, *, filename: str = "", encoding: str | None = None,
    delimiter: str | None = None, sheet: str | None = None, limits: ReadLimits = LIMITS,
) -> FileFormat:
    """Work out how to read the file; an override wins over detection.

    sheet: for a workbook, the sheet to read (default: the first with data); for a ZIP, the
    CSV file inside it to read (default: the only one, or the one of subscribed people).

    Raises:
        ImportFileError: empty, an unknown sheet, a ZIP with several candidate files, or the
            overriding encoding is unknown or does not fit the file.
        FileTooLarge: past the ReadLimits.
    """
    stream.seek(0)
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    if not head.strip():
        raise ImportFileError("the file is empty")
    if head.startswith(_XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm", ".zip")):
        infos = _zip_names(stream)
        if infos is None and filename.lower().endswith(".zip"):
            raise ImportFileError("this is not a readable ZIP file; download it again, or "
                                  "unzip it and upload the CSV inside")
        names = {i.filename for i in infos or []}
        if infos is None or "xl/workbook.xml" in names or "[Content_Types].xml" in names:
            if infos is not None:
                _check_unpacked_size(infos, limits, "workbook")
            sheets, chosen = _choose_sheet(stream, sheet, limits)
            return FileFormat(kind="xlsx", sheet=chosen, sheets=tuple(sheets))
        _check_unpacked_size(infos, limits, "ZIP file")
        member, tables = _choose_member(infos, sheet)
        inner = _extract_member(stream, member, limits)
        try:
            fmt = detect_format(inner, filename=member, encoding=encoding, delimiter=delimiter)
        finally:
            inner.close()
        if fmt.kind != "csv":
            raise ImportFileError(f"{member} inside the ZIP is not a CSV file")
        return FileFormat(kind="zip", encoding=fmt.encoding, delimiter=fmt.delimiter,
                          sheet=member, sheets=tuple(tables),
                          do_not_contact=is_do_not_contact_member(member))
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(f"unknown encoding {encoding!r}") from None
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8") and head.startswith(
            codecs.BOM_UTF8
        ):
            encoding = "utf-8-sig"
    else:
        encoding = detect_encoding(stream)
    try:
        sample = head.decode(encoding, errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut by the sample is fine
            raise ImportFileError(f"the file is not {encoding}: {exc.reason}") from None
        sample = head[: exc.start].decode(encoding)
    chosen = parse_delimiter(delimiter) or detect_delimiter(sample)
    return FileFormat(kind="csv", encoding=encoding, delimiter=chosen)


Rows = Iterator[tuple[int, list[str]]]


@dataclass
class OpenFile:
    headers: list[str]
    rows: Rows
    fraction: Callable[[], float]
    header_row: int = 1
    top_rows: list[tuple[int, list[str]]] = field(default_factory=list)
    release: Callable[[], None] = lambda: None  # what closing the rows releases

    def close(self) -> None:
        """Stop reading (the rows need not have been started): the caller's stream stays open."""
        self.rows.close()  # type: ignore[attr-defined]
        self.release()


def open_rows(stream: BinaryIO, fmt: FileFormat, *, header_row: int | None = None,
              limits: ReadLimits = LIMITS) -> OpenFile:
    """The header and a stream of (row number, cells) for the non-blank rows below it.

    header_row: the file's row holding the header (1 = the first); None detects it.

    Raises:
        ImportFileError: unreadable file, no header row, or a limit reached while reading
            (FileTooLarge; raised from the rows iterator when reached part-way).
    """
    stream.seek(0)
    if fmt.kind == "xlsx":
        raw, fraction, close = _xlsx_rows(stream, fmt.sheet, limits)
    elif fmt.kind == "zip":
        inner = _extract_member(stream, fmt.sheet, limits)
        raw, fraction, close_csv = _csv_rows(inner, fmt)

        def close() -> None:
            close_csv()
            inner.close()
    else:
        raw, fraction, close = _csv_rows(stream, fmt)
    try:
        return _framed(raw, fraction, close, header_row)
    except BaseException:
        close()
        raise


_TOTALS = re.compile(r"^(grand\s+|sub\s*)?totals?\b|^count\b|^sum\b", re.IGNORECASE)


def detect_header_row(rows: list[tuple[int, list[str]]]) -> int:
    """The row that is the header: the one most like contact-field names (title rows above
    it read as one or two cells); without any, the first row about as wide as the table."""
    candidates = [(n, cells) for n, cells in rows if any(c.strip() for c in cells)]
    if not candidates:
        raise ImportFileError("the file has no header row")
    scored = [(known_fields(cells), n) for n, cells in candidates]
    best_known = max(k for k, _ in scored)
    if best_known:
        return next(n for k, n in scored if k == best_known)
    widest = max(sum(1 for c in cells if c.strip()) for _, cells in candidates)
    return next(n for n, cells in candidates
                if sum(1 for c in cells if c.strip()) >= max(2, widest * 0.6) or widest < 2)


def _framed(raw: Rows, fraction: Callable[[], float], close: Callable[[], None],
            header_row: int | None) -> OpenFile:
    top: list[tuple[int, list[str]]] = []
    for number, cells in raw:
        top.append((number, cells))
        if len(top) >= HEADER_SEARCH_ROWS and (header_row is None or number >= header_row):
            break
    if header_row is None:
        header_row = detect_header_row(top)
    found = [cells for n, cells in top if n == header_row]
    if not found or not any(c.strip() for c in found[0]):
        raise ImportFileError(f"row {header_row} is blank or past the end of the file; "
                              "choose the row that holds the column names")
    header = list(found[0])
    while header and not header[-1].strip():
        header.pop()
    headers = _unique_headers(header)
    shown = [(n, c) for n, c in top if any(x.strip() for x in c)]
    width = len(headers)

    def rows() -> Rows:
        framer = RowFramer(width)
        try:
            try:
                yield from framer.rows(_chain_after(top, raw, header_row))
            except FileTooLarge:
                held = framer.held  # a preview shows the rows read before the limit
                if held is not None:
                    yield held
                raise
            last = framer.last()
            if last is not None:
                yield last
        finally:
            close()

    return OpenFile(headers=headers, rows=rows(), fraction=fraction, header_row=header_row,
                    top_rows=shown, release=close)


class RowFramer:
    """What is a row of a table: blank rows skipped, NUL bytes dropped, short rows padded to
    the header's width, and a totals line at the end not a member (so the last row is held
    back until the next one, or the end, shows whether it was the last)."""

    def __init__(self, width: int):
        self.width = width
        self.held: tuple[int, list[str]] | None = None

    def rows(self, raw: Iterable[tuple[int, list[str]]], nul_free: bool = False) -> Rows:
        """The rows of raw, less the last one so far (held). nul_free: the caller has seen
        that raw's text holds no NUL byte, so rows need not be searched for one."""
        width = self.width
        for number, cells in raw:
            # (A first cell with text is the common case: then the row is not blank, and only
            # a row holding a NUL needs its cells looked at one by one.)
            if not (cells and cells[0].strip()) or "\x00" in cells[0]:
                joined = "".join(cells)
                if not joined.strip():
                    continue
                if "\x00" in joined:  # NUL bytes from a broken export: dropped, not stored
                    cells = [cell.replace("\x00", "") for cell in cells]
            elif not nul_free and "\x00" in "".join(cells):
                cells = [cell.replace("\x00", "") for cell in cells]
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            if self.held is not None:
                yield self.held
            self.held = (number, cells)

    def last(self) -> tuple[int, list[str]] | None:
        """At the end of the table: the held row, unless it is a totals line."""
        held, self.held = self.held, None
        if held is None:
            return None
        first = next((c.strip() for c in held[1] if c.strip()), "")
        return None if _TOTALS.match(first) else held


class UndecodableRow(ImportFileError):
    """A block of a UTF-16/32 CSV file is not in its encoding (raised where the file is not at
    hand: undecodable_row_error says which row, from the file)."""


_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes the encoding could not read, kept aside


class CsvRecords:
    """A CSV file's records from its bytes, fed block by block (in a parsing process), exactly
    as _csv_rows reads them: the same decoder and csv module, records numbered from 1.

    A block can end inside a record (or inside a quoted field with line breaks): the last
    record of each block is read again at the start of the next, with the next block's text
    after it, so that no record is ever cut; only the final block's last record is final.
    A record that cannot be read ends the file there: the records before it are returned, and
    `error` says which row and why (as _csv_rows would have raised it at that row).
    """

    def __init__(self, fmt: FileFormat):
        self.encoding = fmt.encoding
        # From a block with bytes not in an 8-bit or UTF-8 encoding on, they are decoded as
        # lone surrogates, so that the rows before them still go in and the error names the
        # row that holds them.
        self.escapes = not fmt.encoding.startswith(("utf-16", "utf-32"))
        self.decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="strict")
        self.escaping = False  # from the first block with bytes not in the encoding on
        self.delimiter = fmt.delimiter
        self.carry = ""
        self.number = 0  # records read so far
        self.error: ImportFileError | None = None
        self.nul_free = False  # the text of the last block fed holds no NUL byte

    def feed(self, block: bytes, final: bool) -> list[tuple[int, list[str]]]:
        """Raises UndecodableRow (UTF-16/32 only); other errors are kept in `error`."""
        if self.error is not None:
            return []
        state = self.decoder.getstate()
        try:
            text = self.carry + self.decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            if not self.escapes:
                raise UndecodableRow(exc.reason) from None
            self.decoder = codecs.getincrementaldecoder(self.encoding)(errors="surrogateescape")
            self.decoder.setstate(state)
            self.escaping = True
            text = self.carry + self.decoder.decode(block, final)
        # Lines split as the text reader of _csv_rows splits them (newline=""): \n, \r, \r\n.
        lines = list(io.StringIO(text, newline=""))
        self.nul_free = "\x00" not in text
        reader = csv.reader(lines, delimiter=self.delimiter)
        records: list[list[str]] = []
        try:
            records = list(reader)
        except csv.Error:
            reader = csv.reader(lines, delimiter=self.delimiter)  # to the bad record, below
        if reader.line_num == len(records) == len(lines):  # one line a record, as most are
            last_start = len(lines) - 1
        else:  # a record over several lines: where the last one starts, record by record
            reader = csv.reader(lines, delimiter=self.delimiter)
            records = []
            last_start = line_end = 0
            try:
                for record in reader:
                    records.append(record)
                    last_start, line_end = line_end, reader.line_num
            except csv.Error as exc:
                self.error = ImportFileError(
                    f"row {self.number + len(records) + 1} cannot be read: {exc}")
        if self.error is not None or final:
            self.carry = ""
        elif records:
            records.pop()  # perhaps cut short by the block's end: read again with the next
            self.carry = "".join(lines[last_start:])
        else:
            self.carry = text
        if self.escaping and _ESCAPED.search(text):
            for index, record in enumerate(records):
                bad = next((cell for cell in record if _ESCAPED.search(cell)), None)
                if bad is not None:
                    self.error = ImportFileError(
                        f"row {self.number + index + 1} is not {self.encoding}: "
                        f"{self._reason(bad)}; choose the encoding")
                    del records[index:]
                    self.carry = ""
                    break
        first = self.number + 1
        self.number += len(records)
        return list(enumerate(records, start=first))

    def _reason(self, cell: str) -> str:
        try:
            cell.encode(self.encoding, "surrogateescape").decode(self.encoding)
        except UnicodeError as exc:
            return str(getattr(exc, "reason", exc))
        return "bytes it cannot read"


def csv_source(stream: BinaryIO, fmt: FileFormat, limits: ReadLimits = LIMITS) -> BinaryIO:
    """The bytes of the CSV file read: the stream itself, or the ZIP's member unpacked (which
    the caller closes)."""
    if fmt.kind == "zip":
        return _extract_member(stream, fmt.sheet, limits)
    return stream


def undecodable_row_error(stream: BinaryIO, fmt: FileFormat, reason: str) -> ImportFileError:
    row = _row_of_bad_bytes(stream, fmt)
    where = f"row {row}" if row else "a row"
    return ImportFileError(f"{where} is not {fmt.encoding}: {reason}; choose the encoding")


def _chain_after(top: list[tuple[int, list[str]]], raw: Rows, header_row: int) -> Rows:
    for number, cells in top:
        if number > header_row:
            yield number, cells
    yield from raw


def _csv_rows(stream: BinaryIO, fmt: FileFormat) -> tuple[Rows, Callable[[], float],
                                                         Callable[[], None]]:
    stream.seek(0, io.SEEK_END)
    size = max(stream.tell(), 1)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=fmt.encoding, newline="", errors="strict")
    reader = csv.reader(text, delimiter=fmt.delimiter)

    def close() -> None:
        try:
            text.detach()  # leave the caller's stream open
        except ValueError:
            pass  # detached already, or the caller closed it

    def rows() -> Rows:
        number = 0
        try:
            for record in reader:
                number += 1
                yield number, record
        except csv.Error as exc:
            raise ImportFileError(f"row {number + 1} cannot be read: {exc}") from None
        except UnicodeDecodeError as exc:
            if number == 0:
                raise ImportFileError(f"cannot read the header row: {exc}") from None
            row = _row_of_bad_bytes(stream, fmt) or number + 1
            raise ImportFileError(
                f"row {row} is not {fmt.encoding}: {exc.reason}; choose the encoding"
            ) from None

    def fraction() -> float:
        try:
            return min(stream.tell() / size, 1.0)
        except (ValueError, OSError):
            return 0.0

    return rows(), fraction, close


def _row_of_bad_bytes(stream: BinaryIO, fmt: FileFormat) -> int | None:
    """The row holding the first bytes that are not in the file's encoding (error path only:
    the text reader decodes ahead in blocks, so its own position is rows too early)."""
    if fmt.encoding.startswith(("utf-16", "utf-32")):
        return None
    try:
        stream.seek(0)
        good: list[str] = []
        for raw_line in stream:
            try:
                good.append(raw_line.decode(fmt.encoding))
            except UnicodeDecodeError:
                text = "".join(good)
                complete = text.endswith(("\n", "\r")) or not text
                records = sum(1 for _ in csv.reader(io.StringIO(text), delimiter=fmt.delimiter))
                return records + 1 if complete else max(records, 1)
    except (OSError, ValueError, csv.Error):
        return None
    return None


def _load_workbook(stream: BinaryIO) -> Any:
    from openpyxl import load_workbook

    stream.seek(0)
    try:
        return load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ImportFileError(f"not a readable .xlsx workbook: {exc}") from None
    except Exception as exc:  # openpyxl raises what its XML parser raises on broken parts
        raise ImportFileError(
            f"not a readable .xlsx workbook ({type(exc).__name__})") from None


class _Budget:
    """Counts rows and cells read and the time spent, and stops the read past a limit."""

    def __init__(self, limits: ReadLimits):
        self.limits = limits
        self.rows = self.cells = 0
        self.deadline = time.monotonic() + limits.seconds

    def spend(self, cells: int) -> None:
        self.rows += 1
        self.cells += cells
        limits = self.limits
        if self.rows > limits.rows:
            raise FileTooLarge(f"the sheet has more than {limits.rows:,} rows (the limit for "
                               "rows read, blank ones included)")
        if self.cells > limits.cells:
            raise FileTooLarge(f"the sheet has more than {limits.cells:,} cells (the limit for "
                               "cells read)")
        if self.rows % 512 == 0 and time.monotonic() > self.deadline:
            raise FileTooLarge(f"reading the sheet took more than {limits.seconds:,.0f} s (the "
                               f"time limit), at row {self.rows:,}")


def _sheet_rows(sheet: Any, budget: _Budget) -> Rows:
    # The sheet's declared size is not trusted: a few bytes can declare a million rows by
    # 16,384 columns, which openpyxl would pad out cell by cell.
    sheet.reset_dimensions()
    number = 0
    for values in sheet.iter_rows(values_only=True):
        number += 1
        budget.spend(len(values))
        yield number, [_cell_text(v) for v in values]


def _choose_sheet(stream: BinaryIO, wanted: str | None,
                  limits: ReadLimits) -> tuple[list[str], str]:
    """The sheet names, and the one to read: the wanted one, else the first with a header."""
    workbook = _load_workbook(stream)
    try:
        names = list(workbook.sheetnames)
        if not names:
            raise ImportFileError("the workbook has no sheets")
        if wanted:
            if wanted in names:
                return names, wanted
            if wanted.isdigit() and 1 <= int(wanted) <= len(names):
                return names, names[int(wanted) - 1]
            raise ImportFileError(f"the workbook has no sheet {wanted!r}; its sheets are "
                                  f"{', '.join(names)}")
        best, best_score = names[0], (-1, -1)
        budget = _Budget(PREVIEW_LIMITS if limits.rows > PREVIEW_LIMITS.rows else limits)
        for name in names:
            top = []
            for item in _sheet_rows(workbook[name], budget):
                top.append(item)
                if len(top) >= HEADER_SEARCH_ROWS:
                    break
            filled = [cells for _, cells in top if any(cells)]
            if not filled:
                continue
            score = (max(known_fields(cells) for cells in filled), len(filled))
            if score > best_score:
                best, best_score = name, score
        return names, best
    finally:
        workbook.close()
        stream.seek(0)


def _xlsx_rows(stream: BinaryIO, sheet_name: str, limits: ReadLimits
               ) -> tuple[Rows, Callable[[], float], Callable[[], None]]:
    workbook = _load_workbook(stream)
    try:
        sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
    except (KeyError, IndexError):
        workbook.close()
        raise ImportFileError(f"the workbook has no sheet {sheet_name!r}") from None
    total = sheet.max_row or 0
    budget = _Budget(limits)

    def fraction() -> float:
        return min(budget.rows / total, 1.0) if total else 0.0

    return _sheet_rows(sheet, budget), fraction, workbook.close


def inspect_file(
    stream: BinaryIO, *, filename: str = "", encoding: str | None = None,
    delimiter: str | None = None, sample_rows: int = 5, sheet: str | None = None,
    header_row: int | None = None, limits: ReadLimits = PREVIEW_LIMITS,
) -> FilePreview:
    """Detect the format, sheet and header row, read a few rows, and guess the mapping.

    Reads only what the preview shows (the first rows), within PREVIEW_LIMITS.

    Raises:
        ImportFileError: the file cannot be read (FileTooLarge: past a limit).
    """
    fmt = detect_format(stream, filename=filename, encoding=encoding, delimiter=delimiter,
                        sheet=sheet, limits=limits)
    opened = open_rows(stream, fmt, header_row=header_row, limits=limits)
    sample: list[list[str]] = []
    try:
        for _number, cells in opened.rows:
            sample.append(cells)
            if len(sample) >= sample_rows:
                break
    except FileTooLarge:
        pass  # the preview's own budget ran out while looking for rows: show what was found
    finally:
        opened.rows.close()  # type: ignore[attr-defined]
    stream.seek(0)
    mapping = guess_mapping(opened.headers)
    return FilePreview(
        format=fmt, headers=opened.headers, sample=sample, mapping=mapping,
        header_row=opened.header_row,
        top_rows=tuple((n, tuple(c)) for n, c in opened.top_rows),
        do_not_call={h: guess_do_not_call_values(h) for h, f in mapping.items()
                     if f == DO_NOT_CALL},
    )
