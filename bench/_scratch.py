"""What the one-process benches share: a scratch database, and a timer that reports CPU too."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from db.engine import Database, make_engine
from db.migrate import upgrade

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(kind: str, url: str | None = None, *, label: str = "bench",
                     keep: str | None = None) -> Iterator[Database]:
    """A migrated database for one run, removed afterwards: SQLite in a temporary directory,
    or a PostgreSQL database made on the server at `url`. `keep` names one kept between runs
    instead (a SQLite path, or a PostgreSQL database's name), for EXPLAIN and index work."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(keep).resolve() if keep else Path(tmp) / f"{label}.sqlite3"
            database = Database(make_engine(f"sqlite:///{path}"))
            try:
                upgrade(database.engine)
                yield database
            finally:
                database.dispose()
        return
    admin_url = url or POSTGRES_ADMIN_URL
    name = keep or f"ringround_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}).first()
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database(make_engine(
        sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)))
    try:
        upgrade(database.engine)
        yield database
    finally:
        database.dispose()
        if not keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, float]:
    """(min, median, max) wall-clock ms, and the median CPU ms of this process.

    On SQLite the query runs inside this process, so its CPU time is what the query costs
    whatever else the machine is doing; wall time on a shared machine includes waiting.
    """
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return min(times), statistics.median(times), max(times), statistics.median(cpu)
