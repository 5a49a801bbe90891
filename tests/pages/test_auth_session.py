"""Signing out, changing one's password, and the login cookie's timing (AppTest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.accounts import verify_password
from core.config import load_settings
from db.models import AuditEvent, User
from pages._auth_widgets import PENDING_COOKIE_KEY, cookie_issued_at
from tests.factories import TEST_PASSWORD, make_user
from tests.pages.conftest import APP_TIMEOUT, sign_in_as

LOGOUT_SCRIPT = """
import streamlit as st
from pages._auth_widgets import render_logout_button
render_logout_button()
st.write("page body")
"""


def _actions(app_db) -> list[str]:
    with app_db.session() as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_sign_out_button_ends_the_session_and_is_audited(app_env, app_db) -> None:
    with app_db.write() as session:
        user = make_user(session)
    at = AppTest.from_string(LOGOUT_SCRIPT, default_timeout=APP_TIMEOUT)
    sign_in_as(at, user)
    at.run()
    assert at.sidebar.button(key="logout_button").label == "Sign out"
    at.sidebar.button(key="logout_button").click()
    at.run()
    assert not at.exception
    assert "auth_user" not in at.session_state
    assert at.session_state[PENDING_COOKIE_KEY] == "delete"  # the login page deletes the cookie
    assert at.session_state["logout"] is True  # and the library will not re-use it meanwhile
    assert not [b for b in at.sidebar.button if b.key == "logout_button"]
    assert _actions(app_db)[-1] == "logout"


def test_changing_my_password_keeps_me_signed_in_here_only(make_app, app_db) -> None:
    with app_db.write() as session:
        make_user(session, role="organiser")
        user = make_user(session)
    at = make_app(user=user, page="pages/account.py")
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
    assert at.session_state["auth_user"] == {"id": user.id, "epoch": stored.session_epoch}
    assert stored.session_epoch == user.session_epoch + 1


def test_sign_out_everywhere_ends_this_session_too(make_app, app_db) -> None:
    with app_db.write() as session:
        make_user(session, role="organiser")
        user = make_user(session)
    at = make_app(user=user, page="pages/account.py")
    other_device = make_app(user=user)
    at.button(key="account_end_sessions").click()
    at.run()
    assert "auth_user" not in at.session_state
    other_device.run()
    assert "auth_user" not in other_device.session_state
    with app_db.session() as session:
        stored = session.get(User, user.id)
    assert stored is not None and stored.sessions_ended_at is not None


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
    assert not at.exception and any("deactivated" in s.value for s in at.success)
    volunteer_app.run()
    assert "auth_user" not in volunteer_app.session_state
    assert "user_deactivated" in _actions(app_db)


def test_a_login_cookie_knows_when_it_was_signed(app_env) -> None:
    settings = load_settings()
    signed = datetime.now(UTC).replace(microsecond=0)
    expires = signed + timedelta(days=settings.cookie_expiry_days)
    # What streamlit-authenticator 0.4.2's CookieModel._token_encode writes.
    token = jwt.encode({"username": "asha", "exp_date": expires.timestamp()},
                       settings.cookie_key, algorithm="HS256")
    decoded = jwt.decode(token, settings.cookie_key, algorithms=["HS256"])
    assert cookie_issued_at(decoded, settings) == signed
    assert cookie_issued_at({"username": "asha"}, settings) is None
