"""Contacts on both backends: find, history, edit, erasure on request, note retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.contacts import (
    ContactError,
    contact_history,
    erase_contact,
    find_contacts,
    get_contact,
    get_notes_retention_months,
    months_before,
    notes_retention_status,
    purge_old_notes,
    set_notes_retention_months,
    update_contact,
)
from core.suppression import add_suppression, is_suppressed
from db.engine import Database
from db.models import (
    AuditEvent,
    CallAttempt,
    Contact,
    QueueEntry,
    SmsMessage,
    SurveyAnswer,
)
from tests.factories import (
    make_campaign,
    make_contact,
    make_question,
    make_user,
    phone_number,
    queue_contacts,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def called(database: Database) -> dict[str, int]:
    """Asha, called once with notes and an answer, texted once and queued; Ben untouched."""
    with database.write() as session:
        volunteer = make_user(session, name="Vic Volunteer")
        campaign = make_campaign(session, name="NHS day")
        question = make_question(session, campaign)
        asha = make_contact(session, first_name="Asha", last_name="Patel",
                            phone=phone_number(11), other_phones=["+441270212345"],
                            email="asha@example.org", membership_number="M-77")
        ben = make_contact(session, first_name="Ben", last_name="Pater", phone=phone_number(12))
        queue_contacts(session, campaign, [asha, ben])
        attempt = CallAttempt(idempotency_key="a1", campaign_id=campaign.id,
                              contact_id=asha.id, volunteer_id=volunteer.id,
                              outcome_code="completed", notes="Works nights, call after 6",
                              started_at=NOW - timedelta(days=1))
        session.add(attempt)
        session.flush()
        session.add(SurveyAnswer(attempt_id=attempt.id, campaign_id=campaign.id,
                                 question_id=question.id, contact_id=asha.id, value="Yes"))
        session.add(SmsMessage(campaign_id=campaign.id, contact_id=asha.id, body="Thanks Asha"))
        return {"asha": asha.id, "ben": ben.id, "campaign": campaign.id,
                "volunteer": volunteer.id}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("asha", ["Asha Patel"]),
        ("pat", ["Asha Patel", "Ben Pater"]),
        ("Ben Pat", ["Ben Pater"]),
        ("07400 100011", ["Asha Patel"]),
        ("+44 (0)7400 100011", ["Asha Patel"]),
        ("100012", ["Ben Pater"]),
        ("01270 212345", ["Asha Patel"]),  # one of her other numbers
        ("ASHA@example.org", ["Asha Patel"]),
        ("M-77", ["Asha Patel"]),
        ("nobody", []),
        ("%", []),
    ],
)
def test_contacts_are_found_by_name_number_email_or_membership_number(
    database: Database, called: dict[str, int], query: str, expected: list[str]
) -> None:
    with database.session() as session:
        assert [c.name for c in find_contacts(session=session, query=query)] == expected


def test_history_shows_calls_with_answers_and_notes_queues_and_messages(
    database: Database, called: dict[str, int]
) -> None:
    with database.session() as session:
        history = contact_history(session=session, contact_id=called["asha"])
    assert [(c["campaign"], c["outcome"], c["volunteer"], c["notes"], c["answers"])
            for c in history["calls"]] == [
        ("NHS day", "completed", "Vic Volunteer", "Works nights, call after 6",
         "Will you join Saturday's action?: Yes")]
    assert [(q["campaign"], q["status"]) for q in history["queues"]] == [("NHS day", "fresh")]
    assert [m["body"] for m in history["messages"]] == ["Thanks Asha"]


def test_editing_a_contact_normalises_and_checks_its_values(
    database: Database, called: dict[str, int]
) -> None:
    with database.write() as session:
        detail = update_contact(session=session, contact_id=called["asha"], changes={
            "first_name": " Asha ", "postcode": "cw12ab", "tags": "NHS; Nurse",
            "tps": True, "phone": "07400 100099"})
    assert (detail.first_name, detail.postcode, detail.tags, detail.tps) == (
        "Asha", "CW1 2AB", ["nhs", "nurse"], True)
    assert detail.phone == "+447400100099"
    assert detail.other_phones == [phone_number(11), "+441270212345"]  # the old number is kept
    for changes, message in [({"phone": "07700 900123"}, "not a valid"),
                             ({"phone": phone_number(12)}, "already has that number"),
                             ({"postcode": "X" * 17}, "longer than 16"),
                             ({"id": 5}, "cannot be edited")]:
        with database.write() as session, pytest.raises(ContactError, match=message):
            update_contact(session=session, contact_id=called["asha"], changes=changes)


def test_erasure_removes_the_contact_answers_notes_and_messages_but_keeps_totals(
    database: Database, called: dict[str, int]
) -> None:
    with database.write() as session:
        summary = erase_contact(session=session, contact_id=called["asha"],
                                actor_id=called["volunteer"])
    assert summary == {"answers": 1, "notes": 1, "messages": 1, "signups": 0,
                       "rejected_rows": 0, "suppression_kept": False}
    with database.session() as session:
        assert get_contact(session=session, contact_id=called["asha"]) is None
        assert session.exec(select(SurveyAnswer)).all() == []
        assert session.exec(select(SmsMessage)).all() == []
        attempt = session.exec(select(CallAttempt)).one()
        assert (attempt.contact_id, attempt.notes, attempt.outcome_code) == (
            None, "", "completed")
        assert [q.contact_id for q in session.exec(select(QueueEntry))] == [called["ben"]]
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "contact_erased")
                             ).one()
        assert event.target == f"contact:{called['asha']}"
        assert "Asha" not in str(event.details) and "7400" not in str(event.details)
        assert session.get(Contact, called["ben"]) is not None


def test_erasure_keeps_only_the_do_not_call_entry_of_someone_who_asked(
    database: Database, called: dict[str, int]
) -> None:
    with database.write() as session:
        add_suppression(session=session, phone=phone_number(11), reason="asked", source="outcome")
    with database.write() as session:
        assert erase_contact(session=session, contact_id=called["asha"])["suppression_kept"]
    with database.write() as session:
        assert erase_contact(session=session, contact_id=called["ben"],
                             do_not_call=True)["suppression_kept"]
    with database.session() as session:
        assert is_suppressed(session=session, phone=phone_number(11))
        assert is_suppressed(session=session, phone=phone_number(12))
        assert session.exec(select(Contact)).all() == []
    with database.write() as session, pytest.raises(ContactError, match="no such"):
        erase_contact(session=session, contact_id=called["asha"])


def test_note_retention_is_off_by_default_and_purges_only_old_notes(database: Database) -> None:
    with database.write() as session:
        campaign = make_campaign(session)
        contact = make_contact(session)
        for key, age_days, notes in [("old", 200, "old note"), ("new", 20, "new note"),
                                     ("blank", 300, "")]:
            session.add(CallAttempt(idempotency_key=key, campaign_id=campaign.id,
                                    contact_id=contact.id, outcome_code="completed",
                                    notes=notes, started_at=NOW - timedelta(days=age_days)))
    with database.write() as session:
        assert get_notes_retention_months(session=session) is None
        assert purge_old_notes(session=session, now=NOW) == 0
        set_notes_retention_months(session=session, months=6)
    with database.session() as session:
        assert notes_retention_status(session=session, now=NOW)["due"] == 1
    with database.write() as session:
        assert purge_old_notes(session=session, now=NOW) == 1
    with database.session() as session:
        notes = {a.idempotency_key: a.notes for a in session.exec(select(CallAttempt))}
        status = notes_retention_status(session=session, now=NOW)
        assert session.exec(select(AuditEvent.action)).all() == ["notes_purged"]
    assert notes == {"old": "", "new": "new note", "blank": ""}
    assert (status["months"], status["due"], status["last_purge_count"]) == (6, 0, 1)
    with database.write() as session:
        set_notes_retention_months(session=session, months=None)
        assert get_notes_retention_months(session=session) is None
        with pytest.raises(ContactError):
            set_notes_retention_months(session=session, months=0)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 13, datetime(2024, 12, 15, tzinfo=UTC)),
        (datetime(2028, 5, 31, tzinfo=UTC), 3, datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_months_are_calendar_months(moment: datetime, months: int, expected: datetime) -> None:
    assert months_before(moment, months) == expected


def test_a_contacts_detail_shows_the_note_beside_their_number(database: Database) -> None:
    with database.write() as session:
        contact = make_contact(session, phone_notes={})
        contact.phone_notes = {contact.phone: "after 6pm", "+441270212345": "work"}
        contact_id = contact.id
        plain = make_contact(session).id
    with database.session() as session:
        detail = get_contact(session=session, contact_id=contact_id)
        other = get_contact(session=session, contact_id=plain)
    assert detail is not None and detail.phone_note == "after 6pm"
    assert other is not None and other.phone_note == ""
