"""The app migrates an empty database on start, once per process."""

from __future__ import annotations

import secrets
from pathlib import Path

from core.config import load_settings
from core.runtime import forget_migrations, open_database
from db.engine import reset_databases
from db.migrate import is_up_to_date


def test_an_empty_database_is_migrated_when_the_app_opens_it(tmp_path: Path) -> None:
    forget_migrations()
    settings = load_settings(
        env={"RINGROUND_DATA_DIR": str(tmp_path),
             "RINGROUND_COOKIE_KEY": secrets.token_urlsafe(48)},
        secrets_path=tmp_path / "none.toml",
    )
    database = open_database(settings)
    try:
        assert (tmp_path / "ringround.sqlite3").exists()
        assert is_up_to_date(database.engine)
        assert open_database(settings) is database
    finally:
        reset_databases()
        forget_migrations()
