"""Events on both databases: places under contention, sign-up during a call, cancelling,
duplicating, check-in, erasure, and the funnel against a hand-counted fixture (issue #17)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import select

from core import events
from core.contacts import erase_contact
from core.event_funnel import Funnel, campaign_funnel, event_counts, signups_by_volunteer
from core.events import (
    CheckInNotAllowed,
    EventDraft,
    EventError,
    EventFull,
    EventUnavailable,
    SignupStatus,
)
from core.queue import claim_next_contact, record_outcome
from core.survey import AnswerError
from db.engine import Database
from db.models import AuditEvent, CallAttempt, Campaign, Event, EventSignup
from tests.factories import (
    make_campaign,
    make_contact,
    make_event,
    make_question,
    make_user,
    queue_contacts,
)
from tests.racing import at_once

# Tuesday 1 December 2026, 11:00 London (= UTC in winter): inside the default calling window.
NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def places_taken(db: Database, event_id: int) -> int:
    with db.session() as s:
        event = s.get(Event, event_id)
        assert event is not None
        return event.places_taken


def event_for(db: Database, *, capacity: int, people: int) -> tuple[Campaign, int, list[int]]:
    """A campaign offering one event of `capacity` places, and `people` contacts to book."""
    with db.write() as s:
        campaign = make_campaign(s)
        event_id = make_event(s, campaigns=[campaign], capacity=capacity)
        return campaign, event_id, [make_contact(s).id for _ in range(people)]


def book(db: Database, event_id: int, contact_id: int, campaign_id: int, now=NOW):
    with db.write() as s:
        return events.sign_up(session=s, event_ids=[event_id], contact_id=contact_id,
                              campaign_id=campaign_id, volunteer_id=None, now=now)


def test_the_last_places_go_to_exactly_as_many_callers_as_there_are_places(
    database: Database,
) -> None:
    campaign, event_id, contact_ids = event_for(database, capacity=5, people=16)

    def volunteer(contact_id: int) -> str:
        try:
            database.retrying(lambda s: events.sign_up(
                session=s, event_ids=[event_id], contact_id=contact_id,
                campaign_id=campaign.id, volunteer_id=None, now=NOW))
        except EventFull as exc:
            return str(exc)
        return "booked"

    outcomes = at_once(volunteer, contact_ids)
    booked = [c for c, o in zip(contact_ids, outcomes, strict=True) if o == "booked"]
    full = [o for o in outcomes if o != "booked"]
    assert len(booked) == 5
    assert len(full) == 11
    assert all("is full" in message for message in full)
    assert places_taken(database, event_id) == 5
    with database.session() as s:
        rows = s.exec(select(EventSignup).where(EventSignup.event_id == event_id)).all()
    assert sorted(r.contact_id for r in rows) == sorted(booked)


def test_booking_the_same_person_twice_keeps_one_place(database: Database) -> None:
    campaign, event_id, [contact_id] = event_for(database, capacity=2, people=1)
    first = book(database, event_id, contact_id, campaign.id)
    again = book(database, event_id, contact_id, campaign.id)
    assert len(first.signup_ids) == 1 and again.signup_ids == () and again.already == (event_id,)
    assert places_taken(database, event_id) == 1


@pytest.mark.parametrize("why", ["cancelled", "started", "other campaign"])
def test_an_event_that_cannot_be_offered_refuses_the_booking(database: Database, why) -> None:
    with database.write() as s:
        campaign, other = make_campaign(s), make_campaign(s)
        event_id = make_event(s, campaigns=[other if why == "other campaign" else campaign])
        contact_id = make_contact(s).id
        if why == "cancelled":
            events.cancel_event(session=s, event_id=event_id, actor_id=None, now=NOW)
    now = datetime(2026, 12, 12, 10, 30, tzinfo=UTC) if why == "started" else NOW
    with pytest.raises(EventUnavailable, match={"cancelled": "has been cancelled",
                                                "started": "has already started",
                                                "other campaign": "not offered"}[why]):
        book(database, event_id, contact_id, campaign.id, now=now)


def signup_call(database: Database, *, capacity: int = 1, contacts: int = 2):
    with database.write() as s:
        volunteer = make_user(s)
        campaign = make_campaign(s)
        question = make_question(s, campaign, text="Can you come canvassing?",
                                 kind="event_signup", options=[])
        event_id = make_event(s, campaigns=[campaign], capacity=capacity, title="Sat canvass")
        people = [make_contact(s) for _ in range(contacts)]
        queue_contacts(s, campaign, people)
    return volunteer, campaign.id, question.id, event_id


def call_and_sign_up(database: Database, volunteer, campaign_id, question_id, event_id,
                     outcome="completed"):
    with database.write() as s:
        claimed = claim_next_contact(session=s, campaign_id=campaign_id,
                                     volunteer_id=volunteer.id, now=NOW)
    assert claimed is not None
    with database.write() as s:
        return claimed, record_outcome(
            session=s, queue_entry_id=claimed.queue_entry_id, volunteer_id=volunteer.id,
            outcome_code=outcome, idempotency_key=uuid.uuid4().hex,
            answers={question_id: [str(event_id)]}, notes="", started_at=NOW, now=NOW)


def test_a_call_that_signs_someone_up_books_their_place_and_says_which(
    database: Database,
) -> None:
    volunteer, campaign_id, question_id, event_id = signup_call(database)
    claimed, saved = call_and_sign_up(database, volunteer, campaign_id, question_id, event_id)
    assert len(saved.signup_ids) == 1
    with database.session() as s:
        signup = s.get(EventSignup, saved.signup_ids[0])
        assert signup is not None
        assert (signup.event_id, signup.contact_id, signup.campaign_id, signup.attempt_id,
                signup.volunteer_id, signup.status) == (
            event_id, claimed.contact_id, campaign_id, saved.attempt_id, volunteer.id, "booked")
    assert places_taken(database, event_id) == 1


def test_a_full_event_stops_the_save_with_a_message_naming_it(database: Database) -> None:
    volunteer, campaign_id, question_id, event_id = signup_call(database, capacity=1)
    call_and_sign_up(database, volunteer, campaign_id, question_id, event_id)
    with pytest.raises(AnswerError) as refused:
        call_and_sign_up(database, volunteer, campaign_id, question_id, event_id)
    assert refused.value.problems == {
        question_id: "“Sat canvass” is full: every place has gone. Offer another event."}
    with database.session() as s:
        assert len(s.exec(select(CallAttempt)).all()) == 1  # the refused save rolled back
    assert places_taken(database, event_id) == 1


def test_an_event_choice_on_a_call_that_was_not_a_conversation_books_nothing(
    database: Database,
) -> None:
    volunteer, campaign_id, question_id, event_id = signup_call(database)
    _, saved = call_and_sign_up(database, volunteer, campaign_id, question_id, event_id,
                                outcome="no_answer")
    assert saved.signup_ids == ()
    assert places_taken(database, event_id) == 0


def test_cancelling_an_event_frees_every_place_and_lists_who_to_tell(
    database: Database,
) -> None:
    campaign, event_id, contacts = event_for(database, capacity=3, people=2)
    ids = [book(database, event_id, c, campaign.id).signup_ids[0] for c in contacts]
    with database.write() as s:
        told = events.cancel_event(session=s, event_id=event_id, actor_id=None, now=NOW)
        again = events.cancel_event(session=s, event_id=event_id, actor_id=None, now=NOW)
    assert sorted(told) == sorted(ids) and again == []
    with database.session() as s:
        statuses = {r.status for r in s.exec(select(EventSignup))}
        assert statuses == {"event_cancelled"}
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "event_cancelled")).first()
    assert places_taken(database, event_id) == 0


def test_a_declined_place_is_given_back_once(database: Database) -> None:
    campaign, event_id, (first, second) = event_for(database, capacity=1, people=2)
    signup_id = book(database, event_id, first, campaign.id).signup_ids[0]
    with database.write() as s:
        assert events.release_signup(session=s, signup_id=signup_id,
                                     status=SignupStatus.DECLINED, now=NOW)
        assert not events.release_signup(session=s, signup_id=signup_id,
                                         status=SignupStatus.WITHDRAWN, now=NOW)
    assert places_taken(database, event_id) == 0
    assert book(database, event_id, second, campaign.id).signup_ids  # the freed place


def test_capacity_cannot_drop_below_the_people_already_booked(database: Database) -> None:
    campaign, event_id, contacts = event_for(database, capacity=5, people=3)
    for c in contacts:
        book(database, event_id, c, campaign.id)
    with database.write() as s:
        draft = events.get_event(session=s, event_id=event_id).draft()
    with pytest.raises(EventError, match="3 people are booked already") as refused:
        with database.write() as s:
            events.update_event(session=s, event_id=event_id, actor_id=None,
                                draft=EventDraft(**{**draft.__dict__, "capacity": 2}))
    assert refused.value.field == "capacity"
    with database.write() as s:
        events.update_event(session=s, event_id=event_id, actor_id=None,
                            draft=EventDraft(**{**draft.__dict__, "capacity": 3,
                                                "title": "Renamed"}))
        view = events.get_event(session=s, event_id=event_id)
    assert (view.title, view.capacity, view.places_left) == ("Renamed", 3, 0)


def test_duplicating_for_next_week_keeps_the_wall_clock_time_across_the_clock_change(
    database: Database,
) -> None:
    # 22 March 2026 is GMT, 29 March BST: 10:00 London is 10:00 UTC, then 09:00 UTC.
    with database.write() as s:
        campaign = make_campaign(s)
        helper = make_user(s)
        event_id = make_event(s, campaigns=[campaign], day=date(2026, 3, 22))
        events.set_helpers(session=s, event_id=event_id, user_ids=[helper.id], actor_id=None)
        book_id = make_contact(s).id
    book(database, event_id, book_id, campaign.id, now=datetime(2026, 3, 1, tzinfo=UTC))
    with database.write() as s:
        copy_id = events.duplicate_event(session=s, event_id=event_id, actor_id=None)
        original = events.get_event(session=s, event_id=event_id)
        copy = events.get_event(session=s, event_id=copy_id)
    assert original.starts_at == datetime(2026, 3, 22, 10, 0, tzinfo=UTC)
    assert copy.starts_at == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)
    assert copy.when() == "Sun 29 Mar, 10:00–13:00"
    assert (copy.title, copy.campaign_ids, copy.helper_ids, copy.places_taken) == (
        original.title, original.campaign_ids, (helper.id,), 0)
    assert copy.ics_token != original.ics_token


def test_offers_put_the_contacts_own_ward_and_seat_first_and_leave_out_the_rest(
    database: Database,
) -> None:
    with database.write() as s:
        campaign, other = make_campaign(s), make_campaign(s)
        elsewhere = make_event(s, campaigns=[campaign], constituency="Hastings and Rye",
                               day=date(2026, 12, 5), title="Hastings")
        online = make_event(s, campaigns=[campaign], constituency="", place="",
                            online_url="https://meet.example.org/x", title="Online")
        seat = make_event(s, campaigns=[campaign], day=date(2026, 12, 19), title="Seat")
        ward = make_event(s, campaigns=[campaign], ward="Crewe Central",
                          day=date(2026, 12, 26), title="Ward")
        make_event(s, campaigns=[other], title="Not ours")
        make_event(s, campaigns=[campaign], day=date(2026, 11, 28), title="Past")
        cancelled = make_event(s, campaigns=[campaign], title="Cancelled")
        events.cancel_event(session=s, event_id=cancelled, actor_id=None, now=NOW)
        offers = events.offerable_events(session=s, campaign_id=campaign.id,
                                         constituency="Crewe and Nantwich",
                                         ward="Crewe Central", now=NOW)
    assert [o.id for o in offers] == [ward, seat, online, elsewhere]
    assert offers[0].label() == (
        "Ward · Sat 26 Dec, 10:00–13:00 · Crewe Library, Prince Albert St · 20 places left")


@pytest.mark.parametrize(("field_name", "change"), [
    ("title", {"title": "  "}),
    ("place", {"place": "", "online_url": ""}),
    ("online_url", {"online_url": "javascript:alert(1)"}),
    ("capacity", {"capacity": 0}),
    ("end", {"end": time(10, 0)}),
    ("campaign_ids", {"campaign_ids": ()}),
    ("timezone", {"timezone": "Mars/Olympus"}),
])
def test_a_bad_event_is_refused_naming_the_field(field_name: str, change: dict) -> None:
    draft = EventDraft(title="Canvass", day=date(2026, 12, 12), start=time(10, 0),
                       end=time(13, 0), place="Library", campaign_ids=(1,))
    with pytest.raises(EventError) as refused:
        events.validate_event(EventDraft(**{**draft.__dict__, **change}))
    assert refused.value.field == field_name


def test_check_in_is_for_organisers_and_chosen_helpers_and_numbers_are_audited(
    database: Database,
) -> None:
    with database.write() as s:
        organiser = make_user(s, role="organiser")
        helper, stranger = make_user(s), make_user(s)
        campaign = make_campaign(s)
        event_id = make_event(s, campaigns=[campaign])
        events.set_helpers(session=s, event_id=event_id, user_ids=[helper.id], actor_id=None)
        asha = make_contact(s, first_name="Asha", last_name="Khan", phone="+447400123456")
    signup_id = book(database, event_id, asha.id, campaign.id).signup_ids[0]
    with database.write() as s:
        with pytest.raises(CheckInNotAllowed):
            events.check_in_list(session=s, event_id=event_id, user_id=stranger.id)
        names_only = events.check_in_list(session=s, event_id=event_id, user_id=helper.id)
        events.mark_attended(session=s, signup_id=signup_id, attended=True, user_id=helper.id,
                             now=NOW)
        walk_in = events.add_walk_in(session=s, event_id=event_id, name=" Bo  Diaz ",
                                     phone="07400 123999", user_id=helper.id, now=NOW)
        with_numbers = events.check_in_list(session=s, event_id=event_id,
                                            user_id=organiser.id, with_numbers=True)
        audits = s.exec(select(AuditEvent).where(
            AuditEvent.action == "checkin_numbers_shown")).all()
    assert names_only == [events.CheckInRow(signup_id, "Asha Khan", False, False, "")]
    assert [(r.name, r.attended, r.walk_in, r.phone) for r in with_numbers] == [
        ("Asha Khan", True, False, "07400 123456"), ("Bo Diaz", True, True, "07400 123999")]
    assert walk_in != signup_id
    assert [a.actor_id for a in audits] == [organiser.id]
    assert places_taken(database, event_id) == 1  # a walk-in takes no booked place


@pytest.mark.parametrize(("now", "listed"), [
    # Friday 11 December, 09:00 London: Saturday's 10:00 is 25 hours off, but it is tomorrow.
    (datetime(2026, 12, 11, 9, 0, tzinfo=UTC), ["Saturday 10:00", "Saturday 23:00"]),
    # Friday 23:30 London: still Friday there, so Sunday's is the day after tomorrow.
    (datetime(2026, 12, 11, 23, 30, tzinfo=UTC), ["Saturday 10:00", "Saturday 23:00"]),
    # Thursday 23:59: Saturday is two days off on the event's clock.
    (datetime(2026, 12, 10, 23, 59, tzinfo=UTC), []),
    # Sunday 00:30: Saturday 23:00 ended half an hour ago (still listed, to tick late arrivals),
    # and Sunday's is today.
    (datetime(2026, 12, 13, 0, 30, tzinfo=UTC),
     ["Saturday 10:00", "Saturday 23:00", "Sunday 11:00"]),
])
def test_the_check_in_list_offers_todays_and_tomorrows_events_on_the_events_clock(
    database: Database, now: datetime, listed: list[str]
) -> None:
    with database.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s)
        make_event(s, campaigns=[campaign], title="Saturday 10:00", day=date(2026, 12, 12),
                   start=time(10, 0), end=time(13, 0))
        make_event(s, campaigns=[campaign], title="Saturday 23:00", day=date(2026, 12, 12),
                   start=time(23, 0), end=time(23, 45))
        make_event(s, campaigns=[campaign], title="Sunday 11:00", day=date(2026, 12, 13),
                   start=time(11, 0), end=time(12, 0))
    with database.session() as s:
        offered = events.check_in_events(session=s, user_id=organiser.id, now=now)
    assert [e.title for e in offered] == listed


def test_erasure_removes_sign_ups_and_attendance_and_frees_the_place(
    database: Database,
) -> None:
    with database.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s)
        event_id = make_event(s, campaigns=[campaign])
        other_event = make_event(s, campaigns=[campaign])
        asha = make_contact(s, phone="+447400123456")
    signup_id = book(database, event_id, asha.id, campaign.id).signup_ids[0]
    with database.write() as s:
        events.mark_attended(session=s, signup_id=signup_id, attended=True,
                             user_id=organiser.id, now=NOW)
        # The same person walked in to another event without being matched to the contact.
        s.add(EventSignup(event_id=other_event, walk_in=True, name="Asha",
                          phone="+447400123456", attended_at=NOW))
    with database.write() as s:
        summary = erase_contact(session=s, contact_id=asha.id, actor_id=organiser.id)
    assert summary["signups"] == 2
    with database.session() as s:
        assert s.exec(select(EventSignup)).all() == []
    assert places_taken(database, event_id) == 0


def test_the_funnel_matches_a_hand_counted_campaign(database: Database) -> None:
    """Eight people called; hand count per stage is written beside each."""
    with database.write() as s:
        volunteer, other_volunteer = make_user(s), make_user(s)
        campaign = make_campaign(s, name="Funnel")
        other_campaign = make_campaign(s)
        recruit_q = make_question(s, campaign, text="Will you help?")
        campaign.recruit_rule = {"question_id": recruit_q.id, "value": "Yes"}
        s.add(campaign)
        past = make_event(s, campaigns=[campaign, other_campaign], day=date(2026, 11, 28))
        future = make_event(s, campaigns=[campaign, other_campaign])
        people = [make_contact(s) for _ in range(8)]
        entries = queue_contacts(s, campaign, people)
    # p0..p5 reached (conversations), p6 no answer, p7 never called. Yes: p0..p3.
    for i, entry in enumerate(entries[:7]):
        with database.write() as s:
            claimed = claim_next_contact(session=s, campaign_id=campaign.id,
                                         volunteer_id=volunteer.id, now=NOW)
            assert claimed is not None and claimed.queue_entry_id == entry.id
            record_outcome(
                session=s, queue_entry_id=entry.id, volunteer_id=volunteer.id,
                outcome_code="no_answer" if i == 6 else "completed",
                idempotency_key=uuid.uuid4().hex,
                answers={} if i == 6 else {recruit_q.id: "Yes" if i < 4 else "No"},
                notes="", started_at=NOW, now=NOW)
    long_ago = datetime(2026, 11, 1, tzinfo=UTC)
    ids = {}
    # Signed up: p0 (past + future), p1 (past), p2 (past, then declined), p3 (future):
    # four people. Booked past events for p0, p1 and p2 happen before they end.
    for person, event_id in [(0, past), (0, future), (1, past), (2, past), (3, future)]:
        ids[(person, event_id)] = book(database, event_id, people[person].id,
                                       campaign.id, now=long_ago).signup_ids[0]
    # A sign-up from another campaign does not count here.
    book(database, future, people[5].id, other_campaign.id, now=long_ago)
    with database.write() as s:
        events.release_signup(session=s, signup_id=ids[(2, past)],
                              status=SignupStatus.DECLINED, now=long_ago)
        for key in [(0, future), (1, past)]:  # confirmed: p0, p1 -> 2 people
            s.get(EventSignup, ids[key]).confirmed_at = long_ago  # type: ignore[union-attr]
        s.get(EventSignup, ids[(0, past)]).attended_at = long_ago  # type: ignore[union-attr]
        # A walk-in at the past event is not one of this campaign's sign-ups.
        s.add(EventSignup(event_id=past, walk_in=True, name="Walk In", attended_at=long_ago))
        s.get(EventSignup, ids[(0, past)]).volunteer_id = volunteer.id  # type: ignore
        s.get(EventSignup, ids[(1, past)]).volunteer_id = other_volunteer.id  # type: ignore
    # Attended: p0 -> 1. No-show: p1 (past, booked, not ticked) -> 1; p2 declined, p0 came.
    with database.session() as s:
        funnel = campaign_funnel(session=s, campaign_id=campaign.id, now=NOW)
        counts = event_counts(session=s, event_ids=[past, future], now=NOW)
        by_volunteer = signups_by_volunteer(session=s, campaign_id=campaign.id)
    assert funnel == Funnel(reached=6, yes=4, signed_up=4, confirmed=2, attended=1, no_show=1)
    assert counts[past] == events_counts(past, booked=2, signed_up=3, confirmed=1, attended=1,
                                         walk_ins=1, no_show=1, given_back=1)
    assert counts[future] == events_counts(future, booked=3, signed_up=3, confirmed=1)
    assert by_volunteer == {volunteer.id: 1, other_volunteer.id: 1}


def events_counts(event_id: int, **counts: int):
    from core.event_funnel import EventCounts

    return EventCounts(event_id=event_id, **counts)


def test_no_shows_are_a_segment_for_a_follow_up_call(database: Database) -> None:
    from core.targeting import Segment, count_segment, preview_segment

    with database.write() as s:
        organiser = make_user(s, role="organiser")
        campaign = make_campaign(s)
        past = make_event(s, campaigns=[campaign], day=date(2026, 11, 28))
        came, stayed_home, said_no = (make_contact(s, first_name=n).id
                                      for n in ("Came", "Stayed", "Declined"))
    ids = {c: book(database, past, c, campaign.id, now=datetime(2026, 11, 1, tzinfo=UTC)
                   ).signup_ids[0] for c in (came, stayed_home, said_no)}
    with database.write() as s:
        events.mark_attended(session=s, signup_id=ids[came], attended=True,
                             user_id=organiser.id, now=NOW)
        events.release_signup(session=s, signup_id=ids[said_no], status=SignupStatus.DECLINED)
    segment = Segment(no_show_event_ids=[past], exclude_queued_elsewhere=False)
    with database.session() as s:
        assert count_segment(session=s, segment=segment) == 1
        assert [p["first_name"] for p in preview_segment(session=s, segment=segment)] == [
            "Stayed"]
