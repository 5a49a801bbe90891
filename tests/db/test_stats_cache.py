"""The dashboard's shared cache: one computation per key per TTL, however many viewers."""

from __future__ import annotations

import time

import pytest

from core.stats_cache import TTLCache
from tests.racing import at_once, times


def test_a_value_is_reused_until_its_ttl_passes() -> None:
    clock = [0.0]
    cache = TTLCache(clock=lambda: clock[0])
    values = iter([1, 2])
    assert cache.get_or_compute("k", 3, lambda: next(values)) == 1
    clock[0] = 2.99
    assert cache.get_or_compute("k", 3, lambda: next(values)) == 1
    clock[0] = 3.0
    assert cache.get_or_compute("k", 3, lambda: next(values)) == 2
    assert cache.computations == 2


def test_different_keys_do_not_share_values() -> None:
    cache = TTLCache(clock=lambda: 0.0)
    assert cache.get_or_compute(("headline", 1), 3, lambda: "one") == "one"
    assert cache.get_or_compute(("headline", 2), 3, lambda: "two") == "two"


def test_a_zero_ttl_never_caches() -> None:
    cache = TTLCache(clock=lambda: 0.0)
    values = iter([1, 2])
    assert cache.get_or_compute("k", 0, lambda: next(values)) == 1
    assert cache.get_or_compute("k", 0, lambda: next(values)) == 2


def test_twenty_viewers_at_once_trigger_one_query() -> None:
    cache = TTLCache()
    calls = []

    def slow_query() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results = at_once(lambda _: cache.get_or_compute(("headline", 7), 3, slow_query),
                      times(20))
    assert results == [42] * 20
    assert len(calls) == 1


def test_a_failed_computation_is_not_cached_and_is_retried() -> None:
    cache = TTLCache(clock=lambda: 0.0)

    def broken() -> int:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        cache.get_or_compute("k", 3, broken)
    assert cache.get_or_compute("k", 3, lambda: 5) == 5


def test_the_cache_stays_bounded() -> None:
    clock = [0.0]
    cache = TTLCache(clock=lambda: clock[0], max_entries=10)
    for n in range(25):
        cache.get_or_compute(n, 100, lambda n=n: n)
    assert len(cache) <= 10
