"""Calling from a phone (390×844) and from the keyboard alone (issue #15).

One tap on Call opens the dialler (a tel: link) and records the reveal; the outcome and Save bar
stays on screen over a long script; after Save the next contact's name and Call link are in view
with focus on the name, and a live region announces the save and the next contact.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from db.models import AuditEvent, Campaign, SurveyQuestion
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import attempts_by_contact, seed_campaign, seed_people
from tests.e2e.volunteer import Volunteer

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
LONG_SCRIPT = "\n\n".join(
    f"**Part {n}.** Hello {{first_name}}, this is {{volunteer_first_name}}. " + "Talk. " * 40
    for n in range(1, 7)
)


def in_view(page: Any, locator: Any) -> bool:
    """Wholly on screen, and not under Streamlit's fixed header."""
    box = locator.bounding_box()
    header = page.locator('[data-testid="stHeader"]').bounding_box()
    top = header["y"] + header["height"] if header else 0
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= top and box["y"] + box["height"] <= height


def card_heading(page: Any) -> Any:
    return page.locator(".st-key-calling_card h3")


def call_link(page: Any) -> Any:
    return page.locator('.st-key-calling_card a[href^="tel:"]')


def reveals(db: Any) -> list[str]:
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    with db.session() as session:
        return list(session.execute(
            sa.select(table.c.target).where(table.c.action == "number_revealed")
            .order_by(table.c.id)).scalars())


@pytest.fixture
def long_campaign(sqlite_app_url, test_db_factory):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=1)
    campaign = seed_campaign(db, contacts=4)
    with db.write() as session:
        session.get(Campaign, campaign["id"]).script = LONG_SCRIPT
        for n in range(3):
            session.add(SurveyQuestion(campaign_id=campaign["id"], text=f"Extra question {n}",
                                       kind="text", options=[], position=n + 1))
    return db, campaign


def test_one_tap_dials_and_the_next_contact_is_in_view_after_save_on_a_phone(
    start_server, sqlite_app_url, new_context, long_campaign, screenshots
):
    db, campaign = long_campaign
    server = start_server(sqlite_app_url)
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    volunteer = Volunteer(context, "vol01")
    page = volunteer.page
    volunteer.sign_in(server.url)
    first = volunteer.start_calling()
    screenshots.take(page, "phone: first contact", full_page=False)

    # One control, named for the person; the number is nowhere on screen before the tap.
    link = call_link(page)
    assert link.count() == 1
    assert link.inner_text().strip().endswith(f"Call {first.split()[0]}")
    assert link.get_attribute("href").startswith("tel:+447400")
    assert "07400" not in ui.main_text(page)
    assert reveals(db) == []

    # The outcome and Save bar is on screen although the script runs far below the fold.
    save = page.get_by_role("button", name="Save and next", exact=True)
    assert in_view(page, save)
    outcome = page.get_by_role("radiogroup", name="Outcome")
    assert outcome.bounding_box() is not None
    labels = outcome.locator("label")
    heights = [labels.nth(i).bounding_box()["height"] for i in range(labels.count())]
    assert min(heights) >= 44, heights
    assert save.bounding_box()["height"] >= 44
    # Stop is nowhere near Skip.
    skip = page.get_by_role("button", name="Skip", exact=True).bounding_box()
    stop = page.get_by_role("button", name="Stop calling").bounding_box()
    assert abs(stop["y"] - skip["y"]) > 300

    # One tap: the phone's dialler takes the tel: link (headless Chromium has none, so any
    # tab it opens is closed), and the same tap records the reveal.
    context.on("page", lambda opened: opened.close())
    link.tap()
    ui.wait_for_text(page, "Dialling 07400")
    assert len(reveals(db)) == 1
    screenshots.take(page, "phone: after one tap on Call", full_page=False)

    # Scroll down the long script, finish the call from the bar, and land on the next person.
    page.mouse.wheel(0, 5000)
    ui.radio(page, "No answer", group="Outcome")
    screenshots.take(page, "phone: scrolled down, outcome picked", full_page=False)
    second = None
    volunteer.save()
    second = volunteer.card()
    assert second is not None and second != first
    page.wait_for_function("() => document.activeElement && "
                           "document.activeElement.closest('.st-key-calling_card') !== null")
    assert in_view(page, card_heading(page)) and in_view(page, call_link(page))
    page.wait_for_function(
        "(name) => (document.getElementById('rr-live') || {}).textContent?.includes(name)",
        arg=f"Now calling {second}")
    live = page.locator("#rr-live")
    assert live.get_attribute("aria-live") == "polite"
    assert re.search(rf"Saved “No answer” for {first}\.", live.text_content())
    screenshots.take(page, "phone: next contact in view after save", full_page=False)
    assert [(a["contact"], a["outcome_code"]) for a in attempts_by_contact(db, campaign["id"])
            ] == [(first, "no_answer")]
    assert ui.errors(page) == []


def test_a_volunteer_calls_with_the_keyboard_alone(
    start_server, sqlite_app_url, new_context, long_campaign, screenshots
):
    db, campaign = long_campaign
    server = start_server(sqlite_app_url)
    volunteer = Volunteer(new_context(), "vol01")
    page = volunteer.page
    volunteer.sign_in(server.url)
    first = volunteer.start_calling()

    def tab_to(test: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => {{ const e = document.activeElement; return !!({test}); }}"):
                return
        raise AssertionError(f"Tab never reached {test}")

    page.locator(".st-key-calling_card h3").evaluate("h => { h.tabIndex = -1; h.focus(); }")
    tab_to("e.matches('a[href^=\"tel:\"]')")
    page.context.on("page", lambda opened: opened.close())
    page.keyboard.press("Enter")
    ui.wait_for_text(page, "Dialling 07400")
    tab_to("e.closest('[role=radiogroup][aria-label=\"Outcome\"]')")
    page.keyboard.press("ArrowRight")  # from nothing picked to the first, then the second
    ui.wait_idle(page)
    tab_to("e.matches('button') && e.innerText.includes('Save and next')")
    screenshots.take(page, "keyboard: Save and next focused")
    page.keyboard.press("Enter")
    second = volunteer.wait_for_contact(other_than=first)
    assert second != first
    [attempt] = attempts_by_contact(db, campaign["id"])
    assert attempt["contact"] == first
    # Focus is back on the card, so the next call starts from the name again.
    assert page.evaluate("() => document.activeElement.closest('.st-key-calling_card') !== null")
    assert len(reveals(db)) == 1
