"""Ringround: entry point. Page config, start-up checks, and role-based navigation.

A page that is not in the list handed to st.navigation cannot be reached by URL or
switch_page, so the lists below are the access control for pages; each organiser page also
calls require_organiser() as a second lock.
"""

from __future__ import annotations

import streamlit as st

from core.events import runs_a_check_in
from core.runtime import DatabaseUnavailable, database_answering
from pages import _auth_widgets as auth_widgets
from pages import _browser, _ui

st.set_page_config(page_title="Ringround", page_icon="☎️", layout="wide")
_browser.apply_app_style()

rt = _ui.runtime()

SETUP = st.Page("pages/setup.py", title="Set up Ringround", icon="🚀", url_path="setup")
LOGIN = st.Page("pages/login.py", title="Sign in", icon="🔑", url_path="login", default=True)
REGISTER = st.Page("pages/register.py", title="Join with an invite", icon="✉️", url_path="join")
RESET = st.Page("pages/reset_password.py", title="Reset password", icon="🔁", url_path="reset")

CALLING = st.Page("pages/calling.py", title="Calling", icon="📞", url_path="calling")
MY_STATS = st.Page("pages/my_stats.py", title="My calls", icon="📈", url_path="my-calls")
ACCOUNT = st.Page("pages/account.py", title="My account", icon="👤", url_path="account")

DASHBOARD = st.Page("pages/dashboard.py", title="Dashboard", icon="📊", url_path="dashboard")
CAMPAIGNS = st.Page("pages/campaigns.py", title="Campaigns", icon="📣", url_path="campaigns")
IMPORT = st.Page("pages/contacts_import.py", title="Import contacts", icon="📥",
                 url_path="import")
TARGETING = st.Page("pages/targeting.py", title="Targeting", icon="🎯", url_path="targeting")
CONTACTS = st.Page("pages/contacts.py", title="Contacts", icon="🗂️", url_path="contacts")
EXPORTS = st.Page("pages/exports.py", title="Exports", icon="📤", url_path="exports")
TEAM = st.Page("pages/team.py", title="Team", icon="👥", url_path="team")
SETTINGS = st.Page("pages/settings.py", title="Settings", icon="⚙️", url_path="settings")
EVENTS = st.Page("pages/events.py", title="Events", icon="📅", url_path="events")
CHECK_IN = st.Page("pages/checkin.py", title="Check-in", icon="✅", url_path="check-in")


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
                st.Page("pages/login.py", title="Sign in", icon="🔑", url_path=page.url_path,
                        visibility="hidden")
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
