"""Alembic environment: the SQLModel metadata is the source of truth for the schema."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata

# Several app servers may start at once against one PostgreSQL; only one may migrate.
MIGRATION_LOCK_ID = 0x52494E47  # "RING"


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through db.migrate.upgrade(), which passes a connection")
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        compare_type=True,
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
