"""The ASGI entry: the Streamlit app plus Twilio's webhooks and a health check, on one server.

Run it with `streamlit run server.py` (Streamlit finds the st.App below and serves it with its
own uvicorn runner; the usual --server.port / --server.address flags apply), or with
`uvicorn server:app`. Plain `streamlit run app.py` still works, without the webhook routes.
"""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from streamlit.runtime.pages_manager import PagesManager

from core.config import ConfigError, Settings, load_settings
from core.runtime import open_database
from core.webhooks import WebhookResponse, handle_inbound_sms, handle_status_callback
from db.engine import Database

# Ringround keeps its st.navigation pages in pages/, as the design asks. Until app.py's
# st.navigation first runs in a process, Streamlit treats a folder named pages/ as an old-style
# pages directory: after a restart, a tab reconnecting to /calling would run pages/calling.py
# without app.py and list every module in pages/. This server only ever uses st.navigation.
PagesManager.uses_pages_directory = False


@functools.cache
def _runtime() -> tuple[Settings, Database]:
    settings = load_settings()
    return settings, open_database(settings)


def _respond(result: WebhookResponse) -> Response:
    return Response(result.body, status_code=result.status, media_type=result.media_type)


async def _twilio(request: Request, handler: Any) -> Response:
    try:
        settings, database = _runtime()
    except ConfigError:
        return Response("Ringround is not configured", status_code=503)
    form = await request.form()
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


ROUTES = [
    Route("/twilio/status", twilio_status, methods=["POST"]),
    Route("/twilio/sms", twilio_sms, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
]

app = st.App("app.py", routes=ROUTES)
