"""Signing a browser in and out: the page side of core.auth and core.login_sessions.

- A sign-in (password, invite, first organiser) ends with finish_sign_in: this page's session
  is signed in at once, and the browser is sent to /auth/session to collect its login cookie
  from the server (auth_routes.py), which brings it back to the page it first asked for.
- A returning browser is signed in from its cookie by resume_from_cookie, in app.py, before
  the navigation is built, so that a deep link such as /import opens that page directly.
- Signing out ends the browser's LoginSession and sends it to /auth/signout, which clears
  the cookie.

Why the browser is sent with Streamlit's own redirect message (the one st.login uses) rather
than a script in the page: it acts the moment it arrives, needs no component to mount, and is
not an inline script the content-security policy would have to allow.
"""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import login_sessions
from core.auth import LoginResult, end_sessions, sign_in_with_cookie, sign_out
from core.login_throttle import client_address
from core.users import UserView
from pages import _ui

NEXT_KEY = "_ringround_next"  # the signed-in page a signed-out browser asked for
REDIRECT_KEY = "_ringround_redirect"  # where this session last sent the browser
COOKIE_CHECKED_KEY = "_ringround_cookie_checked"
NOTICE_KEY = "_ringround_sign_in_notice"


def request_address() -> str:
    """The address failed sign-ins are counted against (see core.login_throttle)."""
    remote, forwarded = st.context.ip_address, st.context.headers.get("X-Forwarded-For")
    # Outside a browser session (AppTest) these are not strings: count as this machine.
    return client_address(remote if isinstance(remote, str) else None,
                          forwarded if isinstance(forwarded, str) else None)


def request_host() -> str:
    """The host the browser asked for: the Host header of its connection to this server."""
    host = st.context.headers.get("Host")
    if not isinstance(host, str):  # no HTTP request behind this run (AppTest): the page's URL
        host = urlparse(st.context.url or "http://localhost").netloc
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host


def send_browser_to(url: str) -> None:
    """Load `url` in this browser tab, now; with a link in case the browser does not go."""
    st.session_state[REDIRECT_KEY] = url
    ctx = get_script_run_ctx()
    if ctx is not None:
        message = ForwardMsg()
        message.auth_redirect.url = url
        ctx.enqueue(message)
    st.info("Signing you in…")
    st.link_button("Continue", url, key="auth_continue")


def remember_requested_page(
    url_path: str, *, organiser_paths: list[str], volunteer_paths: list[str]
) -> None:
    """The page a signed-out browser opened: go there once signed in, if the role may.

    Each list is that role's navigation in order; its first page is the role's home, whose
    address is "/" once signed in (Streamlit gives the default page the root URL).
    """
    st.session_state[NEXT_KEY] = (url_path, organiser_paths, volunteer_paths)


def _next_path(user: UserView) -> str:
    url_path, organiser_paths, volunteer_paths = st.session_state.pop(NEXT_KEY, ("", [], []))
    allowed = organiser_paths if user.is_organiser else volunteer_paths
    if url_path not in allowed or url_path == allowed[0]:
        return "/"
    return f"/{url_path}"


def finish_sign_in(result: LoginResult) -> None:
    """Sign this session in and have the browser collect its cookie; stops the page run."""
    assert result.user is not None
    _ui.sign_in(result.user, result.login_session_id)
    st.session_state[COOKIE_CHECKED_KEY] = True
    next_path = _next_path(result.user)
    if result.handoff_code and login_sessions.cookie_routes_served():
        send_browser_to(login_sessions.handoff_link(result.handoff_code, next_path))
        st.stop()
    # Without server.py's routes (plain `streamlit run app.py`, AppTest) the sign-in lasts as
    # long as this session; rerun so that the navigation becomes the signed-in one.
    st.rerun()


def resume_from_cookie() -> UserView | None:
    """Sign in a returning browser from its login cookie, once per session.

    A cookie that cannot be honoured (undecodable, another algorithm, ended, expired) means
    signed out: the browser is sent to have it cleared, and the sign-in page says why.
    """
    if st.session_state.get(COOKIE_CHECKED_KEY):
        return None
    st.session_state[COOKIE_CHECKED_KEY] = True
    rt = _ui.runtime()
    cookie = st.context.cookies.get(rt.settings.cookie_name)
    if not isinstance(cookie, str) or not cookie:
        return None
    result = sign_in_with_cookie(database=rt.database, cookie=cookie,
                                 cookie_key=rt.settings.cookie_key,
                                 session_days=rt.settings.cookie_expiry_days)
    if result.user is not None:
        _ui.sign_in(result.user, result.login_session_id)
        _ui.name_run("sign-in")  # it wrote the login: not a bare rerun (bench/load.py)
        return result.user
    st.session_state[NOTICE_KEY] = result.message
    if login_sessions.cookie_routes_served() and login_sessions.CLEARED_PARAM not in (
        st.query_params
    ):
        send_browser_to(login_sessions.signout_link(_current_path(), ended=True))
        st.stop()
    return None


def _current_path() -> str:
    return urlparse(st.context.url or "").path or "/"


def continue_pending_redirect() -> None:
    """A page run after finish_sign_in whose browser has not gone yet: send it again."""
    url = st.session_state.get(REDIRECT_KEY)
    if url and url.startswith(login_sessions.SESSION_ROUTE):
        send_browser_to(url)
        st.stop()


def leave(everywhere: bool, user: UserView) -> None:
    """Sign out this browser (or every session of the user) and clear the cookie."""
    this_browser = _ui.login_session_id()
    _ui.run_action(lambda s: end_sessions(session=s, user_id=user.id) if everywhere else
                   sign_out(session=s, user_id=user.id, login_session_id=this_browser))
    _ui.sign_out()
    st.session_state.pop(REDIRECT_KEY, None)
    st.session_state[COOKIE_CHECKED_KEY] = True  # the cookie this session came with is dead
    if login_sessions.cookie_routes_served():
        send_browser_to(login_sessions.signout_link("/"))
        st.stop()
    st.rerun()


def render_logout_button(user: UserView) -> None:
    """The sidebar "Sign out" button, for every signed-in page (called from app.py)."""
    with st.sidebar:
        if st.button("Sign out", key="logout_button", icon="🚪"):
            leave(everywhere=False, user=user)
