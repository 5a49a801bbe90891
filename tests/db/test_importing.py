"""Importing into a real database (SQLite and PostgreSQL): merge by number, policies, accounting,
suppression, rejected rows, progress, failure and undo."""

from __future__ import annotations

import csv
import io
import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from core.importing import (
    ImportFailed,
    ImportResult,
    ImportUndoError,
    list_batches,
    list_rejections,
    list_warnings,
    purge_old_rejections,
    rejections_csv,
    run_import,
    undo_batch,
)
from core.suppression import add_suppression
from db.engine import Database
from db.models import AuditEvent, Contact, ImportBatch
from tests.factories import make_contact, phone_number


def do_import(database: Database, data: str | bytes, **options: Any) -> ImportResult:
    raw = data.encode() if isinstance(data, str) else data
    options.setdefault("filename", "members.csv")
    result = run_import(database=database, stream=io.BytesIO(raw), **options)
    assert (result.inserted + result.updated + result.unchanged + result.merged
            + result.rejected) == result.total_rows
    with database.session() as session:
        batch = session.get(ImportBatch, result.batch_id)
        assert batch is not None
        stored = (batch.total_rows, batch.inserted, batch.updated, batch.unchanged,
                  batch.merged, batch.rejected)
    assert stored == (result.total_rows, result.inserted, result.updated, result.unchanged,
                      result.merged, result.rejected)
    return result


def contacts(database: Database) -> dict[str, dict[str, Any]]:
    with database.session() as session:
        rows = session.exec(select(Contact).order_by(col(Contact.id))).all()
    return {
        c.phone: {"first_name": c.first_name, "last_name": c.last_name, "type": c.phone_type,
                  "others": c.other_phones, "tags": c.tags, "tps": c.tps,
                  "custom": c.custom, "constituency": c.constituency}
        for c in rows
    }


def accounting(result: ImportResult) -> tuple[int, int, int, int, int]:
    return (result.total_rows, result.inserted, result.updated, result.merged, result.rejected)


MESSY_FILES = [
    pytest.param(
        "First name,Surname,Phone\n"
        "Asha,Patel,07400 123451\n"
        "Ben,Jones,+447400123452\n"
        "Cara,Hill,0044 7400 123453\n"
        "Dev,Rao,+44 (0)7400 123454\n"
        "Eve,Lund,(07400) 123-455\n"
        "Fay,Orr,07400.123.456\n",
        {"+447400123451", "+447400123452", "+447400123453", "+447400123454",
         "+447400123455", "+447400123456"},
        (6, 6, 0, 0, 0),
        id="every UK phone format",
    ),
    pytest.param(
        "Name;Mobile;Landline\n"
        "Asha Patel;07400 123451;01270 212345\n"
        "Ben Jones;+44 7400 123451;\n"
        "Cara Hill;;01270 212346\n"
        "Dev Rao;;(01270) 212346\n",
        {"+447400123451", "+441270212346"},
        (4, 2, 0, 2, 0),
        id="duplicates in the file are merged by number, semicolons",
    ),
    pytest.param(
        "Phone\tName\n07700 900123\tDrama\n\tNo number\nhello\tJunk\n07400 123451\tReal\n",
        {"+447400123451"},
        (4, 1, 0, 0, 3),
        id="bad rows are rejected, tab separated",
    ),
    pytest.param(
        "\ufeffTelephone,Forename,Branch\r\n\"07400 123451\",\"Zoë\",\"North,\nEast\"\r\n",
        {"+447400123451"},
        (1, 1, 0, 0, 0),
        id="BOM, CRLF, quoted newline",
    ),
]


@pytest.mark.parametrize(("data", "phones", "expected"), MESSY_FILES)
def test_messy_files_import_with_every_row_accounted_for(
    database: Database, data: str, phones: set[str], expected: tuple[int, ...]
) -> None:
    result = do_import(database, data)
    assert accounting(result) == expected
    assert set(contacts(database)) == phones


def test_a_cp1252_file_keeps_its_accents(database: Database) -> None:
    do_import(database, "Forename;Phone\nZoë;07400 123451\nRenée;07400 123452\n".encode("cp1252"))
    assert [c["first_name"] for c in contacts(database).values()] == ["Zoë", "Renée"]


def test_two_people_on_one_landline_are_one_contact_and_mobiles_are_preferred(
    database: Database,
) -> None:
    result = do_import(
        database,
        "First,Last,Mobile,Home phone,Tags\n"
        "Ann,Lee,,01270 212345,nhs\n"
        "Bob,Lee,,01270 212345,unison\n"
        "Cat,Ng,07400 123451,01270 212399,\n",
    )
    assert accounting(result) == (3, 2, 0, 1, 0)
    stored = contacts(database)
    assert stored["+441270212345"]["first_name"] == "Ann"  # update_empty keeps the first name
    assert stored["+441270212345"]["tags"] == ",nhs,unison,"
    assert stored["+447400123451"]["type"] == "mobile"
    assert stored["+447400123451"]["others"] == ["+441270212399"]


FILE = (
    "First name,Last name,Phone,Constituency,Branch\n"
    "Asha,Patel-New,07400 123451,Bedford,North\n"
)


@pytest.mark.parametrize(
    ("policy", "expected_row", "expected_accounting"),
    [
        ("update_empty", {"first_name": "Asha", "last_name": "Patel",
                          "constituency": "Bedford", "custom": {"Branch": "North"}},
         (1, 0, 1, 0, 0)),
        ("overwrite", {"first_name": "Asha", "last_name": "Patel-New",
                       "constituency": "Bedford", "custom": {"Branch": "North"}},
         (1, 0, 1, 0, 0)),
        ("skip", {"first_name": "", "last_name": "Patel", "constituency": "", "custom": {}},
         (1, 0, 0, 1, 0)),
    ],
)
def test_a_number_already_stored_follows_the_duplicate_policy(
    database: Database, policy: str, expected_row: dict[str, Any],
    expected_accounting: tuple[int, ...],
) -> None:
    with database.write() as session:
        make_contact(session, phone=phone_number(23451), first_name="", last_name="Patel",
                     constituency="")
    result = do_import(database, FILE, policy=policy)
    assert accounting(result) == expected_accounting
    row = contacts(database)["+447400123451"]
    assert {k: row[k] for k in expected_row} == expected_row


def test_suppressed_numbers_are_stored_but_counted_as_suppressed(database: Database) -> None:
    with database.write() as session:
        add_suppression(session=session, phone="+447400123452", reason="asked")
    result = do_import(database, "Phone,TPS\n07400123451,no\n07400123452,yes\n")
    assert result.suppressed == 1 and result.inserted == 2
    assert contacts(database)["+447400123452"]["tps"] is True


def test_rejected_rows_download_as_csv_with_row_number_and_reason(database: Database) -> None:
    result = do_import(database, "Name,Phone\nGood,07400123451\nDrama,07700 900123\n,\nX,\n")
    assert result.rejected == 2  # the all-blank line is not a row
    with database.session() as session:
        table = list(csv.reader(io.StringIO(
            rejections_csv(session=session, batch_id=result.batch_id).decode("utf-8-sig"))))
        assert list_rejections(session=session, batch_id=result.batch_id)[0]["row_number"] == 3
    assert table == [
        ["row", "reason", "Name", "Phone"],
        ["3", "Phone: not a valid phone number", "Drama", "07700 900123"],
        ["5", "no phone number", "X", ""],
    ]


def test_rejected_rows_lose_their_raw_text_after_thirty_days_but_keep_the_count(
    database: Database,
) -> None:
    old = do_import(database, "Name,Phone\nDrama,07700 900123\nGood,07400123451\n")
    new = do_import(database, "Name,Phone\nAlso drama,07700 900124\n")
    now = datetime.now(UTC)
    with database.write() as session:
        session.get(ImportBatch, old.batch_id).created_at = now - timedelta(days=31)
        session.get(ImportBatch, new.batch_id).created_at = now - timedelta(days=29)
    with database.write() as session:
        assert purge_old_rejections(session=session, now=now) == 1
    with database.write() as session:
        assert purge_old_rejections(session=session, now=now) == 0  # once, not every hour
    with database.session() as session:
        purged = list_rejections(session=session, batch_id=old.batch_id)
        kept = list_rejections(session=session, batch_id=new.batch_id)
        batch = session.get(ImportBatch, old.batch_id)
        events = session.exec(select(AuditEvent.action)).all()
    assert purged == [{"row_number": 2, "reason": "Phone: not a valid phone number", "raw": {}}]
    assert kept[0]["raw"] == {"Name": "Also drama", "Phone": "07700 900124"}
    assert (batch.total_rows, batch.inserted, batch.rejected) == (2, 1, 1)
    assert events.count("rejected_rows_purged") == 1


def test_accounting_holds_across_chunks_and_progress_reports_rows_and_speed(
    database: Database,
) -> None:
    lines = ["Phone,Name"]
    for n in range(1, 26):
        lines.append(f"07400 {100000 + (n % 20):06d},P{n}")  # 5 repeats across chunks
    lines.append("07700 900001,Drama")
    seen = []
    result = do_import(database, "\n".join(lines) + "\n", chunk_rows=7,
                       progress=seen.append)
    assert accounting(result) == (26, 20, 0, 5, 1)
    assert [p.rows_done for p in seen] == [7, 14, 21, 26]
    assert all(p.rows_per_second > 0 for p in seen) and seen[-1].fraction == 1.0


def test_an_xlsx_file_imports_with_custom_columns(database: Database) -> None:
    workbook = Workbook()
    workbook.active.append(["Forename", "Mobile", "Shift"])
    workbook.active.append(["Asha", 7400123451, "Saturday"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = do_import(database, buffer.getvalue(), filename="members.xlsx")
    assert accounting(result) == (1, 1, 0, 0, 0)
    assert contacts(database)["+447400123451"]["custom"] == {"Shift": "Saturday"}


def test_undo_deletes_inserted_contacts_and_restores_updated_ones(database: Database) -> None:
    with database.write() as session:
        make_contact(session, phone=phone_number(23451), first_name="Old", last_name="Name",
                     tags=",a,")
    result = do_import(database, "First,Last,Phone,Tags\nNew,Person,07400 123451,b\n"
                       "Zed,Zee,07400 123452,\n", policy="overwrite")
    assert contacts(database)["+447400123451"]["first_name"] == "New"
    with database.write() as session:
        assert undo_batch(session=session, batch_id=result.batch_id, actor_id=None) == {
            "deleted": 1, "restored": 1}
    stored = contacts(database)
    assert list(stored) == ["+447400123451"]
    assert (stored["+447400123451"]["first_name"], stored["+447400123451"]["tags"]) == (
        "Old", ",a,")
    with database.session() as session:
        assert list_batches(session=session)[0]["status"] == "undone"
        assert session.exec(select(AuditEvent.action)).all() == ["import_undone"]
    with database.write() as session, pytest.raises(ImportUndoError, match="already"):
        undo_batch(session=session, batch_id=result.batch_id)


def test_a_file_that_breaks_part_way_marks_the_batch_failed_and_can_be_undone(
    database: Database,
) -> None:
    good = "".join(f"07400 {100000 + n:06d},P{n}\n" for n in range(4000))
    data = ("Phone,Name\n" + good).encode() + b"07400 123999,Ren\xe9e\n"
    with pytest.raises(ImportFailed, match="not utf-8") as caught:
        run_import(database=database, stream=io.BytesIO(data), filename="x.csv",
                   encoding="utf-8", chunk_rows=1000)
    with database.session() as session:
        batch = session.get(ImportBatch, caught.value.result.batch_id)
        assert batch is not None and batch.status == "failed" and batch.inserted >= 1000
    with database.write() as session:
        undo_batch(session=session, batch_id=batch.id)
    assert contacts(database) == {}


def test_a_number_stored_by_someone_else_mid_import_is_merged_not_duplicated(
    database: Database,
) -> None:
    lines = "Phone,Name\n" + "".join(f"07400 {100000 + n:06d},P{n}\n" for n in range(10))

    def meanwhile(progress: Any) -> None:
        if progress.rows_done == 5:  # the table was empty at the start; now it is not
            with database.write() as session:
                make_contact(session, phone=phone_number(8), first_name="")

    result = do_import(database, lines, chunk_rows=5, progress=meanwhile)
    assert accounting(result) == (10, 9, 1, 0, 0)
    assert contacts(database)[phone_number(8)]["first_name"] == "P8"


def test_parsing_in_a_worker_process_gives_the_same_import(sqlite_database: Database) -> None:
    rows = "".join(f"07400 {100000 + n % 40:06d},P{n},{'bad' if n % 17 == 0 else ''}\n"
                   for n in range(60))
    data = "Phone,Name,Landline\n" + rows
    result = do_import(sqlite_database, data, chunk_rows=8, workers=1)
    in_process = run_import(database=sqlite_database, stream=io.BytesIO(data.encode()),
                            filename="again.csv", chunk_rows=8, workers=0, policy="skip")
    # A "bad" landline beside a good phone keeps the row, with a warning (issue #14).
    assert accounting(result) == (60, 40, 0, 20, 0)
    assert accounting(in_process) == (60, 0, 0, 60, 0)
    assert (result.warnings, in_process.warnings) == (4, 4)
    with sqlite_database.session() as session:
        assert [w["row_number"] for w in list_warnings(session=session,
                                                      batch_id=result.batch_id)] == [
            2, 19, 36, 53]


def test_a_duplicate_row_fills_the_custom_fields_the_first_left_empty(database: Database) -> None:
    do_import(database, "Phone,Branch,Shift\n07400 123451,,Sat\n+447400123451,North,Sun\n")
    assert contacts(database)["+447400123451"]["custom"] == {"Shift": "Sat", "Branch": "North"}


def notes(database: Database) -> dict[str, dict[str, str]]:
    with database.session() as session:
        return {c.phone: c.phone_notes for c in session.exec(select(Contact))}


def test_words_beside_a_number_are_stored_as_its_note(database: Database) -> None:
    result = do_import(database, (
        "Name,Mobile,Home phone\n"
        "Ann,07400 101015 (after 6pm),020 7946 0100 home\n"
        "Bob,07400 106 900 (Mum's),\n"
        "Cat,07400103075 / 029 2018 0063,\n"
        "Dan,07400 123451,\n"))
    assert accounting(result) == (4, 4, 0, 0, 0)
    assert notes(database) == {
        "+447400101015": {"+447400101015": "after 6pm", "+442079460100": "home"},
        "+447400106900": {"+447400106900": "Mum's"},
        "+447400103075": {},
        "+447400123451": {},
    }


def test_a_later_row_adds_a_note_and_undo_takes_it_away(database: Database) -> None:
    do_import(database, "Name,Mobile\nAnn,07400 101015\nBob,07400 123451 (work)\n")
    # In the same file a duplicate row fills the note the first row lacked.
    do_import(database, "Name,Mobile\nCat,07400 123452\nCat,07400123452 (evenings)\n")
    again = do_import(database, "Name,Mobile\nAnn,07400 101015 (after 6pm)\n"
                                "Bob,07400 123451 (home)\n")
    assert accounting(again) == (2, 0, 1, 0, 0) and again.unchanged == 1  # Bob's note kept
    assert notes(database) == {"+447400101015": {"+447400101015": "after 6pm"},
                               "+447400123451": {"+447400123451": "work"},
                               "+447400123452": {"+447400123452": "evenings"}}
    with database.write() as session:
        undo_batch(session=session, batch_id=again.batch_id, actor_id=None)
    assert notes(database)["+447400101015"] == {}


class LazyPool:
    """An executor whose work runs only when its result is asked for, so that the parsing
    "process" is always behind: the writer, finding it would wait, asks for blocks back."""

    def __init__(self) -> None:
        self.handed_back = 0  # blocks whose rows came back unparsed

    def submit(self, fn: Any, *args: Any) -> Any:
        from concurrent.futures import Future

        pool = self

        class Lazy(Future):  # type: ignore[type-arg]
            def done(self) -> bool:
                return False

            def result(self, timeout: float | None = None) -> Any:
                from core.importing.run import RowsToParse

                parsed = fn(*args)
                pool.handed_back += any(isinstance(p, RowsToParse) for p in parsed.items)
                return parsed

        return Lazy()


def test_rows_left_to_the_writer_when_the_parser_is_behind_import_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from core.importing import run as running

    monkeypatch.setattr(running, "BLOCK_BYTES", 97)
    rows = "".join(f'07400 {100000 + n % 70:06d},"P{n}\nline",{"bad" if n % 13 == 0 else ""}\n'
                   for n in range(300))
    data = ("Phone,Name,Landline\n" + rows + "Total,,\n").encode()
    job = running.ParseJob(headers=("Phone", "Name", "Landline"),
                           mapping=(("Phone", "phone"), ("Name", "custom"),
                                    ("Landline", "landline")),
                           region="GB", batch_id=1, refusals=(), all_refused=False,
                           chunk_rows=8, csv=running.FileFormat(kind="csv", encoding="utf-8",
                                                                delimiter=","))

    def written(pool: Any, hand_back: Any = None) -> list[Any]:
        chunks = list(running._csv_chunks(io.BytesIO(data), job, pool, hand_back))
        assert [c.last_row for c in chunks] == sorted({c.last_row for c in chunks})
        return [(c.records, c.rejections, c.warnings) for c in chunks]

    def flat(chunks: list[Any]) -> list[list[Any]]:
        return [sum((c[i] for c in chunks), []) for i in range(3)]

    lazy = LazyPool()
    hand_back = multiprocessing.get_context("spawn").Value("i", 0)
    running._start_parsing_process(hand_back)  # as the pool's initializer does
    try:
        here, split = written(None), written(lazy, hand_back)
    finally:
        running._start_parsing_process(None)
    assert flat(split) == flat(here)
    assert len(flat(here)[0]) == 300 and len(flat(here)[2]) == 24  # every row, "bad" warned
    assert lazy.handed_back >= 10  # (of the 66 blocks, every one after a wait)
