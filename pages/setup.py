"""First run: create the first organiser, or load the demo to look around."""

from __future__ import annotations

import sys

import streamlit as st

from core.accounts import AccountError
from core.auth import LoginResult, complete_login
from core.demo import DEMO_PASSWORD, load_demo
from core.runtime import Session
from core.setup import (
    SetupClosed,
    check_setup_code,
    create_first_organiser,
    setup_code,
    setup_needs_code,
)
from pages import _auth_widgets as widgets
from pages import _ui

rt = _ui.runtime()


@st.cache_resource(show_spinner=False)
def _announce_setup_code() -> None:
    """Print the setup code once per server process, in the log only its operator reads."""
    print(f"Ringround has no organiser yet. To set it up from another machine, enter the setup "
          f"code {setup_code(rt.settings.cookie_key)} (or run manage.py create-organiser).",
          file=sys.stderr, flush=True)


_announce_setup_code()
needs_code = setup_needs_code(address=widgets.request_address(), host=widgets.request_host())

st.title("Welcome to Ringround")
st.write(
    "Ringround turns members into callers: upload a contact list, write a script, invite "
    "volunteers, and watch the calls come in. Start by creating the first organiser account."
)

left, right = st.columns([3, 2], gap="large")
with left, st.form("setup_form"):
    st.subheader("Create the first organiser")
    name = st.text_input("Your name", key="setup_name")
    email = st.text_input("Email", key="setup_email")
    username = st.text_input("Username", key="setup_username")
    password = st.text_input("Password", type="password", key="setup_password",
                             help="At least 10 characters.")
    confirm = st.text_input("Repeat password", type="password", key="setup_confirm")
    code = ""
    if needs_code:
        code = st.text_input(
            "Setup code", key="setup_code",
            help="Printed in the server's log when Ringround starts (or run "
                 "`manage.py setup-code` on the server). It proves you run this server.")
    submitted = st.form_submit_button("Create organiser", type="primary")

if submitted:
    if password != confirm:
        st.error("The two passwords differ.")
    else:
        def create(session: Session) -> LoginResult:
            if needs_code:
                check_setup_code(given=code, cookie_key=rt.settings.cookie_key)
            user = create_first_organiser(session=session, username=username, name=name,
                                          email=email, password=password)
            return complete_login(session=session, user_id=user.id, method="setup",
                                  session_days=rt.settings.cookie_expiry_days)

        result = _ui.run_action(create, errors=(AccountError, SetupClosed)).value
        if result is not None:
            widgets.finish_sign_in(result)

with right:
    st.subheader("Or try the demo")
    st.write(
        "Loads about 3,000 made-up contacts in Crewe and Nantwich, Hastings and Rye, Bedford "
        "and more, an NHS campaign-day campaign with a day of calls, and demo accounts."
    )
    demo_code = ""
    if needs_code:
        demo_code = st.text_input("Setup code", key="setup_demo_code",
                                  help="The demo's organiser password is public: only the "
                                       "server's operator may load it here.")
    if st.button("Load demo data", key="setup_demo"):
        with st.spinner("Loading the demo…"):
            def demo(session: Session) -> dict[str, int]:
                if needs_code:
                    check_setup_code(given=demo_code, cookie_key=rt.settings.cookie_key)
                return load_demo(session=session)

            summary = _ui.run_action(demo, errors=(SetupClosed,)).value
            if summary is None:
                st.stop()
        st.session_state["demo_loaded"] = summary
        st.rerun()

st.caption(f"Demo accounts use the password `{DEMO_PASSWORD}`: organiser `organiser`, "
           "volunteers `volunteer1` … `volunteer8`.")
