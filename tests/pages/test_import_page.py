"""AppTest of the import page: upload -> detected format -> map -> import -> accounting ->
rejected rows -> history -> undo. AppTest 1.67 drives st.file_uploader directly."""

from __future__ import annotations

from sqlmodel import col, select

from db.models import Contact, ImportBatch
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
    assert list(table["count"]) == [4, 2, 0, 1, 1, 0]
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

