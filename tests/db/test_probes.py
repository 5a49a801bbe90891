"""Probes from the hostile review that held, kept as tests (issue #13): SQL injection through
search and targeting, and log hygiene (no raw phone number in any log line)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from core.contacts import find_contacts
from core.dialing import FakeDialer
from core.queue import claim_next_contact, reveal_number
from core.sms import record_inbound_sms, send_followup_sms
from core.targeting import CustomFilter, Segment, SegmentError, count_segment
from core.webhooks import handle_inbound_sms
from db.engine import Database
from db.models import Contact
from tests.factories import demo_settings, make_campaign, make_contact, make_user, queue_contacts

NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
PHONE = "+447400987654"
INJECTIONS = ["' OR 1=1 --", "%", "_", "\\", "x'); DROP TABLE contact; --",
              "\" OR \"\"=\"", "1; DELETE FROM contact"]


@pytest.fixture
def people(database: Database) -> int:
    with database.write() as s:
        campaign = make_campaign(s, caller_id="+441270123456", sms_template="Thanks {first_name}")
        contacts = [make_contact(s, first_name="Asha", last_name="Patel", phone=PHONE,
                                 custom={"branch": "North"}),
                    make_contact(s, first_name="Ben", last_name="Okafor")]
        queue_contacts(s, campaign, contacts)
        assert campaign.id is not None
        return campaign.id


@pytest.mark.parametrize("text", INJECTIONS)
def test_search_and_targeting_treat_sql_as_text(database: Database, people: int,
                                                text: str) -> None:
    with database.session() as s:
        assert find_contacts(session=s, query=text) == []
        segment = Segment(custom=[CustomFilter(field="branch", op="equals", value=text)])
        assert count_segment(session=s, segment=segment) == 0
        odd_field = Segment(custom=[CustomFilter(field=text, op="contains", value="a")])
        try:
            assert count_segment(session=s, segment=odd_field) == 0
        except SegmentError as exc:  # refused in words is as good as matching nobody
            assert "cannot be used" in str(exc)
    with database.session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Contact)).scalar() == 2


def test_no_log_line_carries_a_raw_phone_number(
    database: Database, people: int, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:
    caplog.set_level(logging.DEBUG)
    with database.write() as s:
        volunteer = make_user(s)
    with database.write() as s:
        claimed = claim_next_contact(session=s, campaign_id=people, volunteer_id=volunteer.id,
                                     now=NOON)
        assert claimed is not None
        reveal_number(session=s, queue_entry_id=claimed.queue_entry_id,
                      volunteer_id=volunteer.id, now=NOON)
    send_followup_sms(database=database, dialer=FakeDialer(), campaign_id=people,
                      contact_id=claimed.contact_id, volunteer_id=volunteer.id, now=NOON)
    with database.write() as s:
        record_inbound_sms(session=s, from_phone="07400 987654", body="STOP",
                           provider_id="SM" + "5" * 32)
    settings = demo_settings(tmp_path, RINGROUND_PUBLIC_URL="https://calls.example.org",
                             TWILIO_AUTH_TOKEN="t")
    handle_inbound_sms(database=database, settings=settings,
                       params={"From": PHONE, "Body": "STOP"},
                       headers={"X-Twilio-Signature": "forged"})
    lines = "\n".join(record.getMessage() for record in caplog.records)
    assert "STOP reply" in lines and "refused" in lines  # the events were logged...
    for form in (PHONE, "07400 987654", "07400987654", "7400987654", "987654"):
        assert form not in lines  # ...without the number in any form
