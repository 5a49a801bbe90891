"""Ringround: entry point. Page config, start-up checks, and role-based navigation.

A page that is not in the list handed to st.navigation cannot be reached by URL or
switch_page, so the lists below are the access control for pages; each organiser page also
calls require_organiser() as a second lock.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.events import runs_a_check_in
from core.runtime import DatabaseUnavailable, database_answering
from pages import _auth_widgets as auth_widgets
from pages import _browser, _ui

st.set_page_config(page_title="Ringround", page_icon="☎️", layout="wide")
_browser.apply_app_style()

rt = _ui.runtime()


def _page(script: str, title: str, icon: str, url_path: str, **options: Any) -> st.Page:
    """The screen in pages/<script>.py, at /<url_path>."""
    return st.Page(f"pages/{script}.py", title=title, icon=icon, url_path=url_path, **options)


SETUP = _page("setup", "Set up Ringround", "🚀", "setup")
LOGIN = _page("login", "Sign in", "🔑", "login", default=True)
REGISTER = _page("register", "Join with an invite", "✉️", "join")
RESET = _page("reset_password", "Reset password", "🔁", "reset")

CALLING = _page("calling", "Calling", "📞", "calling")
MY_STATS = _page("my_stats", "My calls", "📈", "my-calls")
ACCOUNT = _page("account", "My account", "👤", "account")

DASHBOARD = _page("dashboard", "Dashboard", "📊", "dashboard")
CAMPAIGNS = _page("campaigns", "Campaigns", "📣", "campaigns")
IMPORT = _page("contacts_import", "Import contacts", "📥", "import")
TARGETING = _page("targeting", "Targeting", "🎯", "targeting")
CONTACTS = _page("contacts", "Contacts", "🗂️", "contacts")
EXPORTS = _page("exports", "Exports", "📤", "exports")
TEAM = _page("team", "Team", "👥", "team")
SETTINGS = _page("settings", "Settings", "⚙️", "settings")
EVENTS = _page("events", "Events", "📅", "events")
CHECK_IN = _page("checkin", "Check-in", "✅", "check-in")


def database_unavailable(exc: DatabaseUnavailable) -> None:
    """A database restart or a long lock: say so plainly; the pool reconnects by itself."""
    st.error(
        "The database is not answering just now (it may be restarting or busy). "
        "Nothing you confirmed has been lost. Wait a moment, then press Try again."
    )
    st.caption(f"Detail for the organiser: {exc.detail}")
    st.button("Try again", key="db_retry", type="primary")


_ui.begin_run()
page_path = ""
try:
    # A retryable database failure anywhere in the run becomes DatabaseUnavailable.
    with database_answering():
        first_run = _ui.first_run()
        # Every run of every page passes here: one read transaction for the user check and the
        # check-in question, and the pages' own require_user() reuses the user checked here.
        with rt.database.session() as session:
            user = None if first_run else _ui.current_user(session=session)
            # A volunteer an organiser chose to run an event's check-in sees it that day.
            helping = (user is not None and not user.is_organiser
                       and runs_a_check_in(session=session, user_id=user.id))
        if user is None and not first_run:
            # Before the navigation is built, so that a deep link opens its page straight away.
            user = auth_widgets.resume_from_cookie()
            if user is not None and not user.is_organiser:
                with rt.database.session() as session:
                    helping = runs_a_check_in(session=session, user_id=user.id)
        if user is not None:
            auth_widgets.continue_pending_redirect()
        _ui.remember_user(user)

        # One flat list, campaign day first: Streamlit draws navigation sections as <li>
        # outside any list, which screen readers cannot follow (axe "list" / "listitem",
        # tests/e2e/test_accessibility.py).
        organiser_pages = [DASHBOARD, CALLING, CHECK_IN, MY_STATS, CAMPAIGNS, EVENTS, IMPORT,
                           TARGETING, CONTACTS, TEAM, EXPORTS, SETTINGS, ACCOUNT]
        volunteer_pages = [CALLING, MY_STATS, ACCOUNT]  # where a deep link may lead a volunteer
        if first_run:
            pages: list | dict = [SETUP]
        elif user is None:
            # A signed-in page's address opened while signed out shows the sign-in form there
            # (not Streamlit's "page not found"), and leads back to that page once signed in.
            pages = [LOGIN, REGISTER, RESET] + [
                _page("login", "Sign in", "🔑", page.url_path, visibility="hidden")
                for page in organiser_pages
            ]
        elif user.is_organiser:
            pages = organiser_pages
        else:
            pages = [CALLING, *([CHECK_IN] if helping else []), MY_STATS, ACCOUNT]

        if rt.settings.demo:
            st.sidebar.caption("Demo mode: sample data only; do not load real members' details.")
        if user is not None:
            # Plain text: the name is whatever the volunteer typed when registering.
            st.sidebar.text(f"Signed in as {user.name} ({user.role})")
            auth_widgets.render_logout_button(user)
            _ui.housekeeping()

        # expanded: every page in view (Streamlit folds lists past ten behind "View more").
        page = st.navigation(pages, expanded=True)
        page_path = page.title.lower()
        if user is None and not first_run:
            auth_widgets.remember_requested_page(
                page.url_path, organiser_paths=[p.url_path for p in organiser_pages],
                volunteer_paths=[p.url_path for p in volunteer_pages])
        _ui.show_flashed_toast()
        page.run()
except DatabaseUnavailable as exc:
    database_unavailable(exc)
finally:
    _ui.end_run(page=page_path)
