"""AppTest of the import page: upload -> detected format -> map -> import -> accounting ->
rejected rows -> history -> undo. AppTest 1.67 drives st.file_uploader directly."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlmodel import col, select

from db.models import Contact, ImportBatch, Suppression
from tests.factories import make_user

FILE = (
    "Forename;Surname;Mobile;Branch;Notes\n"
    "Zoë;Patel;07400 123451;North;likes tea\n"
    "Ben;Jones;+44 7400 123451;South;\n"
    "Cat;Hill;07700 900123;East;drama number\n"
    "Dan;Rao;0044 7400 123452;West;\n"
).encode("cp1252")


def organiser(app_db):
    with app_db.write() as session:
        return make_user(session, role="organiser")


def test_upload_map_and_import_shows_the_accounting_and_rejected_rows(make_app, app_db) -> None:
    at = make_app(user=organiser(app_db), page="pages/contacts_import.py")
    assert not at.exception
    at.file_uploader(key="import_file").set_value(("members.csv", FILE, "text/csv"))
    at.run()
    assert not at.exception
    assert "cp1252" in at.info[0].value and "semicolon" in at.info[0].value
    assert [at.selectbox(key=f"import_map_{i}").value for i in range(5)] == [
        "first_name", "last_name", "mobile", "custom", "custom"]
    at.selectbox(key="import_map_4").set_value("ignore")  # drop the Notes column
    at.radio(key="import_policy").set_value("update_empty")
    at.button(key="import_run").click()
    at.run()
    assert not at.exception
    table = at.table[0].value
    # rows, inserted, updated, unchanged, merged, rejected, suppressed, flagged, warnings
    assert list(table["count"]) == [4, 2, 0, 0, 1, 1, 0, 0, 0]
    assert any(b.label.startswith("Download rejected rows") for b in at.get("download_button"))
    with app_db.session() as session:
        contacts = session.exec(select(Contact).order_by(col(Contact.id))).all()
        batch = session.exec(select(ImportBatch)).one()
    assert [(c.first_name, c.phone, c.custom) for c in contacts] == [
        ("Zoë", "+447400123451", {"Branch": "North"}),
        ("Dan", "+447400123452", {"Branch": "West"}),
    ]
    assert batch.mapping["Notes"] == "ignore" and batch.status == "done"


def test_an_unreadable_upload_says_why_and_imports_nothing(make_app, app_db) -> None:
    at = make_app(user=organiser(app_db), page="pages/contacts_import.py")
    at.file_uploader(key="import_file").set_value(("book.xlsx", b"PK\x03\x04garbage", "x"))
    at.run()
    assert not at.exception
    assert "cannot be read" in at.error[0].value
    with app_db.session() as session:
        assert session.exec(select(ImportBatch)).all() == []


def test_an_import_can_be_undone_from_the_history(make_app, app_db) -> None:
    at = make_app(user=organiser(app_db), page="pages/contacts_import.py")
    at.file_uploader(key="import_file").set_value(("members.csv", FILE, "text/csv"))
    at.run()
    at.button(key="import_run").click()
    at.run()
    at.checkbox(key="import_undo_confirm").check()
    at.button(key="import_undo_submit").click()
    at.run()
    assert not at.exception
    assert "undone: 2 contacts removed" in at.success[0].value
    with app_db.session() as session:
        assert session.exec(select(Contact)).all() == []
        assert session.exec(select(ImportBatch.status)).one() == "undone"



def two_sheet_workbook() -> bytes:
    """Notes on the first sheet; members on the second under two title rows and a blank one."""
    book = Workbook()
    notes = book.active
    notes.title = "Read me"
    notes.append(["Exported for the phone bank; do not share"])
    members = book.create_sheet("Members")
    members.append(["Crewe branch members"])
    members.append(["Printed 1 Dec 2026"])
    members.append([])
    members.append(["Full name", "Mobile", "May we phone you?", "Ward"])
    members.append(["Wright, Shona", 7400123451.0, "Yes", "Crewe East"])
    members.append(["Mr & Mrs Morris", "07400 123452 (after 6pm)", "No", "Crewe East"])
    members.append(["Total", 2, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_sheet_with_data_and_its_header_row_are_found_and_can_be_changed(
    make_app, app_db
) -> None:
    at = make_app(user=organiser(app_db), page="pages/contacts_import.py")
    at.file_uploader(key="import_file").set_value(("members.xlsx", two_sheet_workbook(), "x"))
    at.run()
    assert not at.exception
    assert at.selectbox(key="import_sheet").options == ["Read me", "Members"]
    assert at.selectbox(key="import_sheet").value == "Members"
    assert at.selectbox(key="import_header_row_Members").value == 4
    assert "the sheet named below, header on row 4" in at.info[0].value
    assert "Sheet: Members" in [t.value for t in at.text]
    assert [at.selectbox(key=f"import_map_{i}").value for i in range(4)] == [
        "full_name", "mobile", "do_not_call", "ward"]
    assert at.text_input(key="import_dnc_2").value.startswith("no, n, false, 0")

    # Picking another header row re-reads the columns from that row.
    at.selectbox(key="import_header_row_Members").set_value(2)
    at.run()
    assert "header on row 2" in at.info[0].value
    at.selectbox(key="import_header_row_Members").set_value(4)
    at.run()
    # Picking the other sheet reads it instead (it has no phone column, so nothing imports).
    at.selectbox(key="import_sheet").set_value("Read me")
    at.run()
    assert "Sheet: Read me" in [t.value for t in at.text]
    at.selectbox(key="import_sheet").set_value("Members")
    at.run()
    assert at.selectbox(key="import_header_row_Members").value == 4, "the pick was not kept"

    at.button(key="import_run").click()
    at.run()
    assert not at.exception
    # rows, inserted, updated, unchanged, merged, rejected, suppressed, flagged, warnings
    assert list(at.table[0].value["count"]) == [2, 2, 0, 0, 0, 0, 1, 1, 0]
    with app_db.session() as session:
        contacts = session.exec(select(Contact).order_by(col(Contact.id))).all()
        suppressed = session.exec(select(Suppression)).all()
        batch = session.exec(select(ImportBatch)).one()
    assert [(c.first_name, c.last_name, c.phone) for c in contacts] == [
        ("Shona", "Wright", "+447400123451"), ("Mr & Mrs Morris", "", "+447400123452")]
    assert [(s.phone, s.source, s.import_batch_id) for s in suppressed] == [
        ("+447400123452", "import", batch.id)]
    assert batch.options["sheet"] == "Members" and batch.options["header_row"] == 4
