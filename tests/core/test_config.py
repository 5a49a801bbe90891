"""Configuration: every setting read in one place, and unsafe settings stop the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import DEMO_COOKIE_KEY, ConfigError, load_settings, normalise_database_url

GOOD_KEY = "x" * 40


def settings(tmp_path: Path, **env: str):
    return load_settings(env=env, secrets_path=tmp_path / "absent.toml")


def test_a_missing_cookie_key_stops_the_app_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RINGROUND_COOKIE_KEY is not set"):
        settings(tmp_path)


@pytest.mark.parametrize("key", ["changeme", "secret", "short-key", DEMO_COOKIE_KEY])
def test_a_placeholder_or_short_cookie_key_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="unsafe"):
        settings(tmp_path, RINGROUND_COOKIE_KEY=key)


def test_demo_mode_runs_with_the_built_in_key(tmp_path: Path) -> None:
    s = settings(tmp_path, RINGROUND_DEMO="1")
    assert s.demo and s.cookie_key == DEMO_COOKIE_KEY


def test_sqlite_file_under_the_data_dir_is_the_default(tmp_path: Path) -> None:
    s = settings(tmp_path, RINGROUND_COOKIE_KEY=GOOD_KEY, RINGROUND_DATA_DIR=str(tmp_path / "d"))
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'ringround.sqlite3'}"
    assert s.is_sqlite
    assert s.timezone == "Europe/London" and s.default_region == "GB"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_database_urls_from_hosting_providers_are_accepted(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


def test_an_unknown_database_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        settings(tmp_path, RINGROUND_COOKIE_KEY=GOOD_KEY, DATABASE_URL="mysql://h/db")


def test_secrets_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'cookie_key = "{GOOD_KEY}"\npublic_url = "https://calls.example.org/"\n'
        '[twilio]\naccount_sid = "AC123"\nauth_token = "tok"\ncaller_ids = "+441270000001"\n'
    )
    s = load_settings(env={"RINGROUND_PUBLIC_URL": "https://other.example.org"},
                      secrets_path=secrets)
    assert s.cookie_key == GOOD_KEY
    assert s.public_url == "https://other.example.org"
    assert s.twilio.configured and s.twilio.caller_ids == ("+441270000001",)


def test_broken_secrets_file_gives_a_clear_message(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("cookie_key = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={}, secrets_path=secrets)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("RINGROUND_TIMEZONE", "Mars/Olympus", "not a known time zone"),
        ("RINGROUND_DB_POOL_SIZE", "lots", "must be a number"),
        ("RINGROUND_DASHBOARD_REFRESH_SECONDS", "0", "at least 1"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, RINGROUND_COOKIE_KEY=GOOD_KEY, **{name: value})
