"""The real server: `streamlit run server.py` serves the app, /healthz and Twilio's webhooks."""

from __future__ import annotations

import select as io_select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from sqlmodel import select
from twilio.request_validator import RequestValidator

from db.engine import Database, make_engine
from db.models import Suppression
from tests.e2e.harness import AppServer

TOKEN = "server-test-auth-token"
PUBLIC = "https://calls.example.org"
START_TIMEOUT_SECONDS = 60


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    app = AppServer(sqlite_url, tmp_path, entry="server.py", extra_env={
        "RINGROUND_PUBLIC_URL": PUBLIC,
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "TWILIO_AUTH_TOKEN": TOKEN,
    })
    app.start(timeout=START_TIMEOUT_SECONDS)
    try:
        yield app.url
    finally:
        app.stop()


def test_one_server_answers_health_checks_the_app_and_signed_twilio_webhooks(
    server: str, sqlite_url: str
) -> None:
    assert requests.get(server + "/healthz", timeout=30).json() == {"status": "ok"}
    assert requests.get(server + "/_stcore/health", timeout=30).text == "ok"
    assert "<html" in requests.get(server + "/", timeout=30).text.lower()

    params = {"From": "+447400100077", "Body": "STOP", "MessageSid": "SM" + "1" * 32}
    unsigned = requests.post(server + "/twilio/sms", data=params, timeout=30)
    assert unsigned.status_code == 403
    database = Database(make_engine(sqlite_url))
    try:
        with database.session() as session:
            assert session.exec(select(Suppression)).all() == []
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/sms", params)
        signed = requests.post(server + "/twilio/sms", data=params, timeout=30,
                               headers={"X-Twilio-Signature": signature})
        assert signed.status_code == 200 and "<Message>" in signed.text
        with database.session() as session:
            assert session.exec(select(Suppression.phone)).all() == ["+447400100077"]
        status = requests.post(server + "/twilio/status", timeout=30,
                               data={"CallSid": "CA1", "CallStatus": "busy"})
        assert status.status_code == 403
    finally:
        database.dispose()


def _post_raw(base: str, path: str, headers: dict[str, str], body: Iterator[bytes]
              ) -> tuple[int, float]:
    """POST `body` piece by piece, stopping as soon as the server answers: (status, seconds).

    A server that refuses early closes the connection while the client is still sending, so a
    client that insists on sending everything first (requests) sees a reset, not the answer.
    """
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        for piece in body:
            readable, _, _ = io_select.select([sock], [], [], 0)
            if readable:
                break
            try:
                _, writable, _ = io_select.select([], [sock], [], 30)
                sock.send(piece) if writable else None
            except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                break
        sock.setblocking(True)
        try:
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    status_line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return (int(status_line.split()[1]) if status_line.startswith("HTTP/") else 0,
            time.monotonic() - started)


def _pieces(total: int, size: int = 64 * 1024, chunked: bool = False) -> Iterator[bytes]:
    piece = b"a" * size
    for _ in range(total // size):
        yield f"{size:x}\r\n".encode() + piece + b"\r\n" if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


TWENTY_MB = 20 * 1024 * 1024
# Collapse guards only, on a shared two-core machine: reading 20 MB whole took 5 s before.
REFUSED_WITHIN_SECONDS = 2.0


def test_a_20_mb_webhook_is_refused_before_its_body_is_read_while_health_checks_stay_fast(
    server: str,
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    signed = {**form, "X-Twilio-Signature": "bm90LWEtcmVhbC1zaWduYXR1cmU="}
    results: list[tuple[str, int, float]] = []

    def flood(kind: str) -> None:
        if kind == "unsigned":
            results.append((kind, *_post_raw(
                server, "/twilio/sms", {**form, "Content-Length": str(TWENTY_MB)},
                _pieces(TWENTY_MB))))
        elif kind == "declared":
            results.append((kind, *_post_raw(
                server, "/twilio/sms", {**signed, "Content-Length": str(TWENTY_MB)},
                _pieces(TWENTY_MB))))
        else:  # chunked: no Content-Length, so the cap applies while reading
            results.append((kind, *_post_raw(
                server, "/twilio/status", {**signed, "Transfer-Encoding": "chunked"},
                _pieces(TWENTY_MB, chunked=True))))

    threads = [threading.Thread(target=flood, args=(kind,))
               for kind in ("unsigned", "declared", "chunked", "unsigned", "chunked")]
    for thread in threads:
        thread.start()
    health = []
    for _ in range(5):
        started = time.monotonic()
        assert requests.get(server + "/healthz", timeout=30).status_code == 200
        health.append(time.monotonic() - started)
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted((kind, status) for kind, status, _ in results)
    assert statuses == [("chunked", 413), ("chunked", 413), ("declared", 413),
                        ("unsigned", 403), ("unsigned", 403)]
    assert max(seconds for _, _, seconds in results) < REFUSED_WITHIN_SECONDS, results
    assert max(health) < REFUSED_WITHIN_SECONDS, health


def test_a_signed_webhook_under_the_cap_still_works_when_sent_chunked(
    server: str, sqlite_url: str
) -> None:
    params = {"From": "+447400100078", "Body": "stop", "MessageSid": "SM" + "2" * 32}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/sms", params)
    body = urlencode(params).encode()
    reply = requests.post(server + "/twilio/sms", data=iter([body[:10], body[10:]]), timeout=30,
                          headers={"X-Twilio-Signature": signature,
                                   "Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 200 and "<Message>" in reply.text
    database = Database(make_engine(sqlite_url))
    try:
        with database.session() as session:
            assert session.exec(select(Suppression.phone)).all() == ["+447400100078"]
    finally:
        database.dispose()


@pytest.mark.parametrize("path", ["/", "/healthz", "/calling"])
def test_every_response_forbids_framing_by_other_sites_and_loading_from_them(
    server: str, path: str
) -> None:
    headers = requests.get(server + path, timeout=30).headers
    policy = dict(part.strip().split(" ", 1) for part in
                  headers["Content-Security-Policy"].split(";"))
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert policy["frame-ancestors"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_events_calendar_file_is_served_by_its_token_only(
    server: str, sqlite_url: str
) -> None:
    from datetime import date, time

    from core.events import EventDraft, create_event, get_event
    from tests.factories import make_campaign

    database = Database(make_engine(sqlite_url))
    try:
        with database.write() as session:
            campaign = make_campaign(session)
            event_id = create_event(session=session, actor_id=None, draft=EventDraft(
                title="Saturday canvass", day=date(2026, 12, 12), start=time(10, 0),
                end=time(13, 0), place="Crewe Library", campaign_ids=(campaign.id,)))
            token = get_event(session=session, event_id=event_id).ics_token
    finally:
        database.dispose()
    served = requests.get(f"{server}/events/{token}.ics", timeout=30)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/calendar")
    assert "attachment" in served.headers["content-disposition"]
    body = served.text
    assert body.startswith("BEGIN:VCALENDAR") and "SUMMARY:Saturday canvass" in body
    assert "LOCATION:Crewe Library" in body
    # 10:00 in London on 12 December (GMT) is 10:00 UTC.
    assert "DTSTART:20261212T100000Z" in body
    # An event's id or a guess finds nothing; neither does an absurd token.
    for wrong in (str(event_id), "x" * 24, "y" * 65):
        assert requests.get(f"{server}/events/{wrong}.ics", timeout=30).status_code == 404
