"""AppTest helpers: run the real app.py against a fresh SQLite database, signed in or not."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import PROJECT_ROOT
from core.login_sessions import mark_cookie_routes_served, open_login_session
from core.runtime import forget_migrations
from core.users import UserView
from db.engine import Database, make_engine, reset_databases
from tests.factories import make_user

APP_TIMEOUT = 30


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    """st.cache_resource is process-wide: without this, one test's database leaks into the next."""
    st.cache_resource.clear()
    st.cache_data.clear()
    reset_databases()
    forget_migrations()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    reset_databases()
    forget_migrations()


def sign_in_as(at: AppTest, user: UserView) -> int:
    """Sign a user in as the login page does (a LoginSession and the session's record of it);
    returns the LoginSession's id."""
    db = Database(make_engine(os.environ["DATABASE_URL"]))
    try:
        with db.write() as session:
            opened = open_login_session(session=session, user_id=user.id,
                                        epoch=user.session_epoch, lifetime=timedelta(days=1),
                                        now=datetime.now(UTC))
    finally:
        db.dispose()
    at.session_state["auth_user"] = {"id": user.id, "epoch": user.session_epoch,
                                     "login_session": opened.login_session_id}
    return opened.login_session_id


@pytest.fixture
def served() -> Iterator[None]:
    """As under server.py: the cookie routes exist, so pages send the browser to them."""
    mark_cookie_routes_served(True)
    yield
    mark_cookie_routes_served(False)


@pytest.fixture
def make_app(app_env: str) -> Callable[..., AppTest]:
    """Build an AppTest of app.py; pass user= to start signed in, page= to open a page."""

    def build(user: UserView | None = None, page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=APP_TIMEOUT)
        if user is not None:
            sign_in_as(at, user)
        at.run()
        if page is not None:
            at.switch_page(page)
            at.run()
        return at

    return build


@pytest.fixture
def app_db(app_env: str, sqlite_database: Database) -> Database:
    """The same database the app under test uses, for arranging data and checking results.

    app_env points the app at sqlite_url, so this is that URL's sqlite_database.
    """
    return sqlite_database


@pytest.fixture
def organiser(app_db: Database) -> UserView:
    with app_db.write() as session:
        return make_user(session, role="organiser", name="Olu Organiser")


@pytest.fixture
def volunteer(app_db: Database, organiser: UserView) -> UserView:
    with app_db.write() as session:
        return make_user(session, role="volunteer", name="Val Volunteer")


def create_invite(make_app: Callable[..., AppTest], organiser: UserView,
                  label: str = "") -> tuple[AppTest, str]:
    """Make an invite on the Team page, as an organiser would; the page and the link shown."""
    at = make_app(user=organiser, page="pages/team.py")
    if label:
        at.text_input(key="invite_label").input(label)
    at.button(key="invite_create").click()
    at.run()
    assert not at.exception
    return at, at.code[0].value
