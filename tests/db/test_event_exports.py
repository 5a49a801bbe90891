"""The event roster and the texts-to-send list: organisers only, audited, neutralised (#17)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from core import events
from core.event_exports import run_event_export
from core.exports import ExportNotAllowed
from core.users import get_user
from db.engine import Database
from db.models import AuditEvent
from tests.factories import make_campaign, make_contact, make_event, make_user

NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def test_the_roster_lists_names_numbers_and_who_came_and_is_audited(
    database: Database,
) -> None:
    with database.write() as s:
        organiser = make_user(s, role="organiser")
        volunteer = make_user(s)
        campaign = make_campaign(s, name="Push")
        event_id = make_event(s, campaigns=[campaign])
        asha = make_contact(s, first_name="=cmd()", last_name="Khan", phone="+447400123456")
        events.sign_up(session=s, event_ids=[event_id], contact_id=asha.id,
                       campaign_id=campaign.id, volunteer_id=volunteer.id, now=NOW)
        events.add_walk_in(session=s, event_id=event_id, name="Bo Diaz", user_id=organiser.id,
                           now=NOW)
        organiser_view = get_user(session=s, user_id=organiser.id)
        volunteer_view = get_user(session=s, user_id=volunteer.id)
    assert organiser_view is not None and volunteer_view is not None
    with pytest.raises(ExportNotAllowed):
        run_event_export(database=database, kind="event_roster", fmt="csv", out=io.BytesIO(),
                         actor=volunteer_view, event_id=event_id)
    out = io.BytesIO()
    result = run_event_export(database=database, kind="event_roster", fmt="csv", out=out,
                              actor=organiser_view, event_id=event_id, now=NOW)
    lines = out.getvalue().decode("utf-8-sig").splitlines()
    assert result.rows == 2 and lines[0].startswith("signup_id,first_name,last_name,phone")
    assert any("'=cmd(),Khan,+447400123456" in line and "Push" in line for line in lines)
    assert any(",Bo,Diaz,,," in line and ",yes," in line for line in lines)
    with database.session() as s:
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert (audit.actor_id, audit.details["kind"], audit.details["rows"]) == (
        organiser.id, "event_roster", 2)


def test_the_texts_list_holds_each_owed_message_with_who_to_send_it_to(
    database: Database,
) -> None:
    with database.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s)
        event_id = make_event(s, campaigns=[campaign], title="Sat canvass")
        asha = make_contact(s, first_name="Asha", email="asha@example.org")
        events.sign_up(session=s, event_ids=[event_id], contact_id=asha.id,
                       campaign_id=campaign.id, volunteer_id=None, now=NOW)
        view = get_user(session=s, user_id=organiser.id)
    assert view is not None
    out = io.BytesIO()
    run_event_export(database=database, kind="event_texts", fmt="csv", out=out, actor=view,
                     now=NOW)
    text = out.getvalue().decode("utf-8-sig")
    assert "Confirmation,Asha," in text and "asha@example.org,Sat canvass," in text
    assert "You're booked for Sat canvass" in text
