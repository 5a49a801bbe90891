"""An open calling page keeps its contact (issue #5): nobody clicks, the heartbeat renews.

A full rerun renews the lease only once it has aged a minute (tests/pages/test_calling.py), so a
volunteer who is listening, not clicking, depends on the `run_every=60` heartbeat fragment alone.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from core import calling_hours
from db.models import Campaign
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import leases, seed_campaign, seed_people, wait_until
from tests.e2e.volunteer import Volunteer

pytestmark = pytest.mark.e2e

# The shortest lease an organiser can set (core.campaigns.update_campaign, pages/campaigns.py).
# The heartbeat renews once a lease is 30 s old, so its first tick, a minute in, must write.
LEASE_MINUTES = 2
HEARTBEAT_SECONDS = 60
IDLE_TIMEOUT = 100.0  # the tick, plus slack for a 2-core machine under load
# Every name the contact card has shown, in order (tests/e2e/volunteer.py's page probe).
SHOWN = "() => window.__rr.shown.map(s => s.name)"


def wait_for_renewal(db, campaign_id: int, claimed_until: datetime) -> list[dict[str, Any]]:
    """Poll the database (not the page) until the lease's expiry moves past the claim's."""
    def renewed() -> list[dict[str, Any]]:
        held = leases(db, campaign_id)
        return held if any(row["due_at"] > claimed_until for row in held) else []

    return wait_until(renewed, timeout=IDLE_TIMEOUT, every=2) or leases(db, campaign_id)


def test_an_idle_calling_page_keeps_its_contact_leased_through_the_heartbeat(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    people = seed_people(db, volunteers=1)
    volunteer_id = next(p["id"] for p in people if p["username"] == "vol01")
    campaign = seed_campaign(db, contacts=3, lease_minutes=LEASE_MINUTES)
    with db.session() as session:
        zone = calling_hours.zone(session.get(Campaign, campaign["id"]).timezone)
    server = start_server(sqlite_app_url)
    volunteer = Volunteer(new_context(), "vol01")
    volunteer.sign_in(server.url)
    on_screen = volunteer.start_calling()
    [claim] = leases(db, campaign["id"])
    assert (claim["contact"], claim["claimed_by_id"]) == (on_screen, volunteer_id)
    claimed_until = claim["due_at"]
    cards_at_claim = volunteer.page.evaluate(SHOWN)
    assert cards_at_claim[-1] == on_screen
    screenshots.take(volunteer.page, "contact claimed")

    # Idle: no click, no key, nothing that would make Streamlit rerun the page.
    idle_from = time.monotonic()
    held = wait_for_renewal(db, campaign["id"], claimed_until)
    idle = time.monotonic() - idle_from
    ui.wait_idle(volunteer.page)
    screenshots.take(volunteer.page, "after a minute of nobody clicking")

    assert [(row["id"], row["contact"], row["claimed_by_id"]) for row in held] == [
        (claim["id"], on_screen, volunteer_id)]
    renewed_until = held[0]["due_at"]
    assert renewed_until > claimed_until, f"no renewal in {idle:.0f} s of idling"
    # Written by the tick a minute after the claim, not by some write straight after it.
    assert renewed_until - claimed_until >= timedelta(seconds=HEARTBEAT_SECONDS / 2)
    # The same contact, never replaced even for a moment, and the new hold shown to them.
    assert volunteer.card() == on_screen
    assert volunteer.page.evaluate(SHOWN) == cards_at_claim
    held_until = renewed_until.astimezone(zone).strftime("%H:%M")
    ui.wait_for_text(volunteer.page, f"This contact is held for you until {held_until}.")
    assert ui.errors(volunteer.page) == []
    assert volunteer.page.locator('[data-testid="stAlertContentWarning"]').count() == 0
