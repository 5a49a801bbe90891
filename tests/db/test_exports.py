"""Exports against the hand-worked day in stats_fixture, on both backends: contents, audit,
neutralised cells and organisers only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from core import exports
from core.users import UserView
from db.engine import Database
from db.models import AuditEvent, Contact
from tests.db.stats_fixture import Day, add_attempt, make_volunteer
from tests.factories import make_campaign, make_contact


def as_view(user_id: int, role: str) -> UserView:
    return UserView(id=user_id, username=f"u{user_id}", name="Someone", email="x@example.org",
                    role=role, active=True, session_epoch=0)


@pytest.fixture
def organiser(database: Database) -> UserView:
    with database.write() as session:
        user = make_volunteer(session, "Olu", role="organiser")
        return as_view(user.id, "organiser")


def csv_rows(database: Database, kind: str, organiser: UserView,
             campaign_id: int | None) -> tuple[exports.ExportResult, list[dict[str, str]]]:
    out = io.BytesIO()
    result = exports.run_export(database=database, kind=kind, fmt="csv", out=out,
                                actor=organiser, campaign_id=campaign_id)
    text = out.getvalue().decode("utf-8-sig")
    return result, list(csv.DictReader(io.StringIO(text, newline="")))


def first_xlsx_attempt(database: Database, organiser: UserView,
                       campaign_id: int) -> tuple[list[str], tuple[Any, ...]]:
    """The attempts export as XLSX: its headings and the cells of its first row."""
    out = io.BytesIO()
    exports.run_export(database=database, kind="attempts", fmt="xlsx", out=out,
                       actor=organiser, campaign_id=campaign_id)
    sheet = load_workbook(io.BytesIO(out.getvalue()))["attempts"]
    return [c.value for c in sheet[1]], sheet[2]


def one_attempt(session: Any, name: str, **contact: Any) -> int:
    """A campaign with one refused call, to a contact made with `contact`; the campaign's id."""
    campaign = make_campaign(session, name=name)
    add_attempt(session, campaign=campaign, contact=make_contact(session, **contact),
                volunteer=None, at=datetime(2026, 7, 15, 9, 0, tzinfo=UTC), code="refused",
                duration=30)
    return campaign.id


def test_attempt_export_has_one_row_per_call_with_local_times(
        database: Database, day: Day, organiser: UserView) -> None:
    result, rows = csv_rows(database, "attempts", organiser, day.a)
    assert result.rows == len(rows) == 6
    first = rows[0]
    assert (first["campaign"], first["outcome"], first["volunteer"], first["first_name"],
            first["started_at (Europe/London)"], first["duration_seconds"],
            first["conversation"]) == (
        "NHS day", "no_answer", "Asha", "Ann", "2026-07-15T09:05:00+01:00", "10", "no")
    # Only "+" and digits: nothing a spreadsheet could run, so no apostrophe in front.
    assert first["phone"].startswith("+447400")
    assert sum(row["outside_window"] == "yes" for row in rows) == 2
    assert result.filename.startswith("ringround-attempts-nhs-day-")
    assert result.mime == "text/csv"


def test_contact_export_has_each_contacts_result(database: Database, day: Day,
                                                 organiser: UserView) -> None:
    _, rows = csv_rows(database, "contacts", organiser, day.a)
    by_id = {int(row["contact_id"]): row for row in rows}
    assert len(by_id) == 5
    c1, c3, c5 = (by_id[day.contacts[n]] for n in ("c1", "c3", "c5"))
    assert (c1["queue_status"], c1["reached"], c1["completed"], c1["do_not_call"]) == (
        "done", "yes", "yes", "no")
    assert (c3["reached"], c3["completed"], c3["do_not_call"]) == ("yes", "yes", "yes")
    assert (c5["queue_status"], c5["attempts"], c5["reached"]) == ("fresh", "0", "no")


def test_survey_answer_export_has_one_row_per_chosen_option(
        database: Database, day: Day, organiser: UserView) -> None:
    _, rows = csv_rows(database, "survey_answers", organiser, day.a)
    assert [(r["first_name"], r["answer"]) for r in rows] == [
        ("Cat", "Yes"), ("Cat", "NHS"), ("Ann", "Yes"), ("Ann", "NHS"), ("Ann", "Housing"),
        ("Ann", "more buses"), ("Bob", "No")]
    assert rows[0]["question"] == "Will you join Saturday's action?"


def test_recruit_export_lists_the_people_to_follow_up(database: Database, day: Day,
                                                      organiser: UserView) -> None:
    _, rows = csv_rows(database, "recruits", organiser, None)
    assert [(r["first_name"], r["constituency"], r["do_not_call"]) for r in rows] == [
        ("Ann", "Crewe and Nantwich", "no"), ("Cat", "Crewe and Nantwich", "yes")]


def test_suppression_export_lists_every_number(database: Database, day: Day,
                                               organiser: UserView) -> None:
    result, rows = csv_rows(database, "suppressions", organiser, None)
    assert result.rows == 3
    assert sorted(r["source"] for r in rows) == ["import", "organiser", "outcome"]


def test_every_export_is_audited_with_kind_rows_and_format(
        database: Database, day: Day, organiser: UserView) -> None:
    exports.run_export(database=database, kind="attempts", fmt="xlsx", out=io.BytesIO(),
                       actor=organiser, campaign_id=day.a)
    exports.run_export(database=database, kind="suppressions", fmt="csv", out=io.BytesIO(),
                       actor=organiser)
    with database.session() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "export")
                              .order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.details) for e in events] == [
        (organiser.id, {"kind": "attempts", "rows": 6, "format": "xlsx", "campaign_id": day.a}),
        (organiser.id, {"kind": "suppressions", "rows": 3, "format": "csv",
                        "campaign_id": None}),
    ]


def test_a_volunteer_cannot_export_and_nothing_is_written(database: Database,
                                                          day: Day) -> None:
    out = io.BytesIO()
    with pytest.raises(exports.ExportNotAllowed):
        exports.run_export(database=database, kind="recruits", fmt="csv", out=out,
                           actor=as_view(day.v1, "volunteer"), campaign_id=day.a)
    assert out.getvalue() == b""
    with database.session() as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all() == []


def test_unknown_kinds_formats_and_campaigns_are_refused(database: Database,
                                                         organiser: UserView) -> None:
    with pytest.raises(exports.UnknownExport):
        exports.run_export(database=database, kind="passwords", fmt="csv", out=io.BytesIO(),
                           actor=organiser)
    with pytest.raises(exports.UnknownExport):
        exports.run_export(database=database, kind="attempts", fmt="pdf", out=io.BytesIO(),
                           actor=organiser)
    with pytest.raises(exports.stats.CampaignNotFound):
        exports.run_export(database=database, kind="attempts", fmt="csv", out=io.BytesIO(),
                           actor=organiser, campaign_id=404)


def test_a_hostile_name_from_an_import_reaches_the_xlsx_as_text(
        database: Database, organiser: UserView) -> None:
    with database.write() as session:
        campaign_id = one_attempt(session, "Hostile",
                                  first_name='=HYPERLINK("http://evil.example","x")',
                                  last_name="@SUM(1)")
        session.execute(Contact.__table__.update().values(ward="-Crewe"))
    header, row = first_xlsx_attempt(database, organiser, campaign_id)
    cells = {name: row[i] for i, name in enumerate(header)}
    assert cells["first_name"].value == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert cells["last_name"].value == "'@SUM(1)"
    assert cells["ward"].value == "'-Crewe"
    assert all(cell.data_type != "f" for cell in row)


def test_an_export_read_in_small_chunks_has_every_row_in_order(
        database: Database, organiser: UserView, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "CHUNK_ROWS", 7)
    with database.write() as session:
        campaign = make_campaign(session, name="Big")
        contact = make_contact(session)
        for n in range(50):
            add_attempt(session, campaign=campaign, contact=contact, volunteer=None,
                        at=datetime(2026, 7, 15, 9, n, tzinfo=UTC), code="no_answer")
        campaign_id = campaign.id
    result, rows = csv_rows(database, "attempts", organiser, campaign_id)
    assert result.rows == 50
    assert [int(r["attempt_id"]) for r in rows] == sorted(int(r["attempt_id"]) for r in rows)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+447400123456", "+447400123456"),  # an E.164 number stays as people write it
        ("+44", "+44"),
        ("+1+1", "'+1+1"),  # a sum, not a number
        ("+SUM(A1)", "'+SUM(A1)"),
        ("+44 7400 123456", "'+44 7400 123456"),  # only + and digits go through untouched
        ("=1+1", "'=1+1"),
        ("-2", "'-2"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("Crewe", "Crewe"),
        (42, 42),
    ],
)
def test_only_a_plain_international_number_keeps_its_leading_plus(value, expected) -> None:
    assert exports.neutralise_cell(value) == expected


def test_phone_numbers_reach_the_xlsx_as_plus_and_digits_text(
        database: Database, organiser: UserView) -> None:
    with database.write() as session:
        campaign_id = one_attempt(session, "Phones", phone="+447400123456")
    header, row = first_xlsx_attempt(database, organiser, campaign_id)
    phone = row[header.index("phone")]
    assert (phone.value, phone.data_type) == ("+447400123456", "s")
    assert "started_at (Europe/London)" in header


def test_a_campaigns_export_is_in_its_own_zone_and_names_it(
        database: Database, organiser: UserView) -> None:
    with database.write() as session:
        campaign = make_campaign(session, name="Paris", timezone="Europe/Paris")
        contact = make_contact(session)
        add_attempt(session, campaign=campaign, contact=contact, volunteer=None,
                    at=datetime(2026, 7, 15, 9, 0, tzinfo=UTC), code="refused", duration=30)
        campaign_id = campaign.id
    _, rows = csv_rows(database, "attempts", organiser, campaign_id)
    assert rows[0]["started_at (Europe/Paris)"] == "2026-07-15T11:00:00+02:00"


def test_contact_results_include_the_promised_callback_time(
        database: Database, organiser: UserView) -> None:
    from tests.factories import queue_contacts

    with database.write() as session:
        campaign = make_campaign(session, name="Callbacks")
        waiting, called = make_contact(session), make_contact(session)
        entries = queue_contacts(session, campaign, [waiting, called])
        entries[0].status = "callback"
        entries[0].due_at = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
        entries[1].status = "done"
        entries[1].due_at = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
        ids = {waiting.id: "waiting", called.id: "called"}
        campaign_id = campaign.id
    _, rows = csv_rows(database, "contacts", organiser, campaign_id)
    got = {ids[int(r["contact_id"])]: r["callback_at (Europe/London)"] for r in rows}
    assert got == {"waiting": "2026-12-05T14:30:00+00:00", "called": ""}


def test_the_contact_export_carries_the_note_beside_the_number(database: Database, day: Day,
                                                              organiser: UserView) -> None:
    with database.write() as session:
        c1 = session.get(Contact, day.contacts["c1"])
        c3 = session.get(Contact, day.contacts["c3"])
        assert c1 is not None and c3 is not None
        c1.phone_notes = {c1.phone: "after 6pm", "+441270212345": "work"}
        c3.phone_notes = {c3.phone: "=HYPERLINK(\"x\")"}
    _, rows = csv_rows(database, "contacts", organiser, day.a)
    by_id = {int(row["contact_id"]): row for row in rows}
    assert by_id[day.contacts["c1"]]["phone_note"] == "after 6pm"
    assert by_id[day.contacts["c3"]]["phone_note"] == "'=HYPERLINK(\"x\")"  # never a formula
    assert by_id[day.contacts["c5"]]["phone_note"] == ""
