"""Signing out, changing one's password, sending the browser for its cookie (AppTest)."""

from __future__ import annotations

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.accounts import verify_password
from db.models import AuditEvent, LoginSession, User
from pages._auth_widgets import REDIRECT_KEY
from tests.factories import TEST_PASSWORD, make_user
from tests.pages.conftest import APP_TIMEOUT, sign_in_as

LOGOUT_SCRIPT = """
import streamlit as st
from pages import _ui
from pages._auth_widgets import render_logout_button
render_logout_button(_ui.require_user())
st.write("page body")
"""


def _actions(app_db) -> list[str]:
    with app_db.session() as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))


def _ended(app_db, login_session_id: int) -> bool:
    with app_db.session() as session:
        row = session.get(LoginSession, login_session_id)
        return row is not None and row.ended_at is not None


def test_the_sign_out_button_ends_this_browsers_session_and_is_audited(app_env, app_db) -> None:
    with app_db.write() as session:
        user = make_user(session)
    at = AppTest.from_string(LOGOUT_SCRIPT, default_timeout=APP_TIMEOUT)
    login_session_id = sign_in_as(at, user)
    at.run()
    assert at.sidebar.button(key="logout_button").label == "Sign out"
    at.sidebar.button(key="logout_button").click()
    at.run()
    assert not at.exception
    assert "auth_user" not in at.session_state
    assert _ended(app_db, login_session_id)  # its cookie, and any copy, no longer signs in
    assert _actions(app_db)[-1] == "logout"


def test_signing_out_sends_the_browser_to_have_its_cookie_cleared(app_env, app_db,
                                                                  served) -> None:
    with app_db.write() as session:
        user = make_user(session)
    at = AppTest.from_string(LOGOUT_SCRIPT, default_timeout=APP_TIMEOUT)
    sign_in_as(at, user)
    at.run()
    at.sidebar.button(key="logout_button").click()
    at.run()
    assert at.session_state[REDIRECT_KEY] == "/auth/signout?next=%2F"
    assert "auth_user" not in at.session_state


def test_signing_out_in_one_tab_signs_out_the_browsers_other_tabs(make_app, app_db) -> None:
    with app_db.write() as session:
        make_user(session, role="organiser")
        user = make_user(session)
    tab = make_app(user=user)
    other_tab = AppTest.from_string(LOGOUT_SCRIPT, default_timeout=APP_TIMEOUT)
    other_tab.session_state["auth_user"] = tab.session_state["auth_user"]
    other_tab.run()
    other_tab.sidebar.button(key="logout_button").click()
    other_tab.run()
    tab.run()
    assert "auth_user" not in tab.session_state


def on_two_devices(make_app, app_db):
    """A volunteer signed in twice: on My account here, and on another device."""
    with app_db.write() as session:
        make_user(session, role="organiser")
        user = make_user(session)
    return user, make_app(user=user, page="pages/account.py"), make_app(user=user)


def test_changing_my_password_keeps_me_signed_in_here_only(make_app, app_db) -> None:
    user, at, other_device = on_two_devices(make_app, app_db)
    assert "Your phone for calls" in [h.value for h in at.subheader]  # pages/_phone.py's section
    at.text_input(key="account_current").input(TEST_PASSWORD)
    at.text_input(key="account_new").input("another long password")
    at.text_input(key="account_confirm").input("another long password")
    at.button(key="account_password_save").click()
    at.run()
    assert not at.exception and any("Password changed" in s.value for s in at.success)
    with app_db.session() as session:
        stored = session.get(User, user.id)
    assert stored is not None and verify_password("another long password", stored.password_hash)
    assert stored.session_epoch == user.session_epoch + 1
    assert at.session_state["auth_user"]["epoch"] == stored.session_epoch
    at.run()
    assert "auth_user" in at.session_state
    assert not _ended(app_db, at.session_state["auth_user"]["login_session"])
    other_device.run()
    assert "auth_user" not in other_device.session_state


def test_sign_out_everywhere_ends_this_session_too(make_app, app_db) -> None:
    user, at, other_device = on_two_devices(make_app, app_db)
    at.button(key="account_end_sessions").click()
    at.run()
    assert "auth_user" not in at.session_state
    other_device.run()
    assert "auth_user" not in other_device.session_state
    with app_db.session() as session:
        stored = session.get(User, user.id)
        open_rows = session.exec(select(LoginSession).where(LoginSession.ended_at == None)  # noqa: E711
                                 ).all()
    assert stored is not None and stored.session_epoch == user.session_epoch + 1
    assert open_rows == []


def test_the_team_page_deactivates_a_volunteer(make_app, app_db) -> None:
    with app_db.write() as session:
        organiser = make_user(session, role="organiser")
        volunteer = make_user(session)
    volunteer_app = make_app(user=volunteer)
    at = make_app(user=organiser, page="pages/team.py")
    at.selectbox(key="team_member").set_value(volunteer.id)
    at.run()
    at.button(key="team_deactivate").click()
    at.run()
    assert not at.exception and any("deactivated" in t.value for t in at.text)
    volunteer_app.run()
    assert "auth_user" not in volunteer_app.session_state
    assert "user_deactivated" in _actions(app_db)
