"""Login sessions and the cookie that brings a browser back to one.

Why the cookie is written by the server: streamlit-authenticator wrote it from a browser
component after the page run, and when the page reran or navigated first the cookie was never
written (its issues #176 and #276; 6 of 41 sign-ins were lost on reload). Now a successful
sign-in opens a LoginSession row holding a one-time code; the page sends the browser to
/auth/session with that code, and the server's answer sets the cookie (HttpOnly,
SameSite=Lax, Secure over HTTPS) and redirects back. No script has to survive a rerun.

The cookie is a JWT (HS256, signed with RINGROUND_COOKIE_KEY) naming the session by a random
id whose sha256 is the row's token_hash. It is honoured only while the row is open, unexpired
(by the lifetime it was issued with and by today's RINGROUND_COOKIE_EXPIRY_DAYS), and the
user's token generation (User.session_epoch) is the one it was opened under: so signing out
ends this browser's cookie, copies included, and signing out everywhere ends them all, however
the expiry setting changes later.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import sqlalchemy as sa
from sqlmodel import Session, col

from db.models import LoginSession, User

COOKIE_ALGORITHM = "HS256"
HANDOFF_SECONDS = 60
SESSION_ROUTE = "/auth/session"
SIGNOUT_ROUTE = "/auth/signout"
CLEARED_PARAM = "signed_out"

# Whether this process serves the routes above (server.py does; plain `streamlit run app.py`
# and AppTest do not). Without them a sign-in lasts only as long as the page's session.
_cookie_routes = {"served": False}


def mark_cookie_routes_served(served: bool = True) -> None:
    _cookie_routes["served"] = served


def cookie_routes_served() -> bool:
    return _cookie_routes["served"]


def signout_link(next_path: str = "/", *, ended: bool = False) -> str:
    """Where to send a browser to clear its cookie: `ended` when the cookie was refused
    (the sign-in page then says the saved sign-in has ended), not after a plain sign-out."""
    query = {"next": safe_next(next_path)} | ({"ended": "1"} if ended else {})
    return f"{SIGNOUT_ROUTE}?{urlencode(query)}"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewLoginSession:
    login_session_id: int
    handoff_code: str  # shown once, in the /auth/session link; only its hash is stored


def open_login_session(
    *, session: Session, user_id: int, epoch: int, lifetime: timedelta, now: datetime
) -> NewLoginSession:
    """Open a session for a user whose sign-in has just been accepted."""
    code = secrets.token_urlsafe(32)
    row = LoginSession(
        user_id=user_id, handoff_hash=_hash(code),
        handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS), epoch=epoch,
        created_at=now, expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return NewLoginSession(login_session_id=row.id, handoff_code=code)


def handoff_link(code: str, next_path: str = "/") -> str:
    return f"{SESSION_ROUTE}?{urlencode({'code': code, 'next': safe_next(next_path)})}"


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@dataclass(frozen=True)
class IssuedCookie:
    value: str
    expires_at: datetime


def redeem_handoff(
    *, session: Session, code: str, cookie_key: str, now: datetime
) -> IssuedCookie | None:
    """Trade a one-time code for the session's cookie; None if unknown, used or expired.

    Spent with one conditional UPDATE, so a code replayed or opened twice works once.
    """
    if not code:
        return None
    token = secrets.token_urlsafe(32)
    row = session.execute(
        sa.update(LoginSession)
        .where(col(LoginSession.handoff_hash) == _hash(code),
               col(LoginSession.handoff_expires_at) > now,
               col(LoginSession.ended_at).is_(None))
        .values(handoff_hash=None, handoff_expires_at=None, token_hash=_hash(token))
        .returning(col(LoginSession.user_id), col(LoginSession.expires_at))
    ).first()
    if row is None:
        return None
    user_id, expires_at = row
    value = jwt.encode({"sid": token, "uid": user_id, "exp": int(expires_at.timestamp())},
                       cookie_key, algorithm=COOKIE_ALGORITHM)
    return IssuedCookie(value=value, expires_at=expires_at)


def _decode(value: str, cookie_key: str) -> dict[str, Any] | None:
    try:
        claims = jwt.decode(value, cookie_key, algorithms=[COOKIE_ALGORITHM],
                            options={"require": ["exp", "sid", "uid"]})
    except Exception:  # any cookie we cannot read is simply not a sign-in
        return None
    if not isinstance(claims.get("sid"), str) or not isinstance(claims.get("uid"), int):
        return None
    return claims


@dataclass(frozen=True)
class CookieSession:
    user_id: int
    login_session_id: int


def find_cookie_session(
    *, session: Session, value: str, cookie_key: str, lifetime: timedelta, now: datetime
) -> CookieSession | None:
    """The open session a login cookie names, or None (forged, undecodable, signed with
    another algorithm, ended, expired, or from before the user's sessions were ended)."""
    claims = _decode(value, cookie_key)
    if claims is None:
        return None
    row = session.execute(
        sa.select(col(LoginSession.id), col(LoginSession.user_id))
        .join(User, col(User.id) == col(LoginSession.user_id))
        .where(col(LoginSession.token_hash) == _hash(claims["sid"]),
               col(LoginSession.user_id) == claims["uid"],
               col(LoginSession.ended_at).is_(None),
               col(LoginSession.expires_at) > now,
               col(LoginSession.created_at) > now - lifetime,
               col(LoginSession.epoch) == col(User.session_epoch))
    ).first()
    if row is None:
        return None
    login_session_id, user_id = row
    return CookieSession(user_id=user_id, login_session_id=login_session_id)


def session_is_open(*, session: Session, login_session_id: int, epoch: int) -> bool:
    """Whether a signed-in page's session still stands (checked on every page run)."""
    row = session.execute(
        sa.select(col(LoginSession.id)).where(
            col(LoginSession.id) == login_session_id, col(LoginSession.ended_at).is_(None),
            col(LoginSession.epoch) == epoch)
    ).first()
    return row is not None


def end_login_session(*, session: Session, login_session_id: int, now: datetime) -> None:
    """Sign out one browser: its cookie, and any copy of it, stops working."""
    session.execute(
        sa.update(LoginSession)
        .where(col(LoginSession.id) == login_session_id, col(LoginSession.ended_at).is_(None))
        .values(ended_at=now, handoff_hash=None)
    )


def end_user_sessions(
    *,
    session: Session,
    user_id: int,
    now: datetime,
    keep: int | None = None,
    keep_epoch: int | None = None,
) -> None:
    """End every session of the user; `keep` (this browser) carries on under `keep_epoch`."""
    others = sa.update(LoginSession).where(
        col(LoginSession.user_id) == user_id, col(LoginSession.ended_at).is_(None))
    if keep is not None:
        others = others.where(col(LoginSession.id) != keep)
        session.execute(
            sa.update(LoginSession)
            .where(col(LoginSession.id) == keep, col(LoginSession.user_id) == user_id)
            .values(epoch=keep_epoch)
        )
    session.execute(others.values(ended_at=now, handoff_hash=None))


def purge_finished(*, session: Session, now: datetime) -> int:
    """Drop sessions that ended or expired more than a day ago."""
    cutoff = now - timedelta(days=1)
    result = session.execute(
        sa.delete(LoginSession).where(
            sa.or_(col(LoginSession.ended_at) < cutoff, col(LoginSession.expires_at) < cutoff))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
