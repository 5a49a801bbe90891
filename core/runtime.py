"""What the app runs on: the configured database, opened once per process and migrated.

Pages reach storage only through core: this module hands them the runtime's database handle,
the schema revision, a domain error for "the database is not answering", and the per-run
query counts for the run log, so that no page imports db or SQLAlchemy
(tests/test_layers.py checks it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from core.config import Settings
from db.engine import Database, get_database, is_retryable
from db.instrument import RunCounts
from db.instrument import begin as begin_counting
from db.instrument import end as end_counting
from db.migrate import current_revision, upgrade

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "RunCounts",
    "Runtime",
    "Session",
    "begin_counting",
    "database_answering",
    "end_counting",
    "forget_migrations",
    "open_database",
    "open_runtime",
    "schema_revision",
]

_migrated: set[str] = set()
_lock = threading.Lock()


def open_database(settings: Settings) -> Database:
    """The process-wide Database for these settings, migrated to the newest schema."""
    database = get_database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    with _lock:
        if settings.database_url not in _migrated:
            upgrade(database.engine)
            _migrated.add(settings.database_url)
    return database


def forget_migrations() -> None:
    """For tests that swap databases under one process."""
    with _lock:
        _migrated.clear()


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database


def open_runtime(settings: Settings) -> Runtime:
    """The settings and their migrated database, as one handle for the app."""
    return Runtime(settings=settings, database=open_database(settings))


def schema_revision(database: Database) -> str | None:
    """The Alembic revision the database's schema is at (None before the first migration)."""
    return current_revision(database.engine)


class DatabaseUnavailable(Exception):
    """The database is not answering (restarting, unreachable, or locked for too long).

    Nothing committed is lost and the pool reconnects by itself: the user may simply try again.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail  # the driver's error class, for the organiser
        super().__init__("The database is not answering just now.")


@contextmanager
def database_answering() -> Iterator[None]:
    """Turn a retryable database failure inside the block into DatabaseUnavailable.

    Raises:
        DatabaseUnavailable: a dropped connection, a restart, or a lock wait that ran out.
    """
    try:
        yield
    except DBAPIError as exc:
        if not is_retryable(exc):
            raise
        detail = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        raise DatabaseUnavailable(detail) from exc
