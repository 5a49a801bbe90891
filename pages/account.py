"""My account: my name, my password, signing out everywhere, and my phone for Twilio calls."""

from __future__ import annotations

import streamlit as st

from core.accounts import MIN_PASSWORD_LENGTH, AccountError, update_name
from core.auth import change_password_here
from pages import _auth_widgets as widgets
from pages import _ui
from pages._phone import render_phone_section

user = _ui.require_user()

st.title("My account")
st.write(f"Signed in as **{user.username}** ({user.role}), {user.email}.")

with st.form("account_name_form"):
    name = st.text_input("Name", value=user.name, key="account_name", max_chars=200)
    if st.form_submit_button("Save name", key="account_name_save"):
        _ui.run_action(lambda s: update_name(session=s, user_id=user.id, name=name),
                       errors=(AccountError,), done="Name saved.")

with st.form("account_password_form", clear_on_submit=True):
    st.subheader("Change password")
    current = st.text_input("Current password", type="password", key="account_current")
    new = st.text_input("New password", type="password", key="account_new",
                        help=f"At least {MIN_PASSWORD_LENGTH} characters.")
    confirm = st.text_input("Repeat new password", type="password", key="account_confirm")
    if st.form_submit_button("Change password", key="account_password_save"):
        if new != confirm:
            st.error("The two new passwords differ.")
        else:
            changed = _ui.run_action(
                lambda s: change_password_here(
                    session=s, user_id=user.id, login_session_id=_ui.login_session_id(),
                    current_password=current, new_password=new),
                errors=(AccountError,),
                done="Password changed. You are signed out everywhere else.")
            if changed.value is not None:
                # Every other session (and saved sign-in) ends; this one carries on.
                _ui.sign_in(changed.value, _ui.login_session_id())

st.subheader("Sign out everywhere")
st.write("Lost a phone or used a shared computer? This ends every session of yours, here too.")
if st.button("Sign out everywhere", key="account_end_sessions"):
    widgets.leave(everywhere=True, user=user)

# ---------------------------------------------------------------------------------------------
# PHONE VERIFICATION: the Twilio helper's section (pages/_phone.py), the phone Twilio rings first.
# ---------------------------------------------------------------------------------------------
render_phone_section(user)
