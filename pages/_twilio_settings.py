"""Settings: is Twilio set up, which numbers it calls from, and do the credentials work."""

from __future__ import annotations

import streamlit as st

from core.dialing import check_twilio
from core.phones import display_phone
from core.webhooks import SMS_PATH, STATUS_PATH
from pages import _ui


def _masked_sid(sid: str) -> str:
    return sid[:2] + "…" + sid[-4:] if len(sid) > 6 else sid


def render_twilio_settings() -> None:
    """What an organiser needs to see and check about Twilio, in words."""
    settings = _ui.runtime().settings
    tw = settings.twilio
    st.subheader("Twilio calling and texts")
    if tw.configured:
        method = "API key" if tw.api_key and tw.api_secret else "auth token"
        st.success(f"Twilio is set up: account {_masked_sid(tw.account_sid)}, signing in with "
                   f"its {method}.")
    else:
        st.info(
            "Twilio is not set up, so volunteers call from their own phones. To call through "
            "Ringround, set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and "
            "TWILIO_API_SECRET) and TWILIO_CALLER_IDS in the environment or secrets file, then "
            "restart."
        )
    if tw.caller_ids:
        st.markdown("**Caller IDs** (campaigns call and text from these):")
        for number in tw.caller_ids:
            st.markdown(f"- {display_phone(number)}")
    if settings.public_url:
        st.markdown("**Webhooks.** Call status updates are requested automatically. For STOP "
                    "replies, set each number's *A message comes in* webhook (HTTP POST) to:")
        st.code(settings.public_url + SMS_PATH, language=None)
        st.caption(f"Status updates arrive at {settings.public_url + STATUS_PATH}.")
    else:
        st.caption("Set RINGROUND_PUBLIC_URL to receive STOP replies and call status updates.")

    if st.button("Check credentials", key="twilio_check", disabled=not tw.configured):
        with st.spinner("Asking Twilio…"):
            result = check_twilio(settings)
        if result.ok:
            name = f" ({result.account_name})" if result.account_name else ""
            st.success(f"Twilio accepted the credentials{name}.")
        for problem in result.problems:
            st.error(problem)
        for note in result.notes:
            st.warning(note)
