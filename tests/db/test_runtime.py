"""The app migrates an empty database on start, once per process."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from core.config import load_settings
from core.runtime import forget_migrations, open_database
from db.engine import make_engine, reset_databases
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


def test_a_new_sqlite_database_and_its_folder_are_private_to_the_server(tmp_path) -> None:
    """Members' names and numbers: the folder 0700, the file and its WAL 0600 (issue #13)."""
    folder = tmp_path / "fresh" / "data"
    database = folder / "ringround.sqlite3"
    old_umask = os.umask(0o022)  # a usual umask, which would leave both world-readable
    try:
        engine = make_engine(f"sqlite:///{database}")
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        modes = {path.name: stat.S_IMODE(path.stat().st_mode)
                 for path in [folder, *folder.iterdir()]}
        engine.dispose()
    finally:
        os.umask(old_umask)
    assert modes["data"] == 0o700
    assert {name: mode for name, mode in modes.items() if name != "data"} == {
        name: 0o600 for name in modes if name != "data"}
    assert "ringround.sqlite3-wal" in modes
