"""The event sign-up question on the calling page through AppTest (issue #17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from core import events
from core.dialing import reset_dialers, shared_fake_dialer
from core.script import escape_markdown
from db.models import EventSignup, SmsMessage
from tests.factories import (
    ALL_DAY,
    make_campaign,
    make_contact,
    make_event,
    make_question,
    make_user,
    queue_contacts,
)


def arrange(app_db, *, capacity: int = 20):
    soon = (datetime.now(UTC) + timedelta(days=3)).astimezone(ZoneInfo("Europe/London"))
    with app_db.write() as s:
        make_user(s, role="organiser")
        volunteer = make_user(s, name="Jo Volunteer")
        campaign = make_campaign(s, calling_window=ALL_DAY, dialer="fake")
        question = make_question(s, campaign, text="Can you come out with us?",
                                 kind="event_signup", options=[])
        person = make_contact(s, first_name="Asha", constituency="Hastings and Rye")
        queue_contacts(s, campaign, [person, make_contact(s)])
        here = make_event(s, campaigns=[campaign], title="Hastings canvass",
                          constituency="Hastings and Rye", day=soon.date(), capacity=capacity,
                          description="Meet at the pier")
        away = make_event(s, campaigns=[campaign], title="Crewe canvass", day=soon.date())
        full = make_event(s, campaigns=[campaign], title="Full stall", capacity=1,
                          day=soon.date())
        filler = make_contact(s)
        events.sign_up(session=s, event_ids=[full], contact_id=filler.id,
                       campaign_id=campaign.id, volunteer_id=None, now=datetime.now(UTC))
    return volunteer, question.id, here, away, full


def start(make_app, volunteer):
    at = make_app(user=volunteer, page="pages/calling.py")
    at.button(key="calling_start").click()
    at.run()
    assert not at.exception, at.exception
    return at


def key(at, name: str) -> str:
    return f"{name}_{at.session_state['calling_contact'].queue_entry_id}"


def test_the_caller_picks_events_nearest_first_and_the_save_books_and_confirms(
    make_app, app_db
) -> None:
    reset_dialers()
    volunteer, question_id, here, away, full = arrange(app_db)
    at = start(make_app, volunteer)
    assert at.session_state["calling_contact"].first_name == "Asha"
    picker = at.multiselect(key=key(at, f"calling_q_{question_id}"))
    assert picker.options == [
        picker.format_func(str(here)), picker.format_func(str(away))]  # full one left out
    assert "Hastings canvass" in picker.options[0] and "places left" in picker.options[0]
    assert escape_markdown("Full: Full stall") in [c.value for c in at.caption]
    picker.set_value([str(here)])
    at.run()
    assert escape_markdown("Hastings canvass: Meet at the pier") in [c.value for c in at.caption]
    at.radio(key=key(at, "calling_outcome")).set_value("completed")
    at.button(key=key(at, "calling_save")).click()
    at.run()
    assert not at.exception, at.exception
    assert any("Booked 1 event place; confirmation texted." in s.value for s in at.success)
    with app_db.session() as s:
        signup = s.exec(select(EventSignup).where(EventSignup.event_id == here)).one()
        message = s.exec(select(SmsMessage).where(SmsMessage.event_signup_id == signup.id)).one()
    assert (signup.volunteer_id, signup.confirmed_via) == (volunteer.id, "sms")
    assert (message.purpose, message.event_signup_id) == ("event_confirm", signup.id)
    assert any("Hastings canvass" in m.body for m in shared_fake_dialer().sent)
    reset_dialers()


def test_an_event_that_fills_during_the_call_is_named_and_nothing_is_saved(
    make_app, app_db
) -> None:
    volunteer, question_id, here, _, _ = arrange(app_db, capacity=1)
    at = start(make_app, volunteer)
    at.multiselect(key=key(at, f"calling_q_{question_id}")).set_value([str(here)])
    at.run()
    with app_db.write() as s:  # another caller takes the last place meanwhile
        other = make_contact(s)
        campaign_id = s.exec(select(EventSignup.campaign_id)).first()
        events.sign_up(session=s, event_ids=[here], contact_id=other.id,
                       campaign_id=campaign_id, volunteer_id=None, now=datetime.now(UTC))
    at.radio(key=key(at, "calling_outcome")).set_value("completed")
    at.button(key=key(at, "calling_save")).click()
    at.run()
    assert [e.value for e in at.error] == [
        "“Hastings canvass” is full: every place has gone. Offer another event."]
    assert at.session_state["calling_contact"].first_name == "Asha"  # still on the call
