"""A brief, process-wide, single-flight cache for dashboard aggregates.

Twenty organisers leaving the dashboard open all afternoon must not mean twenty copies of every
aggregate query every few seconds: within one TTL every viewer shares one result, and when it
expires only one thread recomputes it while the others wait for that result (single flight)
instead of stampeding the database.

Cached values are shared between sessions: callers must treat them as read-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Entry:
    value: Any
    expires_at: float


class TTLCache:
    """Values by key for `ttl` seconds; one computation per key at a time.

    `clock` is injectable so tests can move time forward instead of sleeping.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 2000):
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[Hashable, _Entry] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.computations = 0  # how many times a value was computed (for tests and the bench)

    def __len__(self) -> int:
        """How many values are kept (fresh or not yet evicted)."""
        with self._lock:
            return len(self._entries)

    def _fresh(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > self._clock():
            return entry
        return None

    def get_or_compute(self, key: Hashable, ttl: float, compute: Callable[[], T]) -> T:
        """The cached value for key if younger than ttl seconds, else compute() once and keep it."""
        if ttl <= 0:
            with self._lock:
                self.computations += 1
            return compute()
        with self._lock:
            entry = self._fresh(key)
            if entry is not None:
                return entry.value  # type: ignore[no-any-return]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._fresh(key)  # another thread may have computed it while we waited
                if entry is not None:
                    return entry.value  # type: ignore[no-any-return]
            value = compute()
            with self._lock:
                self.computations += 1
                if len(self._entries) >= self._max_entries:
                    self._evict_expired()
                self._entries[key] = _Entry(value=value, expires_at=self._clock() + ttl)
            return value

    def _evict_expired(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]
            self._key_locks.pop(key, None)
        if len(self._entries) >= self._max_entries:  # all fresh: drop the oldest half
            for key in sorted(self._entries, key=lambda k: self._entries[k].expires_at)[
                : self._max_entries // 2
            ]:
                del self._entries[key]
                self._key_locks.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._key_locks.clear()


# The one cache every session of this process shares.
DASHBOARD_CACHE = TTLCache()
