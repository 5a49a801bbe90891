"""Every setting Ringround reads, from the environment and `.streamlit/secrets.toml`.

The environment wins over the secrets file, so that one secrets file can serve several app
servers while each is pointed elsewhere by its environment. The README's configuration table
lists each setting below; keep the two in step.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A key anyone can read in this repository: accepted only in demo mode, where nothing is real.
DEMO_COOKIE_KEY = "ringround-demo-cookie-key-not-for-real-data-0000"
# Every key written in this repository or its docs; anyone can read them, so none may sign a
# real login. tests/core/test_config.py scans the repository and fails on a literal key that
# cookie_key_problem() would accept.
PUBLISHED_COOKIE_KEYS = frozenset({
    DEMO_COOKIE_KEY,
    "put at least 32 random characters here",  # .streamlit/secrets.toml.example
    "some_signature_key",  # streamlit-authenticator's README
    "random_signature_key",
})
MIN_COOKIE_KEY_LENGTH = 32
# 32 hex digits (secrets.token_hex(16)) carry 128 bits; the estimate below may dock a random
# key a run or two of chance sequences, so the bar sits a little lower than that.
MIN_COOKIE_KEY_BITS = 100
MIN_COOKIE_KEY_DISTINCT = 10
MAKE_COOKIE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Words people type when asked for a secret. None is made only of hex digits, so that a random
# hex key is never penalised for spelling "cafe" by chance.
_KEY_WORDS = (
    "password", "passwd", "secret", "changeme", "change", "cookie", "signature", "ringround",
    "letmein", "admin", "example", "placeholder", "random", "characters", "default", "demo",
    "test", "qwerty", "asdf", "key", "token", "here", "least", "insert", "your", "put", "todo",
    "xxx", "phone", "bank", "1234", "0000",
)


class ConfigError(Exception):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def _alphabet_bits(text: str) -> float:
    """Bits per character of the smallest usual alphabet the text is drawn from."""
    if all(c in "0123456789abcdef" for c in text) or all(c in "0123456789ABCDEF" for c in text):
        return 4.0
    size = 0
    size += 26 if any(c.islower() for c in text) else 0
    size += 26 if any(c.isupper() for c in text) else 0
    size += 10 if any(c.isdigit() for c in text) else 0
    size += 32 if any(not c.isalnum() for c in text) else 0
    return math.log2(max(size, 2))


def cookie_key_strength_bits(key: str) -> float:
    """A deliberately pessimistic estimate of the key's entropy, in bits.

    Characters inside a common word, inside a repeat of an earlier 5-character run, or inside
    a run of four or more consecutive or equal characters ("abcd", "9876", "zzzz") count for
    nothing; the rest
    count for the alphabet they are drawn from. Random keys lose almost nothing to this
    (a 5-character repeat in 64 random URL-safe characters is a one-in-a-billion event),
    "changeme" * 4 and forty "a"s lose nearly everything.
    """
    lowered = key.lower()
    free = [True] * len(key)
    for word in _KEY_WORDS:
        start = lowered.find(word)
        while start != -1:
            free[start:start + len(word)] = [False] * len(word)
            start = lowered.find(word, start + 1)
    seen: set[str] = set()
    for i in range(len(lowered) - 4):
        chunk = lowered[i:i + 5]
        if chunk in seen:
            free[i:i + 5] = [False] * 5
        seen.add(chunk)
    for i in range(3, len(key)):
        steps = {ord(key[j]) - ord(key[j - 1]) for j in range(i - 2, i + 1)}
        if len(steps) == 1 and steps <= {-1, 0, 1}:
            free[i - 3:i + 1] = [False] * 4
    return sum(free) * _alphabet_bits(key)


def cookie_key_problem(key: str) -> str:
    """Why this key must not sign login cookies, or "" when it is fine."""
    key = key.strip()
    if key in PUBLISHED_COOKIE_KEYS or key.lower() in {k.lower() for k in PUBLISHED_COOKIE_KEYS}:
        return "it is published in Ringround's repository or documentation"
    if len(key) < MIN_COOKIE_KEY_LENGTH:
        return f"it has {len(key)} characters; use at least {MIN_COOKIE_KEY_LENGTH} random ones"
    distinct = len(set(key))
    if distinct < MIN_COOKIE_KEY_DISTINCT:
        return f"it uses only {distinct} different characters"
    if cookie_key_strength_bits(key) < MIN_COOKIE_KEY_BITS:
        return "it is built from words, repeats or sequences rather than random characters"
    return ""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str = ""
    auth_token: str = ""
    api_key: str = ""
    api_secret: str = ""
    caller_ids: tuple[str, ...] = ()
    # Only for tests against a contract mock; production always talks to api.twilio.com.
    base_url: str = ""

    @property
    def configured(self) -> bool:
        has_auth = bool(self.auth_token) or bool(self.api_key and self.api_secret)
        return bool(self.account_sid and has_auth)


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    cookie_key: str
    cookie_name: str = "ringround_auth"
    cookie_expiry_days: float = 1.0
    demo: bool = False
    timezone: str = "Europe/London"
    default_region: str = "GB"
    public_url: str = ""
    db_pool_size: int = 20
    db_max_overflow: int = 30
    lockout_attempts: int = 5
    dashboard_refresh_seconds: float = 5.0
    dashboard_cache_seconds: float = 3.0
    # A JSON-lines file each page run's timing and database counts are appended to (bench/).
    run_log: str = ""
    twilio: TwilioSettings = field(default_factory=TwilioSettings)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Accept the `postgres://` that hosting providers hand out and pin psycopg 3."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_secrets(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_settings(
    env: Mapping[str, str] | None = None, secrets_path: Path | None = None
) -> Settings:
    """Read and check every setting.

    Raises:
        ConfigError: a required setting is missing or unsafe.
    """
    env = os.environ if env is None else env
    if secrets_path is None:
        secrets_path = Path(
            env.get("RINGROUND_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml")
        )
    secrets = read_secrets(secrets_path)

    def get(name: str, secret_key: str | None = None, default: str = "") -> str:
        if name in env and env[name] != "":
            return env[name]
        if secret_key is not None:
            value = secrets.get(secret_key)
            if value is None and "twilio" in secrets and secret_key.startswith("twilio_"):
                value = secrets["twilio"].get(secret_key.removeprefix("twilio_"))
            if value is not None:
                return str(value)
        return default

    def get_number(name: str, default: float, *, minimum: float) -> float:
        raw = get(name, default=str(default))
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
        return value

    demo = _truthy(get("RINGROUND_DEMO", "demo"))
    data_dir = Path(get("RINGROUND_DATA_DIR", "data_dir", str(PROJECT_ROOT / "data"))).resolve()
    database_url = normalise_database_url(
        get("DATABASE_URL", "database_url", f"sqlite:///{data_dir / 'ringround.sqlite3'}")
    )
    if not database_url.startswith(("sqlite", "postgresql+psycopg://")):
        raise ConfigError(
            "DATABASE_URL must be a sqlite:/// path or a postgres:// / postgresql:// URL, "
            f"got scheme {database_url.split(':', 1)[0]!r}"
        )

    cookie_key = get("RINGROUND_COOKIE_KEY", "cookie_key")
    if not cookie_key and demo:
        cookie_key = DEMO_COOKIE_KEY
    if not demo:
        if not cookie_key:
            raise ConfigError(
                "RINGROUND_COOKIE_KEY is not set. It signs login cookies: put a long random value "
                "in .streamlit/secrets.toml as cookie_key = \"...\" (python dev.py start writes "
                "one for you), or set RINGROUND_DEMO=1 to try Ringround with demo data."
            )
        problem = cookie_key_problem(cookie_key)
        if problem:
            raise ConfigError(
                f"RINGROUND_COOKIE_KEY is unsafe: {problem}. Anyone who can guess it can sign "
                f"in as any organiser. Make a new one with {MAKE_COOKIE_KEY} and put it in "
                ".streamlit/secrets.toml as cookie_key = \"...\" (python3 dev.py start "
                "replaces an unsafe key there for you)."
            )

    timezone = get("RINGROUND_TIMEZONE", "timezone", "Europe/London")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"RINGROUND_TIMEZONE {timezone!r} is not a known time zone") from None

    caller_ids = tuple(
        part.strip()
        for part in get("TWILIO_CALLER_IDS", "twilio_caller_ids").split(",")
        if part.strip()
    )
    twilio = TwilioSettings(
        account_sid=get("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
        auth_token=get("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
        api_key=get("TWILIO_API_KEY", "twilio_api_key"),
        api_secret=get("TWILIO_API_SECRET", "twilio_api_secret"),
        caller_ids=caller_ids,
        base_url=get("TWILIO_BASE_URL", "twilio_base_url"),
    )

    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        cookie_key=cookie_key,
        cookie_name=get("RINGROUND_COOKIE_NAME", "cookie_name", "ringround_auth"),
        cookie_expiry_days=get_number("RINGROUND_COOKIE_EXPIRY_DAYS", 1.0, minimum=0.01),
        demo=demo,
        timezone=timezone,
        default_region=get("RINGROUND_DEFAULT_REGION", "default_region", "GB").upper(),
        public_url=get("RINGROUND_PUBLIC_URL", "public_url").rstrip("/"),
        db_pool_size=int(get_number("RINGROUND_DB_POOL_SIZE", 20, minimum=1)),
        db_max_overflow=int(get_number("RINGROUND_DB_MAX_OVERFLOW", 30, minimum=0)),
        lockout_attempts=int(get_number("RINGROUND_LOCKOUT_ATTEMPTS", 5, minimum=1)),
        dashboard_refresh_seconds=get_number("RINGROUND_DASHBOARD_REFRESH_SECONDS", 5, minimum=1),
        dashboard_cache_seconds=get_number("RINGROUND_DASHBOARD_CACHE_SECONDS", 3, minimum=0),
        run_log=get("RINGROUND_RUN_LOG"),
        twilio=twilio,
    )
