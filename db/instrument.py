"""Count the database work one page run does: statements, commits, connections, lock waits.

Counting is per thread: a Streamlit session runs its script on a thread of its own, so
`begin()` at the start of a run and `end()` after it see exactly that run's work, whatever the
other sessions do meanwhile. Engines count only once `watch(engine)` has installed the
listeners (Database does it for every engine it wraps); with no run begun on the thread the
listeners do nothing but one thread-local lookup.

The figures are deterministic, unlike time, so tests pin them ("a calling-page rerun issues at
most N statements and no commit"), and bench/load.py prints them from the server's run log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass
class RunCounts:
    """The database work of one page run (or of any span a test wraps in counting())."""

    statements: int = 0
    commits: int = 0
    rollbacks: int = 0  # a read session ends with one (a round trip on PostgreSQL)
    checkouts: int = 0  # connections taken from the pool
    write_wait_ms: float = 0.0  # waiting for this server's SQLite write gate
    commit_ms: float = 0.0  # inside COMMIT (SQLite: the WAL write and any checkpoint)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["write_wait_ms"] = round(self.write_wait_ms, 2)
        data["commit_ms"] = round(self.commit_ms, 2)
        return data


_local = threading.local()
_watched: set[int] = set()
_watch_lock = threading.Lock()


def current() -> RunCounts | None:
    """The counts of the run under way on this thread, if one was begun."""
    return getattr(_local, "counts", None)


def begin(counts: RunCounts | None = None) -> RunCounts:
    """Start counting on this thread (replacing any count left unfinished)."""
    _local.counts = counts or RunCounts()
    return _local.counts


def end() -> RunCounts | None:
    """Stop counting on this thread; returns what was counted."""
    counts = current()
    _local.counts = None
    return counts


class counting:  # lower case: used as a context manager, like contextlib's
    """`with counting() as counts:` counts this thread's database work inside the block."""

    def __enter__(self) -> RunCounts:
        self._outer = current()
        return begin()

    def __exit__(self, *_exc: object) -> None:
        _local.counts = self._outer


def watch(engine: Engine) -> Engine:
    """Install the counting listeners on an engine (once)."""
    with _watch_lock:
        if id(engine) in _watched:
            return engine
        _watched.add(id(engine))

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        counts = current()
        if counts is not None:
            counts.statements += 1

    @event.listens_for(engine, "commit")
    def _commit(_connection: Any) -> None:
        counts = current()
        if counts is not None:
            counts.commits += 1

    @event.listens_for(engine, "rollback")
    def _rollback(_connection: Any) -> None:
        counts = current()
        if counts is not None:
            counts.rollbacks += 1

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*_args: Any) -> None:
        counts = current()
        if counts is not None:
            counts.checkouts += 1

    return engine


class timed:  # lower case: a context manager
    """Add the block's wall time to a RunCounts field of this thread's run, if any."""

    def __init__(self, field: str):
        self.field = field

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        counts = current()
        if counts is not None:
            elapsed = (time.perf_counter() - self._started) * 1000
            setattr(counts, self.field, getattr(counts, self.field) + elapsed)
