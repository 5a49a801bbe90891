"""The two HTTP routes that write and clear the login cookie, served beside the app by server.py.

After a sign-in the page sends the browser to /auth/session?code=…&next=…; this answer sets
the cookie itself (HttpOnly, SameSite=Lax, Secure when the request came over HTTPS) and
redirects back, so the cookie no longer depends on a script surviving the page's reruns
(see core/login_sessions.py). /auth/signout clears it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from core import login_sessions
from core.config import ConfigError, Settings
from db.engine import Database

RuntimeGetter = Callable[[], tuple[Settings, Database]]


def _over_https(request: Request) -> bool:
    # A proxy terminating TLS says so in X-Forwarded-Proto; Secure only ever narrows where
    # the cookie goes, so believing the header cannot leak it.
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def routes(runtime: RuntimeGetter, *, serving: bool = True) -> list[Route]:
    """The routes, bound to the server's settings and database. `serving` tells the pages
    that this process serves them (tests that only call the handlers pass False)."""

    async def collect_cookie(request: Request) -> Response:
        try:
            settings, database = runtime()
        except ConfigError:
            return Response("Ringround is not configured", status_code=503)
        code = request.query_params.get("code", "")
        target = login_sessions.safe_next(request.query_params.get("next"))

        def redeem() -> login_sessions.IssuedCookie | None:
            with database.write() as session:
                return login_sessions.redeem_handoff(
                    session=session, code=code, cookie_key=settings.cookie_key,
                    now=datetime.now(UTC))

        issued = await run_in_threadpool(redeem)
        if issued is None:
            # Used, expired or made up: nothing to set; the page asks the person to sign in.
            return _redirect(target)
        response = _redirect(target)
        response.set_cookie(
            settings.cookie_name, issued.value,
            max_age=max(0, int((issued.expires_at - datetime.now(UTC)).total_seconds())),
            path="/", secure=_over_https(request), httponly=True, samesite="lax",
        )
        return response

    async def clear_cookie(request: Request) -> Response:
        try:
            settings, _ = runtime()
        except ConfigError:
            return Response("Ringround is not configured", status_code=503)
        target = login_sessions.safe_next(request.query_params.get("next"))
        separator = "&" if "?" in target else "?"
        # "cleared" tells the page not to come back here if a cookie somehow survives.
        why = "ended" if request.query_params.get("ended") else "out"
        response = _redirect(f"{target}{separator}{login_sessions.CLEARED_PARAM}={why}")
        response.delete_cookie(settings.cookie_name, path="/", secure=_over_https(request),
                               httponly=True, samesite="lax")
        return response

    if serving:
        login_sessions.mark_cookie_routes_served()
    return [
        Route(login_sessions.SESSION_ROUTE, collect_cookie, methods=["GET"]),
        Route(login_sessions.SIGNOUT_ROUTE, clear_cookie, methods=["GET"]),
    ]
