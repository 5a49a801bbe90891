"""The few Streamlit helpers every page shares: the runtime, the signed-in user, role guards.

This is the only UI module that knows how the app is wired; pages call it and core/ functions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from sqlmodel import Session

from core.config import ConfigError, Settings, load_settings
from core.runtime import open_database
from core.users import UserView, get_user
from db.engine import Database

AUTH_USER_KEY = "auth_user"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database


@st.cache_resource(show_spinner=False)
def _load_runtime() -> Runtime:
    settings = load_settings()
    return Runtime(settings=settings, database=open_database(settings))


@st.cache_resource(ttl=3600, show_spinner=False)
def _hourly_housekeeping() -> int:
    """Blank call notes past the retention period, and rejected import rows' raw text after
    30 days; at most once an hour per app server."""
    from core.contacts import purge_old_notes
    from core.importing import purge_old_rejections

    with _load_runtime().database.write() as session:
        return purge_old_notes(session=session) + purge_old_rejections(session=session)


EVENT_TEXTS_EVERY_SECONDS = 300


def _send_event_texts(runtime: Runtime) -> None:
    from core.event_texts import deliver_due_texts

    try:
        deliver_due_texts(database=runtime.database, settings=runtime.settings)
    except Exception:  # noqa: BLE001 - a failed run is retried at the next one
        logging.getLogger(__name__).exception("event texts job failed")


@st.cache_resource(ttl=EVENT_TEXTS_EVERY_SECONDS, show_spinner=False)
def _event_texts_job() -> threading.Thread:
    """Event reminders, cancellations and any confirmation still owed, every five minutes per
    app server, in a thread of its own so nobody's page waits on Twilio. Each text is claimed
    in the database first, so several servers never send one twice (core/event_texts.py)."""
    thread = threading.Thread(target=_send_event_texts, args=(_load_runtime(),),
                              name="ringround-event-texts", daemon=True)
    thread.start()
    return thread


def housekeeping() -> None:
    try:
        _hourly_housekeeping()
        _event_texts_job()
    except Exception:  # noqa: BLE001 - housekeeping must never take a page down
        logging.getLogger(__name__).exception("housekeeping failed")


def runtime() -> Runtime:
    """Settings and database for this process; stops the page with a message if misconfigured."""
    try:
        return _load_runtime()
    except ConfigError as exc:
        st.error(f"Ringround cannot start: {exc}")
        st.stop()
        raise  # unreachable: st.stop() raises


@contextmanager
def read_session() -> Iterator[Session]:
    with runtime().database.session() as session:
        yield session


@contextmanager
def write_session() -> Iterator[Session]:
    with runtime().database.write() as session:
        yield session


def sign_in(user: UserView) -> None:
    st.session_state[AUTH_USER_KEY] = {"id": user.id, "epoch": user.session_epoch}


def sign_out() -> None:
    st.session_state.pop(AUTH_USER_KEY, None)


def current_user() -> UserView | None:
    """The signed-in user, re-checked against the database on every run.

    A deactivated user, or one whose sessions were ended (epoch bumped), is signed out here,
    so that an organiser's action takes effect at the volunteer's next click.
    """
    token = st.session_state.get(AUTH_USER_KEY)
    if not token:
        return None
    with read_session() as session:
        user = get_user(session=session, user_id=int(token["id"]))
    if user is None or not user.active or user.session_epoch != token["epoch"]:
        sign_out()
        return None
    return user


def require_user() -> UserView:
    user = current_user()
    if user is None:
        st.warning("Please sign in.")
        st.stop()
    assert user is not None
    return user


def require_organiser() -> UserView:
    """Defence in depth: navigation already hides organiser pages from volunteers."""
    user = require_user()
    if not user.is_organiser:
        st.error("This page is for organisers.")
        st.stop()
    return user
