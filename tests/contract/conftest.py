"""Prism, mocking Twilio's official OpenAPI description, for the contract tests.

Install it with `npm ci --prefix tests/contract` (package.json pins @stoplight/prism-cli).
Without it the contract tests skip locally, but fail in CI (CI=true), where a skip would hide
a broken contract.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PRISM = HERE / "node_modules" / ".bin" / "prism"
SPEC = HERE / "twilio_openapi" / "twilio_api_v2010_trimmed.json"
IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a Prism mock of the trimmed Twilio spec, stopped after the session."""
    if not PRISM.exists():
        message = f"Prism is not installed: run `npm ci --prefix {HERE.relative_to(Path.cwd())}`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
            stdout=log, stderr=subprocess.STDOUT, cwd=HERE,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not _listening(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Prism did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
