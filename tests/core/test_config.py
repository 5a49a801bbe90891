"""Configuration: every setting read in one place, and unsafe settings stop the app."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

import dev
from core.config import (
    DEMO_COOKIE_KEY,
    PROJECT_ROOT,
    ConfigError,
    cookie_key_problem,
    load_settings,
    normalise_database_url,
)

GOOD_KEY = secrets.token_urlsafe(48)
PLACEHOLDER = "put at least 32 random characters here"  # .streamlit/secrets.toml.example


def settings(tmp_path: Path, **env: str):
    return load_settings(env=env, secrets_path=tmp_path / "absent.toml")


def test_a_missing_cookie_key_stops_the_app_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RINGROUND_COOKIE_KEY is not set"):
        settings(tmp_path)


@pytest.mark.parametrize(
    "key, why",
    [
        ("changeme", "8 characters"),
        ("short-key", "9 characters"),
        (DEMO_COOKIE_KEY, "published"),
        (PLACEHOLDER, "published"),
        (f"  {PLACEHOLDER.upper()} ", "published"),
        ("changeme" * 4, "only 7 different characters"),
        ("a" * 40, "only 1 different characters"),
        ("k" * 48, "only 1 different characters"),
        ("secret-password-" * 3, "words, repeats or sequences"),
        ("Password1234" * 3, "words, repeats or sequences"),
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "words, repeats or sequences"),
        ("ringround-secret-key-for-the-phonebank-2026", "words, repeats or sequences"),
        ("e2e-cookie-key-" + "x" * 33, "only 9 different characters"),
    ],
)
def test_a_placeholder_weak_or_published_cookie_key_is_refused_with_how_to_make_one(
    tmp_path: Path, key: str, why: str
) -> None:
    with pytest.raises(ConfigError, match="unsafe") as refused:
        settings(tmp_path, RINGROUND_COOKIE_KEY=key)
    assert why in str(refused.value)
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in str(refused.value)


@pytest.mark.parametrize(
    "make", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_urlsafe(24),
             lambda: secrets.token_hex(32)],
    ids=["token_urlsafe(48)", "token_urlsafe(24)", "token_hex(32)"],
)
def test_random_keys_are_accepted(make) -> None:
    keys = [make() for _ in range(500)]
    assert [k for k in keys if cookie_key_problem(k)] == []


def test_the_placeholder_in_the_example_secrets_file_stops_the_app(tmp_path: Path) -> None:
    example = PROJECT_ROOT / ".streamlit" / "secrets.toml.example"
    assert PLACEHOLDER in example.read_text()
    with pytest.raises(ConfigError, match="published"):
        load_settings(env={}, secrets_path=example)


# A key written anywhere in the repository: `cookie_key = "..."`, `COOKIE_KEY = "..."`,
# `"RINGROUND_COOKIE_KEY": "..."`, `RINGROUND_COOKIE_KEY=...` in docs and shell lines.
_KEY_LITERAL = re.compile(
    r"""cookie_key["']?\s*[:=]\s*["']([^"'\n]+)["']|RINGROUND_COOKIE_KEY=([^\s"'`]+)""",
    re.IGNORECASE,
)
_SKIP_DIRS = {".venv", "node_modules", ".git", "artifacts", "data", "__pycache__",
              ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _repository_key_literals() -> set[str]:
    found: set[str] = set()
    for path in PROJECT_ROOT.rglob("*"):
        if (not path.is_file() or _SKIP_DIRS & set(path.relative_to(PROJECT_ROOT).parts)
                or path.suffix not in {".py", ".md", ".toml", ".example", ".yml", ".sh", ""}):
            continue
        text = path.read_text(errors="replace")
        for match in _KEY_LITERAL.finditer(text):
            literal = match.group(1) or match.group(2)
            if literal not in {"...", "…"} and "{" not in literal:
                found.add(literal)
    return found


def test_no_cookie_key_written_in_the_repository_would_be_accepted() -> None:
    literals = _repository_key_literals()
    assert PLACEHOLDER in literals  # the scan does see the example file
    accepted = sorted(k for k in literals if not cookie_key_problem(k))
    assert accepted == []


def test_dev_start_replaces_a_placeholder_key_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'cookie_key = "{PLACEHOLDER}"\npublic_url = "https://calls.example.org"\n'
                    '[twilio]\naccount_sid = "AC123"\n')
    dev.ensure_cookie_key(path, env={})
    s = load_settings(env={}, secrets_path=path)
    assert cookie_key_problem(s.cookie_key) == ""
    assert s.public_url == "https://calls.example.org" and s.twilio.account_sid == "AC123"
    assert path.stat().st_mode & 0o777 == 0o600


def test_dev_start_keeps_a_strong_key_and_writes_one_above_any_table(tmp_path: Path) -> None:
    strong = tmp_path / "strong.toml"
    strong.write_text(f'cookie_key = "{GOOD_KEY}"\n')
    dev.ensure_cookie_key(strong, env={})
    assert load_settings(env={}, secrets_path=strong).cookie_key == GOOD_KEY
    keyless = tmp_path / "keyless.toml"
    keyless.write_text('[twilio]\naccount_sid = "AC123"\n')
    dev.ensure_cookie_key(keyless, env={})
    assert cookie_key_problem(load_settings(env={}, secrets_path=keyless).cookie_key) == ""


def test_dev_start_stops_on_a_weak_key_in_the_environment(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unsafe"):
        dev.ensure_cookie_key(tmp_path / "s.toml", env={"RINGROUND_COOKIE_KEY": "changeme" * 4})


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
