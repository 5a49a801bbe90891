"""Sign in. core.auth.sign_in_with_password decides (throttle, password, account); this page
renders its answer."""

from __future__ import annotations

import streamlit as st

from core import login_sessions
from core.auth import REVOKED_COOKIE_MESSAGE, sign_in_with_password
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
notice = st.session_state.pop(widgets.NOTICE_KEY, "")
cleared = st.query_params.get(login_sessions.CLEARED_PARAM)
if cleared == "ended":
    notice = REVOKED_COOKIE_MESSAGE
elif cleared:
    notice = "You have signed out."
if notice:
    left.info(notice)
if cleared is not None:
    del st.query_params[login_sessions.CLEARED_PARAM]

with left, st.form("login_form"):
    st.subheader("Sign in")
    username = st.text_input("Username", key="login_username", max_chars=200,
                             autocomplete="username")
    password = st.text_input("Password", type="password", key="login_password",
                             autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary", key="login_submit")

if submitted:
    result = sign_in_with_password(
        database=rt.database, username=username, password=password,
        address=widgets.request_address(), lockout_attempts=settings.lockout_attempts,
        session_days=settings.cookie_expiry_days,
    )
    if result.ok:
        widgets.finish_sign_in(result)
    left.error(result.message)

left.caption(
    "New volunteer? Open the invite link an organiser sent you. Forgotten your password? "
    "Ask an organiser for a reset link."
)
