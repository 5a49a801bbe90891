"""Real-browser fixtures: a real `streamlit run app.py` on a free port, and headless Chromium.

Each server gets its own environment (a temporary SQLite file or a scratch PostgreSQL
database, a throwaway cookie key, a data folder, no secrets file) so that tests never touch a
developer's data. Screenshots of every step go to artifacts/e2e/<test name>/ (see the README).

Chromium is Debian's (`.ci/install-browser`): Playwright's own browser download cannot reach
its host here. Without /usr/bin/chromium the browser tests skip on a laptop but fail in CI,
where a skip would hide a broken install.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.config import PROJECT_ROOT
from db.engine import Database, make_engine
from db.migrate import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Many pages in one browser: keep background tabs running at full speed.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
ARTIFACTS = PROJECT_ROOT / "artifacts" / "e2e"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "RINGROUND_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COOKIE_KEY = "e2e-cookie-key-" + "x" * 33  # 48 characters, only ever used by test servers
SERVER_START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "step"


# --------------------------------------------------------------------------------------------
# The app server
# --------------------------------------------------------------------------------------------


@dataclass
class AppServer:
    """One `streamlit run app.py` process; start, stop, kill -9 and restart it."""

    database_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = "app"
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.port}.log"

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RINGROUND_", "STREAMLIT_", "TWILIO_")) and key != "DATABASE_URL"
        }
        env.update(
            DATABASE_URL=self.database_url,
            RINGROUND_COOKIE_KEY=COOKIE_KEY,
            RINGROUND_DATA_DIR=str(self.workdir / "data"),
            RINGROUND_SECRETS_FILE=str(self.workdir / "no-such-secrets.toml"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, *, timeout: float = SERVER_START_TIMEOUT) -> AppServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts + 1} at {time.strftime('%X')} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.port", str(self.port),
                "--server.address", "127.0.0.1",
                "--server.headless", "true",
                "--server.fileWatcherType", "none",
                "--server.runOnSave", "false",
                "--browser.gatherUsageStats", "false",
            ],
            cwd=PROJECT_ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill -9 takes every child too
        )
        log.close()
        self.starts += 1
        self.wait_healthy(timeout=timeout)
        return self

    def wait_healthy(self, *, timeout: float = SERVER_START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"streamlit did not answer on {self.url}:\n{self.log_tail()}")

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no goodbye to the browsers, as when a host dies."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> AppServer:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Databases the servers use
# --------------------------------------------------------------------------------------------


def migrated_sqlite_url(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'ringround.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    name = f"ringround_e2e_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = str(exc).splitlines()[0]
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        for _ in range(30):  # PostgreSQL may still be coming back from a restart test
            try:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except sa.exc.OperationalError:
                time.sleep(1)
        admin.dispose()


@pytest.fixture
def e2e_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def sqlite_app_url(tmp_path: Path) -> str:
    return migrated_sqlite_url(tmp_path / "db")


@pytest.fixture
def postgres_app_url() -> Iterator[str]:
    with scratch_postgres() as url:
        yield url


@pytest.fixture
def test_db_factory() -> Iterator[Callable[[str], Database]]:
    """Open the servers' database from the test process, to arrange data and check results."""
    opened: list[Database] = []

    def open_db(url: str) -> Database:
        db = Database(make_engine(url, pool_size=5, max_overflow=5))
        opened.append(db)
        return db

    yield open_db
    for db in opened:
        db.dispose()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """start_server(database_url, **extra_env) -> a running AppServer, stopped after the test."""
    servers: list[AppServer] = []

    def start(database_url: str, *, name: str = "app", **extra_env: str) -> AppServer:
        server = AppServer(
            database_url=database_url, workdir=tmp_path / "servers", name=name,
            extra_env=extra_env,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
        # Keep the server log beside the screenshots, where CI keeps artifacts.
        with contextlib.suppress(OSError):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log_path, ARTIFACTS / f"server-{server.name}-{server.port}.log")


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run .ci/install-browser"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_instance(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Any, chromium_path: Path) -> Iterator[Any]:
    browser = playwright_instance.chromium.launch(
        executable_path=str(chromium_path), args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """new_context() -> a fresh browser context (its own cookies: one person), closed after."""
    contexts: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**kwargs)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


class Screenshots:
    """Numbered screenshots of each step, in artifacts/e2e/<test>/."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    def take(self, page: Any, step: str, *, full_page: bool = True) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{_slug(step)}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(ARTIFACTS / _slug(request.node.name))
