"""Slowing password guessing without letting a stranger lock an organiser out.

Failed sign-ins are counted three ways, in the database (so every app server and every
restart sees the same counts):

- per username typed from one address ("pair"): the attacker at that address is slowed first,
  while the real person signing in from elsewhere is not;
- per username from anywhere ("account"): a guesser spread over many addresses is slowed too,
  later, and only for a while (at most an hour), never for good;
- per address ("address"): one address trying many usernames is slowed, with a limit high
  enough for a campaign office whose volunteers share one connection.

Each counter blocks for a time once it passes its threshold, doubling with each further
failure up to its cap. Counters are kept for unknown usernames exactly as for real ones, so
the answers never tell a real account apart. A correct password clears that username's
counters; an organiser (Team page) or `manage.py unlock USER` clears them at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from db.models import LoginThrottle
from db.tables import table_of

FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class ThrottleRule:
    scope: str
    threshold: int  # failures allowed before the first block
    first_block: timedelta
    max_block: timedelta

    def block_for(self, failures: int) -> timedelta | None:
        if failures < self.threshold:
            return None
        doubled = self.first_block * (2 ** min(failures - self.threshold, 16))
        return min(doubled, self.max_block)


def rules(lockout_attempts: int = 5) -> tuple[ThrottleRule, ...]:
    """The three counters; RINGROUND_LOCKOUT_ATTEMPTS sets the per-address-and-username one."""
    return (
        ThrottleRule("pair", lockout_attempts, timedelta(minutes=1), timedelta(hours=1)),
        ThrottleRule("account", max(20, lockout_attempts * 4), timedelta(minutes=5),
                     timedelta(hours=1)),
        ThrottleRule("address", max(50, lockout_attempts * 10), timedelta(minutes=1),
                     timedelta(minutes=15)),
    )


def client_address(remote: str | None, forwarded_for: str | None) -> str:
    """The address to count failures against.

    X-Forwarded-For is believed only from a proxy on this machine (Caddy or nginx in front,
    as the README sets up), and only its last entry, the one that proxy added: anything
    before it is whatever the client chose to send.
    """
    remote = (remote or "").strip()
    local = not remote
    if remote:
        try:
            parsed = ipaddress.ip_address(remote)
        except ValueError:
            parsed = None
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped  # "::ffff:127.0.0.1", as uvicorn reports IPv4 peers
            remote = str(parsed)
        local = parsed is not None and parsed.is_loopback
    if local:
        last = (forwarded_for or "").split(",")[-1].strip()
        return last[:64] or "local"
    return remote[:64]


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(("ringround-login", *parts)).encode("utf-8")).hexdigest()


def _keys(username: str, address: str) -> dict[str, tuple[str, str | None]]:
    user_hash = _hash("account", username)
    return {
        "account": (user_hash, user_hash),
        "pair": (_hash("pair", username, address), user_hash),
        "address": (_hash("address", address), None),
    }


def blocked_for(
    *, session: Session, username: str, address: str, now: datetime
) -> timedelta | None:
    """How long sign-ins for this username from this address must still wait, if at all."""
    hashes = [key for key, _ in _keys(username, address).values()]
    until = session.execute(
        sa.select(sa.func.max(col(LoginThrottle.blocked_until)))
        .where(col(LoginThrottle.key_hash).in_(hashes),
               col(LoginThrottle.blocked_until) > now)
    ).scalar()
    return (until - now) if until is not None else None


def record_failure(
    *,
    session: Session,
    username: str,
    address: str,
    now: datetime,
    lockout_attempts: int = 5,
) -> timedelta | None:
    """Count one failed sign-in on every counter; the block it starts, if any.

    One INSERT ... ON CONFLICT DO UPDATE ... RETURNING per counter, so that two app servers
    counting the same username at once never lose a failure.
    """
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    keys = _keys(username, address)
    longest: timedelta | None = None
    for rule in rules(lockout_attempts):
        key_hash, user_hash = keys[rule.scope]
        statement = insert(LoginThrottle).values(
            scope=rule.scope, key_hash=key_hash, username_hash=user_hash, failures=1,
            last_failure_at=now,
        )
        table = table_of(LoginThrottle).c
        upsert = statement.on_conflict_do_update(
            index_elements=["scope", "key_hash"],
            set_={
                "failures": sa.case(
                    (table.last_failure_at < now - FORGET_AFTER, 1),
                    else_=table.failures + 1,
                ),
                "last_failure_at": now,
            },
        ).returning(table.id, table.failures)
        row_id, failures = session.execute(upsert).one()
        block = rule.block_for(failures)
        if block is not None:
            session.execute(
                sa.update(LoginThrottle).where(col(LoginThrottle.id) == row_id)
                .values(blocked_until=now + block)
            )
            longest = block if longest is None else max(longest, block)
    return longest


def record_success(*, session: Session, username: str) -> None:
    """The right password: this username's counters start again (the address's do not)."""
    session.execute(
        sa.delete(LoginThrottle).where(
            col(LoginThrottle.username_hash) == _hash("account", username))
    )


def clear_username(*, session: Session, username: str) -> int:
    """An organiser's unlock: every counter naming this username goes; returns how many."""
    result = session.execute(
        sa.delete(LoginThrottle).where(
            col(LoginThrottle.username_hash) == _hash("account", username))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ThrottleState:
    failures: int  # failed sign-ins in the last day, from anywhere
    blocked_until: datetime | None  # the latest block on any counter naming the username


def username_states(
    *, session: Session, usernames: list[str], now: datetime
) -> dict[str, ThrottleState]:
    """For the Team page: each username's recent failures and any block still running."""
    by_hash = {_hash("account", name): name for name in usernames}
    rows = session.execute(
        sa.select(col(LoginThrottle.username_hash), col(LoginThrottle.scope),
                  col(LoginThrottle.failures), col(LoginThrottle.blocked_until),
                  col(LoginThrottle.last_failure_at))
        .where(col(LoginThrottle.username_hash).in_(list(by_hash)))
    ).all()
    states: dict[str, ThrottleState] = {}
    for user_hash, scope, failures, blocked_until, last_failure_at in rows:
        name = by_hash[user_hash]
        state = states.get(name, ThrottleState(0, None))
        recent = failures if last_failure_at >= now - FORGET_AFTER else 0
        running = blocked_until if blocked_until is not None and blocked_until > now else None
        states[name] = ThrottleState(
            failures=max(state.failures, recent) if scope == "account" else state.failures,
            blocked_until=max(filter(None, (state.blocked_until, running)), default=None),
        )
    return states


def purge_stale(*, session: Session, now: datetime) -> int:
    """Forget counters with no failure for a day and no block running."""
    result = session.execute(
        sa.delete(LoginThrottle).where(
            col(LoginThrottle.last_failure_at) < now - FORGET_AFTER,
            sa.or_(col(LoginThrottle.blocked_until).is_(None),
                   col(LoginThrottle.blocked_until) <= now),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
