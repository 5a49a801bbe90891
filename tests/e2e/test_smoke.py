"""The harness itself: a real server answers, and the first-run page works in Chromium."""

from __future__ import annotations

import pytest

from core.users import organiser_exists
from tests.e2e import streamlit_ui as ui

pytestmark = pytest.mark.e2e


def test_first_run_setup_creates_the_organiser_and_signs_them_in(
    start_server, sqlite_app_url, new_context, screenshots, test_db_factory
):
    server = start_server(sqlite_app_url)
    page = new_context().new_page()
    ui.open_app(page, server.url)
    ui.wait_for_text(page, "Create the first organiser")
    screenshots.take(page, "setup page")

    ui.set_up_first_organiser(page, name="Olive Organiser", email="olive@example.org",
                              username="olive", password="a long organiser password")

    ui.wait_for_text(page, "Signed in as")
    screenshots.take(page, "signed in")
    assert "Olive Organiser" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert ui.errors(page) == []
    with test_db_factory(sqlite_app_url).session() as session:
        assert organiser_exists(session=session)
