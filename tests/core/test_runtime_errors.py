"""A database that is not answering reaches the pages as one domain error, nothing else does."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from core.runtime import DatabaseUnavailable, database_answering


def test_a_locked_or_dropped_database_becomes_database_unavailable_naming_the_driver_error():
    with pytest.raises(DatabaseUnavailable) as raised, database_answering():
        raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("locked"))
    assert raised.value.detail == "OperationalError"
    assert "not answering" in str(raised.value)


def test_a_real_data_error_is_not_mistaken_for_an_unavailable_database():
    with pytest.raises(IntegrityError), database_answering():
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
