"""The migrated schema is the models' schema, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from db.engine import Database, make_engine
from db.migrate import head_revision, is_up_to_date, upgrade
from db.models import CallAttempt, Contact, Suppression
from tests.factories import make_campaign, make_contact, make_user


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert is_up_to_date(database.engine)


def test_migrating_twice_is_harmless(database: Database) -> None:
    upgrade(database.engine)
    assert is_up_to_date(database.engine)
    assert head_revision() is not None


def test_datetimes_come_back_aware_utc(database: Database) -> None:
    moment = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)
    with database.write() as session:
        contact = make_contact(session, last_contacted_at=moment)
        contact_id = contact.id
    with database.session() as session:
        stored = session.get(Contact, contact_id)
        assert stored is not None
        assert stored.last_contacted_at == moment
        assert stored.last_contacted_at.tzinfo is not None


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with database.write() as session:
            make_contact(session, last_contacted_at=datetime(2026, 1, 1))


def test_a_phone_number_is_one_contact(database: Database) -> None:
    with database.write() as session:
        make_contact(session, phone="+447400123456")
    with pytest.raises(sa.exc.IntegrityError):
        with database.write() as session:
            make_contact(session, phone="+447400123456")


def test_suppression_outlives_its_contact(database: Database) -> None:
    with database.write() as session:
        contact = make_contact(session, phone="+447400123457")
        session.add(Suppression(phone=contact.phone, reason="asked not to be called"))
    with database.write() as session:
        session.delete(session.get(Contact, contact.id))
    with database.session() as session:
        assert session.exec(select(Suppression.phone)).all() == ["+447400123457"]


def test_attempt_idempotency_key_is_unique(database: Database) -> None:
    with database.write() as session:
        campaign = make_campaign(session)
        volunteer = make_user(session)
        contact = make_contact(session)
        fields = dict(
            idempotency_key="k1", campaign_id=campaign.id, contact_id=contact.id,
            volunteer_id=volunteer.id, outcome_code="no_answer",
            started_at=datetime.now(UTC),
        )
        session.add(CallAttempt(**fields))
    with pytest.raises(sa.exc.IntegrityError):
        with database.write() as session:
            session.add(CallAttempt(**fields))


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with database.write() as session:
            session.add(
                CallAttempt(idempotency_key="x", campaign_id=999_999, outcome_code="busy",
                            started_at=datetime.now(UTC))
            )


def test_sqlite_runs_in_wal_with_a_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        make_engine("sqlite://")
