"""Follow-up texts: merge fields, one click, never to a suppressed number or out of hours; STOP."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from core.dialing import FakeDialer, RateLimited, SmsRecipientOptedOut
from core.sms import (
    ALREADY_SENT,
    SmsRefused,
    is_stop_reply,
    preview_followup,
    record_inbound_sms,
    render_sms,
    save_sms_template,
    send_followup_sms,
    template_problems,
)
from core.suppression import add_suppression, is_suppressed
from db.engine import Database
from db.models import QueueEntry, SmsMessage, Suppression
from tests.factories import make_campaign, make_contact, make_user, queue_contacts
from tests.racing import at_once, times

CALLER_ID = "+441270123456"
# A Monday, 14:00 in London (GMT): inside the default 09:00-21:00 window.
IN_HOURS = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LATE = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
TEMPLATE = "Thanks {first_name}! {volunteer_first_name} here. Saturday: {link|https://x.org/sat}"


@pytest.fixture
def world(database: Database) -> dict[str, int]:
    with database.write() as session:
        volunteer = make_user(session, name="Priya Shah")
        campaign = make_campaign(session, caller_id=CALLER_ID, sms_template=TEMPLATE)
        contact = make_contact(session, first_name="Ann", custom={"link": "https://x.org/a"})
        queue_contacts(session, campaign, [contact])
        return {"campaign_id": campaign.id, "contact_id": contact.id,
                "volunteer_id": volunteer.id, "phone": contact.phone}


def send(database: Database, world: dict[str, int], dialer: FakeDialer,
         now: datetime = IN_HOURS):
    return send_followup_sms(
        database=database, dialer=dialer, campaign_id=world["campaign_id"],
        contact_id=world["contact_id"], volunteer_id=world["volunteer_id"], now=now,
    )


def messages(database: Database) -> list[SmsMessage]:
    with database.session() as session:
        return list(session.exec(select(SmsMessage).order_by(SmsMessage.id)))


def test_one_click_sends_the_merged_text_from_the_campaign_number_and_records_it(
    database: Database, world: dict[str, int]
) -> None:
    dialer = FakeDialer()
    result = send(database, world, dialer)
    body = "Thanks Ann! Priya here. Saturday: https://x.org/a"
    assert [(s.to, s.from_, s.body) for s in dialer.sent] == [(world["phone"], CALLER_ID, body)]
    [message] = messages(database)
    assert (message.id, message.direction, message.body, message.status) == (
        result.message_id, "out", body, "queued")
    assert message.provider_id == dialer.sent[0].sid
    assert (message.campaign_id, message.contact_id, message.volunteer_id) == (
        world["campaign_id"], world["contact_id"], world["volunteer_id"])


def test_a_second_click_never_texts_the_person_twice(
    database: Database, world: dict[str, int]
) -> None:
    dialer = FakeDialer()
    send(database, world, dialer)
    with pytest.raises(SmsRefused, match="already"):
        send(database, world, dialer)
    assert len(dialer.sent) == 1


def test_a_suppressed_number_is_never_texted(database: Database, world: dict[str, int]) -> None:
    with database.write() as session:
        add_suppression(session=session, phone=world["phone"], source="organiser")
    dialer = FakeDialer()
    with pytest.raises(SmsRefused, match="asked not to be contacted"):
        send(database, world, dialer)
    assert dialer.sent == [] and messages(database) == []


def test_no_text_goes_outside_the_calling_window(database: Database, world: dict[str, int]) -> None:
    dialer = FakeDialer()
    with pytest.raises(SmsRefused, match="calling hours"):
        send(database, world, dialer, now=LATE)
    assert dialer.sent == [] and messages(database) == []


def test_the_calling_window_is_read_in_the_campaigns_time_zone(
    database: Database, world: dict[str, int]
) -> None:
    with database.write() as session:
        from db.models import Campaign

        campaign = session.get(Campaign, world["campaign_id"])
        assert campaign is not None
        campaign.timezone = "America/New_York"  # 14:00 UTC is 09:00 there: open
        campaign.calling_window = {str(d): ["09:00", "10:00"] for d in range(7)}
        session.add(campaign)
    send(database, world, FakeDialer())


def test_a_campaign_without_a_template_has_nothing_to_send(
    database: Database, world: dict[str, int]
) -> None:
    with database.write() as session:
        campaign = make_campaign(session, caller_id=CALLER_ID)
    world = {**world, "campaign_id": campaign.id}
    with pytest.raises(SmsRefused, match="no follow-up text"):
        send(database, world, FakeDialer())


def test_a_failed_send_is_recorded_and_reported(database: Database, world: dict[str, int]) -> None:
    dialer = FakeDialer(fail_with=RateLimited("Twilio is busy"))
    with pytest.raises(RateLimited):
        send(database, world, dialer)
    [message] = messages(database)
    assert (message.status, message.error) == ("failed", "Twilio is busy")
    dialer.fail_with = None
    send(database, world, dialer)  # a failed attempt does not block a retry
    assert len(dialer.sent) == 1


def test_twilio_reporting_an_opt_out_puts_the_number_on_the_do_not_call_list(
    database: Database, world: dict[str, int]
) -> None:
    with pytest.raises(SmsRecipientOptedOut):
        send(database, world, FakeDialer(fail_with=SmsRecipientOptedOut("opted out")))
    with database.session() as session:
        assert is_suppressed(session=session, phone=world["phone"])


def test_the_preview_shows_the_text_or_why_it_cannot_go(
    database: Database, world: dict[str, int]
) -> None:
    with database.session() as session:
        ok = preview_followup(session=session, campaign_id=world["campaign_id"],
                              contact_id=world["contact_id"], volunteer_id=world["volunteer_id"],
                              now=IN_HOURS)
        late = preview_followup(session=session, campaign_id=world["campaign_id"],
                                contact_id=world["contact_id"],
                                volunteer_id=world["volunteer_id"], now=LATE)
    assert ok == {"can_send": True, "reason": "",
                  "body": "Thanks Ann! Priya here. Saturday: https://x.org/a"}
    assert late["can_send"] is False and "calling hours" in late["reason"]


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", "  Stop  ", "Stop.", "STOPALL", "unsubscribe", "Cancel", "END", "quit!"],
)
def test_stop_and_its_usual_variants_suppress_the_number(
    database: Database, world: dict[str, int], body: str
) -> None:
    with database.write() as session:
        result = record_inbound_sms(session=session, from_phone=world["phone"], body=body,
                                    provider_id="SM1")
    assert result.stopped and result.reply
    with database.session() as session:
        row = session.exec(select(Suppression)).one()
        entry = session.exec(select(QueueEntry)).one()
    assert (row.phone, row.source) == (world["phone"], "sms_stop")
    assert entry.status == "excluded"  # out of the call queue at once
    [inbound] = messages(database)
    assert (inbound.direction, inbound.body) == ("in", body)
    assert inbound.contact_id == world["contact_id"]


@pytest.mark.parametrize("body", ["Yes please!", "Don't stop", "stop calling me at work", ""])
def test_other_replies_are_stored_without_suppressing(
    database: Database, world: dict[str, int], body: str
) -> None:
    with database.write() as session:
        result = record_inbound_sms(session=session, from_phone=world["phone"], body=body)
    assert not result.stopped and result.reply == ""
    with database.session() as session:
        assert not is_suppressed(session=session, phone=world["phone"])


def test_a_reply_links_to_the_campaign_of_the_last_text_sent(
    database: Database, world: dict[str, int]
) -> None:
    send(database, world, FakeDialer())
    with database.write() as session:
        record_inbound_sms(session=session, from_phone="07400 " + world["phone"][-6:],
                           body="Count me in")
    inbound = messages(database)[-1]
    assert (inbound.campaign_id, inbound.contact_id) == (world["campaign_id"], world["contact_id"])


def test_stop_words_are_whole_messages_only() -> None:
    assert is_stop_reply(" end ") and not is_stop_reply("the end is nigh")


def test_render_uses_plain_text_and_fallbacks() -> None:
    text = render_sms("Hi {first_name|friend}, {{literal}} & <b>", {"first_name": "O'Brien"})
    assert text == "Hi O'Brien, {literal} & <b>"
    assert render_sms("Hi {first_name|friend}", {"first_name": " "}) == "Hi friend"


def test_template_problems_name_unknown_fields_and_length() -> None:
    assert template_problems("Hi {first_name} from {campaign_name}") == []
    assert "{frist_name}" in template_problems("Hi {frist_name}")[0]
    assert "1600" in template_problems("x" * 1601)[0]


def test_saving_a_template_checks_it(database: Database, world: dict[str, int]) -> None:
    with database.write() as session:
        save_sms_template(session=session, campaign_id=world["campaign_id"],
                          template="Thanks {first_name}! {link}")  # a custom column
    with pytest.raises(SmsRefused, match="frist_name"), database.write() as session:
        save_sms_template(session=session, campaign_id=world["campaign_id"],
                          template="Hi {frist_name}")


class SlowFakeDialer(FakeDialer):
    """The fake, taking as long as a slow network: every click is in flight at once."""

    def send_sms(self, to: str, from_: str, body: str):
        time.sleep(0.3)
        return super().send_sms(to, from_, body)


def test_four_clicks_at_once_send_one_follow_up_and_refuse_three(
    database: Database, world: dict[str, int]
) -> None:
    dialer = SlowFakeDialer()

    def click(_: int) -> str:
        try:
            send(database, world, dialer)
        except SmsRefused as exc:
            return str(exc)
        return "sent"

    outcomes = at_once(click, times(4))
    assert len(dialer.sent) == 1
    assert sorted(outcomes) == [ALREADY_SENT] * 3 + ["sent"]
    [message] = messages(database)
    assert (message.status, message.provider_id) == ("queued", dialer.sent[0].sid)


def test_a_failed_send_frees_the_place_for_one_more_try(
    database: Database, world: dict[str, int]
) -> None:
    dialer = FakeDialer()
    dialer.fail_with = RateLimited("Twilio is busy")
    with pytest.raises(RateLimited):
        send(database, world, dialer)
    dialer.fail_with = None
    send(database, world, dialer)
    with pytest.raises(SmsRefused, match="already"):
        send(database, world, dialer)
    assert [m.status for m in messages(database)] == ["failed", "queued"]


def test_a_replayed_inbound_webhook_is_stored_once(
    database: Database, world: dict[str, int]
) -> None:
    for _ in range(3):
        with database.write() as session:
            result = record_inbound_sms(session=session, from_phone=world["phone"],
                                        body="STOP", provider_id="SM" + "7" * 32)
        assert result.stopped
    inbound = [m for m in messages(database) if m.direction == "in"]
    assert [(m.provider_id, m.body) for m in inbound] == [("SM" + "7" * 32, "STOP")]
    with database.session() as session:
        assert len(session.exec(select(Suppression)).all()) == 1


def test_replies_without_a_message_sid_are_each_kept(
    database: Database, world: dict[str, int]
) -> None:
    for body in ("Yes", "Yes"):
        with database.write() as session:
            record_inbound_sms(session=session, from_phone=world["phone"], body=body)
    assert [m.body for m in messages(database) if m.direction == "in"] == ["Yes", "Yes"]
