"""The calling page's flow without a browser: a plain dict stands in for st.session_state."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.campaigns import get_campaign, list_outcomes
from core.queue import LeaseLost
from db.engine import Database
from db.models import AuditEvent, CallAttempt, Campaign, QueueEntry, SurveyAnswer
from pages._calling_flow import CallingFlow
from tests.factories import (
    ALL_DAY,
    make_campaign,
    make_contact,
    make_question,
    make_user,
    queue_contacts,
)


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def world(sqlite_database: Database) -> dict[str, Any]:
    with sqlite_database.write() as s:
        volunteer = make_user(s)
        campaign = make_campaign(s, calling_window=ALL_DAY, timezone="Europe/London")
        question = make_question(s, campaign)
        people = [make_contact(s, first_name=f"Person{n}") for n in range(3)]
        queue_contacts(s, campaign, people)
        ids = {"volunteer": volunteer.id, "campaign": campaign.id, "question": question.id}
    with sqlite_database.session() as s:
        ids["view"] = get_campaign(session=s, campaign_id=ids["campaign"])
        ids["outcomes"] = list_outcomes(session=s, campaign_id=ids["campaign"])
    return ids


def started(db: Database, world: dict[str, Any], state: dict | None = None,
            clock: Clock | None = None) -> CallingFlow:
    flow = CallingFlow({} if state is None else state, database=db,
                       volunteer_id=world["volunteer"], clock=clock or Clock())
    flow.start(world["campaign"])
    return flow


def saved_attempts(db: Database) -> list[CallAttempt]:
    with db.session() as s:
        return list(s.exec(select(CallAttempt)).all())


def save(flow: CallingFlow, world: dict[str, Any], contact=None) -> None:
    flow.save_and_next(contact or flow.contact, campaign=world["view"],
                       outcomes=world["outcomes"], question_ids=[world["question"]])


def test_the_contact_on_screen_is_kept_across_runs_until_it_is_saved(
    sqlite_database, world
) -> None:
    flow = started(sqlite_database, world)
    first = flow.next_contact()
    assert first is not None
    assert flow.next_contact() == first  # a rerun does not claim again
    assert flow.key("calling_outcome") == f"calling_outcome_{first.queue_entry_id}"

    flow.state[flow.key("calling_outcome")] = "completed"
    flow.state[flow.key(f"calling_q_{world['question']}")] = "Yes"
    flow.state[flow.key("calling_notes")] = "Keen"
    save(flow, world)

    assert flow.confirmation == f"Saved “Talked – completed survey” for {first.name}."
    assert flow.contact is None and flow.take_problems() is None
    # Nothing typed for the saved contact is left behind for the next one.
    assert not [k for k in flow.state if str(k).endswith(f"_{first.queue_entry_id}")]
    second = flow.next_contact()
    assert second is not None and second.contact_id != first.contact_id
    with sqlite_database.session() as s:
        attempts = s.exec(select(CallAttempt)).all()
        answers = s.exec(select(SurveyAnswer)).all()
    assert [(a.contact_id, a.outcome_code, a.notes) for a in attempts] == [
        (first.contact_id, "completed", "Keen")]
    assert [(a.question_id, a.value) for a in answers] == [(world["question"], "Yes")]


def test_saving_without_an_outcome_asks_for_one_and_records_nothing(
    sqlite_database, world
) -> None:
    flow = started(sqlite_database, world)
    contact = flow.next_contact()
    save(flow, world)
    problems = flow.take_problems()
    assert problems is not None
    assert (problems.level, problems.messages) == ("warning", ("Pick an outcome first.",))
    assert flow.contact == contact
    assert saved_attempts(sqlite_database) == []


def test_a_late_save_for_a_contact_no_longer_on_screen_records_nothing(
    sqlite_database, world
) -> None:
    flow = started(sqlite_database, world)
    first = flow.next_contact()
    flow.state[flow.key("calling_outcome")] = "no_answer"
    save(flow, world)
    second = flow.next_contact()
    assert second is not None
    flow.state[flow.key("calling_outcome")] = "refused"
    save(flow, world, contact=first)  # the first contact's button, clicked again late
    assert [a.contact_id for a in saved_attempts(sqlite_database)] == [first.contact_id]
    assert flow.contact == second


def test_a_callback_is_saved_at_the_time_picked_in_the_campaigns_zone(
    sqlite_database, world
) -> None:
    with sqlite_database.write() as s:  # a campaign that lets callbacks be booked a year ahead
        s.execute(sa.update(Campaign).where(Campaign.id == world["campaign"])  # type: ignore[arg-type]
                  .values(callback_max_days=400))
    flow = started(sqlite_database, world)
    contact = flow.next_contact()
    assert contact is not None
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    july = date(tomorrow.year + 1, 7, 1)  # British Summer Time: 18:30 there is 17:30 UTC
    flow.state[flow.key("calling_outcome")] = "call_back"
    flow.state[flow.key("calling_callback_date")] = july
    flow.state[flow.key("calling_callback_time")] = time(18, 30)
    save(flow, world)
    with sqlite_database.session() as s:
        entry = s.get(QueueEntry, contact.queue_entry_id)
    assert entry is not None and entry.status == "callback"
    assert entry.due_at is not None
    assert entry.due_at.replace(tzinfo=UTC) == datetime(july.year, 7, 1, 17, 30, tzinfo=UTC)


def test_skip_hands_the_contact_back_and_check_again_offers_it_once_more(
    sqlite_database, world
) -> None:
    flow = started(sqlite_database, world)
    seen = []
    for _ in range(3):
        contact = flow.next_contact()
        assert contact is not None
        seen.append(contact.contact_id)
        flow.skip(contact)
    assert len(set(seen)) == 3
    assert flow.next_contact() is None  # everyone skipped this session
    flow.check_again()
    assert flow.next_contact() is not None
    assert saved_attempts(sqlite_database) == []


def test_revealing_the_number_is_audited_and_kept_for_that_contact_only(
    sqlite_database, world
) -> None:
    flow = started(sqlite_database, world)
    contact = flow.next_contact()
    assert contact is not None and flow.revealed is None
    revealed = flow.reveal_number()
    assert revealed.tel_uri.startswith("tel:+44") and flow.revealed == revealed
    with sqlite_database.session() as s:
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "number_revealed")).one()
    assert (audit.actor_id, audit.target) == (world["volunteer"], f"contact:{contact.contact_id}")
    flow.skip(contact)
    flow.next_contact()
    assert flow.revealed is None


def test_the_lease_is_renewed_only_once_it_is_half_a_minute_old(sqlite_database, world) -> None:
    clock = Clock()
    flow = started(sqlite_database, world, clock=clock)
    contact = flow.next_contact()
    assert contact is not None
    minutes = world["view"].lease_minutes
    clock.at += timedelta(seconds=20)
    assert flow.keep_lease(minutes, {})
    assert flow.lease_expires_at == contact.lease_expires_at
    clock.at += timedelta(seconds=20)
    assert flow.keep_lease(minutes, {})
    assert flow.lease_expires_at == clock.at + timedelta(minutes=minutes)
    with sqlite_database.session() as s:
        row = s.get(QueueEntry, contact.queue_entry_id)
    assert row is not None and row.due_at.replace(tzinfo=UTC) == flow.lease_expires_at


def test_a_lost_lease_drops_the_contact_with_a_notice(sqlite_database, world) -> None:
    clock = Clock()
    flow = started(sqlite_database, world, clock=clock)
    contact = flow.next_contact()
    assert contact is not None
    with sqlite_database.write() as s:
        other = make_user(s)
        entry = s.get(QueueEntry, contact.queue_entry_id)
        entry.claimed_by_id = other.id
    clock.at += timedelta(minutes=1)
    assert not flow.keep_lease(world["view"].lease_minutes, {})
    assert flow.contact is None and flow.take_notice() == str(LeaseLost())


def test_stop_releases_the_contact_and_forgets_the_campaign(sqlite_database, world) -> None:
    flow = started(sqlite_database, world)
    assert flow.next_contact() is not None
    flow.stop()
    assert flow.campaign_id is None and flow.contact is None and flow.state == {}
    with sqlite_database.session() as s:
        assert set(s.exec(select(QueueEntry.status)).all()) == {"fresh"}


def test_the_call_link_carries_the_number_and_only_its_tap_is_audited(
    sqlite_database, world
) -> None:
    flow = started(sqlite_database, world)
    contact = flow.next_contact()
    assert contact is not None
    link = flow.dial_link()
    assert link.startswith("tel:+447400") and flow.revealed is None

    def reveals() -> list[str]:
        with sqlite_database.session() as s:
            return [e.target for e in s.exec(
                select(AuditEvent).where(AuditEvent.action == "number_revealed")).all()]

    assert reveals() == []
    flow.record_dial(contact)  # the link's on_click
    assert reveals() == [f"contact:{contact.contact_id}"]
    assert flow.revealed is not None and flow.revealed.tel_uri == link


def test_do_not_call_again_is_not_saved_without_its_confirmation(sqlite_database, world) -> None:
    flow = started(sqlite_database, world)
    contact = flow.next_contact()
    flow.state[flow.key("calling_outcome")] = "do_not_call"
    save(flow, world)
    problems = flow.take_problems()
    assert problems is not None and "every campaign" in problems.messages[0]
    assert flow.contact == contact
    flow.state[flow.key("calling_dnc_confirm")] = True
    save(flow, world)
    assert flow.contact is None and flow.confirmation is not None
