"""Engines and sessions for SQLite (embedded default) and PostgreSQL (several app servers).

SQLite notes, each learnt the hard way by phone banks before us:
- WAL lets the dashboard read while volunteers write.
- busy_timeout makes a writer wait for the lock instead of failing at once.
- Writes begin with BEGIN IMMEDIATE: a deferred transaction that reads and then tries to write
  can deadlock against another such transaction and fail without waiting ("database is locked").
- pysqlite's own transaction handling is switched off so that SQLAlchemy emits our BEGIN.
- Writers of one process queue on a Python lock before BEGIN IMMEDIATE. SQLite's own busy
  handler sleeps (1, 2, 5 … 100 ms) and polls, so under thirty volunteers' saves a writer often
  slept long after the lock was free (a py-spy profile of the load test showed script threads
  spending most of their time in BEGIN IMMEDIATE); a lock hands over at once. Other processes
  still meet busy_timeout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from db import instrument

SQLITE_BUSY_TIMEOUT_MS = 15_000

T = TypeVar("T")


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _private_database_file(path: Path) -> None:
    """Create the SQLite file's folder 0700 and the file 0600 before SQLite opens it.

    The file holds members' names and numbers; SQLite gives its -wal and -shm files the
    database file's own mode, so those stay private too. Existing files are left as they are
    (an administrator may have chosen a group on purpose).
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 30) -> Engine:
    """Build an engine for a sqlite:/// file or a postgresql+psycopg:// URL."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            # Each thread would get its own empty database: never what a phone bank wants.
            raise ValueError("in-memory SQLite is not supported; give a file path")
        path = sa.make_url(url).database
        if path:
            _private_database_file(Path(path))
        engine = sa.create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=60,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _install_sqlite_pragmas(engine)
        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # a restarted PostgreSQL leaves dead connections in the pool
        pool_recycle=1800,
        pool_timeout=60,
    )


def is_retryable(exc: BaseException) -> bool:
    """True for errors a retry can cure: SQLite lock contention, a dropped PostgreSQL link."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Database:
    """One engine plus the two kinds of session Ringround uses."""

    def __init__(self, engine: Engine):
        self.engine = instrument.watch(engine)
        self.is_sqlite = engine.dialect.name == "sqlite"
        # Re-entrant: a write opened inside another on the same thread must not wait on itself
        # here (SQLite itself would then make it wait, as it always has).
        self._write_gate: threading.RLock | None = threading.RLock() if self.is_sqlite else None
        self._write_engine = (
            engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        )

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        return cls(make_engine(url, **kwargs))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading (and small writes that cannot conflict)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error.

        Raises:
            OperationalError: on SQLite, this process's other writers held the database for
                longer than the busy timeout (retryable, like SQLite's own "locked").
        """
        gate = self._write_gate
        with instrument.timed("write_wait_ms"):
            acquired = gate is None or gate.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        if not acquired:
            raise OperationalError(
                "BEGIN IMMEDIATE", None,
                sqlite3.OperationalError("database is locked (this server's writers queue)"),
            )
        try:
            with Session(self._write_engine, expire_on_commit=False) as session:
                try:
                    yield session
                    with instrument.timed("commit_ms"):
                        session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if gate is not None:
                gate.release()

    def retrying(
        self, fn: Callable[[Session], T], *, attempts: int = 5, backoff: float = 0.2
    ) -> T:
        """Run fn in a write transaction, retrying lock timeouts and dropped connections."""
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return fn(session)
            except DBAPIError as exc:
                if attempt == attempts or not is_retryable(exc):
                    raise
                time.sleep(backoff * attempt)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


_lock = threading.Lock()
_databases: dict[str, Database] = {}


def get_database(url: str, **kwargs: Any) -> Database:
    """One Database per URL per process, shared by every session of the app."""
    with _lock:
        if url not in _databases:
            _databases[url] = Database.from_url(url, **kwargs)
        return _databases[url]


def reset_databases() -> None:
    """Forget (and close) every cached Database; for tests."""
    with _lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()
