"""The pieces the browser tests and bench/load.py share: app servers, databases, seed data.

No pytest here, so that `python -m bench.load` can use it too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import sqlalchemy as sa

from core.config import PROJECT_ROOT
from core.outcomes import default_outcome_rows
from db.engine import Database, make_engine
from db.migrate import upgrade
from db.models import Campaign, Contact, QueueEntry, SurveyQuestion, User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Many pages in one browser: keep pages that are not in front running at full speed.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
ARTIFACTS = PROJECT_ROOT / "artifacts" / "e2e"
POSTGRES_ADMIN_URL = os.environ.get(
    "RINGROUND_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COOKIE_KEY = secrets.token_urlsafe(48)  # one per test run, shared by its servers
SERVER_START_TIMEOUT = 90.0
# What `python3 dev.py start` runs: server.py (the app plus Twilio's webhook routes) when present.
ENTRY = os.environ.get(
    "RINGROUND_E2E_ENTRY", "server.py" if (PROJECT_ROOT / "server.py").exists() else "app.py"
)
# Calling open round the clock, so that tests pass whatever the hour in London.
ALL_DAY = {str(day): ["00:00", "24:00"] for day in range(7)}
PASSWORD = "correct horse battery staple"


T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float, every: float) -> T:
    """Ask `check` every `every` seconds until it answers truthily or `timeout` has passed;
    its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(every)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------
# The app server
# --------------------------------------------------------------------------------------------


@dataclass
class AppServer:
    """One `streamlit run server.py` (or app.py) process; start, stop, kill -9, restart it."""

    database_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = "app"
    entry: str = ENTRY  # the script `streamlit run` serves
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.port}.log"

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RINGROUND_", "STREAMLIT_", "TWILIO_"))
            and key != "DATABASE_URL"
        }
        env.update(
            DATABASE_URL=self.database_url,
            RINGROUND_COOKIE_KEY=COOKIE_KEY,
            RINGROUND_DATA_DIR=str(self.workdir / "data"),
            RINGROUND_SECRETS_FILE=str(self.workdir / "no-such-secrets.toml"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, *, timeout: float = SERVER_START_TIMEOUT) -> AppServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts + 1} at {time.strftime('%X')} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "streamlit", "run", self.entry,
                    "--server.port", str(self.port),
                    "--server.address", "127.0.0.1",
                    "--server.headless", "true",
                    "--server.fileWatcherType", "none",
                    "--server.runOnSave", "false",
                    "--browser.gatherUsageStats", "false",
                ],
                cwd=PROJECT_ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes every child
            )
        self.starts += 1
        self.wait_healthy(timeout=timeout)
        return self

    def wait_healthy(self, *, timeout: float = SERVER_START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"streamlit did not answer on {self.url}:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal(self, sig: signal.Signals, wait: float) -> None:
        """Send `sig` to the server's process group; wait up to `wait` seconds for it to go."""
        if not self.running:
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=wait)

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no goodbye to the browsers, as when a host dies."""
        self._signal(signal.SIGKILL, wait=30)

    def stop(self) -> None:
        try:
            self._signal(signal.SIGTERM, wait=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> AppServer:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Databases the servers use
# --------------------------------------------------------------------------------------------


class PostgresUnavailable(RuntimeError):
    pass


def migrated_sqlite_url(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'ringround.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@contextlib.contextmanager
def scratch_postgres(*, migrated: bool = True) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated unless asked not to, dropped afterwards.

    Raises:
        PostgresUnavailable: no server answers.
    """
    name = f"ringround_e2e_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise PostgresUnavailable(str(exc).splitlines()[0]) from None
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    if migrated:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    try:
        yield url
    finally:
        for _ in range(30):  # PostgreSQL may still be coming back from a restart test
            try:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except sa.exc.OperationalError:
                time.sleep(1)
        admin.dispose()


# --------------------------------------------------------------------------------------------
# Seed data, written straight to the database (the newcomer test does it all through the UI)
# --------------------------------------------------------------------------------------------

# bcrypt at its lowest cost: dozens of test sign-ins, none of them guarding anything.
_FAST_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def contact_name(n: int) -> tuple[str, str]:
    return f"Person{n:05d}", f"Load{n:05d}"


def seed_people(
    database: Database, *, volunteers: int, organisers: int = 1, prefix: str = "vol"
) -> list[dict[str, Any]]:
    """Organisers (`org1`...) and volunteers (`vol01`...), all with PASSWORD."""
    now = datetime.now(UTC)
    people = [("organiser", f"org{i}") for i in range(1, organisers + 1)]
    people += [("volunteer", f"{prefix}{i:02d}") for i in range(1, volunteers + 1)]
    rows = [
        {
            "username": username, "name": f"{username.capitalize()} Tester",
            "email": f"{username}@example.org", "password_hash": _FAST_HASH, "role": role,
            "phone_verified": False, "active": True, "session_epoch": 0,
            "created_at": now,
        }
        for role, username in people
    ]
    table = User.__table__  # type: ignore[attr-defined]
    with database.write() as session:
        session.execute(sa.insert(table), rows)
        stored = session.execute(
            sa.select(table.c.id, table.c.username, table.c.role)
            .where(table.c.username.in_([r["username"] for r in rows]))
        ).mappings().all()
    return [dict(row) for row in stored]


def seed_campaign(
    database: Database,
    *,
    contacts: int,
    name: str = "Load test campaign",
    lease_minutes: int = 10,
    first_contact: int = 1,
) -> dict[str, Any]:
    """An active, all-day campaign with the default outcomes, one yes/no question, and a queue.

    Contacts are named Person00001 Load00001 ... so that a name on screen names one contact.
    """
    now = datetime.now(UTC)
    with database.write() as session:
        campaign = Campaign(
            name=name, status="active", calling_window=dict(ALL_DAY), lease_minutes=lease_minutes,
            script="Hello {first_name}, I'm {volunteer_first_name}, calling about the NHS.",
            dialer="tel",
        )
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        session.add_all(default_outcome_rows(campaign.id))
        question = SurveyQuestion(campaign_id=campaign.id, text="Will you join Saturday's action?",
                                  kind="yes_no", options=["Yes", "No"])
        session.add(question)
        session.flush()
        numbers = range(first_contact, first_contact + contacts)
        session.execute(sa.insert(Contact.__table__), [  # type: ignore[attr-defined]
            {
                "phone": f"+447400{100000 + n:06d}", "phone_type": "mobile",
                "other_phones": [], "first_name": contact_name(n)[0],
                "last_name": contact_name(n)[1], "email": "", "postcode": "CW1 2AB",
                "constituency": "Crewe and Nantwich", "ward": "Crewe Central",
                "membership_number": "", "tags": "", "tps": False, "consenting_member": False,
                "bad_number": False, "custom": {}, "created_at": now, "updated_at": now,
            }
            for n in numbers
        ])
        contact_table = Contact.__table__  # type: ignore[attr-defined]
        ids = session.execute(
            sa.select(contact_table.c.id).where(
                contact_table.c.first_name.in_([contact_name(n)[0] for n in numbers])
            )
        ).scalars().all()
        session.execute(sa.insert(QueueEntry.__table__), [  # type: ignore[attr-defined]
            {"campaign_id": campaign.id, "contact_id": contact_id, "status": "fresh",
             "priority": 0, "attempts": 0, "constituency": "Crewe and Nantwich",
             "ward": "Crewe Central", "created_at": now}  # as the contacts above
            for contact_id in ids
        ])
        return {"id": campaign.id, "name": name, "question_id": question.id,
                "contacts": len(ids)}


# --------------------------------------------------------------------------------------------
# What the database says happened
# --------------------------------------------------------------------------------------------


def _rows(database: Database, statement: Any, **params: Any) -> list[dict[str, Any]]:
    with database.session() as session:
        return [dict(row) for row in session.execute(statement, params).mappings().all()]


def attempts_by_contact(database: Database, campaign_id: int) -> list[dict[str, Any]]:
    return _rows(database, sa.text(
        "SELECT a.id, a.contact_id, a.volunteer_id, a.outcome_code, a.idempotency_key, "
        "c.first_name || ' ' || c.last_name AS contact, u.username "
        "FROM callattempt a JOIN contact c ON c.id = a.contact_id "
        "JOIN \"user\" u ON u.id = a.volunteer_id WHERE a.campaign_id = :campaign"
    ), campaign=campaign_id)


def duplicate_assignments(database: Database, campaign_id: int) -> list[dict[str, Any]]:
    """Contacts that more than one volunteer called, or that were called twice, in this run."""
    return _rows(database, sa.text(
        "SELECT contact_id, COUNT(*) AS calls, COUNT(DISTINCT volunteer_id) AS volunteers "
        "FROM callattempt WHERE campaign_id = :campaign GROUP BY contact_id "
        "HAVING COUNT(*) > 1 OR COUNT(DISTINCT volunteer_id) > 1"
    ), campaign=campaign_id)


def queue_counts(database: Database, campaign_id: int) -> dict[str, int]:
    with database.session() as session:
        rows = session.execute(sa.text(
            "SELECT status, COUNT(*) FROM queueentry WHERE campaign_id = :campaign GROUP BY status"
        ), {"campaign": campaign_id}).all()
    return {str(status): int(count) for status, count in rows}


def leases(database: Database, campaign_id: int) -> list[dict[str, Any]]:
    queue = QueueEntry.__table__  # type: ignore[attr-defined]
    contact = Contact.__table__  # type: ignore[attr-defined]
    return _rows(database, sa.select(
        queue.c.id, queue.c.contact_id, queue.c.claimed_by_id, queue.c.due_at,
        (contact.c.first_name + " " + contact.c.last_name).label("contact"),
    ).join(contact, contact.c.id == queue.c.contact_id)
        .where(queue.c.campaign_id == campaign_id, queue.c.status == "leased"))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure reported was really observed)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a live process and all its live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, stack, seen = 0.0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        stack += _children(current)
    return total
