"""streamlit-authenticator, wired to Ringround's database, and the sign-out button.

How the library is used (streamlit-authenticator 0.4.2, read from its source):
- Its login widget checks the typed password against `credentials["usernames"][name]
  ["password"]` with bcrypt, and its cookie is a JWT of {username, exp_date} signed with our
  cookie key. Both are used as they are.
- Users live in the database, not in a YAML file, and the page must never hold every hash. So
  `credentials["usernames"]` is a `DatabaseUsernames`: a dict that fetches the one user the form
  names, on first lookup (the pre-authentication hook). Locked users are never put in it, so
  the library cannot accept them; the page tells them why. Deactivated users are, so that their
  password is checked before they are told the account is deactivated (complete_login refuses).
- The library counts failed attempts only in its in-memory dict, per session. Ringround counts
  them in the database instead (core.auth.record_failed_login), and passes no
  max_login_attempts, so the library's own counter is inert.
- The library's session keys (authentication_status, username, name, email, roles, logout)
  only mirror the login; Ringround's own session is pages/_ui.py's `auth_user`, re-checked
  against the database on every run.
- Cookie writes and deletes are browser components, which a st.rerun() in the same run can
  unmount before they act; so both are done on the next, stable run (PENDING_COOKIE_KEY).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.controllers import CookieController

from core.auth import LoginCandidate, find_login_candidate, record_logout
from core.config import Settings
from core.users import UserView
from pages import _ui

PENDING_COOKIE_KEY = "_ringround_cookie_op"  # "set" after a login, "delete" after a sign-out
LIBRARY_STATE_KEYS = ("name", "username", "authentication_status", "email", "roles")


class DatabaseUsernames(dict[str, dict[str, Any]]):
    """The library's `credentials["usernames"]`, filled from the database one user at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: dict[str, LoginCandidate | None] = {}

    def _fetch(self, username: str) -> bool:
        if username not in self.looked_up:
            with _ui.read_session() as session:
                candidate = find_login_candidate(session=session, username=username)
            self.looked_up[username] = candidate
            # A deactivated user's password is still checked by the library, so that only
            # someone who knows it learns the account is deactivated (complete_login refuses
            # it); a wrong one gets the same answer as an unknown name.
            if candidate is not None and not candidate.locked:
                dict.__setitem__(self, username, {
                    "name": candidate.name,
                    "email": candidate.email,
                    "roles": [candidate.role],
                    "password": candidate.password_hash,
                })
        return dict.__contains__(self, username)

    def __contains__(self, username: object) -> bool:
        return isinstance(username, str) and self._fetch(username)

    def __missing__(self, username: str) -> dict[str, Any]:
        if self._fetch(username):
            return dict.__getitem__(self, username)
        raise KeyError(username)

    def get(self, username: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[username] if username in self else default

    @property
    def submitted_username(self) -> str | None:
        """The username the login form was submitted with in this run, if it was."""
        return next(iter(self.looked_up), None)


def make_authenticator(settings: Settings) -> tuple[stauth.Authenticate, DatabaseUsernames]:
    """One Authenticate per run (its cookie component may appear only once per run)."""
    credentials: dict[str, Any] = {"usernames": {}}
    authenticator = stauth.Authenticate(
        credentials,
        cookie_name=settings.cookie_name,
        cookie_key=settings.cookie_key,
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
        # The library sleeps before every login render, meant to slow guessing; the database
        # lockout does that job, and the sleep would slow every volunteer's first page.
        login_sleep_time=0,
    )
    # The library keeps (not copies) the dict it was given, and replaced the empty usernames
    # with a plain {}: swap in the database-backed one.
    usernames = DatabaseUsernames()
    credentials["usernames"] = usernames
    return authenticator, usernames


def cookie_issued_at(token: dict[str, Any], settings: Settings) -> datetime | None:
    """When the library signed a login cookie: its expiry minus the configured lifetime."""
    try:
        expires = datetime.fromtimestamp(float(token["exp_date"]), UTC)
    except (KeyError, TypeError, ValueError):
        return None
    return expires - timedelta(days=settings.cookie_expiry_days)


def clear_library_login() -> None:
    """Forget the library's record of a login, and stop it re-using the cookie this session."""
    for key in LIBRARY_STATE_KEYS:
        st.session_state[key] = None
    st.session_state["logout"] = True


def _set_pending_cookie(settings: Settings) -> None:
    if st.session_state.pop(PENDING_COOKIE_KEY, None) != "set":
        return
    if st.session_state.get("username") and settings.cookie_expiry_days > 0:
        CookieController(settings.cookie_name, settings.cookie_key,
                         settings.cookie_expiry_days).set_cookie()


def render_logout_button(user: UserView | None = None) -> None:
    """The sidebar "Sign out" button, for every signed-in page (called from app.py).

    Pass the user app.py already checked this run to save a second database read.
    """
    user = user or _ui.current_user()
    if user is None:
        return
    settings = _ui.runtime().settings
    with st.sidebar:
        _set_pending_cookie(settings)
        if st.button("Sign out", key="logout_button", icon="🚪"):
            with _ui.write_session() as session:
                record_logout(session=session, user_id=user.id)
            clear_library_login()
            _ui.sign_out()
            st.session_state[PENDING_COOKIE_KEY] = "delete"
            st.rerun()
