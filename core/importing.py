"""Contact import: messy real-world files in, every row accounted for.

The pipeline streams the file (CSV in any common encoding and delimiter, or .xlsx), maps its
columns to contact fields, normalises phones to E.164, merges duplicates by number (within the
file and against the database) under a policy, and writes in chunks of a few thousand rows.

Accounting, the promise an organiser relies on: for every batch
    inserted + updated + merged + rejected == total_rows
where
- inserted: the row created a new contact;
- updated:  the row matched a contact stored before this import, and the policy applied it;
- merged:   the row's number was already taken by an earlier row of this file (two people on one
            landline are one contact, called once), or, under policy "skip", by a stored contact;
- rejected: the row could not be used; its number and reason are kept (ImportRejection).
Blank lines are not rows. Row numbers are spreadsheet-style: the header is row 1.

Each chunk is its own short write transaction, not one long one: on SQLite a 30-second write
lock would make every volunteer's "save outcome" wait or fail while an organiser imports.
A batch that fails half-way keeps what it wrote, is marked failed, and can be undone.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import multiprocessing
import operator
import os
import re
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO, NamedTuple

import sqlalchemy as sa
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from sqlmodel import Session, col, select

from core.audit import record_event
from core.phones import InvalidPhone, Phone, normalise_phone
from core.queue_areas import refresh_queue_areas
from db.engine import Database
from db.models import (
    DUPLICATE_POLICY_VALUES,
    Contact,
    ImportBatch,
    ImportChange,
    ImportRejection,
    Suppression,
)

# --------------------------------------------------------------------------------------------
# Fields and header guessing
# --------------------------------------------------------------------------------------------

PHONE_FIELDS = ("phone", "mobile", "landline")
TEXT_FIELDS = (
    "first_name", "last_name", "email", "postcode", "constituency", "ward", "membership_number",
)
FLAG_FIELDS = ("tps", "consenting_member")
CUSTOM = "custom"
IGNORE = "ignore"

FIELD_LABELS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split into first and last)",
    "phone": "Phone",
    "mobile": "Mobile phone",
    "landline": "Landline",
    "email": "Email",
    "postcode": "Postcode",
    "constituency": "Constituency",
    "ward": "Ward",
    "tags": "Tags",
    "membership_number": "Membership number",
    "tps": "TPS registered (yes/no)",
    "consenting_member": "Consenting member (yes/no)",
    CUSTOM: "Keep as custom field",
    IGNORE: "Do not import",
}
FIELDS = tuple(FIELD_LABELS)
# Fields a file may map more than one column to (several numbers for one person).
REPEATABLE_FIELDS = {*PHONE_FIELDS, CUSTOM, IGNORE}

_HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "forename", "forenames", "given name", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "full_name": ("name", "full name", "fullname", "contact name", "member name"),
    "phone": ("phone", "phone number", "telephone", "telephone number", "tel", "tel no",
              "number", "contact number", "primary phone", "other phone", "alt phone",
              "alternative phone", "work phone", "phone no"),
    "mobile": ("mobile", "mobile phone", "mobile number", "mobile no", "mob", "cell",
               "cell phone", "cellphone", "mobile telephone"),
    "landline": ("landline", "land line", "home phone", "home telephone", "home tel",
                 "home number", "landline number"),
    "email": ("email", "e mail", "email address", "e mail address"),
    "postcode": ("postcode", "post code", "postal code", "zip", "zip code", "postcode zip"),
    "constituency": ("constituency", "parliamentary constituency", "westminster constituency",
                     "constituency name"),
    "ward": ("ward", "electoral ward", "council ward", "ward name"),
    "tags": ("tags", "tag", "labels", "groups"),
    "membership_number": ("membership number", "member number", "membership no", "member no",
                          "membership id", "member id", "membership", "member ref"),
    "tps": ("tps", "tps registered", "on tps", "tps status"),
    "consenting_member": ("consenting member", "consent", "consented", "consenting",
                          "consent to call"),
}
_GUESS_LOOKUP = {alias: name for name, aliases in _HEADER_GUESSES.items() for alias in aliases}
_NUMBERED = re.compile(r"^(.*?)\s*\d+$")


def _header_key(header: str) -> str:
    text = re.sub(r"[_\-./#:]+", " ", header.strip().lower())
    return re.sub(r"\s+", " ", text).strip()


def guess_field(header: str) -> str:
    """The contact field a column header most likely means, or "custom"."""
    key = _header_key(header)
    if key in _GUESS_LOOKUP:
        return _GUESS_LOOKUP[key]
    numbered = _NUMBERED.match(key)  # "Phone 2", "mobile2"
    if numbered and _GUESS_LOOKUP.get(numbered.group(1)) in PHONE_FIELDS:
        return _GUESS_LOOKUP[numbered.group(1)]
    return CUSTOM


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Guess a field for every column; a field already taken leaves later columns custom."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field_name = guess_field(header)
        if field_name in taken and field_name not in REPEATABLE_FIELDS:
            field_name = CUSTOM
        taken.add(field_name)
        mapping[header] = field_name
    return mapping


class ImportFileError(Exception):
    """The file cannot be read or the mapping cannot be used; str() is one line for the user."""


def check_mapping(headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Complete a mapping (unmapped columns become custom fields) and check it.

    Raises:
        ImportFileError: unknown column or field, a field mapped twice, or no phone column.
    """
    complete = {header: CUSTOM for header in headers}
    for column, field_name in mapping.items():
        if column not in complete:
            raise ImportFileError(f"the file has no column {column!r}")
        if field_name not in FIELD_LABELS:
            raise ImportFileError(
                f"unknown field {field_name!r} for column {column!r}; "
                f"choose one of {', '.join(FIELDS)}"
            )
        complete[column] = field_name
    seen: set[str] = set()
    for column, field_name in complete.items():
        if field_name in seen and field_name not in REPEATABLE_FIELDS:
            raise ImportFileError(f"{field_name} is mapped to more than one column ({column!r})")
        seen.add(field_name)
    if not seen & set(PHONE_FIELDS):
        raise ImportFileError("no column is mapped to a phone number (phone, mobile or landline)")
    return complete


# --------------------------------------------------------------------------------------------
# Phones: a fast path for the common UK formats, provably the same answer as normalise_phone
# --------------------------------------------------------------------------------------------

_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_SEPARATORS = str.maketrans("", "", " \t-.()")
# +44 / 0044 / 0, then a national significant number of 9 or 10 digits not starting with 0.
_UK_SHAPE = re.compile(r"(?:\+44|0044|0)([1-9]\d{8,9})")
_CACHE_LIMIT = 100_000


_Desc = tuple[frozenset[int], "re.Pattern[str] | None"] | None
_TYPE_ORDER = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
               "uan", "voicemail")


def _compile_desc(desc: Any) -> _Desc:
    if desc is None:
        return None
    pattern = desc.national_number_pattern
    return (frozenset(desc.possible_length), re.compile(pattern) if pattern else None)


def _matches(nsn: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(nsn) not in lengths:
        return False
    return pattern is not None and pattern.fullmatch(nsn) is not None


class _Cc44Types:
    """phonenumbers.number_type for country code 44, with its own metadata precompiled.

    A line-by-line port of phonenumbers' number_type -> region_code_for_number ->
    _number_type_helper for the regions sharing +44 (GB, GG, IM, JE), minus the per-call
    pattern-cache lookups that make the original cost ~20 us a number.
    tests/core/test_importing_phones.py compares it with phonenumbers on every 4-digit prefix.
    """

    def __init__(self) -> None:
        self.regions: list[tuple[re.Pattern[str] | None, dict[str, Any]]] = []
        for region in COUNTRY_CODE_TO_REGION_CODE[44]:
            metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
            if metadata is None:
                continue
            leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
            self.regions.append((leading, {
                "general": _compile_desc(metadata.general_desc),
                "other": self._any_of([getattr(metadata, name) for name in _TYPE_ORDER]),
                "fixed": _compile_desc(metadata.fixed_line),
                "mobile": _compile_desc(metadata.mobile),
                "same": bool(metadata.same_mobile_and_fixed_line_pattern),
            }))

    @staticmethod
    def _any_of(descs: list[Any]) -> re.Pattern[str] | None:
        """One pattern matching exactly what any of the descriptions matches.

        The eight types checked before fixed line and mobile (premium rate ... voicemail) all
        come out as "other", so their order does not matter and one alternation can test them
        all; each alternative carries its description's allowed lengths as a lookahead.
        """
        parts = []
        for desc in descs:
            if desc is None or not desc.national_number_pattern:
                continue
            lengths = [n for n in desc.possible_length if n > 0]
            if desc.possible_length and not lengths:
                continue  # a type with no numbers in this region
            guard = f"(?=(?:{'|'.join(f'.{{{n}}}' for n in lengths)})$)" if lengths else ""
            parts.append(f"{guard}(?:{desc.national_number_pattern})")
        return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    @staticmethod
    def _type(nsn: str, meta: dict[str, Any]) -> str:
        """'unknown', 'landline', 'mobile' or 'other' (any other known type)."""
        if not _matches(nsn, meta["general"]):
            return "unknown"
        if meta["other"] is not None and meta["other"].fullmatch(nsn):
            return "other"
        if _matches(nsn, meta["fixed"]):
            if meta["same"] or _matches(nsn, meta["mobile"]):
                return "other"  # FIXED_LINE_OR_MOBILE
            return "landline"
        if not meta["same"] and _matches(nsn, meta["mobile"]):
            return "mobile"
        return "unknown"

    def kind(self, nsn: str) -> str:
        for leading, meta in self.regions:
            if leading is not None:
                if leading.match(nsn):
                    return self._type(nsn, meta)
            else:
                kind = self._type(nsn, meta)
                if kind != "unknown":
                    return kind
        return "unknown"  # no region: phonenumbers finds no metadata, so UNKNOWN


_cc44: _Cc44Types | None = None


def _cc44_types() -> _Cc44Types:
    global _cc44
    if _cc44 is None:
        _cc44 = _Cc44Types()
    return _cc44


class PhoneNormaliser:
    """normalise_phone, many times faster on the shapes UK membership lists hold.

    phonenumbers.parse and number_type are nearly all of normalise_phone's cost (~40 us).
    For text that is plainly "+44", "0044" or "0" followed by a 9-10 digit national number,
    parse always yields country code 44 and that national number, so we skip parsing and
    classify the national number with _Cc44Types; for country code 44 a number is valid
    exactly when its type is known. Anything else goes through normalise_phone unchanged.
    tests/core/test_importing_phones.py checks both paths agree on every 4-digit prefix and
    thousands of numbers written in every format.
    """

    def __init__(self, region: str = "GB"):
        self.region = region
        self._types = _cc44_types() if region == "GB" else None
        self._cache: dict[str, Phone | None] = {}
        self.fast = 0
        self.slow = 0

    def __call__(self, raw: str) -> Phone:
        """Raises InvalidPhone, like normalise_phone."""
        text = raw.strip()
        if self._types is not None:
            if "(" in text:
                text = _TRUNK_ZERO.sub("", text)
            match = _UK_SHAPE.fullmatch(text.translate(_SEPARATORS))
            if match:
                nsn = match.group(1)
                if nsn in self._cache:
                    found = self._cache[nsn]
                else:
                    kind = self._types.kind(nsn)
                    found = None if kind == "unknown" else Phone("+44" + nsn, kind)
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache.clear()
                    self._cache[nsn] = found
                self.fast += 1
                if found is None:
                    raise InvalidPhone("not a valid phone number")
                return found
        self.slow += 1
        return normalise_phone(raw, region=self.region)


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Rows to contact records
# --------------------------------------------------------------------------------------------

_LIMITS: dict[str, int] = {
    c.name: c.type.length
    for c in Contact.__table__.columns  # type: ignore[attr-defined]
    if getattr(c.type, "length", None)
}
_TRUE = {"y", "yes", "true", "1", "x", "t", "on", "tps", "registered", "consent", "consented"}
_FALSE = {"", "n", "no", "false", "0", "f", "off", "none", "-"}
_TAG_SPLIT = re.compile(r"[,;|]")
_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})$")


def normalise_tags(text: str | list[str]) -> str:
    """"NHS; Member" -> ",nhs,member," (lower case, de-duplicated, comma-wrapped)."""
    parts = _TAG_SPLIT.split(text) if isinstance(text, str) else text
    tags: list[str] = []
    for part in parts:
        tag = part.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return "," + ",".join(tags) + "," if tags else ""


def tag_list(wrapped: str) -> list[str]:
    return [t for t in wrapped.split(",") if t]


def normalise_postcode(text: str) -> str:
    compact = re.sub(r"\s+", " ", text.strip().upper())
    match = _POSTCODE.match(compact)
    return f"{match.group(1)} {match.group(2)}" if match else compact


class RowRecord(NamedTuple):  # a tuple: cheap to pickle back from a parsing process
    row_number: int
    phone: str
    phone_type: str
    other_phones: list[str]
    values: dict[str, Any]  # text fields, tags, flags present in the row
    custom: dict[str, str]
    custom_json: str = "{}"  # encoded by the parsing process, so the writer need not


class RowRejected(Exception):
    pass


class RowParser:
    """Turn one row's cells into a RowRecord under a checked mapping."""

    def __init__(self, headers: list[str], mapping: dict[str, str], normaliser: PhoneNormaliser):
        self.headers = headers
        self.width = len(headers)
        self.normalise = normaliser
        self.phones: list[tuple[int, str, str]] = []  # (index, header, field)
        self.texts: list[tuple[int, str]] = []
        self.flags: list[tuple[int, str, str]] = []
        self.customs: list[tuple[int, str]] = []
        self.tags: int | None = None
        self.full_name: int | None = None
        for index, header in enumerate(headers):
            field_name = mapping[header]
            if field_name in PHONE_FIELDS:
                self.phones.append((index, header, field_name))
            elif field_name in TEXT_FIELDS:
                self.texts.append((index, field_name))
            elif field_name in FLAG_FIELDS:
                self.flags.append((index, header, field_name))
            elif field_name == "tags":
                self.tags = index
            elif field_name == "full_name":
                self.full_name = index
            elif field_name == CUSTOM:
                self.customs.append((index, header))
        # Mobile columns first, then generic phone, then landline: the first mobile is called.
        order = {"mobile": 0, "phone": 1, "landline": 2}
        self.phones.sort(key=lambda p: order[p[2]])
        self.mapped_fields = {f for f in mapping.values()}

    def parse(self, row_number: int, cells: list[str]) -> RowRecord:
        """Raises RowRejected with the reason."""
        if len(cells) > self.width:
            if any(c.strip() for c in cells[self.width :]):
                raise RowRejected(
                    f"row has {len(cells)} columns but the header has {self.width}"
                )
            cells = cells[: self.width]
        elif len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        numbers: list[Phone] = []
        for index, header, _field in self.phones:
            raw = cells[index]
            if not raw.strip():
                continue
            try:
                phone = self.normalise(raw)
            except InvalidPhone as exc:
                raise RowRejected(f"{header}: {exc}") from None
            if all(phone.e164 != n.e164 for n in numbers):
                numbers.append(phone)
        if not numbers:
            raise RowRejected("no phone number")
        preferred = next((n for n in numbers if n.kind == "mobile"), numbers[0])
        values: dict[str, Any] = {}
        for index, field_name in self.texts:
            text = cells[index].strip()
            if field_name == "postcode":
                text = normalise_postcode(text)
            if text:
                values[field_name] = text
        if self.full_name is not None:
            first, _, last = cells[self.full_name].strip().rpartition(" ")
            if not first:
                first, last = last, ""
            if first:
                values.setdefault("first_name", first)
            if last:
                values.setdefault("last_name", last)
        for field_name, text in values.items():
            limit = _LIMITS.get(field_name)
            if limit and len(text) > limit:
                raise RowRejected(f"{field_name} is longer than {limit} characters")
        if self.tags is not None:
            tags = normalise_tags(cells[self.tags])
            if len(tags) > _LIMITS["tags"]:
                raise RowRejected(f"tags are longer than {_LIMITS['tags']} characters")
            if tags:
                values["tags"] = tags
        for index, header, field_name in self.flags:
            text = cells[index].strip().lower()
            if text in _TRUE:
                values[field_name] = True
            elif text in _FALSE:
                if text:
                    values[field_name] = False
            else:
                raise RowRejected(f"{header}: {cells[index].strip()!r} is not yes or no")
        custom = {header: cells[index].strip() for index, header in self.customs
                  if cells[index].strip()}
        return RowRecord(
            row_number=row_number,
            phone=preferred.e164,
            phone_type=preferred.kind,
            other_phones=[n.e164 for n in numbers if n.e164 != preferred.e164],
            values=values,
            custom=custom,
            custom_json=json.dumps(custom) if custom else "{}",
        )


# --------------------------------------------------------------------------------------------
# Merging a row into a contact under the duplicate policy
# --------------------------------------------------------------------------------------------

# Fields an import may change on an existing contact, and so what ImportChange snapshots.
MERGED_FIELDS = (*TEXT_FIELDS, "tags", "tps", "consenting_member", "other_phones", "custom")


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
            if len(new) > _LIMITS["tags"]:
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
    custom = dict(state.get("custom") or {})
    for key, value in record.custom.items():
        if policy == "overwrite" or not custom.get(key):
            custom[key] = value
    if custom != (state.get("custom") or {}):
        state["custom"] = custom
        state.pop("_custom_json", None)
        changed = True
    return changed


# --------------------------------------------------------------------------------------------
# Running an import
# --------------------------------------------------------------------------------------------


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
    merged: int = 0
    rejected: int = 0
    suppressed: int = 0
    seconds: float = 0.0
    encoding: str = ""
    delimiter: str = ""
    error: str = ""

    @property
    def balanced(self) -> bool:
        return self.inserted + self.updated + self.merged + self.rejected == self.total_rows

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImportFailed(Exception):
    """The import stopped part-way; the batch is marked failed and can be undone."""

    def __init__(self, message: str, result: ImportResult):
        super().__init__(message)
        self.result = result


@dataclass
class _BatchState:
    batch_id: int
    policy: str
    now: datetime
    result: ImportResult
    snapshotted: set[int] = field(default_factory=set)
    # The do-not-call list, read once: it only feeds the "suppressed" count (queueing checks
    # the live table), and one read beats an IN query per chunk.
    suppressed: set[str] = field(default_factory=set)
    # When the contact table was empty at the start, a number can only be stored already if
    # this batch stored it, so lookups go to the database only for those numbers.
    only_own: bool = False
    inserted: set[str] = field(default_factory=set)
    pending_inserted: list[str] = field(default_factory=list)


_CONTACT = Contact.__table__  # type: ignore[attr-defined]
# SQLite >= 3.32 binds up to 32766 parameters, PostgreSQL 65535; older SQLite only 999.
_LOOKUP_CHUNK = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 900
_STATE_COLUMNS = [_CONTACT.c.id, _CONTACT.c.phone, _CONTACT.c.import_batch_id,
                  *(_CONTACT.c[name] for name in MERGED_FIELDS)]


def _lookup(session: Session, phones: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(phones), _LOOKUP_CHUNK):
        chunk = phones[start : start + _LOOKUP_CHUNK]
        rows = session.execute(sa.select(*_STATE_COLUMNS).where(_CONTACT.c.phone.in_(chunk)))
        for row in rows.mappings():
            found[row["phone"]] = dict(row)
    return found


_INSERT_COLUMNS = [c.name for c in _CONTACT.columns if c.name != "id"]
_ROW_GETTER = operator.itemgetter(*_INSERT_COLUMNS)
_OTHERS_INDEX = _INSERT_COLUMNS.index("other_phones")
_CUSTOM_INDEX = _INSERT_COLUMNS.index("custom")
_TIME_INDEXES = [_INSERT_COLUMNS.index(n) for n in ("created_at", "updated_at")]


def _insert_contacts(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Insert new contacts with one driver-level executemany.

    SQLAlchemy's per-row parameter processing cost more than SQLite's own insert work
    (bench/import.py), so values are converted here exactly as the column types would:
    JSON as json.dumps text, UTCDateTime as naive UTC (SQLite: SQLAlchemy's text format).
    Every new row of a batch carries the same timestamps; last_contacted_at is always NULL.
    """
    connection = session.connection()
    naive = now.astimezone(UTC).replace(tzinfo=None)
    if connection.dialect.name == "sqlite":
        stamp: Any = naive.strftime("%Y-%m-%d %H:%M:%S.%f")
        mark = "?"
    else:
        stamp, mark = naive, "%s"
    params = []
    for row in rows:
        values = list(_ROW_GETTER(row))
        others = values[_OTHERS_INDEX]
        values[_OTHERS_INDEX] = json.dumps(others) if others else "[]"
        encoded = row.get("_custom_json")
        if encoded is None:
            custom = values[_CUSTOM_INDEX]
            encoded = json.dumps(custom) if custom else "{}"
        values[_CUSTOM_INDEX] = encoded
        for index in _TIME_INDEXES:
            values[index] = stamp
        params.append(tuple(values))
    statement = (f"INSERT INTO contact ({', '.join(_INSERT_COLUMNS)}) "
                 f"VALUES ({', '.join([mark] * len(_INSERT_COLUMNS))})")
    connection.exec_driver_sql(statement, params)


_UPDATE = (
    sa.update(_CONTACT)
    .where(_CONTACT.c.id == sa.bindparam("b_id"))
    .values({name: sa.bindparam(f"b_{name}") for name in (*MERGED_FIELDS, "updated_at")})
)


def _write_chunk(
    session: Session, state: _BatchState, records: list[RowRecord],
    rejections: list[dict[str, Any]],
) -> None:
    result, policy, now = state.result, state.policy, state.now
    primaries = list({r.phone for r in records})
    if state.only_own:
        primaries = [p for p in primaries if p in state.inserted]
    existing = _lookup(session, primaries) if primaries else {}
    new: dict[str, dict[str, Any]] = {}
    dirty: dict[int, dict[str, Any]] = {}
    moved: set[int] = set()  # contacts whose constituency or ward this chunk changes
    changes: list[dict[str, Any]] = []
    for record in records:
        if record.phone in new:
            merge_into(new[record.phone], record, policy)
            result.merged += 1
            continue
        stored = existing.get(record.phone)
        if stored is None:
            new[record.phone] = {
                "phone": record.phone, "phone_type": record.phone_type,
                "other_phones": record.other_phones, "first_name": "", "last_name": "",
                "email": "", "postcode": "", "constituency": "", "ward": "",
                "membership_number": "", "tags": "", "tps": False, "consenting_member": False,
                "bad_number": False, "custom": record.custom, "_custom_json": record.custom_json,
                "import_batch_id": state.batch_id,
                "last_contacted_at": None, "created_at": now, "updated_at": now,
                **record.values,
            }
            result.inserted += 1
            continue
        contact_id = stored["id"]
        first_touch = (stored["import_batch_id"] != state.batch_id
                       and contact_id not in state.snapshotted)
        if not first_touch:
            result.merged += 1  # an earlier row of this file already has this number
        elif policy == "skip":
            result.merged += 1
        else:
            result.updated += 1
        if policy == "skip":
            continue
        if first_touch:
            state.snapshotted.add(contact_id)
            changes.append({
                "batch_id": state.batch_id, "contact_id": contact_id,
                "before": {name: stored[name] for name in MERGED_FIELDS},
            })
        area = (stored["constituency"], stored["ward"])
        if merge_into(stored, record, policy):
            dirty[contact_id] = stored
            if (stored["constituency"], stored["ward"]) != area:
                moved.add(contact_id)
    if new:
        _insert_contacts(session, list(new.values()), now)
    state.pending_inserted = list(new)
    if dirty:
        session.execute(_UPDATE, [
            {"b_id": cid, "b_updated_at": now, **{f"b_{n}": s[n] for n in MERGED_FIELDS}}
            for cid, s in dirty.items()
        ])
        refresh_queue_areas(session=session, contact_ids=moved)
    if changes:
        session.execute(sa.insert(ImportChange.__table__), changes)  # type: ignore[attr-defined]
    if rejections:
        session.execute(sa.insert(ImportRejection.__table__), rejections)  # type: ignore[attr-defined]
    blocked = state.suppressed
    if blocked:
        result.suppressed += sum(
            1 for r in records if r.phone in blocked or blocked.intersection(r.other_phones)
        )
    result.rejected += len(rejections)
    result.total_rows = result.inserted + result.updated + result.merged + result.rejected
    session.execute(
        sa.update(ImportBatch.__table__)  # type: ignore[attr-defined]
        .where(ImportBatch.__table__.c.id == state.batch_id)  # type: ignore[attr-defined]
        .values(total_rows=result.total_rows, inserted=result.inserted, updated=result.updated,
                merged=result.merged, rejected=result.rejected, suppressed=result.suppressed)
    )


PARALLEL_FROM_BYTES = 8 << 20  # ~60,000 rows: below this, starting a process costs more
_Parsed = tuple[list[RowRecord], list[dict[str, Any]]]
_Job = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str, int]
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
    headers, mapping, region, batch_id = job
    key = (headers, mapping, region)
    parser = _parsers.get(key)
    if parser is None:  # one per import and process, so the phone cache spans chunks
        _parsers.clear()
        parser = _parsers[key] = RowParser(list(headers), dict(mapping), PhoneNormaliser(region))
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


_COUNTERS = ("inserted", "updated", "merged", "rejected", "suppressed", "total_rows")


def _write_with_retries(
    database: Database, state: _BatchState, records: list[RowRecord],
    rejections: list[dict[str, Any]],
) -> None:
    """Write one chunk; a retried transaction starts again from the counts before it."""
    counts = {name: getattr(state.result, name) for name in _COUNTERS}
    snapshotted = set(state.snapshotted)

    def attempt(session: Session) -> None:
        for name, value in counts.items():
            setattr(state.result, name, value)
        state.snapshotted = set(snapshotted)
        _write_chunk(session, state, records, rejections)

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
    if state.only_own:
        state.inserted.update(state.pending_inserted)


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
) -> ImportResult:
    """Import a file end to end and return its accounting.

    Takes the Database rather than a session: the import commits chunk by chunk (see module
    docstring), so that other sessions keep working while a large file goes in.
    workers: processes that parse rows while this one writes; None picks one for files of
    PARALLEL_FROM_BYTES or more on a machine with two or more cores, 0 parses in-process.

    Raises:
        ImportFileError: the file cannot be read or the mapping is unusable (nothing written).
        ImportFailed: the import stopped part-way; the batch is marked failed.
    """
    if policy not in DUPLICATE_POLICY_VALUES:
        raise ImportFileError(f"unknown duplicate policy {policy!r}")
    started = time.perf_counter()
    fmt = detect_format(stream, filename=filename, encoding=encoding, delimiter=delimiter)
    opened = open_rows(stream, fmt)
    complete = check_mapping(opened.headers, mapping if mapping is not None
                             else guess_mapping(opened.headers))
    now = datetime.now(UTC)

    def create_batch(session: Session) -> int:
        batch = ImportBatch(
            filename=filename[:300], created_by_id=actor_id, encoding=fmt.encoding or fmt.kind,
            delimiter=fmt.delimiter, mapping=complete, duplicate_policy=policy, status="running",
        )
        session.add(batch)
        session.flush()
        assert batch.id is not None
        return batch.id

    batch_id = database.retrying(create_batch)
    result = ImportResult(batch_id=batch_id, filename=filename, status="running",
                          encoding=fmt.encoding or fmt.kind, delimiter=fmt.delimiter)
    state = _BatchState(batch_id=batch_id, policy=policy, now=now, result=result)
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
        batch.total_rows, batch.inserted, batch.updated = (
            result.total_rows, result.inserted, result.updated)
        batch.merged, batch.rejected, batch.suppressed = (
            result.merged, result.rejected, result.suppressed)

    if workers is None:
        big = _file_size(stream) >= PARALLEL_FROM_BYTES
        workers = 1 if big and (os.cpu_count() or 1) > 1 else 0
    pool = (
        ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 0 else None
    )
    job = (tuple(opened.headers), tuple(complete.items()), region, batch_id)
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
            if pool is not None:
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


# --------------------------------------------------------------------------------------------
# History, rejected rows, undo
# --------------------------------------------------------------------------------------------

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
        session.execute(_UPDATE, restore)
        refresh_queue_areas(session=session, contact_ids=[c.contact_id for c in changes])
    deleted = session.execute(
        sa.delete(_CONTACT).where(_CONTACT.c.import_batch_id == batch_id)
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
