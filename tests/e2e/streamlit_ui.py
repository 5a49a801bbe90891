"""Driving a Streamlit app from Playwright: wait for reruns, fill widgets by label, read text.

Streamlit reruns the whole script after each interaction; the app root carries its state in
`data-test-script-state` ("running" / "notRunning") and its websocket in
`data-test-connection-state`, so "idle" is both: connected and not running.
"""

from __future__ import annotations

import time
from typing import Any

IDLE = (
    '[data-testid="stApp"][data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'


def wait_idle(page: Any, *, timeout: float = 30.0, settle: float = 0.15) -> None:
    """Wait until the script has finished its rerun and the websocket is up.

    A click starts its rerun a moment later, so look for idle twice, `settle` seconds apart.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining_ms = max(100, (deadline - time.monotonic()) * 1000)
        page.wait_for_selector(IDLE, state="attached", timeout=remaining_ms)
        time.sleep(settle)
        if page.locator(IDLE).count() == 1:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not settle")


def open_app(page: Any, url: str, *, timeout: float = 60.0) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    wait_idle(page, timeout=timeout)


def fill(page: Any, label: str, value: str, *, commit: bool = False) -> None:
    """Type into the text input or text area labelled `label`.

    Outside a form, pass commit=True so that Tab moves focus away and Streamlit reruns with
    the value; inside a form the submit button sends every value at once.
    """
    box = page.get_by_role("textbox", name=label, exact=True).or_(
        page.locator(f'input[type="password"][aria-label="{label}"]')
    )
    box.fill(value)
    if commit:
        box.press("Tab")
        wait_idle(page)


def click_button(page: Any, name: str, *, exact: bool = True, wait: bool = True) -> None:
    page.get_by_role("button", name=name, exact=exact).click()
    if wait:
        wait_idle(page)


def choose(page: Any, label: str, option: str) -> None:
    """Pick `option` in the st.selectbox labelled `label`."""
    box = page.get_by_label(label, exact=True)
    for attempt in range(3):  # a rerun arriving just then can close the list: open it again
        wait_idle(page)
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    wait_idle(page)


def multiselect(page: Any, label: str, options: list[str]) -> None:
    box = page.get_by_label(label, exact=True)
    for option in options:
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
        wait_idle(page)
    page.keyboard.press("Escape")


def radio(page: Any, option: str, *, group: str | None = None) -> None:
    scope = page.get_by_role("radiogroup", name=group) if group else page
    scope.get_by_text(option, exact=True).click()
    wait_idle(page)


def go_to(page: Any, link_text: str) -> None:
    """Follow a sidebar navigation link (st.navigation)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role(
        "link", name=link_text
    ).first.click()
    wait_idle(page)


def open_tab(page: Any, name: str) -> None:
    """Select an st.tabs tab and make sure it stays selected (a rerun that shifts the page
    resets it)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    for _ in range(5):
        wait_idle(page)
        if tab.get_attribute("aria-selected") == "true":
            page.wait_for_timeout(300)
            wait_idle(page)
            if tab.get_attribute("aria-selected") == "true":
                return
        tab.click()
    raise AssertionError(f"the {name} tab would not stay open")


def tab_is_open(page: Any, name: str) -> bool:
    return page.get_by_role("tab", name=name, exact=True).get_attribute("aria-selected") == "true"


def main_text(page: Any) -> str:
    return str(page.locator('[data-testid="stMain"]').inner_text())


def wait_for_text(page: Any, text: str, *, timeout: float = 30.0) -> None:
    page.get_by_text(text).first.wait_for(state="visible", timeout=timeout * 1000)


def errors(page: Any) -> list[str]:
    """Every st.error and exception box on the page."""
    boxes = page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]')
    return [str(text) for text in boxes.all_inner_texts()]


def sign_in(page: Any, username: str, password: str, *, wait: bool = True) -> None:
    """Fill the sign-in form and press Sign in; with `wait`, until the page has settled and
    the sidebar says who is signed in."""
    fill(page, "Username", username)
    fill(page, "Password", password)
    click_button(page, "Sign in", wait=wait)
    if wait:
        wait_for_text(page, "Signed in as")


def set_up_first_organiser(page: Any, *, name: str, email: str, username: str,
                           password: str) -> None:
    """Fill the first-run form and press Create organiser."""
    for label, value in (("Your name", name), ("Email", email), ("Username", username),
                         ("Password", password), ("Repeat password", password)):
        fill(page, label, value)
    click_button(page, "Create organiser")
