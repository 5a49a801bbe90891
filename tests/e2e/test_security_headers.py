"""The content-security policy server.py sends lets the whole app work in Chromium (issue #13).

A policy strict enough to stop external images and scripts must not also stop Streamlit's own
scripts, styles, fonts, WebSocket, component iframes or the dashboard's Vega charts.
"""

from __future__ import annotations

import pytest

from core.demo import DEMO_PASSWORD, load_demo
from tests.e2e import streamlit_ui as ui

pytestmark = pytest.mark.e2e


def test_the_app_runs_under_its_content_security_policy_with_no_violation(
    start_server, sqlite_app_url, new_context, screenshots, test_db_factory
):
    with test_db_factory(sqlite_app_url).write() as session:
        load_demo(session=session)
    server = start_server(sqlite_app_url)
    page = new_context().new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    ui.open_app(page, server.url)
    ui.sign_in(page, "organiser", DEMO_PASSWORD)
    ui.go_to(page, "Dashboard")
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=60_000)
    screenshots.take(page, "dashboard under the policy")
    ui.go_to(page, "Contacts")
    ui.wait_idle(page)
    assert ui.errors(page) == []
    assert violations == [], "\n".join(violations)
