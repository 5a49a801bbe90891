"""Real-browser fixtures: a real `streamlit run server.py` on a free port, and headless Chromium.

Each server gets its own environment (a temporary SQLite file or a scratch PostgreSQL
database, a throwaway cookie key, a data folder, no secrets file) so that tests never touch a
developer's data. Screenshots of every step go to artifacts/e2e/<test name>/ (see the README),
with each server's log beside them.

Chromium is Debian's (`.ci/install-browser`): Playwright's own browser download cannot reach
its host here. Without /usr/bin/chromium the browser tests skip on a laptop but fail in CI,
where a skip would hide a broken install.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from db.engine import Database, make_engine
from tests.e2e.harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    AppServer,
    PostgresUnavailable,
    migrated_sqlite_url,
    scratch_postgres,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "step"


def unavailable(message: str) -> None:
    """Skip on a laptop; fail in CI, where a skip would hide a broken install."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


# --------------------------------------------------------------------------------------------
# Databases and servers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_app_url(tmp_path: Path) -> str:
    return migrated_sqlite_url(tmp_path / "db")


@pytest.fixture
def postgres_app_url() -> Iterator[str]:
    try:
        with scratch_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        unavailable(f"PostgreSQL unavailable: {exc}")


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
def start_server(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., AppServer]]:
    """start_server(database_url, name=..., **extra_env) -> a running AppServer, stopped after."""
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
        # Keep each server's log beside the screenshots, where CI keeps its artifacts.
        with contextlib.suppress(OSError):
            folder = ARTIFACTS / _slug(request.node.name)
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log_path, folder / f"server-{server.name}.log")


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: run .ci/install-browser")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
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
