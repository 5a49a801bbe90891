"""Set a new password from a one-time reset link (/reset?token=...) an organiser made."""

from __future__ import annotations

import streamlit as st

from core.accounts import MIN_PASSWORD_LENGTH, AccountError
from core.auth import ResetInvalid, check_password_reset, use_password_reset
from pages import _ui

_ui.runtime()

st.title("Choose a new password")
if st.session_state.pop("password_reset_done", False):
    st.success("Your password has been changed. Sign in with the new one.")
    st.page_link("pages/login.py", label="Sign in", icon="🔑")
    st.stop()

token = st.query_params.get("token", "").strip()
if not token:
    st.info("Open the reset link an organiser gave you (it ends in `/reset?token=…`).")
    st.stop()

user = _ui.run_action(lambda s: check_password_reset(session=s, token=token),
                     errors=(ResetInvalid,), transaction="read").value
if user is None:
    st.stop()

st.write(f"Setting a new password for **{user.username}**. Every other session of yours ends.")
with st.form("reset_form"):
    password = st.text_input("New password", type="password", key="reset_password",
                             help=f"At least {MIN_PASSWORD_LENGTH} characters.")
    confirm = st.text_input("Repeat new password", type="password", key="reset_confirm")
    submitted = st.form_submit_button("Set password", type="primary", key="reset_submit")

if submitted:
    if password != confirm:
        st.error("The two passwords differ.")
        st.stop()
    if not _ui.run_action(lambda s: use_password_reset(session=s, token=token,
                                                       new_password=password),
                          errors=(ResetInvalid, AccountError)).ok:
        st.stop()
    st.session_state["password_reset_done"] = True
    st.query_params.clear()
    st.rerun()
