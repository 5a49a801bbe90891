"""Invite links are absolute: from RINGROUND_PUBLIC_URL, else the address the organiser's
browser is using (issue #15). AppTest has no browser address, so only a browser shows the
second; the link shown is then opened as a volunteer would, to prove it works as it stands.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import PASSWORD, seed_people

pytestmark = pytest.mark.e2e

PUBLIC_URL = "https://calls.example.org"


def create_invite_link(page, url: str) -> str:
    """Sign in as org1 at `url`, create an invite on the Team page, return the link shown."""
    ui.open_app(page, url)
    ui.sign_in(page, "org1", PASSWORD)
    ui.go_to(page, "Team")
    ui.click_button(page, "Create invite link")
    ui.wait_for_text(page, "Invite link created")
    page.get_by_role("img", name="Scan to join Ringround").or_(
        page.get_by_text("Scan to join Ringround", exact=True)).first.wait_for()
    return str(page.locator('[data-testid="stCode"]').first.inner_text()).strip()


@pytest.mark.parametrize("public_url", ["", PUBLIC_URL], ids=["browser-address", "public-url"])
def test_an_invite_link_starts_with_the_public_url_or_the_address_in_use(
    public_url, start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    seed_people(test_db_factory(sqlite_app_url), volunteers=0)
    env = {"RINGROUND_PUBLIC_URL": public_url} if public_url else {}
    server = start_server(sqlite_app_url, **env)
    organiser = new_context().new_page()
    link = create_invite_link(organiser, server.url)
    screenshots.take(organiser, "invite link")
    expected = public_url or server.url  # e.g. http://127.0.0.1:<port>
    assert re.fullmatch(re.escape(expected) + r"/join\?invite=[A-Za-z0-9_\-]+", link), link

    # The link opens the sign-up page (a public address is this same server behind a proxy).
    volunteer = new_context().new_page()
    ui.open_app(volunteer, server.url + link.removeprefix(expected))
    ui.wait_for_text(volunteer, "Create your account")
    screenshots.take(volunteer, "volunteer opens the link")
