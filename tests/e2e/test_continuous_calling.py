"""A continuous calling session in Chromium, against the app's own fake Twilio (issue #18).

The fake plays each contact's call life by the number's last digit (core.dialing.fake.demo_life:
9 a machine, 5 busy, the rest a person). The volunteer starts a session; the first person is
put through and their card appears; after Save, the machine is read the campaign's message and
the busy line is logged without a click; then Pause and End.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db.models import CallAttempt, Campaign, Contact, QueueEntry, User
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import contact_name, seed_campaign, seed_people, wait_until
from tests.e2e.volunteer import Volunteer

pytestmark = pytest.mark.e2e

MESSAGE = "Hello from the NHS campaign. We will try you again soon."
# Contacts 1, 9 and 5 of seed_campaign: a person, a machine, a busy line, dialled in that order.
ORDER = {1: 3, 9: 2, 5: 1}


def arrange(db) -> dict[str, int]:
    seed_people(db, volunteers=1)
    campaign = seed_campaign(db, contacts=9, name="Continuous campaign")
    with db.write() as session:
        row = session.get(Campaign, campaign["id"])
        row.dialer, row.caller_id, row.voicemail_message = "fake", "+441270123456", MESSAGE
        session.add(row)
        volunteer = session.execute(sa.select(User).where(User.username == "vol01")).scalar_one()
        volunteer.phone, volunteer.phone_verified = "+447400100099", True
        session.add(volunteer)
        for n in range(1, 10):
            first, _ = contact_name(n)
            contact_id = session.execute(
                sa.select(Contact.id).where(Contact.first_name == first)).scalar_one()
            entry = session.execute(
                sa.select(QueueEntry).where(QueueEntry.contact_id == contact_id)).scalar_one()
            if n in ORDER:
                entry.priority = ORDER[n]
            else:
                entry.status = "excluded"
            session.add(entry)
    return {"campaign_id": campaign["id"], "volunteer_id": volunteer.id}


def wait_for_text(page, text: str, timeout: float = 45) -> None:
    if not wait_until(lambda: text in ui.main_text(page), timeout=timeout, every=0.3):
        raise AssertionError(f"never saw {text!r}; the page says:\n{ui.main_text(page)[-1500:]}")


def test_a_session_in_the_browser_puts_a_person_through_and_logs_a_machine_and_a_busy_line(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    world = arrange(db)
    server = start_server(sqlite_app_url)
    volunteer = Volunteer(new_context(), "vol01")
    volunteer.sign_in(server.url)
    volunteer.start_calling()
    page = volunteer.page
    screenshots.take(page, "01-offered")
    page.get_by_role("button", name="Start session").click()
    wait_for_text(page, "Connected")
    volunteer.wait_for_contact()
    assert volunteer.card() == " ".join(contact_name(1))
    assert "7400" not in ui.main_text(page)
    screenshots.take(page, "02-person-on-the-line")

    volunteer.pick_outcome("Talked – completed survey")
    volunteer.click_save()
    wait_for_text(page, "Nobody is waiting")
    wait_for_text(page, "3 dialled · 1 talked to")
    screenshots.take(page, "03-machine-and-busy-logged")
    with db.session() as session:
        logged = session.execute(
            sa.select(CallAttempt.outcome_code, CallAttempt.volunteer_id)
            .where(CallAttempt.campaign_id == world["campaign_id"]).order_by(CallAttempt.id)
        ).all()
    assert [tuple(row) for row in logged] == [
        ("completed", world["volunteer_id"]), ("voicemail", world["volunteer_id"]),
        ("busy", world["volunteer_id"])]

    page.get_by_role("button", name="Pause").click()
    wait_for_text(page, "Paused")
    screenshots.take(page, "04-paused")
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Start session").wait_for(timeout=30_000)
    screenshots.take(page, "05-ended")
    with db.session() as session:
        status = session.execute(sa.text("SELECT status FROM callingsession")).scalars().all()
    assert status == ["ended"]
