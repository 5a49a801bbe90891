"""The ASGI entry: the Streamlit app plus Twilio's webhooks and a health check, on one server.

Run it with `streamlit run server.py` (Streamlit finds the st.App below and serves it with its
own uvicorn runner; the usual --server.port / --server.address flags apply), or with
`uvicorn server:app`. Plain `streamlit run app.py` still works, without the webhook routes.
"""

from __future__ import annotations

import base64
import functools
import gc
import hashlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from streamlit.runtime.pages_manager import PagesManager

import auth_routes
from core.config import ConfigError, Settings, load_settings
from core.event_texts import ics_calendar
from core.events import event_by_token
from core.runtime import open_database
from core.webhooks import (
    BAD_REQUEST,
    MAX_BODY_BYTES,
    TOO_LARGE,
    WebhookResponse,
    handle_inbound_call,
    handle_inbound_sms,
    handle_session_callback,
    handle_status_callback,
    parse_form,
    refuse_before_body,
)
from db.engine import Database
from pages._browser import INLINE_SCRIPTS
from pages._ui import freeze_heap_after_first_run

# Ringround keeps its st.navigation pages in pages/, as the design asks. Until app.py's
# st.navigation first runs in a process, Streamlit treats a folder named pages/ as an old-style
# pages directory: after a restart, a tab reconnecting to /calling would run pages/calling.py
# without app.py and list every module in pages/. This server only ever uses st.navigation.
PagesManager.uses_pages_directory = False

# Keep the garbage collector off the objects that live as long as the server (see the
# function): Streamlit's and the libraries' now, the pages' imports after the first run.
gc.freeze()
freeze_heap_after_first_run()


def _inline_script_hashes() -> list[str]:
    """CSP hashes of the inline scripts in the pages this server hands Chromium.

    Streamlit's own index.html has one; so does each component's index.html (the sign-in
    cookie manager of streamlit-authenticator, from extra_streamlit_components, runs in one).
    Hashing the installed files keeps the policy right across upgrades without 'unsafe-inline'.
    """
    pages = [Path(st.__file__).parent / "static" / "index.html"]
    spec = importlib.util.find_spec("extra_streamlit_components")
    if spec is not None and spec.origin:
        pages += sorted(Path(spec.origin).parent.glob("*/frontend/build/index.html"))
    bodies: list[str] = list(INLINE_SCRIPTS)  # Ringround's own (pages/_browser.py)
    for page in pages:
        try:
            html = page.read_text(encoding="utf-8")
        except OSError:
            continue
        bodies += re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes: list[str] = []
    for body in bodies:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        if f"'sha256-{digest}'" not in hashes:
            hashes.append(f"'sha256-{digest}'")
    return hashes


# Framing only by this origin (Streamlit's components are same-origin iframes), and nothing
# loaded from elsewhere: an image or link smuggled into contact data cannot fetch a URL, and no
# injected <script> runs. 'unsafe-eval' because the dashboard's Vega charts compile expressions;
# 'unsafe-inline' styles because Streamlit styles its widgets inline.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-eval' " + " ".join(_inline_script_hashes()),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "frame-ancestors 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Add SECURITY_HEADERS to every HTTP response, the app's pages and these routes alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


@functools.cache
def _runtime() -> tuple[Settings, Database]:
    settings = load_settings()
    return settings, open_database(settings)


def _respond(result: WebhookResponse) -> Response:
    return Response(result.body, status_code=result.status, media_type=result.media_type)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes `limit` (a chunked body has no Content-Length)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _twilio(request: Request, handler: Any) -> Response:
    try:
        settings, database = _runtime()
    except ConfigError:
        return Response("Ringround is not configured", status_code=503)
    # Refuse what the headers already condemn (no signature, too large) without reading the
    # body, and never read more than the cap: the signature check needs the parsed form.
    refusal = refuse_before_body(settings, request.headers)
    if refusal is not None:
        return _respond(refusal)
    body = await _read_capped(request, MAX_BODY_BYTES)
    if body is None:
        return _respond(TOO_LARGE)
    form = parse_form(body)
    if form is None:
        return _respond(BAD_REQUEST)
    result = await run_in_threadpool(
        handler,
        database=database,
        settings=settings,
        params=form,
        headers=dict(request.headers),
        query=request.url.query,
    )
    return _respond(result)


async def twilio_status(request: Request) -> Response:
    return await _twilio(request, handle_status_callback)


async def twilio_sms(request: Request) -> Response:
    return await _twilio(request, handle_inbound_sms)


async def twilio_voice(request: Request) -> Response:
    return await _twilio(request, handle_inbound_call)


async def twilio_session(request: Request) -> Response:
    return await _twilio(request, handle_session_callback)


async def healthz(request: Request) -> Response:
    """Liveness plus a database round trip, for a load balancer or uptime monitor."""
    try:
        _, database = _runtime()

        def ping() -> None:
            with database.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")

        await run_in_threadpool(ping)
    except Exception as exc:  # any failure means "not healthy", reported, never raised
        return JSONResponse({"status": "error", "error": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


async def event_calendar(request: Request) -> Response:
    """GET /events/<token>.ics: the calendar file a confirmation text links to.

    No sign-in (it opens from a text message), so it holds only what the event's own text
    says, and the token is unguessable rather than the event's id.
    """
    try:
        _, database = _runtime()
    except ConfigError:
        return Response("Ringround is not configured", status_code=503)
    token = str(request.path_params.get("token", ""))
    if not token or len(token) > 64:
        return Response("No such event", status_code=404)

    def build() -> str | None:
        with database.session() as session:
            event = event_by_token(session=session, token=token)
            return ics_calendar(event) if event is not None else None

    body = await run_in_threadpool(build)
    if body is None:
        return Response("No such event", status_code=404)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="event.ics"',
                             "cache-control": "no-store"})


ROUTES = [
    Route("/twilio/status", twilio_status, methods=["POST"]),
    Route("/twilio/sms", twilio_sms, methods=["POST"]),
    Route("/twilio/session", twilio_session, methods=["POST"]),
    Route("/twilio/voice", twilio_voice, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/events/{token}.ics", event_calendar, methods=["GET"]),
    *auth_routes.routes(_runtime),
]

app = st.App("app.py", routes=ROUTES, middleware=[Middleware(SecurityHeaders)])
