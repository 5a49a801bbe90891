"""Shared fixtures: a migrated database on each backend, and Ringround's environment.

`database` is parametrized over SQLite and PostgreSQL, so every test that takes it runs on
both. PostgreSQL tests skip when no server answers, except in CI (CI=true), where a skip would
hide a broken backend and so fails instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.engine import Database, make_engine, reset_databases
from db.migrate import upgrade

# A strong random key per test session: a fixed literal here would be a published key.
TEST_COOKIE_KEY = secrets.token_urlsafe(48)

POSTGRES_ADMIN_URL = os.environ.get(
    "RINGROUND_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    name = f"ringround_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(
            POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        _postgres_unavailable(str(exc).splitlines()[0])
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    reset_databases()
    # The browser fault tests restart PostgreSQL, which kills pooled connections: start afresh.
    admin.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            connection.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "ringround.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database URL on each backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    _truncate_postgres(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(make_engine(database_url, pool_size=40, max_overflow=10))
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    db = Database(make_engine(sqlite_url))
    yield db
    db.dispose()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> str:
    """Point Ringround's configuration at a fresh SQLite database, as the app would see it."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RINGROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RINGROUND_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.setenv("RINGROUND_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.delenv("RINGROUND_DEMO", raising=False)
    return sqlite_url


@pytest.fixture
def fresh_dialers() -> Iterator[None]:
    """Forget the process's shared fake dialers (and their calls) before and after a test."""
    from core.dialing import reset_dialers

    reset_dialers()
    yield
    reset_dialers()
