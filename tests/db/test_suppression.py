"""The do-not-call list reaches every campaign at once and outlives re-imports."""

from __future__ import annotations

from sqlmodel import select

from core.suppression import add_pasted_numbers, add_suppression, is_suppressed
from db.engine import Database
from db.models import AuditEvent, QueueEntry
from tests.factories import make_campaign, make_contact, queue_contacts


def test_suppressing_a_number_pulls_it_from_every_open_queue(database: Database) -> None:
    with database.write() as session:
        contact = make_contact(session, phone="+447400123456")
        other = make_contact(session, phone="+447400123457")
        first, second = make_campaign(session), make_campaign(session)
        queue_contacts(session, first, [contact, other])
        queue_contacts(session, second, [contact], status="retry")
    with database.write() as session:
        assert add_suppression(session=session, phone="+447400123456", reason="asked")
    with database.session() as session:
        statuses = {
            (e.campaign_id, e.contact_id): e.status for e in session.exec(select(QueueEntry))
        }
        assert statuses == {
            (first.id, contact.id): "excluded",
            (first.id, other.id): "fresh",
            (second.id, contact.id): "excluded",
        }
        assert is_suppressed(session=session, phone="+447400123456")
        assert session.exec(select(AuditEvent.action)).all() == ["suppression_added"]


def test_adding_a_number_twice_keeps_one_entry(database: Database) -> None:
    with database.write() as session:
        assert add_suppression(session=session, phone="+447400123456")
        assert not add_suppression(session=session, phone="+447400123456")


def test_pasted_numbers_are_each_accounted_for(database: Database) -> None:
    text = "07400 123456\n\n+44 7400 123457\n07400 123456\nnot a number\n07700 900123\n"
    with database.write() as session:
        result = add_pasted_numbers(session=session, text=text, reason="list", actor_id=None)
    assert (result.added, result.already) == (2, 1)
    assert result.rejected == [(5, "not a phone number"), (6, "not a valid phone number")]
