"""Callbacks are bounded, capped per volunteer, listed and releasable (issue #13, #15)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.audit import recent_events
from core.callbacks import (
    callback_deadline,
    callbacks_by_volunteer,
    my_callbacks,
    release_callbacks,
)
from core.queue import CallbackLimitReached, CallbackTimeNeeded, claim_next_contact, record_outcome
from db.engine import Database
from db.models import QueueEntry
from tests.factories import make_campaign, make_contact, make_user, queue_contacts

NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # a Wednesday, 14:00 in London


def arrange(db: Database, n: int = 3, **campaign_fields):
    with db.write() as s:
        volunteer = make_user(s, name="Vera Volunteer")
        other = make_user(s, name="Omar Other")
        campaign = make_campaign(s, **campaign_fields)
        contacts = [make_contact(s, first_name=f"Person{i}", last_name="Smith")
                    for i in range(n)]
        queue_contacts(s, campaign, contacts)
        return volunteer.id, other.id, campaign.id


def book_callback(db: Database, campaign_id: int, volunteer_id: int, at: datetime,
                  now: datetime = NOON) -> int:
    with db.write() as s:
        claimed = claim_next_contact(session=s, campaign_id=campaign_id,
                                     volunteer_id=volunteer_id, now=now)
    assert claimed is not None
    with db.write() as s:
        record_outcome(session=s, queue_entry_id=claimed.queue_entry_id,
                       volunteer_id=volunteer_id, outcome_code="call_back",
                       idempotency_key=uuid.uuid4().hex, answers={}, notes="",
                       started_at=now - timedelta(minutes=1), now=now, callback_at=at)
    return claimed.queue_entry_id


def leased(db: Database) -> list[int]:
    with db.session() as s:
        return list(s.exec(select(QueueEntry.id).where(QueueEntry.status == "leased")))


def test_a_callback_ten_years_ahead_is_refused_in_words(database: Database) -> None:
    volunteer, _, campaign_id = arrange(database)
    with pytest.raises(CallbackTimeNeeded, match="too far ahead.*Wed 24 Jun 2026, 14:00"):
        book_callback(database, campaign_id, volunteer, NOON + timedelta(days=3650))
    assert len(leased(database)) == 1  # nothing saved: the contact is still on screen


def test_a_callback_within_the_campaigns_days_is_booked(database: Database) -> None:
    volunteer, _, campaign_id = arrange(database, callback_max_days=3)
    entry_id = book_callback(database, campaign_id, volunteer, NOON + timedelta(days=3))
    with database.session() as s:
        row = s.get(QueueEntry, entry_id)
        assert row is not None and (row.status, row.callback_owner_id) == ("callback", volunteer)
    with pytest.raises(CallbackTimeNeeded, match="too far ahead"):
        book_callback(database, campaign_id, volunteer, NOON + timedelta(days=3, minutes=15))


def test_no_callback_is_booked_after_the_campaign_ends(database: Database) -> None:
    volunteer, _, campaign_id = arrange(database, ends_at=NOON + timedelta(days=2))
    with pytest.raises(CallbackTimeNeeded, match="too far ahead"):
        book_callback(database, campaign_id, volunteer, NOON + timedelta(days=5))
    book_callback(database, campaign_id, volunteer, NOON + timedelta(days=1))


def test_one_volunteer_holds_at_most_the_campaigns_cap_of_callbacks(database: Database) -> None:
    volunteer, other, campaign_id = arrange(database, n=4, max_callbacks_per_volunteer=2)
    for _ in range(2):
        book_callback(database, campaign_id, volunteer, NOON + timedelta(days=1))
    with pytest.raises(CallbackLimitReached, match="already hold 2 callbacks.*My callbacks"):
        book_callback(database, campaign_id, volunteer, NOON + timedelta(days=1))
    book_callback(database, campaign_id, other, NOON + timedelta(days=1))  # a cap each


def test_organisers_see_who_holds_callbacks_and_release_them_to_everyone(
    database: Database,
) -> None:
    volunteer, other, campaign_id = arrange(database, n=3)
    tomorrow = NOON + timedelta(days=1)
    first = book_callback(database, campaign_id, volunteer, tomorrow)
    book_callback(database, campaign_id, volunteer, tomorrow + timedelta(hours=2))
    others = book_callback(database, campaign_id, other, tomorrow)
    with database.session() as s:
        holders = callbacks_by_volunteer(session=s, campaign_id=campaign_id)
    assert [(h.name, h.callbacks, h.next_due_at) for h in holders] == [
        ("Vera Volunteer", 2, tomorrow), ("Omar Other", 1, tomorrow)]
    with database.write() as s:
        released = release_callbacks(session=s, campaign_id=campaign_id, owner_id=volunteer,
                                     now=NOON, actor_id=other)
    assert released == 2
    with database.session() as s:
        assert [h.name for h in callbacks_by_volunteer(session=s, campaign_id=campaign_id)] == [
            "Omar Other"]
        [event] = [e for e in recent_events(session=s) if e["action"] == "callbacks_released"]
        assert event["target"] == f"user:{volunteer}" and event["details"]["count"] == 2
    # At its time, someone else may now make the call.
    with database.write() as s:
        claimed = claim_next_contact(session=s, campaign_id=campaign_id, volunteer_id=other,
                                     now=tomorrow + timedelta(minutes=1),
                                     exclude_entry_ids=[others])
    assert claimed is not None and claimed.queue_entry_id == first


def test_a_volunteer_lists_their_callbacks_by_name_and_releases_one(database: Database) -> None:
    volunteer, _, campaign_id = arrange(database, n=2)
    first = book_callback(database, campaign_id, volunteer, NOON + timedelta(hours=3))
    book_callback(database, campaign_id, volunteer, NOON + timedelta(hours=1))
    with database.session() as s:
        mine = my_callbacks(session=s, volunteer_id=volunteer)
    assert [(c.due_at, c.contact_name) for c in mine] == [
        (NOON + timedelta(hours=1), "Person1 Smith"), (NOON + timedelta(hours=3), "Person0 Smith")]
    assert "phone" not in str(mine[0]).lower()
    with database.write() as s:
        assert release_callbacks(session=s, campaign_id=campaign_id, owner_id=volunteer,
                                 now=NOON, actor_id=volunteer, queue_entry_ids=[first]) == 1
    with database.session() as s:
        assert [c.contact_name for c in my_callbacks(session=s, volunteer_id=volunteer)] == [
            "Person1 Smith"]


def test_releasing_a_hoarded_callback_brings_it_back_within_the_bound(database: Database) -> None:
    volunteer, _, campaign_id = arrange(database, n=1)
    entry_id = book_callback(database, campaign_id, volunteer, NOON + timedelta(days=1))
    with database.write() as s:  # parked years ahead before the bound existed
        row = s.get(QueueEntry, entry_id)
        assert row is not None
        row.due_at = NOON + timedelta(days=3650)
        s.add(row)
    with database.write() as s:
        release_callbacks(session=s, campaign_id=campaign_id, owner_id=volunteer, now=NOON,
                          actor_id=None)
    with database.session() as s:
        row = s.get(QueueEntry, entry_id)
        assert row is not None
        assert row.due_at == callback_deadline(NOON, 14, None) == row.release_at
