"""The Events page and the check-in list through AppTest (issue #17)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from core import events
from core.script import escape_markdown
from db.models import AuditEvent, Event, EventSignup
from tests.factories import make_campaign, make_contact, make_event, make_user


def organiser_on_events(make_app, app_db):
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s, name="Saturday push")
    at = make_app(user=organiser, page="pages/events.py")
    assert not at.exception, at.exception
    return at, campaign.id


def press(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


def test_an_organiser_creates_an_event_in_the_editor_in_london_time(make_app, app_db) -> None:
    at, campaign_id = organiser_on_events(make_app, app_db)
    at.text_input(key="event_new_title").input("Door knocking, Crewe North")
    at.date_input(key="event_new_day").set_value(date(2027, 4, 3))  # BST
    at.time_input(key="event_new_start").set_value(time(10, 30))
    at.time_input(key="event_new_end").set_value(time(13, 0))
    at.text_input(key="event_new_place").input("Crewe Library")
    at.text_input(key="event_new_constituency").input("Crewe and Nantwich")
    at.number_input(key="event_new_capacity").set_value(12)
    at.multiselect(key="event_new_campaigns").set_value([campaign_id])
    press(at, "Save event")
    with app_db.session() as s:
        event = s.exec(select(Event)).one()
        offered = events.get_event(session=s, event_id=event.id).campaign_ids
    assert (event.title, event.capacity, event.place, offered) == (
        "Door knocking, Crewe North", 12, "Crewe Library", (campaign_id,))
    assert event.starts_at == datetime(2027, 4, 3, 9, 30, tzinfo=UTC)
    # Said after the rerun that lists it (said before it, the rerun wiped it).
    assert [m.value for m in at.success if m.value.startswith("Created")] == [
        f"Created “{escape_markdown('Door knocking, Crewe North')}”. Callers offer it through "
        "an *Event sign-up* question in the campaign's survey."]
    assert at.text_input(key="event_new_title").value == ""  # ready for the next one
    at.run()
    shown = escape_markdown("Door knocking, Crewe North")
    assert any(shown in m.value for m in at.markdown)


def test_an_event_without_a_place_is_refused_naming_the_field(make_app, app_db) -> None:
    at, campaign_id = organiser_on_events(make_app, app_db)
    at.text_input(key="event_new_title").input("Stall")
    at.multiselect(key="event_new_campaigns").set_value([campaign_id])
    press(at, "Save event")
    assert [e.value for e in at.error] == [
        "Place: Say where it is: an address, or an online link."]
    with app_db.session() as s:
        assert s.exec(select(Event)).all() == []


def test_cancelling_asks_first_then_frees_the_places(make_app, app_db) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s)
        event_id = make_event(s, campaigns=[campaign], day=date(2027, 1, 9))
        contact_id = make_contact(s).id
        events.sign_up(session=s, event_ids=[event_id], contact_id=contact_id,
                       campaign_id=campaign.id, volunteer_id=None, now=datetime.now(UTC))
    at = make_app(user=organiser, page="pages/events.py")
    assert at.button(key=f"event_cancel_{event_id}").disabled
    at.checkbox(key=f"event_cancel_sure_{event_id}").check()
    at.run()
    at.button(key=f"event_cancel_{event_id}").click()
    at.run()
    assert not at.exception, at.exception
    with app_db.session() as s:
        event = s.get(Event, event_id)
        assert event is not None and (event.status, event.places_taken) == ("cancelled", 0)
        assert s.exec(select(EventSignup.status)).all() == ["event_cancelled"]


def checkin_setup(app_db, *, helper: bool = True, phone: str = "+447400123456"):
    now = datetime.now(UTC)
    with app_db.write() as s:
        volunteer = make_user(s)
        make_user(s, role="organiser")  # past first-run setup
        campaign = make_campaign(s)
        # Starts in two hours: inside the check-in list's days.
        starts = (now + timedelta(hours=2)).astimezone(ZoneInfo("Europe/London"))
        event_id = make_event(s, campaigns=[campaign], day=starts.date(),
                              start=starts.time().replace(second=0, microsecond=0),
                              end=(starts + timedelta(hours=1)).time().replace(
                                  second=0, microsecond=0), title="Evening canvass")
        if helper:
            events.set_helpers(session=s, event_id=event_id, user_ids=[volunteer.id],
                               actor_id=None)
        asha = make_contact(s, first_name="Asha", last_name="Khan", phone=phone)
        signup_id = events.sign_up(session=s, event_ids=[event_id], contact_id=asha.id,
                                   campaign_id=campaign.id, volunteer_id=None,
                                   now=now - timedelta(days=2)).signup_ids[0]
    return volunteer, event_id, signup_id


def test_a_chosen_volunteer_ticks_who_came_and_adds_a_walk_in_by_name_only(
    make_app, app_db
) -> None:
    volunteer, event_id, signup_id = checkin_setup(app_db)
    at = make_app(user=volunteer, page="pages/checkin.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "Check-in"
    box = at.checkbox(key=f"checkin_person_{signup_id}")
    assert box.label == "Asha Khan" and box.value is False
    assert "07400" not in str([c.value for c in at.caption] + [box.label])
    assert not [t for t in at.toggle if t.key == "checkin_numbers"]  # organisers only
    box.check()
    at.run()
    with app_db.session() as s:
        signup = s.get(EventSignup, signup_id)
        assert signup is not None and signup.attended_at is not None
        assert signup.checked_in_by_id == volunteer.id
    at.text_input(key="checkin_walk_in_name").input("Bo Diaz")
    press(at, "Add walk-in")
    with app_db.session() as s:
        walk_in = s.exec(select(EventSignup).where(EventSignup.walk_in)).one()
        assert (walk_in.name, walk_in.attended_at is not None) == ("Bo Diaz", True)
    at.run()
    assert at.metric[0].value == "2 of 2"


def test_an_organiser_sees_numbers_only_when_asked_and_that_is_audited(
    make_app, app_db
) -> None:
    _, event_id, signup_id = checkin_setup(app_db)
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
    at = make_app(user=organiser, page="pages/checkin.py")
    assert at.checkbox(key=f"checkin_person_{signup_id}").label == "Asha Khan"
    at.toggle(key="checkin_numbers").set_value(True)
    at.run()
    assert at.checkbox(key=f"checkin_person_{signup_id}").label == "Asha Khan · 07400 123456"
    with app_db.session() as s:
        audits = s.exec(select(AuditEvent).where(
            AuditEvent.action == "checkin_numbers_shown")).all()
    assert [a.actor_id for a in audits] == [organiser.id]


def test_a_volunteer_who_runs_no_check_in_is_not_offered_the_page(make_app, app_db) -> None:
    volunteer, _, _ = checkin_setup(app_db, helper=False)
    helper, _, _ = checkin_setup(app_db, helper=True, phone="+447400123457")
    assert make_app(user=helper, page="pages/checkin.py").title[0].value == "Check-in"
    at = make_app(user=volunteer)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/checkin.py")


def test_the_dashboard_shows_the_funnel_and_each_events_bookings(make_app, app_db) -> None:
    from core.stats_cache import DASHBOARD_CACHE

    DASHBOARD_CACHE.clear()
    now = datetime.now(UTC)
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s, name="Funnel campaign")
        event_id = make_event(s, campaigns=[campaign], title="Big canvass",
                              day=(now + timedelta(days=5)).date())
        for _ in range(3):
            events.sign_up(session=s, event_ids=[event_id], contact_id=make_contact(s).id,
                           campaign_id=campaign.id, volunteer_id=organiser.id, now=now)
    at = make_app(user=organiser, page="pages/dashboard.py")
    assert not at.exception, at.exception
    assert any(h.value == "From a yes to the door" for h in at.subheader)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Signed up"], metrics["Came"], metrics["Did not come"]) == ("3", "0", "0")
    table = next(d.value for d in at.dataframe if "booked" in d.value.columns)
    assert list(table["event"]) == ["Big canvass"] and list(table["booked"]) == [3]
    # Every column is headed in words, not by its key (as the dashboard's other tables).
    [per_event] = [d for d in at.dataframe if "booked" in d.value.columns]
    config = json.loads(per_event.proto.columns)  # the column_config Streamlit was given
    headed = {name for name, column in config.items() if column.get("label")}
    assert set(per_event.value.columns) <= headed, set(per_event.value.columns) - headed
    DASHBOARD_CACHE.clear()


def test_without_texting_the_organiser_gets_the_list_and_marks_it_sent(make_app, app_db) -> None:
    now = datetime.now(UTC)
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s)
        event_id = make_event(s, campaigns=[campaign], title="Stall",
                              day=(now + timedelta(days=5)).date())
        signup_id = events.sign_up(session=s, event_ids=[event_id],
                                   contact_id=make_contact(s, first_name="Asha").id,
                                   campaign_id=campaign.id, volunteer_id=None,
                                   now=now).signup_ids[0]
    at = make_app(user=organiser, page="pages/events.py")
    owed = next(d.value for d in at.dataframe if "message" in d.value.columns)
    assert list(owed["kind"]) == ["Confirmation"] and "You're booked for Stall" in owed[
        "message"][0]
    at.button(key="event_texts_export").click()
    at.run()
    assert not at.exception, at.exception
    at.button(key="events_mark_sent").click()
    at.run()
    with app_db.session() as s:
        signup = s.get(EventSignup, signup_id)
        exports = s.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert signup is not None and signup.confirmed_via == "manual"
    assert [e.details["kind"] for e in exports] == ["event_texts"]


def test_a_reply_of_no_frees_the_place_and_the_organiser_sees_it_on_the_events_page(
    make_app, app_db
) -> None:
    from core.dialing import FakeDialer
    from core.event_texts import TextPurpose, send_due_texts
    from core.sms import record_inbound_sms

    now = datetime.now(UTC)
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s, calling_window={str(d): ["00:00", "24:00"]
                                                    for d in range(7)})
        event_id = make_event(s, campaigns=[campaign], title="Sat canvass",
                              day=(now + timedelta(days=5)).date(), capacity=20)
        events.sign_up(session=s, event_ids=[event_id],
                       contact_id=make_contact(s, first_name="Asha", last_name="Khan",
                                               phone="+447400123456").id,
                       campaign_id=campaign.id, volunteer_id=None, now=now)
    at = make_app(user=organiser, page="pages/events.py")
    assert not [i for i in at.info if "given back" in i.value]
    assert [c.value for c in at.caption if c.value == "Nobody has replied NO yet."]

    sent = send_due_texts(database=app_db, dialer=FakeDialer(), sender="+441270123456",
                          now=now, purposes=[TextPurpose.CONFIRM])
    assert sent.sent == 1
    with app_db.write() as s:
        record_inbound_sms(session=s, from_phone="07400 123456", body="NO")
    at = make_app(user=organiser, page="pages/events.py")
    assert not at.exception, at.exception
    assert [i.value for i in at.info if "given back" in i.value] == [
        "1 place given back by a reply of NO in the last 7 days: see *Texts to send* for who, "
        "and which event."]
    table = next(d.value for d in at.dataframe if "when" in d.value.columns)
    assert (list(table["name"]), list(table["event"])) == (["Asha Khan"], ["Sat canvass"])
    summary = " ".join(c.value for c in at.caption)
    assert "0 of 20 places taken" in summary and "gave their place back 1" in summary
