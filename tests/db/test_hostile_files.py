"""Hostile and broken files against the importer, on SQLite and PostgreSQL (issue 8, "Bad input").

Every file is generated here, at test time: wrong encodings, binary garbage, a 200 MB file,
formula cells, HTML and script in names, extremely long fields, 10,000 columns. Each must end
in a clear one-line message (the file is refused) or in row-level rejections (the rest goes in),
and never harm what was stored before: the contacts and the do-not-call list already in the
database are compared, column by column, before and after each import.

The browser side of bad input (the upload size limit, script in names rendered as text) is in
tests/e2e/test_bad_input.py.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from core.importing import (
    ImportFailed,
    ImportFileError,
    ImportResult,
    list_rejections,
    rejections_csv,
    run_import,
)
from core.suppression import add_suppression
from db.engine import Database
from db.models import Contact, Suppression
from tests.factories import make_contact, phone_number

MB = 1024 * 1024
# What a person must never see in a message about their file: driver and library internals.
INTERNALS = re.compile(
    r"psycopg|sqlalchemy|sqlite3|Traceback|Background on this error|0x[0-9a-f]{6,}|"
    r"\bFile \"|IntegrityError|DataError|OperationalError",
    re.IGNORECASE,
)
SCRIPT_NAME = "<script>alert('x')</script>"
IMG_NAME = '<img src=x onerror="alert(1)">'
FORMULAS = ['=HYPERLINK("http://evil.example/","Click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
            "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


# --------------------------------------------------------------------------------------------
# What is stored before each hostile import, and the check that it is untouched afterwards
# --------------------------------------------------------------------------------------------


@dataclass
class Stored:
    contacts: dict[int, dict[str, Any]]
    suppressions: set[str]


def _snapshot(database: Database) -> Stored:
    contact = Contact.__table__  # type: ignore[attr-defined]
    with database.session() as session:
        contacts = {
            row["id"]: dict(row)
            for row in session.execute(sa.select(contact).order_by(contact.c.id)).mappings()
        }
        suppressions = set(session.execute(sa.select(Suppression.phone)).scalars())
    return Stored(contacts=contacts, suppressions=suppressions)


@pytest.fixture
def stored(database: Database) -> Stored:
    """Three members and a do-not-call number, as left by an earlier, good import."""
    with database.write() as session:
        make_contact(session, phone=phone_number(9001), first_name="Ada", last_name="Lovelace",
                     email="ada@example.org", postcode="CW1 2AB", tags=",nhs,member,",
                     custom={"branch": "Crewe"})
        make_contact(session, phone=phone_number(9002), first_name="Grace", last_name="Hopper")
        make_contact(session, phone=phone_number(9003), first_name="", last_name="Emptyname")
        add_suppression(session=session, phone=phone_number(9004), reason="asked not to be called")
    return _snapshot(database)


def assert_unharmed(database: Database, before: Stored) -> None:
    after = _snapshot(database)
    for contact_id, row in before.contacts.items():
        assert after.contacts.get(contact_id) == row, f"stored contact {contact_id} was changed"
    assert before.suppressions <= after.suppressions, "a do-not-call number was lost"


def assert_clear(message: str) -> None:
    assert message.strip(), "an empty message"
    assert "\n" not in message.strip(), f"a message of several lines: {message!r}"
    assert len(message) < 300, f"a message too long to read: {message[:300]!r}..."
    assert not INTERNALS.search(message), f"internals shown to the organiser: {message!r}"


def new_contacts(database: Database, before: Stored) -> list[dict[str, Any]]:
    after = _snapshot(database)
    return [row for cid, row in after.contacts.items() if cid not in before.contacts]


def import_bytes(database: Database, data: bytes, filename: str = "members.csv",
                 **options: Any) -> ImportResult:
    result = run_import(database=database, stream=io.BytesIO(data), filename=filename, **options)
    assert (result.inserted + result.updated + result.unchanged + result.merged
            + result.rejected) == result.total_rows
    return result


def refused(database: Database, data: bytes, filename: str = "members.csv",
            **options: Any) -> str:
    """Import a file that must be refused; return the message the organiser would see."""
    with pytest.raises((ImportFileError, ImportFailed)) as caught:
        run_import(database=database, stream=io.BytesIO(data), filename=filename, **options)
    message = str(caught.value)
    assert_clear(message)
    return message


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def good_rows(start: int, count: int) -> list[list[str]]:
    return [[f"Good{n}", f"Member{n}", "0" + phone_number(n)[3:]]
            for n in range(start, start + count)]


HEADER = ["First name", "Surname", "Mobile"]


# --------------------------------------------------------------------------------------------
# Files that must be refused as a whole, with a clear message and nothing written
# --------------------------------------------------------------------------------------------


def _garbage(size: int, seed: int = 8) -> bytes:
    return random.Random(seed).randbytes(size)


def _utf16() -> bytes:
    return csv_bytes([HEADER, *good_rows(1, 3)], encoding="utf-16")


def _utf32() -> bytes:
    return csv_bytes([HEADER, *good_rows(1, 3)], encoding="utf-32")


def _fake_xlsx() -> bytes:
    return b"PK\x03\x04" + _garbage(4096)


def _truncated_xlsx() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in good_rows(1, 50):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def _pdf() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + _garbage(20_000)


def _only_blank_lines() -> bytes:
    return b"\r\n" * 5000 + b" , , \r\n" * 100


WHOLE_FILE_REFUSALS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    # name: (file maker, filename, pattern the message must match)
    "binary garbage": (lambda: _garbage(256 * 1024), "members.csv", r"phone|column|read|file"),
    "NUL-filled file": (lambda: b"\x00" * 100_000, "members.csv", r"phone|column|read|file|empty"),
    "zip garbage named .xlsx": (_fake_xlsx, "members.xlsx", r"xlsx|workbook"),
    "half an .xlsx": (_truncated_xlsx, "members.xlsx", r"xlsx|workbook"),
    "a PDF named .csv": (_pdf, "members.csv", r"phone|column|read|file|PDF"),
    "empty file": (lambda: b"", "members.csv", r"empty"),
    "only blank lines": (_only_blank_lines, "members.csv", r"empty|header|phone|column"),
}


@pytest.mark.parametrize("case", list(WHOLE_FILE_REFUSALS))
def test_a_broken_file_is_refused_with_a_clear_message_and_nothing_stored_is_harmed(
    database: Database, stored: Stored, case: str
) -> None:
    make, filename, pattern = WHOLE_FILE_REFUSALS[case]
    message = refused(database, make(), filename=filename)
    assert re.search(pattern, message, re.IGNORECASE), f"{case}: unclear message {message!r}"
    assert_unharmed(database, stored)
    assert new_contacts(database, stored) == []


@pytest.mark.parametrize("make", [_utf16, _utf32], ids=["UTF-16", "UTF-32"])
def test_utf16_and_utf32_text_is_read_or_refused_naming_the_encoding_never_misread(
    database: Database, stored: Stored, make: Callable[[], bytes]
) -> None:
    """Excel's "Unicode text" is UTF-16: read it right, or say which encoding it is."""
    try:
        result = import_bytes(database, make())
    except (ImportFileError, ImportFailed) as exc:
        assert_clear(str(exc))
        assert re.search(r"UTF-(16|32)|encoding", str(exc), re.IGNORECASE), str(exc)
        assert new_contacts(database, stored) == []
    else:
        assert (result.inserted, result.rejected) == (3, 0)
        assert sorted(c["first_name"] for c in new_contacts(database, stored)) == [
            "Good1", "Good2", "Good3"]
    assert_unharmed(database, stored)


def test_a_cp1252_file_forced_to_utf8_is_refused_naming_the_encoding(
    database: Database, stored: Stored
) -> None:
    data = csv_bytes([HEADER, ["José", "Müller £5", "07400 100001"]], encoding="cp1252")
    message = refused(database, data, encoding="utf-8")
    assert "utf-8" in message.lower()
    assert_unharmed(database, stored)
    assert new_contacts(database, stored) == []


def test_a_cp1252_file_is_read_as_cp1252_without_mojibake(
    database: Database, stored: Stored
) -> None:
    data = csv_bytes([HEADER, ["José", "Müller-Ōtsuka"[:6] + "£", "07400 100001"]],
                     encoding="cp1252")
    result = import_bytes(database, data)
    assert (result.inserted, result.rejected) == (1, 0)
    assert [(c["first_name"], c["last_name"]) for c in new_contacts(database, stored)] == [
        ("José", "Müller£")
    ]
    assert_unharmed(database, stored)


def test_bad_bytes_deep_in_a_utf8_file_stop_the_import_with_the_row_and_keep_stored_data(
    database: Database, stored: Stored
) -> None:
    data = (
        csv_bytes([HEADER, *good_rows(1, 6000)])
        + b"Bad\xff\xfeName,Person,07400 199999\r\n"
        + csv_bytes(good_rows(7000, 10))
    )
    message = refused(database, data, encoding="utf-8")
    assert re.search(r"row 6002\b", message), message
    assert "encoding" in message.lower()
    assert_unharmed(database, stored)


def test_a_200_mb_file_with_one_endless_field_is_refused_quickly_without_loading_it_all(
    database: Database, stored: Stored
) -> None:
    data = b"First name,Mobile\r\n" + b"A" * (200 * MB) + b",07400 100001\r\n"
    started = time.perf_counter()
    message = refused(database, data)
    del data
    assert time.perf_counter() - started < 30
    assert re.search(r"row 2\b", message) and re.search(r"field|long|large", message), message
    assert_unharmed(database, stored)
    assert new_contacts(database, stored) == []


# --------------------------------------------------------------------------------------------
# Files whose bad rows are rejected one by one while the good rows go in
# --------------------------------------------------------------------------------------------


def test_extremely_long_fields_are_rejected_row_by_row_and_the_rest_imported(
    database: Database, stored: Stored
) -> None:
    data = csv_bytes([
        ["First name", "Surname", "Email", "Postcode", "Mobile", "Tags"],
        ["A" * 100_000, "Long", "", "", "07400 100001", ""],
        ["Ok", "B" * 5_000, "", "", "07400 100002", ""],
        ["Ok", "Mail", "x" * 10_000 + "@example.org", "", "07400 100003", ""],
        ["Ok", "Postcode", "", "CW1 " * 2_000, "07400 100004", ""],
        ["Ok", "Tags", "", "", "07400 100005", ",".join(f"tag{i}" for i in range(2_000))],
        ["Ok", "Phone", "", "", "0" * 120_000, ""],
        ["Fine", "Person", "fine@example.org", "CW1 2AB", "07400 100007", "nhs"],
    ])
    result = import_bytes(database, data)
    assert (result.total_rows, result.inserted, result.rejected) == (7, 1, 6)
    with database.session() as session:
        rejections = list_rejections(session=session, batch_id=result.batch_id)
    assert [r["row_number"] for r in rejections] == [2, 3, 4, 5, 6, 7]
    for rejection in rejections:
        assert_clear(rejection["reason"])
    assert [c["last_name"] for c in new_contacts(database, stored)] == ["Person"]
    assert_unharmed(database, stored)


def test_rows_with_too_many_cells_or_junk_phones_are_rejected_with_reasons(
    database: Database, stored: Stored
) -> None:
    data = csv_bytes([
        HEADER,
        ["Extra", "Cells", "07400 100001", "surprise", "more"],
        ["Script", "Phone", "<script>alert(1)</script>"],
        ["Formula", "Phone", "=1+07400100003"],
        ["Letters", "Phone", "call me maybe"],
        ["Fine", "Person", "07400 100005"],
    ])
    result = import_bytes(database, data)
    assert (result.total_rows, result.inserted, result.rejected) == (5, 1, 4)
    with database.session() as session:
        reasons = [r["reason"] for r in list_rejections(session=session, batch_id=result.batch_id)]
    assert len(reasons) == 4
    assert "columns" in reasons[0]
    for reason in reasons:
        assert_clear(reason)
    assert_unharmed(database, stored)


def test_nul_bytes_inside_a_row_reject_that_row_or_are_dropped_on_both_backends(
    database: Database, stored: Stored
) -> None:
    """PostgreSQL refuses NUL in text: one such cell must not sink the whole chunk."""
    rows = [HEADER, *good_rows(1, 20)]
    rows.insert(10, ["Nul\x00Name", "Person", "07400 199998"])
    result = import_bytes(database, csv_bytes(rows))
    assert result.status == "done"
    assert result.total_rows == 21
    assert result.inserted >= 20, "good rows were lost with the bad one"
    for contact in new_contacts(database, stored):
        assert "\x00" not in contact["first_name"]
    if result.rejected:
        with database.session() as session:
            (rejection,) = list_rejections(session=session, batch_id=result.batch_id)
        assert rejection["row_number"] == 11
        assert_clear(rejection["reason"])
    assert_unharmed(database, stored)


def test_ten_thousand_columns_import_with_every_row_accounted_for(
    database: Database, stored: Stored
) -> None:
    header = ["Mobile", *(f"Column {i}" for i in range(1, 10_000))]
    rows = [header]
    for n in range(1, 6):
        rows.append(["0" + phone_number(n)[3:], *(f"v{n}.{i}" for i in range(1, 10_000))])
    started = time.perf_counter()
    result = import_bytes(database, csv_bytes(rows))
    assert time.perf_counter() - started < 60
    assert (result.total_rows, result.inserted, result.rejected) == (5, 5, 0)
    contacts = new_contacts(database, stored)
    assert len(contacts) == 5
    assert len(contacts[0]["custom"]) == 9_999
    assert contacts[0]["custom"]["Column 9999"] == "v1.9999"
    assert_unharmed(database, stored)


# --------------------------------------------------------------------------------------------
# Hostile text: stored as inert text, never run; rejected rows never become live formulas
# --------------------------------------------------------------------------------------------


def test_html_script_and_formulas_in_names_are_stored_as_plain_text(
    database: Database, stored: Stored
) -> None:
    names = [SCRIPT_NAME, IMG_NAME, *FORMULAS[:4], "Robert'); DROP TABLE contact;--"]
    rows = [HEADER] + [[name, "Hostile", "0" + phone_number(100 + i)[3:]]
                       for i, name in enumerate(names)]
    result = import_bytes(database, csv_bytes(rows))
    assert (result.inserted, result.rejected) == (len(names), 0)
    assert sorted(c["first_name"] for c in new_contacts(database, stored)) == sorted(names)
    assert_unharmed(database, stored)


def test_hostile_text_on_a_stored_number_does_not_overwrite_the_member_by_default(
    database: Database, stored: Stored
) -> None:
    data = csv_bytes([
        ["First name", "Surname", "Email", "Mobile"],
        [SCRIPT_NAME, FORMULAS[0], "evil@example.org", "0" + phone_number(9001)[3:]],
        [IMG_NAME, "Filled", "", "0" + phone_number(9003)[3:]],
    ])
    result = import_bytes(database, data)
    # Ada has every field the row brings, so under update_empty her contact is unchanged.
    assert (result.updated, result.unchanged, result.rejected) == (1, 1, 0)
    after = _snapshot(database).contacts
    ada = next(c for c in after.values() if c["phone"] == phone_number(9001))
    assert (ada["first_name"], ada["last_name"], ada["email"]) == (
        "Ada", "Lovelace", "ada@example.org"
    )
    # update_empty fills only what was empty: the blank first name takes the file's text, as text.
    filled = next(c for c in after.values() if c["phone"] == phone_number(9003))
    assert (filled["first_name"], filled["last_name"]) == (IMG_NAME, "Emptyname")


def test_formula_cells_in_an_xlsx_are_not_evaluated_into_contacts(
    database: Database, stored: Stored
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["First name", "Surname", "Mobile"])
    sheet.append(['=HYPERLINK("http://evil.example/","x")', "=1+1", "07400 100001"])
    sheet.append(["=WEBSERVICE(\"http://evil.example/\")", "Formula", "=07400100002"])
    sheet.append(["Fine", "Person", "07400 100003"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = import_bytes(database, buffer.getvalue(), filename="members.xlsx")
    assert result.total_rows == 3
    for contact in new_contacts(database, stored):
        for name in ("first_name", "last_name", "phone"):
            assert not str(contact[name]).startswith(("=", "+", "@")) or name == "phone"
    assert result.rejected >= 1  # a formula instead of a phone number has no number to call
    assert_unharmed(database, stored)


def test_the_rejected_rows_csv_neutralises_cells_a_spreadsheet_would_execute(
    database: Database, stored: Stored
) -> None:
    rows = [HEADER] + [[formula, "Bad", "not a phone"] for formula in FORMULAS]
    result = import_bytes(database, csv_bytes(rows))
    assert result.rejected == len(FORMULAS)
    with database.session() as session:
        data = rejections_csv(session=session, batch_id=result.batch_id)
    text = data.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (
            f"the rejected-rows CSV would run {cell!r} in a spreadsheet"
        )
    for formula in FORMULAS:
        assert any(formula.strip() in cell for cell in cells), f"{formula!r} is lost"
    assert codecs.BOM_UTF8 == data[:3]
