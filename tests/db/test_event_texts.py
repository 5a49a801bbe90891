"""Event texts on both databases: confirmation after the call, the reminder job, cancellations,
replies of NO, and the organiser's list when nothing can text (issue #17)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlmodel import select

from core import events
from core.config import Settings
from core.dialing import FakeDialer, RateLimited, reset_dialers, shared_fake_dialer
from core.event_funnel import campaign_funnel
from core.event_texts import (
    TextPurpose,
    deliver_due_texts,
    due_texts,
    mark_sent_by_hand,
    recent_declines,
    send_due_texts,
    texts_to_send_by_hand,
)
from core.sms import record_inbound_sms
from core.suppression import add_suppression
from db.engine import Database
from db.models import EventSignup, SmsMessage
from tests.factories import make_campaign, make_contact, make_event

CALLER_ID = "+441270123456"
# Tuesday 1 December 2026 11:00 London: inside the window. The event is Saturday 12 December.
NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
REMINDER_TIME = datetime(2026, 12, 11, 10, 0, tzinfo=UTC)  # Friday 10:00
EVENING = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # after the 21:00 close


def settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(database_url="sqlite://", data_dir=tmp_path, cookie_key="k" * 48,
                    public_url="https://calls.example.org", **overrides)


@pytest.fixture
def booked(database: Database):
    with database.write() as s:
        campaign = make_campaign(s, caller_id=CALLER_ID, dialer="fake")
        event_id = make_event(s, campaigns=[campaign], title="Sat canvass", day=date(2026, 12, 12),
                              start=time(10, 0), end=time(13, 0))
        asha = make_contact(s, first_name="Asha", phone="+447400123456")
        signup_id = events.sign_up(session=s, event_ids=[event_id], contact_id=asha.id,
                                   campaign_id=campaign.id, volunteer_id=None,
                                   now=NOW).signup_ids[0]
    return {"campaign_id": campaign.id, "event_id": event_id, "contact_id": asha.id,
            "signup_id": signup_id}


def sent_messages(database: Database) -> list[SmsMessage]:
    with database.session() as s:
        return list(s.exec(select(SmsMessage).where(SmsMessage.direction == "out")
                           .order_by(SmsMessage.id)))


def signup(database: Database, signup_id: int) -> EventSignup:
    with database.session() as s:
        row = s.get(EventSignup, signup_id)
        assert row is not None
        return row


def test_the_confirmation_goes_once_with_the_calendar_link_and_is_recorded(
    database: Database, booked, tmp_path: Path
) -> None:
    reset_dialers()
    config = settings(tmp_path)
    first = deliver_due_texts(database=database, settings=config, now=NOW,
                              signup_ids=[booked["signup_id"]],
                              purposes=[TextPurpose.CONFIRM])
    again = deliver_due_texts(database=database, settings=config, now=NOW)
    assert (first.sent, again.sent) == (1, 0)
    fake = shared_fake_dialer()
    assert [(m.to, m.from_) for m in fake.sent] == [("+447400123456", CALLER_ID)]
    assert "https://calls.example.org/events/" in fake.sent[0].body
    [message] = sent_messages(database)
    assert (message.purpose, message.event_signup_id, message.contact_id, message.body) == (
        "event_confirm", booked["signup_id"], booked["contact_id"], fake.sent[0].body)
    row = signup(database, booked["signup_id"])
    assert row.confirmed_at == NOW and row.confirmed_via == "sms"
    with database.session() as s:
        assert campaign_funnel(session=s, campaign_id=booked["campaign_id"], now=NOW
                               ).confirmed == 1
    reset_dialers()


def test_no_event_text_goes_to_a_do_not_call_number_or_outside_the_window(
    database: Database, booked
) -> None:
    dialer = FakeDialer()
    assert send_due_texts(database=database, dialer=dialer, sender=CALLER_ID, now=EVENING
                          ).sent == 0
    with database.write() as s:
        add_suppression(session=s, phone="+447400123456", source="organiser", reason="asked")
    assert send_due_texts(database=database, dialer=dialer, sender=CALLER_ID, now=NOW).sent == 0
    with database.session() as s:
        assert texts_to_send_by_hand(session=s, now=NOW) == []
    assert dialer.sent == [] and sent_messages(database) == []


def test_a_failed_confirmation_is_recorded_and_goes_back_on_the_organisers_list(
    database: Database, booked
) -> None:
    dialer = FakeDialer(fail_with=RateLimited("Twilio is busy"))
    report = send_due_texts(database=database, dialer=dialer, sender=CALLER_ID, now=NOW,
                            purposes=[TextPurpose.CONFIRM])
    assert (report.sent, report.failed) == (0, 1)
    [message] = sent_messages(database)
    assert (message.status, message.error) == ("failed", "Twilio is busy")
    assert signup(database, booked["signup_id"]).confirmed_at is None
    with database.session() as s:
        owed = texts_to_send_by_hand(session=s, now=EVENING)
    assert [(t.purpose, t.first_name, t.to) for t in owed] == [
        (TextPurpose.CONFIRM, "Asha", "+447400123456")]


def test_the_reminder_job_texts_the_day_before_once_even_when_run_twice(
    database: Database, booked
) -> None:
    dialer = FakeDialer()
    send_due_texts(database=database, dialer=dialer, sender=CALLER_ID, now=NOW,
                   purposes=[TextPurpose.CONFIRM])
    early = send_due_texts(database=database, dialer=dialer, sender=CALLER_ID,
                           now=datetime(2026, 12, 11, 9, 59, tzinfo=UTC),
                           purposes=[TextPurpose.REMIND])
    on_time = send_due_texts(database=database, dialer=dialer, sender=CALLER_ID,
                             now=REMINDER_TIME, purposes=[TextPurpose.REMIND])
    twice = send_due_texts(database=database, dialer=dialer, sender=CALLER_ID,
                           now=REMINDER_TIME, purposes=[TextPurpose.REMIND])
    assert (early.sent, on_time.sent, twice.sent) == (0, 1, 0)
    assert [m.purpose for m in sent_messages(database)] == ["event_confirm", "event_remind"]
    assert dialer.sent[1].body.startswith("Hi Asha! A reminder: Sat canvass, Sat 12 Dec, 10:00")


def test_someone_booked_after_the_reminder_time_gets_no_separate_reminder(
    database: Database, booked
) -> None:
    with database.write() as s:
        late = make_contact(s, first_name="Late")
        late_id = events.sign_up(session=s, event_ids=[booked["event_id"]],
                                 contact_id=late.id, campaign_id=booked["campaign_id"],
                                 volunteer_id=None, now=REMINDER_TIME).signup_ids[0]
        due = due_texts(session=s, purpose=TextPurpose.REMIND,
                        now=datetime(2026, 12, 11, 15, 0, tzinfo=UTC))
    assert [t.signup_id for t in due] == [booked["signup_id"]]
    assert late_id != booked["signup_id"]


def test_a_no_reply_frees_the_place_tells_the_organiser_and_answers(
    database: Database, booked
) -> None:
    send_due_texts(database=database, dialer=FakeDialer(), sender=CALLER_ID, now=NOW,
                   purposes=[TextPurpose.CONFIRM])
    with database.write() as s:
        result = record_inbound_sms(session=s, from_phone="07400 123456", body="Can't")
        declines = recent_declines(session=s)
    assert not result.stopped
    assert result.reply.startswith("Thanks for letting us know. We've freed your place at "
                                   "Sat canvass")
    assert signup(database, booked["signup_id"]).status == "declined"
    assert [(d["name"].split()[0], d["event"]) for d in declines] == [("Asha", "Sat canvass")]
    with database.session() as s:
        event = events.get_event(session=s, event_id=booked["event_id"])
    assert event.places_taken == 0


def test_stop_still_means_stop_after_an_event_text(database: Database, booked) -> None:
    send_due_texts(database=database, dialer=FakeDialer(), sender=CALLER_ID, now=NOW,
                   purposes=[TextPurpose.CONFIRM])
    with database.write() as s:
        result = record_inbound_sms(session=s, from_phone="+447400123456", body="STOP")
    assert result.stopped
    assert signup(database, booked["signup_id"]).status == "booked"
    assert send_due_texts(database=database, dialer=FakeDialer(), sender=CALLER_ID,
                          now=REMINDER_TIME).sent == 0


def test_cancelling_tells_each_booked_person_once(database: Database, booked) -> None:
    with database.write() as s:
        events.cancel_event(session=s, event_id=booked["event_id"], actor_id=None, now=NOW)
    dialer = FakeDialer()
    first = send_due_texts(database=database, dialer=dialer, sender=CALLER_ID, now=NOW)
    again = send_due_texts(database=database, dialer=dialer, sender=CALLER_ID, now=NOW)
    assert (first.sent, again.sent) == (1, 0)
    assert "has been cancelled" in dialer.sent[0].body
    assert [m.purpose for m in sent_messages(database)] == ["event_cancel"]


def test_without_texting_the_organiser_sends_by_hand_and_marks_them_sent(
    database: Database, booked
) -> None:
    with database.session() as s:
        owed = texts_to_send_by_hand(session=s, now=NOW, public_url="")
    assert [t.body for t in owed] == [
        "Hi Asha! You're booked for Sat canvass, Sat 12 Dec, 10:00–13:00, at Crewe Library, "
        "Prince Albert St. Reply NO if you can't make it, or STOP for no more texts."]
    with database.write() as s:
        assert mark_sent_by_hand(session=s, texts=owed, actor_id=None, now=NOW) == 1
        assert texts_to_send_by_hand(session=s, now=NOW) == []
    row = signup(database, booked["signup_id"])
    assert (row.confirmed_at, row.confirmed_via) == (NOW, "manual")
