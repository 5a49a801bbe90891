"""Crashes on campaign day, in a real browser: a killed app server, a restarted PostgreSQL, and a
SQLite database locked by a long writer. What a volunteer saw confirmed must be in the database,
and nobody's contact may stay stuck with a session that died.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import (
    attempts_by_contact,
    duplicate_assignments,
    leases,
    seed_campaign,
    seed_people,
)
from tests.e2e.volunteer import Volunteer

pytestmark = pytest.mark.e2e

CODES = {"No answer": "no_answer", "Talked – completed survey": "completed",
         "Busy": "busy", "Talked – refused": "refused"}


def assert_every_confirmed_save_is_stored(db, campaign_id, volunteers) -> None:
    stored = {(r["username"], r["contact"], r["outcome_code"])
              for r in attempts_by_contact(db, campaign_id)}
    for volunteer in volunteers:
        for contact, label in volunteer.confirmed:
            assert (volunteer.username, contact, CODES[label]) in stored, (
                f"{volunteer.username} saw “{label}” for {contact} confirmed, "
                "but the database has no such call"
            )


def wait_reconnected(page, *, timeout: float = 60) -> None:
    """The page reconnects by itself when the server is back; reload if it gave up."""
    try:
        ui.wait_idle(page, timeout=timeout / 2)
    except Exception:
        page.reload()
        ui.wait_idle(page, timeout=timeout / 2)


def test_killing_the_app_server_mid_call_loses_no_confirmed_save_and_frees_held_contacts(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=3)
    # A one-minute lease (below the editor's 2-minute minimum, seeded directly), so the test
    # can watch leases lapse.
    campaign = seed_campaign(db, contacts=40, lease_minutes=1)
    server = start_server(sqlite_app_url)
    volunteers = [Volunteer(new_context(), f"vol0{n}") for n in (1, 2, 3)]
    for volunteer in volunteers:
        volunteer.sign_in(server.url)
        volunteer.start_calling()
    for volunteer in volunteers:
        assert volunteer.call("No answer") is not None
        assert volunteer.call("Talked – completed survey", answer="Yes") is not None
    # Mid-call: a contact on each screen, an outcome picked, nothing saved yet.
    held = {volunteer.username: volunteer.card() for volunteer in volunteers}
    for volunteer in volunteers:
        volunteer.pick_outcome("Busy")
    screenshots.take(volunteers[0].page, "mid call, before the crash")

    server.kill()
    # Two of the three never come back (laptop closed): their tabs go with the server.
    for volunteer in volunteers[1:]:
        volunteer.context.close()
    time.sleep(1)
    screenshots.take(volunteers[0].page, "server killed")

    assert_every_confirmed_save_is_stored(db, campaign["id"], volunteers)
    held_rows = {row["contact"]: row for row in leases(db, campaign["id"])}
    assert set(held.values()) <= set(held_rows), "a contact on screen was not held"

    server.start()  # the same port, as a supervisor would restart it
    first = volunteers[0]
    wait_reconnected(first.page)
    screenshots.take(first.page, "after restart")
    # The session died with the server: the sign-in cookie brings the volunteer back, or the
    # sign-in page asks them to sign in again; never a page list or a dead end.
    start = first.page.get_by_role("button", name="Start calling")
    sign_in = first.page.get_by_role("button", name="Sign in", exact=True)
    start.or_(sign_in).first.wait_for(timeout=30_000)
    if start.count() == 0:
        first.sign_in(server.url)
    again = first.start_calling()
    assert again == held["vol01"], "the volunteer's own held contact should come back first"
    screenshots.take(first.page, "own contact back after restart")

    # Before the dead sessions' leases lapse, their contacts go to nobody.
    for _ in range(2):
        first.call("No answer")
        assert first.shown[-1] not in (held["vol02"], held["vol03"])
    lapse = max(held_rows[held[name]]["due_at"] for name in ("vol02", "vol03"))
    wait = (lapse - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, wait) + 2)

    # Once lapsed, they come back to the queue ahead of fresh contacts.
    first.call("No answer")
    first.call("No answer")
    assert {first.shown[-2], first.shown[-1]} == {held["vol02"], held["vol03"]}
    screenshots.take(first.page, "a dead session's contact offered again")
    first.call("Talked – refused")

    assert_every_confirmed_save_is_stored(db, campaign["id"], volunteers)
    assert duplicate_assignments(db, campaign["id"]) == []


INTERNAL_MODULES = ("auth widgets", "call panel", "ui")


def test_a_tab_reopened_on_a_freshly_started_server_gets_the_apps_own_navigation(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    """After a restart, open tabs reconnect to the page they were on (here /calling).

    Until app.py has run once, Streamlit treats a folder named pages/ as an old-style pages
    directory and runs the requested file directly, outside app.py's role-based navigation,
    listing every module in pages/ in the sidebar. server.py must switch that off.
    """
    seed_people(test_db_factory(sqlite_app_url), volunteers=1)
    server = start_server(sqlite_app_url)
    page = new_context().new_page()
    page.goto(f"{server.url}/calling")
    ui.wait_idle(page)
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
    screenshots.take(page, "calling link on a fresh server")
    sidebar = page.locator('[data-testid="stSidebarNav"]').inner_text().lower().splitlines()
    assert not set(INTERNAL_MODULES) & {line.strip() for line in sidebar}, sidebar
    assert "Please sign in." not in ui.main_text(page)


def _cluster() -> tuple[str, str]:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir()) if Path(
        "/etc/postgresql").is_dir() else []
    if not versions:
        pytest.skip("no local PostgreSQL cluster to restart (/etc/postgresql is empty)")
    return versions[-1], "main"


def pg_ctl(action: str) -> None:
    version, cluster = _cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action],
                   check=True, capture_output=True, timeout=120)
    if action in ("start", "restart"):
        for _ in range(60):
            ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"])
            if ready.returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError("PostgreSQL did not come back")


def test_a_postgresql_restart_shows_a_clear_message_and_calling_resumes_without_an_app_restart(
    start_server, postgres_app_url, new_context, test_db_factory, screenshots
):
    _cluster()
    db = test_db_factory(postgres_app_url)
    seed_people(db, volunteers=2)
    campaign = seed_campaign(db, contacts=30)
    server = start_server(postgres_app_url)
    pid = server.process.pid
    alice, bob = (Volunteer(new_context(), name) for name in ("vol01", "vol02"))
    for volunteer in (alice, bob):
        volunteer.sign_in(server.url)
        volunteer.start_calling()
        assert volunteer.call("No answer") is not None

    # 1. A restart between clicks: every pooled connection is dead, and nobody should notice.
    alice.pick_outcome("Busy")
    pg_ctl("restart")
    assert alice.save() is not None, "the first save after a restart was not confirmed"
    assert ui.errors(alice.page) == []
    screenshots.take(alice.page, "saved straight after a restart")

    # 2. A click while the database is down. Stopping and starting (rather than `restart`)
    # makes sure the click lands in the gap, however fast this machine restarts.
    bob.pick_outcome("Talked – refused")
    on_screen = bob.card()
    pg_ctl("stop")
    try:
        bob.click_save()
        ui.wait_for_text(bob.page, "The database is not answering just now", timeout=30)
        screenshots.take(bob.page, "database down: a clear message")
        assert bob.page.locator('[data-testid="stException"]').count() == 0, "a traceback"
        assert bob.confirmation() is None
    finally:
        pg_ctl("start")
    ui.click_button(bob.page, "Try again")
    assert bob.card() == on_screen, "the contact on screen was lost"
    assert bob.call("Talked – refused") == (on_screen, "Talked – refused")
    assert alice.call("Talked – completed survey", answer="No") is not None
    screenshots.take(bob.page, "calling again, same app process")

    assert server.process.pid == pid and server.running, "the app had to be restarted"
    assert_every_confirmed_save_is_stored(db, campaign["id"], (alice, bob))
    assert duplicate_assignments(db, campaign["id"]) == []


def test_a_long_sqlite_writer_makes_the_calling_page_wait_then_save_without_a_crash(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=1)
    campaign = seed_campaign(db, contacts=10)
    server = start_server(sqlite_app_url)
    volunteer = Volunteer(new_context(), "vol01")
    volunteer.sign_in(server.url)
    volunteer.start_calling()
    assert volunteer.call("No answer") is not None
    volunteer.pick_outcome("Busy")
    on_screen = volunteer.card()

    path = sa.make_url(sqlite_app_url).database
    writer = sqlite3.connect(path, isolation_level=None, timeout=30)
    writer.execute("BEGIN IMMEDIATE")  # another process's long write holds the lock
    writer.execute("UPDATE contact SET updated_at = updated_at WHERE id = 1")
    hold = 6.0
    try:
        started = time.monotonic()
        volunteer.click_save()
        time.sleep(hold)
        screenshots.take(volunteer.page, "waiting for the lock")
        assert ui.errors(volunteer.page) == []
        assert volunteer.page.locator('[data-testid="stException"]').count() == 0
    finally:
        writer.execute("COMMIT")
        writer.close()
    next_contact = volunteer.wait_for_contact(other_than=on_screen, timeout=30)
    waited = time.monotonic() - started
    seen = volunteer.confirmation()
    screenshots.take(volunteer.page, "saved after the lock")
    assert seen == (on_screen, "Busy")
    volunteer.confirmed.append(seen)
    assert next_contact != on_screen
    assert waited >= hold - 0.5, "the save cannot have finished while the lock was held"
    assert ui.errors(volunteer.page) == []
    assert_every_confirmed_save_is_stored(db, campaign["id"], [volunteer])
