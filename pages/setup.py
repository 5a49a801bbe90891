"""First run: create the first organiser, or load the demo to look around."""

from __future__ import annotations

import streamlit as st

from core.accounts import AccountError
from core.demo import DEMO_PASSWORD, load_demo
from core.setup import SetupClosed, create_first_organiser
from pages import _ui

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
    submitted = st.form_submit_button("Create organiser", type="primary")

if submitted:
    if password != confirm:
        st.error("The two passwords differ.")
    else:
        try:
            with _ui.write_session() as session:
                user = create_first_organiser(
                    session=session, username=username, name=name, email=email,
                    password=password,
                )
        except (AccountError, SetupClosed) as exc:
            st.error(str(exc))
        else:
            _ui.sign_in(user)
            # Ask the sign-out widget to write the login cookie on the next, stable run.
            st.session_state["username"] = user.username
            st.session_state["_ringround_cookie_op"] = "set"
            st.rerun()

with right:
    st.subheader("Or try the demo")
    st.write(
        "Loads about 3,000 made-up contacts in Crewe and Nantwich, Hastings and Rye, Bedford "
        "and more, an NHS campaign-day campaign with a day of calls, and demo accounts."
    )
    if st.button("Load demo data", key="setup_demo"):
        with st.spinner("Loading the demo…"):
            try:
                with _ui.write_session() as session:
                    summary = load_demo(session=session)
            except SetupClosed as exc:
                st.error(str(exc))
                st.stop()
        st.session_state["demo_loaded"] = summary
        st.rerun()

st.caption(f"Demo accounts use the password `{DEMO_PASSWORD}`: organiser `organiser`, "
           "volunteers `volunteer1` … `volunteer8`.")
