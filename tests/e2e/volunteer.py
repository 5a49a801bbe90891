"""A volunteer at the calling page, driven through Chromium with Playwright's sync API."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from bench._report import CONFIRMED
from bench.load import PAGE_PROBE
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import PASSWORD

SURVEY_QUESTION = "Will you join Saturday's action?"
DB_UNAVAILABLE = "The database is not answering just now"


@dataclass
class Volunteer:
    """One person: a browser context of their own and one tab on the app."""

    context: Any
    username: str
    page: Any = None
    confirmed: list[tuple[str, str]] = field(default_factory=list)  # (contact, outcome label)
    shown: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context.add_init_script(PAGE_PROBE)
        self.page = self.context.new_page()

    # ---- signing in -----------------------------------------------------------------------

    def sign_in(self, url: str, *, password: str = PASSWORD) -> None:
        ui.open_app(self.page, url)
        ui.fill(self.page, "Username", self.username)
        ui.fill(self.page, "Password", password)
        ui.click_button(self.page, "Sign in")
        self.page.get_by_role("button", name="Start calling").wait_for(timeout=30_000)
        ui.wait_idle(self.page)

    def start_calling(self, campaign: str | None = None) -> str:
        if campaign is not None:
            box = self.page.get_by_label("Campaign", exact=True)
            if campaign not in box.inner_text():
                ui.choose(self.page, "Campaign", campaign)
        for attempt in range(3):  # a busy page may drop the click: press again, as people do
            start = self.page.get_by_role("button", name="Start calling")
            if start.count():
                start.click()
            try:
                return self.wait_for_contact(timeout=20)
            except Exception:
                if attempt == 2:
                    raise
                ui.wait_idle(self.page)
        raise AssertionError("unreachable")

    # ---- the card -------------------------------------------------------------------------

    def card(self) -> str | None:
        name = self.page.evaluate("() => window.__rr && window.__rr.cardName()")
        return str(name) if name else None

    def wait_for_contact(self, *, other_than: str | None = None, timeout: float = 30) -> str:
        self.page.wait_for_function(
            "(other) => { const n = window.__rr.cardName(); return n && n !== other; }",
            arg=other_than, timeout=timeout * 1000,
        )
        ui.wait_idle(self.page)
        name = self.card()
        assert name is not None
        if not self.shown or self.shown[-1] != name:
            self.shown.append(name)
        return name

    def answer(self, option: str, question: str = SURVEY_QUESTION) -> None:
        ui.radio(self.page, option, group=question)

    def pick_outcome(self, label: str) -> None:
        ui.radio(self.page, label, group="Outcome")

    def note(self, text: str) -> None:
        ui.fill(self.page, "Notes", text, commit=True)

    def click_save(self) -> None:
        self.page.get_by_role("button", name="Save and next", exact=True).click()

    def save(self, *, timeout: float = 30) -> tuple[str, str] | None:
        """Press Save and next; wait for the next contact (or the end of the queue).

        Returns the (contact, outcome label) the page confirmed, also kept in `confirmed`.
        """
        current = self.card()
        self.page.evaluate("() => { window.__rr.saveAt = null; }")
        self.click_save()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ui.wait_idle(self.page, timeout=timeout)
            name = self.card()
            text = ui.main_text(self.page)
            if (name and name != current) or "has been called" in text or "Nobody is" in text:
                break
            time.sleep(0.1)
        seen = self.confirmation()
        if seen is not None:
            self.confirmed.append(seen)
        name = self.card()
        if name and (not self.shown or self.shown[-1] != name):
            self.shown.append(name)
        return seen

    def call(self, label: str, answer: str | None = None) -> tuple[str, str] | None:
        """One whole call: survey answer (if any), outcome, save."""
        if answer is not None:
            self.answer(answer)
        self.pick_outcome(label)
        return self.save()

    def confirmation(self) -> tuple[str, str] | None:
        boxes = self.page.locator('[data-testid="stAlertContentSuccess"]')
        for text in boxes.all_inner_texts():
            match = CONFIRMED.search(re.sub(r"\s+", " ", text))
            if match:
                return match["name"], match["label"]
        return None

    def sees_database_message(self) -> bool:
        return DB_UNAVAILABLE in ui.main_text(self.page)
