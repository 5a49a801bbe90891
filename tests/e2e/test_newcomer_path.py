"""A newcomer's whole first campaign, in Chromium, on a fresh database, through the UI only.

First-run setup, upload a CSV, map its columns, create a campaign with a script and a survey,
build a segment and attach it, create an invite; then a volunteer in a second browser context
registers from the invite and makes five calls with outcomes and survey answers, while the
organiser's dashboard, never reloaded, counts them.
Screenshots of every step: artifacts/e2e/test_a_newcomer_.../
"""

from __future__ import annotations

import re
import time as clock
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import attempts_by_contact
from tests.e2e.volunteer import Volunteer

pytestmark = pytest.mark.e2e

ORGANISER_PASSWORD = "a long organiser password"
VOLUNTEER_PASSWORD = "a long volunteer password"
QUESTION = "Will you join Saturday's action?"
ZONES = ("Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Auckland", "America/New_York",
         "America/Los_Angeles", "Pacific/Honolulu")


def members_csv(tmp_path) -> str:
    rows = ["Forename,Surname,Contact number,Constituency,Ward,Branch"]
    for n in range(1, 13):
        seat = "Crewe and Nantwich" if n <= 8 else "Bedford"
        ward = "Crewe Central" if n <= 8 else "Bedford Castle"
        rows.append(f"Member{n:02d},Newcomer,07400 {100000 + n:06d},{seat},{ward},North")
    rows.append("Nophone,Person,,Bedford,Bedford Castle,North")  # rejected: no number
    path = tmp_path / "members.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def metric(page, label: str) -> int | None:
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True))
    if box.count() == 0:
        return None
    digits = re.sub(r"[^0-9]", "", box.first.locator('[data-testid="stMetricValue"]').inner_text())
    return int(digits) if digits else None


def test_a_newcomer_sets_up_imports_targets_invites_and_watches_five_calls_come_in(
    start_server, sqlite_app_url, new_context, screenshots, test_db_factory, tmp_path
):
    server = start_server(sqlite_app_url, RINGROUND_DASHBOARD_REFRESH_SECONDS="2")
    organiser = new_context().new_page()

    # 1. First-run setup creates the first organiser and signs them in.
    ui.open_app(organiser, server.url)
    ui.wait_for_text(organiser, "Create the first organiser")
    screenshots.take(organiser, "first run")
    ui.set_up_first_organiser(organiser, name="Olive Organiser", email="olive@example.org",
                              username="olive", password=ORGANISER_PASSWORD)
    ui.wait_for_text(organiser, "Signed in as")

    # 2. Upload a CSV and map its columns.
    ui.go_to(organiser, "Import contacts")
    organiser.set_input_files('input[type="file"]', members_csv(tmp_path))
    ui.wait_for_text(organiser, "Columns", timeout=60)
    ui.wait_idle(organiser)
    # Column pickers are labelled by position: a header is untrusted text, shown plain beside.
    ui.choose(organiser, "Field for column 3", "Mobile phone")  # the "Contact number" column
    screenshots.take(organiser, "columns mapped")
    ui.click_button(organiser, "Import")
    ui.wait_for_text(organiser, "Import: done", timeout=60)
    ui.wait_for_text(organiser, "File: members.csv")
    organiser.get_by_text("Merged duplicates", exact=True).wait_for()
    ui.wait_idle(organiser)
    accounting = ui.main_text(organiser)
    screenshots.take(organiser, "import accounted for")
    assert re.search(r"Rows in file\s+13", accounting), accounting
    assert re.search(r"Inserted\s+12", accounting) and re.search(r"Rejected\s+1", accounting)

    # 3. A campaign with a script, a survey question and calling hours open now.
    ui.go_to(organiser, "Campaigns")
    organiser.get_by_text("New campaign", exact=True).click()
    ui.fill(organiser, "Name", "NHS campaign day")
    ui.fill(organiser, "What it is for", "Ask members to join Saturday's action")
    ui.click_button(organiser, "Create campaign")
    ui.wait_for_text(organiser, "as a draft")

    ui.open_tab(organiser, "Script")
    ui.fill(organiser, "Script",
            "Hello {first_name}, I'm {volunteer_first_name} from the {Branch} branch.\n\n"
            "**Ask:** will you join Saturday's action?")
    screenshots.take(organiser, "script typed")
    ui.click_button(organiser, "Save script")
    ui.wait_for_text(organiser, "Script saved.")

    ui.open_tab(organiser, "Survey")
    ui.fill(organiser, "Question", QUESTION)
    ui.choose(organiser, "Kind", "Yes / no")
    screenshots.take(organiser, "survey question typed")
    ui.click_button(organiser, "Add question")
    ui.wait_for_text(organiser, "Question added")

    # New campaigns call 09:00-21:00 in their time zone. So that this test passes at any hour,
    # the newcomer sets the zone to one where it is daytime now (London when it is).
    zone = next(z for z in ZONES if time(9, 30) <= datetime.now(ZoneInfo(z)).time() <= time(20))
    if zone != "Europe/London":
        ui.open_tab(organiser, "Details")
        ui.fill(organiser, "Time zone", zone)
        ui.click_button(organiser, "Save details")
        ui.wait_for_text(organiser, "Details saved.")
    ui.click_button(organiser, "Start calling")
    ui.wait_for_text(organiser, "is now active")
    screenshots.take(organiser, "campaign active")

    # 4. A segment: the members in one constituency, attached to the campaign.
    ui.go_to(organiser, "Targeting")
    ui.multiselect(organiser, "Constituencies", ["Crewe and Nantwich"])
    organiser.get_by_text("Contacts in this segment").wait_for()
    assert metric(organiser, "Contacts in this segment") == 8
    screenshots.take(organiser, "segment built")
    ui.click_button(organiser, "Attach to campaign")
    ui.wait_for_text(organiser, "8 contacts added")

    # 5. An invite link for volunteers.
    ui.go_to(organiser, "Team")
    ui.click_button(organiser, "Create invite link")
    link = organiser.locator('[data-testid="stCode"]').first.inner_text()
    token = re.search(r"invite=([A-Za-z0-9_\-]+)", link)
    assert token, link
    # No RINGROUND_PUBLIC_URL here: the link starts with the address this browser is using.
    assert link.startswith(f"{server.url}/join?invite="), link
    screenshots.take(organiser, "invite created")

    # The organiser watches the dashboard from now on, without reloading it.
    ui.go_to(organiser, "Dashboard")
    organiser.get_by_text("Dials (all time)", exact=True).wait_for()
    assert metric(organiser, "Dials (all time)") == 0
    screenshots.take(organiser, "dashboard before calls")

    # 6. A volunteer, in a browser context of their own, registers from the invite.
    volunteer = Volunteer(new_context(), "vera")
    page = volunteer.page
    ui.open_app(page, f"{server.url}/join?invite={token[1]}")
    ui.wait_for_text(page, "Create your account")
    ui.fill(page, "Your name", "Vera Volunteer")
    ui.fill(page, "Email", "vera@example.org")
    ui.fill(page, "Username", "vera")
    ui.fill(page, "Password", VOLUNTEER_PASSWORD)
    ui.fill(page, "Repeat password", VOLUNTEER_PASSWORD)
    screenshots.take(page, "volunteer registers")
    ui.click_button(page, "Create account and start calling")
    page.get_by_role("button", name="Start calling").wait_for(timeout=30_000)
    try:
        first = volunteer.start_calling()
    finally:
        screenshots.take(page, "volunteer starts calling")
    screenshots.take(page, "volunteer calling")
    script = ui.main_text(page)
    assert "I'm Vera from the North branch" in script
    assert first.startswith("Member0")

    # 7. Five calls, with outcomes and survey answers.
    calls = [("Talked – completed survey", "Yes"), ("No answer", None),
             ("Talked – completed survey", "No"), ("Talked – refused", None),
             ("Left voicemail", None)]
    for number, (label, answer) in enumerate(calls, start=1):
        if answer is not None:
            volunteer.answer(answer, question=QUESTION)
        volunteer.pick_outcome(label)
        if number == 1:
            screenshots.take(page, "first call filled in")
        assert volunteer.save() is not None
    screenshots.take(page, "after five calls")
    assert len(volunteer.confirmed) == 5
    assert len(set(volunteer.shown)) == 6

    # 8. The dashboard, untouched since before the calls, shows them.
    deadline = clock.monotonic() + 30
    while clock.monotonic() < deadline and metric(organiser, "Dials (all time)") != 5:
        organiser.wait_for_timeout(500)
    screenshots.take(organiser, "dashboard after calls")
    assert metric(organiser, "Dials (all time)") == 5
    assert metric(organiser, "Completed") == 2

    rows = attempts_by_contact(test_db_factory(sqlite_app_url), 1)
    assert sorted(r["outcome_code"] for r in rows) == sorted(
        ["completed", "no_answer", "completed", "refused", "voicemail"])
    assert {r["username"] for r in rows} == {"vera"}
