"""Placing a campaign's bridge: core finds both numbers, refuses when it must, and never hands
them to the page."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.audit import recent_events
from core.config import Settings
from core.dialing import (
    BridgeRefused,
    CallerIdNotVerified,
    DialerError,
    FakeDialer,
    NoVerifiedPhone,
    plan_bridge,
    start_campaign_call,
)
from core.suppression import add_suppression
from db.engine import Database
from db.models import QueueEntry, User
from tests.factories import demo_settings, make_campaign, make_contact, make_user, queue_contacts

VOLUNTEER_PHONE = "+447400100099"
SETTINGS_CALLER_ID = "+441270000001"
NOW = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # a Wednesday, 14:00 in London


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path, TWILIO_CALLER_IDS=SETTINGS_CALLER_ID)


def arrange(database: Database, *, verified: bool = True, **campaign: Any) -> dict[str, Any]:
    with database.write() as session:
        volunteer = make_user(session)
        row = session.get(User, volunteer.id)
        assert row is not None
        row.phone, row.phone_verified = VOLUNTEER_PHONE, verified
        session.add(row)
        made = make_campaign(session, **{"dialer": "twilio", **campaign})
        contact = make_contact(session, first_name="Ann", last_name="Smith")
        [entry] = queue_contacts(session, made, [contact], status="leased",
                                 claimed_by_id=volunteer.id, leased_from="fresh",
                                 due_at=NOW + timedelta(minutes=10))
        return {"campaign_id": made.id, "contact_id": contact.id, "volunteer_id": volunteer.id,
                "phone": contact.phone, "queue_entry_id": entry.id}


def plan(database: Database, ids: dict[str, Any], settings: Settings,
         now: datetime = NOW, volunteer_id: int | None = None):
    with database.session() as session:
        return plan_bridge(session=session, queue_entry_id=ids["queue_entry_id"],
                           volunteer_id=volunteer_id or ids["volunteer_id"],
                           settings=settings, now=now)


def test_the_plan_rings_the_volunteer_from_the_campaign_caller_id(
    database: Database, settings: Settings
) -> None:
    ids = arrange(database, caller_id="01270 123456")
    bridge = plan(database, ids, settings)
    assert (bridge.volunteer_phone, bridge.contact_phone, bridge.caller_id, bridge.contact_name
            ) == (VOLUNTEER_PHONE, ids["phone"], "+441270123456", "Ann Smith")


def test_without_a_campaign_caller_id_the_first_configured_one_is_used(
    database: Database, settings: Settings
) -> None:
    assert plan(database, arrange(database), settings).caller_id == SETTINGS_CALLER_ID


def test_an_invalid_caller_id_is_refused_in_words(database: Database, settings: Settings) -> None:
    ids = arrange(database, caller_id="12345")
    with pytest.raises(CallerIdNotVerified, match="caller ID"):
        plan(database, ids, settings)


def test_an_unconfirmed_phone_cannot_be_rung(database: Database, settings: Settings) -> None:
    with pytest.raises(NoVerifiedPhone, match="My account"):
        plan(database, arrange(database, verified=False), settings)


def test_a_number_that_replied_stop_since_it_was_queued_is_not_called(
    database: Database, settings: Settings
) -> None:
    ids = arrange(database)
    with database.write() as session:
        add_suppression(session=session, phone=ids["phone"], source="sms_stop")
    with pytest.raises(DialerError, match="asked not to be called|no longer yours"):
        plan(database, ids, settings)


def test_starting_a_call_returns_only_the_call_id_and_state(
    database: Database, settings: Settings
) -> None:
    ids = arrange(database, dialer="fake", caller_id="+441270123456")
    dialer = FakeDialer()
    info = start_campaign_call(database=database, dialer=dialer,
                               queue_entry_id=ids["queue_entry_id"],
                               volunteer_id=ids["volunteer_id"], settings=settings, now=NOW)
    assert info.provider_call_id == dialer.calls[0].sid and info.provider_status == "queued"
    assert ids["phone"] not in str(asdict(info)) and VOLUNTEER_PHONE not in str(asdict(info))
    assert dialer.calls[0].contact_phone == ids["phone"]


def test_starting_a_bridge_is_audited_with_the_contact_and_never_a_number(
    database: Database, settings: Settings
) -> None:
    ids = arrange(database, dialer="fake", caller_id="+441270123456")
    dialer = FakeDialer()
    start_campaign_call(database=database, dialer=dialer, queue_entry_id=ids["queue_entry_id"],
                        volunteer_id=ids["volunteer_id"], settings=settings, now=NOW)
    with database.session() as session:
        events = [e for e in recent_events(session=session) if e["action"] == "bridge_started"]
    assert [(e["actor_id"], e["target"]) for e in events] == [
        (ids["volunteer_id"], f"contact:{ids['contact_id']}")]
    assert events[0]["details"]["provider_call_id"] == dialer.calls[0].sid
    assert ids["phone"] not in str(events) and VOLUNTEER_PHONE not in str(events)


def test_a_bridge_for_a_contact_leased_to_someone_else_is_refused_and_places_no_call(
    database: Database, settings: Settings
) -> None:
    ids = arrange(database, dialer="fake", caller_id="+441270123456")
    with database.write() as session:
        other = make_user(session)
    dialer = FakeDialer()
    with pytest.raises(BridgeRefused, match="no longer yours"):
        start_campaign_call(database=database, dialer=dialer,
                            queue_entry_id=ids["queue_entry_id"], volunteer_id=other.id,
                            settings=settings, now=NOW)
    assert dialer.calls == []


def test_a_bridge_after_the_lease_was_given_back_is_refused(
    database: Database, settings: Settings
) -> None:
    ids = arrange(database, dialer="fake", caller_id="+441270123456")
    with database.write() as session:
        entry = session.get(QueueEntry, ids["queue_entry_id"])
        assert entry is not None
        entry.status, entry.claimed_by_id = "fresh", None
        session.add(entry)
    with pytest.raises(BridgeRefused, match="no longer yours"):
        plan(database, ids, settings)


def test_a_bridge_outside_calling_hours_is_refused(database: Database, settings: Settings) -> None:
    ids = arrange(database, dialer="fake", caller_id="+441270123456")
    late = datetime(2026, 6, 10, 21, 30, tzinfo=UTC)  # 22:30 in London
    with pytest.raises(BridgeRefused, match="Calling hours"):
        plan(database, ids, settings, now=late)


def test_a_bridge_in_a_paused_campaign_is_refused(database: Database, settings: Settings) -> None:
    ids = arrange(database, dialer="fake", caller_id="+441270123456", status="paused")
    with pytest.raises(BridgeRefused, match="paused"):
        plan(database, ids, settings)
