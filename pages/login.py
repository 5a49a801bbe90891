"""Sign in: streamlit-authenticator's login widget, with the users, lockout and audit in the DB.

See pages/_auth_widgets.py for how the library is wired to the database, and why.
"""

from __future__ import annotations

import streamlit as st
from streamlit_authenticator.utilities import LoginError

from core.auth import (
    LoginResult,
    complete_login,
    equalise_timing,
    find_login_candidate,
    record_failed_login,
    refuse_login,
)
from core.demo import DEMO_PASSWORD
from pages import _auth_widgets as widgets
from pages import _ui

rt = _ui.runtime()
settings = rt.settings

left, _ = st.columns([3, 2])
left.title("☎️ Ringround")
if st.session_state.get("demo_loaded"):
    left.info(
        "Demo data is loaded. Sign in as `organiser`, or as a volunteer `volunteer1` … "
        f"`volunteer8`; every demo account's password is `{DEMO_PASSWORD}`.",
        icon="🧪",
    )


def finish(result: LoginResult) -> None:
    """Sign in on success (Ringround's session first, then the cookie on the next run)."""
    if result.user is None:
        widgets.clear_library_login()
        left.error(result.message)
        return
    _ui.sign_in(result.user)
    st.session_state[widgets.PENDING_COOKIE_KEY] = "set"
    st.rerun()


authenticator, usernames = widgets.make_authenticator(settings)

if st.session_state.pop(widgets.PENDING_COOKIE_KEY, None) == "delete":
    authenticator.cookie_controller.delete_cookie()

if st.session_state.get("authentication_status"):
    # The library remembers a login that Ringround has since ended (deactivation, sign out
    # everywhere, a password reset): forget it, or the widget would show no form.
    widgets.clear_library_login()

# A returning browser with a signed cookie: checked against the database before the library may
# use it, since the cookie alone cannot know the user was deactivated or signed out everywhere.
token = authenticator.cookie_controller.get_cookie()
if isinstance(token, dict) and token.get("username"):
    with _ui.read_session() as session:
        candidate = find_login_candidate(session=session, username=str(token["username"]))
    cookie_result = LoginResult(reason="cookie_revoked")
    if candidate is not None:
        with _ui.write_session() as session:
            cookie_result = complete_login(
                session=session, user_id=candidate.id, method="cookie",
                cookie_issued_at=widgets.cookie_issued_at(token, settings),
            )
    if cookie_result.ok:
        authenticator.authentication_controller.login(token=token)
        finish(cookie_result)
    else:
        widgets.clear_library_login()  # sets the library's logout flag: the cookie is ignored
        st.session_state[widgets.PENDING_COOKIE_KEY] = "delete"
        if cookie_result.message:
            left.info(cookie_result.message)

try:
    with left:
        authenticator.login(
            location="main",
            key="login_form",
            fields={"Form name": "Sign in", "Username": "Username", "Password": "Password",
                    "Login": "Sign in"},
        )
except LoginError as exc:
    widgets.clear_library_login()
    left.error(str(exc))

submitted = usernames.submitted_username
if submitted is not None:
    candidate = usernames.looked_up[submitted]
    if candidate is None:
        equalise_timing()  # outside the write transaction: bcrypt is slow, the lock is shared
    with _ui.write_session() as session:
        if st.session_state.get("authentication_status") and candidate is not None:
            result = complete_login(session=session, user_id=candidate.id, method="password")
            if not result.ok:
                # The library set its cookie on the right password: take it back next run.
                st.session_state[widgets.PENDING_COOKIE_KEY] = "delete"
        elif candidate is not None and candidate.locked:
            result = refuse_login(session=session, candidate=candidate)
        else:
            result = record_failed_login(session=session, username=submitted,
                                         lockout_attempts=settings.lockout_attempts)
    finish(result)

left.caption(
    "New volunteer? Open the invite link an organiser sent you. Forgotten your password? "
    "Ask an organiser for a reset link."
)
