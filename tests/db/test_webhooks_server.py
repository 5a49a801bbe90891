"""The real server: `streamlit run server.py` serves the app, /healthz and Twilio's webhooks."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlmodel import select
from twilio.request_validator import RequestValidator

from core.config import PROJECT_ROOT
from db.engine import Database, make_engine
from db.models import Suppression

TOKEN = "server-test-auth-token"
PUBLIC = "https://calls.example.org"
START_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "RINGROUND_DATA_DIR": str(tmp_path / "data"),
        "RINGROUND_COOKIE_KEY": secrets.token_urlsafe(48),
        "RINGROUND_SECRETS_FILE": str(tmp_path / "none.toml"),
        "RINGROUND_PUBLIC_URL": PUBLIC,
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "TWILIO_AUTH_TOKEN": TOKEN,
    }
    env.pop("RINGROUND_DEMO", None)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=5).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or a busy machine
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
