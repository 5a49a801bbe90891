"""Join with an invite link (/join?invite=TOKEN): a volunteer registers and starts calling."""

from __future__ import annotations

import streamlit as st

from core.accounts import MIN_PASSWORD_LENGTH, AccountError
from core.auth import (
    InviteInvalid,
    LoginResult,
    check_invite,
    complete_login,
    register_with_invite,
)
from core.runtime import Session
from pages import _auth_widgets as widgets
from pages import _ui

rt = _ui.runtime()

st.title("Join the phone bank")
token = st.query_params.get("invite", "").strip()
if not token:
    st.info(
        "To join, open the invite link an organiser sent you (it ends in `/join?invite=…`). "
        "Already have an account? Sign in instead."
    )
    st.stop()

invite = _ui.run_action(lambda s: check_invite(session=s, token=token), errors=(InviteInvalid,),
                       transaction="read").value
if invite is None:
    st.stop()

if invite.campaign_name:
    st.write(f"You have been invited to call for **{invite.campaign_name}**.")
st.write("Create your account: it takes a minute, then you can start calling.")

with st.form("register_form"):
    name = st.text_input("Your name", key="register_name", max_chars=200)
    email = st.text_input("Email", key="register_email", max_chars=320)
    username = st.text_input("Username", key="register_username", max_chars=63,
                             help="Lower-case letters, digits, '.', '_' or '-'.")
    password = st.text_input("Password", type="password", key="register_password",
                             help=f"At least {MIN_PASSWORD_LENGTH} characters.")
    confirm = st.text_input("Repeat password", type="password", key="register_confirm")
    phone = st.text_input(
        "Your phone number (optional)", key="register_phone",
        help="Only needed if an organiser sets up calling through Ringround's phone line. "
             "Never shown to the people you call.",
    )
    submitted = st.form_submit_button("Create account and start calling", type="primary",
                                      key="register_submit")

if submitted:
    if password != confirm:
        st.error("The two passwords differ.")
        st.stop()

    def register(session: Session) -> LoginResult:
        user = register_with_invite(
            session=session, token=token, name=name, email=email, username=username,
            password=password, phone=phone, region=rt.settings.default_region,
        )
        return complete_login(session=session, user_id=user.id, method="invite",
                              session_days=rt.settings.cookie_expiry_days)

    result = _ui.run_action(register, errors=(InviteInvalid, AccountError)).value
    if result is None:
        st.stop()
    if result.ok:
        st.query_params.clear()
        # The browser collects its cookie, then opens the volunteer's first page: Calling.
        widgets.finish_sign_in(result)
    st.error(result.message)
