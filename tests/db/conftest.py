"""Fixtures the database tests share."""

from __future__ import annotations

import pytest

from db.engine import Database
from tests.db.stats_fixture import Day, build_day


@pytest.fixture
def day(database: Database) -> Day:
    """The hand-worked day of tests/db/stats_fixture.py, on each backend."""
    return build_day(database)
