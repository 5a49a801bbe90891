"""My account: the volunteer's own phone, which Twilio rings first, confirmed by a texted code."""

from __future__ import annotations

import streamlit as st

from core.dialing import DialerError
from core.phone_verification import (
    PhoneVerificationError,
    confirm_phone_code,
    phone_confirmation_mode,
    remove_phone,
    send_verification_code,
)
from core.phones import display_phone
from core.users import UserView
from pages import _ui

PENDING_KEY = "phone_verification_pending"


def _send_code(user: UserView, raw_phone: str) -> None:
    sent = _ui.run_action(
        lambda database: send_verification_code(database=database,
                                                settings=_ui.runtime().settings,
                                                user_id=user.id, raw_phone=raw_phone),
        transaction="own", errors=(PhoneVerificationError, DialerError)).value
    if sent is None:
        return
    st.session_state[PENDING_KEY] = sent.masked_phone
    if sent.demo_text:
        st.session_state["phone_demo_text"] = sent.demo_text


def render_phone_section(user: UserView) -> None:
    """Enter a phone, get a code by text, type it in: the phone is then the one Twilio rings."""
    st.subheader("Your phone for calls")
    st.caption(
        "For campaigns that call through Ringround, we ring this phone first and then connect "
        "you, so contacts never see your number."
    )
    confirmed = st.session_state.pop("phone_confirmed_message", None)
    if confirmed:
        st.success(confirmed)
    texting = phone_confirmation_mode(_ui.runtime().settings)
    if not texting.can_text:
        st.info("Calling through Ringround is not set up here: you will call from your own "
                "phone instead.")
        st.caption(texting.problem)
        return

    if user.phone and user.phone_verified:
        st.success(f"Confirmed: {display_phone(user.phone)}")
        if st.button("Remove this phone", key="phone_remove"):
            _ui.run_action(lambda s: remove_phone(session=s, user_id=user.id), rerun=True)

    with st.form("phone_form", clear_on_submit=False):
        raw = st.text_input(
            "Mobile number" if not user.phone_verified else "Change to another number",
            key="phone_number", placeholder="07400 123456",
        )
        if st.form_submit_button("Text me a code", key="phone_send_code") and raw.strip():
            _send_code(user, raw)

    pending = st.session_state.get(PENDING_KEY)
    if not pending:
        return
    st.write(f"We texted a 6-digit code to {pending}. It lasts 10 minutes.")
    demo_text = st.session_state.get("phone_demo_text")
    if demo_text:
        st.info(f"Demo mode, nothing was really sent. The text says: “{demo_text}”")
    with st.form("phone_code_form"):
        code = st.text_input("Code", key="phone_code", max_chars=6)
        if st.form_submit_button("Confirm", key="phone_confirm"):
            result = _ui.run_action(
                lambda s: confirm_phone_code(session=s, user_id=user.id, code=code)).value
            assert result is not None  # a wrong code is a result, not an error
            if result.verified:
                st.session_state.pop(PENDING_KEY, None)
                st.session_state.pop("phone_demo_text", None)
                st.session_state["phone_confirmed_message"] = result.message
                st.rerun()
            else:
                st.error(result.message)
