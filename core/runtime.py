"""Open the configured database once per process and bring its schema up to date."""

from __future__ import annotations

import threading

from core.config import Settings
from db.engine import Database, get_database
from db.migrate import upgrade

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
