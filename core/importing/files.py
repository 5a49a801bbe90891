"""Reading files: CSV in any common encoding and delimiter, and .xlsx workbooks."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO

from core.importing.fields import ImportFileError, guess_mapping

DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|", "comma": ",",
              "semicolon": ";", "pipe": "|", "\\t": "\t"}
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-32")
_XLSX_MAGIC = b"PK\x03\x04"
_SNIFF_BYTES = 64 * 1024
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileFormat:
    kind: str  # "csv" | "xlsx"
    encoding: str = ""
    delimiter: str = ""


@dataclass(frozen=True)
class FilePreview:
    format: FileFormat
    headers: list[str]
    sample: list[list[str]]
    mapping: dict[str, str]


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


def detect_format(
    stream: BinaryIO, *, filename: str = "", encoding: str | None = None,
    delimiter: str | None = None,
) -> FileFormat:
    """Work out how to read the file; an override wins over detection.

    Raises:
        ImportFileError: empty, or the overriding encoding is unknown or does not fit the file.
    """
    stream.seek(0)
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    if not head.strip():
        raise ImportFileError("the file is empty")
    if head.startswith(_XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return FileFormat(kind="xlsx")
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


@dataclass
class OpenFile:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    fraction: Callable[[], float]


def open_rows(stream: BinaryIO, fmt: FileFormat) -> OpenFile:
    """The header and a stream of (row number, cells) for non-blank rows.

    Raises:
        ImportFileError: unreadable file or no header row.
    """
    stream.seek(0)
    if fmt.kind == "xlsx":
        return _open_xlsx(stream)
    return _open_csv(stream, fmt)


def _open_csv(stream: BinaryIO, fmt: FileFormat) -> OpenFile:
    stream.seek(0, io.SEEK_END)
    size = max(stream.tell(), 1)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=fmt.encoding, newline="", errors="strict")
    reader = csv.reader(text, delimiter=fmt.delimiter)
    try:
        header: list[str] = []
        while not any(cell.strip() for cell in header):
            header = next(reader)
    except StopIteration:
        text.detach()
        raise ImportFileError("the file has no header row") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        text.detach()
        raise ImportFileError(f"cannot read the header row: {exc}") from None
    headers = _unique_headers(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for record in reader:
                number += 1
                joined = "".join(record) if record else ""
                if joined.strip():
                    if "\x00" in joined:  # NUL bytes from a broken export: dropped, not stored
                        record = [cell.replace("\x00", "") for cell in record]
                    yield number, record
        except csv.Error as exc:
            raise ImportFileError(f"row {number + 1} cannot be read: {exc}") from None
        except UnicodeDecodeError as exc:
            row = _row_of_bad_bytes(stream, fmt) or number + 1
            raise ImportFileError(
                f"row {row} is not {fmt.encoding}: {exc.reason}; choose the encoding"
            ) from None
        finally:
            try:
                text.detach()  # leave the caller's stream open
            except ValueError:
                pass  # the caller closed it already

    def fraction() -> float:
        try:
            return min(stream.tell() / size, 1.0)
        except (ValueError, OSError):
            return 0.0

    return OpenFile(headers=headers, rows=rows(), fraction=fraction)


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


def _open_xlsx(stream: BinaryIO) -> OpenFile:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError(f"not a readable .xlsx workbook: {exc}") from None
    sheet = workbook.worksheets[0]
    total = sheet.max_row or 0
    iterator = sheet.iter_rows(values_only=True)
    header: list[str] = []
    for values in iterator:
        header = [_cell_text(v) for v in values]
        if any(header):
            break
    if not any(header):
        workbook.close()
        raise ImportFileError("the workbook's first sheet has no header row")
    while header and not header[-1]:
        header.pop()
    headers = _unique_headers(header)
    done = [1]

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for values in iterator:
                number += 1
                done[0] = number
                cells = [_cell_text(v) for v in values]
                if any(cells):
                    yield number, cells
        finally:
            workbook.close()

    def fraction() -> float:
        return min(done[0] / total, 1.0) if total else 0.0

    return OpenFile(headers=headers, rows=rows(), fraction=fraction)


def inspect_file(
    stream: BinaryIO, *, filename: str = "", encoding: str | None = None,
    delimiter: str | None = None, sample_rows: int = 5,
) -> FilePreview:
    """Detect the format, read the header and a few rows, and guess the mapping.

    Raises:
        ImportFileError: the file cannot be read.
    """
    fmt = detect_format(stream, filename=filename, encoding=encoding, delimiter=delimiter)
    opened = open_rows(stream, fmt)
    sample: list[list[str]] = []
    for _number, cells in opened.rows:
        sample.append(cells)
        if len(sample) >= sample_rows:
            break
    opened.rows.close()  # type: ignore[attr-defined]
    stream.seek(0)
    return FilePreview(
        format=fmt, headers=opened.headers, sample=sample, mapping=guess_mapping(opened.headers)
    )
