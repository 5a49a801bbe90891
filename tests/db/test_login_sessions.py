"""Login sessions and their cookie (SQLite and PostgreSQL): the one-time code, the cookie's
checks, signing out here and everywhere, and the routes that set and clear it (issue #13, #15)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import jwt
import pytest
from starlette.requests import Request
from starlette.responses import Response

import auth_routes
from core import auth, login_sessions
from core.config import Settings
from db.engine import Database
from tests.conftest import TEST_COOKIE_KEY
from tests.factories import TEST_PASSWORD, make_user

KEY = TEST_COOKIE_KEY


def _signed_in(database: Database, *, now: datetime | None = None, days: float = 1.0
               ) -> auth.LoginResult:
    with database.write() as session:
        user = make_user(session)
    result = auth.sign_in_with_password(database=database, username=user.username,
                                        password=TEST_PASSWORD, session_days=days, now=now)
    assert result.ok
    return result


def _cookie(database: Database, result: auth.LoginResult, now: datetime | None = None) -> str:
    with database.write() as session:
        issued = login_sessions.redeem_handoff(session=session, code=result.handoff_code,
                                               cookie_key=KEY, now=now or datetime.now(UTC))
    assert issued is not None
    return issued.value


def _resume(database: Database, cookie: str, *, days: float = 1.0,
            now: datetime | None = None) -> auth.LoginResult:
    return auth.sign_in_with_cookie(database=database, cookie=cookie, cookie_key=KEY,
                                    session_days=days, now=now)


def test_the_cookie_collected_with_the_code_signs_the_browser_back_in(database: Database) -> None:
    result = _signed_in(database)
    resumed = _resume(database, _cookie(database, result))
    assert resumed.ok and resumed.user == result.user
    assert resumed.login_session_id == result.login_session_id and resumed.handoff_code == ""


def test_the_code_works_once_and_only_for_a_minute(database: Database) -> None:
    now = datetime.now(UTC)
    first = _signed_in(database, now=now)
    _cookie(database, first, now)
    late = _signed_in(database, now=now)
    with database.write() as session:
        again = login_sessions.redeem_handoff(session=session, code=first.handoff_code,
                                              cookie_key=KEY, now=now)
        expired = login_sessions.redeem_handoff(session=session, code=late.handoff_code,
                                                cookie_key=KEY, now=now + timedelta(seconds=61))
        made_up = login_sessions.redeem_handoff(session=session, code="made-up", cookie_key=KEY,
                                                now=now)
    assert again is None and expired is None and made_up is None


def _unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _variants(database: Database) -> dict[str, str]:
    good = jwt.decode(_cookie(database, _signed_in(database)), KEY, algorithms=["HS256"])
    return {
        "alg none": _unsigned(good),
        "HS512 with the same key": jwt.encode(good, KEY, algorithm="HS512"),
        "another key": jwt.encode(good, "another key " * 6, algorithm="HS256"),
        "the old library's cookie": jwt.encode(
            {"username": "someone", "exp_date": good["exp"]}, KEY, algorithm="HS256"),
        "a made-up session": jwt.encode({**good, "sid": "guessed"}, KEY, algorithm="HS256"),
        "another user's id": jwt.encode({**good, "uid": good["uid"] + 1}, KEY, algorithm="HS256"),
        "a string user id": jwt.encode({**good, "uid": str(good["uid"])}, KEY,
                                       algorithm="HS256"),
        "expired": jwt.encode({**good, "exp": 1}, KEY, algorithm="HS256"),
        "not a JWT": "garbage",
        "three empty parts": "..",
        "bad base64": "eyJ!!!.e30.x",
        "empty": "",
    }


def test_any_cookie_that_cannot_be_honoured_means_signed_out_not_a_crash(
    database: Database,
) -> None:
    answers = {name: _resume(database, value).reason
               for name, value in _variants(database).items()}
    assert answers == dict.fromkeys(answers, "cookie_revoked")


def test_signing_out_ends_this_browsers_cookie_and_every_copy_of_it(database: Database) -> None:
    result = _signed_in(database)
    cookie = _cookie(database, result)
    assert result.user is not None
    with database.write() as session:
        auth.sign_out(session=session, user_id=result.user.id,
                      login_session_id=result.login_session_id)
    copied = _resume(database, cookie)
    assert not copied.ok and copied.message == auth.REVOKED_COOKIE_MESSAGE


def test_sign_out_everywhere_holds_whatever_the_cookie_lifetime_becomes(
    database: Database,
) -> None:
    result = _signed_in(database, days=30)
    cookie = _cookie(database, result)
    assert result.user is not None
    with database.write() as session:
        auth.end_sessions(session=session, user_id=result.user.id)
    # The old check compared the cookie's implied signing time with the sign-out time, and a
    # shorter RINGROUND_COOKIE_EXPIRY_DAYS moved that time past it.
    assert [_resume(database, cookie, days=days).ok for days in (30, 1, 0.01, 365)] == [
        False] * 4


def test_a_shorter_cookie_lifetime_ends_older_sessions_at_once(database: Database) -> None:
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    result = _signed_in(database, now=two_days_ago, days=30)
    cookie = _cookie(database, result, two_days_ago)
    assert _resume(database, cookie, days=30).ok
    assert not _resume(database, cookie, days=1).ok


def test_changing_the_password_keeps_this_browser_and_ends_the_others(database: Database) -> None:
    here = _signed_in(database)
    assert here.user is not None
    there = auth.sign_in_with_password(database=database, username=here.user.username,
                                       password=TEST_PASSWORD)
    here_cookie, there_cookie = _cookie(database, here), _cookie(database, there)
    with database.write() as session:
        auth.change_password_here(session=session, user_id=here.user.id,
                                  login_session_id=here.login_session_id,
                                  current_password=TEST_PASSWORD,
                                  new_password="a different long password")
    assert _resume(database, here_cookie).ok
    assert not _resume(database, there_cookie).ok


# --- the routes ----------------------------------------------------------------------------------


def _call(database: Database, path: str, query: str = "", headers: dict[str, str] | None = None,
          scheme: str = "http") -> Response:
    settings = Settings(database_url="", data_dir=None, cookie_key=KEY)  # type: ignore[arg-type]
    routes = {route.path: route for route in auth_routes.routes(lambda: (settings, database),
                                                          serving=False)}
    scope = {
        "type": "http", "method": "GET", "path": path, "query_string": query.encode(),
        "scheme": scheme, "server": ("calls.example.org", 443 if scheme == "https" else 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    return asyncio.run(routes[path].endpoint(Request(scope)))  # type: ignore[arg-type]


def _set_cookie(response: Response) -> str:
    return response.headers.get("set-cookie", "")


def test_the_session_route_sets_an_http_only_lax_cookie_and_goes_back_once(
    database: Database,
) -> None:
    result = _signed_in(database)
    query = login_sessions.handoff_link(result.handoff_code, "/import").split("?", 1)[1]
    response = _call(database, login_sessions.SESSION_ROUTE, query)
    assert response.status_code == 303 and response.headers["location"] == "/import"
    header = _set_cookie(response)
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Secure" not in header  # plain http on a laptop: a Secure cookie would never return
    value = SimpleCookie(header)["ringround_auth"].value
    assert _resume(database, value).ok
    replay = _call(database, login_sessions.SESSION_ROUTE, query)
    assert replay.status_code == 303 and _set_cookie(replay) == ""


@pytest.mark.parametrize("how", [{"scheme": "https"},
                                 {"headers": {"X-Forwarded-Proto": "https"}}],
                         ids=["https", "behind a TLS proxy"])
def test_the_cookie_is_secure_when_served_over_https(database: Database, how) -> None:
    result = _signed_in(database)
    query = login_sessions.handoff_link(result.handoff_code).split("?", 1)[1]
    assert "Secure" in _set_cookie(_call(database, login_sessions.SESSION_ROUTE, query, **how))


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil",
                                    "evil"])
def test_the_session_route_never_sends_the_browser_to_another_site(
    database: Database, target: str
) -> None:
    result = _signed_in(database)
    query = login_sessions.handoff_link(result.handoff_code, target).split("?", 1)[1]
    assert _call(database, login_sessions.SESSION_ROUTE, query).headers["location"] == "/"


def test_the_sign_out_route_clears_the_cookie(database: Database) -> None:
    response = _call(database, login_sessions.SIGNOUT_ROUTE, "next=/")
    header = _set_cookie(response)
    assert header.startswith('ringround_auth="";') and "Max-Age=0" in header
    assert response.headers["location"] == f"/?{login_sessions.CLEARED_PARAM}=out"
    refused = _call(database, login_sessions.SIGNOUT_ROUTE, "next=/import&ended=1")
    assert refused.headers["location"] == f"/import?{login_sessions.CLEARED_PARAM}=ended"
