"""Signing in, lockout, invites, password resets and team management.

Rules kept here, whatever page calls in:
- Failed attempts are counted in the database (core.login_throttle), per username and per
  address, whether or not the username exists; a restart or a second app server does not hand
  an attacker a fresh set of guesses, and a stranger cannot lock an organiser out for good.
- sign_in_with_password is the whole password sign-in; the page only renders its result.
- Tokens (invite links, reset links) are shown once; only their sha256 is stored.
- Ending a user's sessions means bumping User.session_epoch (every open session re-checks it on
  each run) and stamping User.sessions_ended_at (login cookies signed before it are refused).
- No password, hash or token ever goes into an audit event or a return value meant for a page
  (LoginResult.handoff_code is the one-time code the browser trades for its cookie, and is
  never printed).

Functions whose refusal must still be written down (a failed attempt, a lockout) return a
LoginResult instead of raising: raising inside the caller's write transaction would roll the
counter back. Everything else raises a domain exception whose str() is a message for a person.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import bcrypt
import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import login_sessions, login_throttle
from core.accounts import (
    AccountError,
    change_password,
    create_user,
    hash_password,
    normalise_username,
    verify_password,
)
from core.audit import record_event
from core.phones import InvalidPhone, normalise_phone
from core.users import UserView, to_view
from db.engine import Database
from db.models import (
    Campaign,
    CampaignMember,
    Invite,
    PasswordReset,
    RecruitedVolunteer,
    User,
)

DEFAULT_LOCKOUT_ATTEMPTS = 5
RESET_LINK_HOURS = 24
MAX_INVITE_USES = 1000
MAX_INVITE_DAYS = 90
TOKEN_BYTES = 32

BAD_CREDENTIALS_MESSAGE = "Wrong username or password."
INACTIVE_MESSAGE = (
    "This account has been deactivated. Ask an organiser if you should still have access."
)
REVOKED_COOKIE_MESSAGE = "Your saved sign-in has ended. Please sign in again."


def throttled_message(wait: timedelta) -> str:
    """The same words for every username, real or not, so that none can be told apart."""
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return (
        "Too many failed sign-ins for this username. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an organiser to unlock it."
    )


class LoginRefusal(StrEnum):
    BAD_CREDENTIALS = "bad_credentials"
    THROTTLED = "throttled"
    INACTIVE = "inactive"
    COOKIE_REVOKED = "cookie_revoked"


# Checked against when the username is unknown, so that a miss costs as long as a wrong
# password. Made on first use: bcrypt at import would add a quarter second to every start.
@functools.cache
def _dummy_hash() -> str:
    return bcrypt.hashpw(b"ringround-no-such-user", bcrypt.gensalt()).decode("ascii")


class AuthError(Exception):
    """A refused account action; str() is a message for the person who asked."""


class InviteInvalid(AuthError):
    """The invite link is unknown, expired, used up or revoked."""


class ResetInvalid(AuthError):
    """The password-reset link is unknown, expired or already used."""


class TeamActionRefused(AuthError):
    """A team action would lock everyone out or is otherwise not allowed."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _now(now: datetime | None) -> datetime:
    value = now or datetime.now(UTC)
    if value.tzinfo is None:
        raise ValueError("give an aware datetime")
    return value


# --------------------------------------------------------------------------------------------
# Signing in: the one sequence, for the sign-in page, scripts and tests alike
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """What a sign-in attempt came to; the page renders it and nothing else decides."""

    user: UserView | None = None
    # The browser's LoginSession; with a handoff code when the browser still has to collect
    # its cookie at /auth/session (a password sign-in), without one when it came with it.
    login_session_id: int | None = None
    handoff_code: str = field(default="", repr=False)
    reason: LoginRefusal | None = None
    message: str = ""
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _refused(reason: LoginRefusal, wait: timedelta | None = None) -> LoginResult:
    message = {
        LoginRefusal.BAD_CREDENTIALS: BAD_CREDENTIALS_MESSAGE,
        LoginRefusal.INACTIVE: INACTIVE_MESSAGE,
        LoginRefusal.COOKIE_REVOKED: REVOKED_COOKIE_MESSAGE,
    }.get(reason, "")
    if wait is not None:
        message = throttled_message(wait)
    return LoginResult(reason=reason, message=message, retry_after=wait)


def sign_in_with_password(
    *,
    database: Database,
    username: str,
    password: str,
    address: str = "local",
    lockout_attempts: int = DEFAULT_LOCKOUT_ATTEMPTS,
    session_days: float = 1.0,
    now: datetime | None = None,
) -> LoginResult:
    """Check a username and password, in the one order every caller uses.

    1. A running block on this username (from this address, or from anywhere) or on this
       address refuses at once, before any password check, with the same words whether or
       not the username exists.
    2. The password is checked with bcrypt outside any transaction (on SQLite a write
       transaction holds the database's one write lock); an unknown username costs the same.
    3. A wrong password counts against the username and the address (core.login_throttle)
       and gets "Wrong username or password." whether or not the username exists.
    4. A right password clears the username's counters; a deactivated user is refused only
       now, so only someone who knows the password learns the account exists.
    5. complete_login opens the browser's LoginSession.
    """
    now = _now(now)
    name = normalise_username(username)
    with database.session() as session:
        wait = login_throttle.blocked_for(session=session, username=name, address=address,
                                          now=now)
        candidate = _find_user(session, name)
    if wait is not None:
        with database.write() as session:
            _audit_failure(session, candidate, "throttled")
        return _refused(LoginRefusal.THROTTLED, wait)
    if candidate is None:
        verify_password(password, _dummy_hash())
        right = False
    else:
        right = verify_password(password, candidate[1])
    with database.write() as session:
        if not right:
            block = login_throttle.record_failure(
                session=session, username=name, address=address, now=now,
                lockout_attempts=lockout_attempts)
            _audit_failure(session, candidate, "bad_password" if candidate else "unknown_user")
            if block is not None and candidate is not None:
                record_event(session=session, action="lockout", actor_id=candidate[0],
                             target=f"user:{candidate[0]}",
                             details={"minutes": round(block.total_seconds() / 60, 1)})
            return _refused(LoginRefusal.BAD_CREDENTIALS, block)
        assert candidate is not None
        login_throttle.record_success(session=session, username=name)
        return complete_login(session=session, user_id=candidate[0], method="password",
                              session_days=session_days, now=now)


def _find_user(session: Session, username: str) -> tuple[int, str] | None:
    """(id, password hash) of the one user a sign-in names; the hash never leaves core."""
    if not username:
        return None
    row = session.execute(
        sa.select(col(User.id), col(User.password_hash)).where(col(User.username) == username)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _audit_failure(session: Session, candidate: tuple[int, str] | None, reason: str) -> None:
    if candidate is None:
        # An unknown name may be a password typed into the wrong box: never record it.
        record_event(session=session, action="login_failed", target="unknown user",
                     details={"reason": reason})
    else:
        record_event(session=session, action="login_failed", actor_id=candidate[0],
                     target=f"user:{candidate[0]}", details={"reason": reason})


def complete_login(
    *,
    session: Session,
    user_id: int,
    method: str = "password",
    session_days: float = 1.0,
    now: datetime | None = None,
) -> LoginResult:
    """Finish a sign-in whose password has been checked (or a new account's), opening the
    browser's LoginSession with a one-time code for collecting its cookie.

    Re-checks that the user is active inside this transaction, since another server may have
    deactivated them since the password check.
    """
    now = _now(now)
    user = session.get(User, user_id)
    if user is None:
        return _refused(LoginRefusal.BAD_CREDENTIALS)
    if not user.active:
        record_event(session=session, action="login_failed", actor_id=user.id,
                     target=f"user:{user.id}", details={"reason": "inactive", "method": method})
        return _refused(LoginRefusal.INACTIVE)
    opened = login_sessions.open_login_session(
        session=session, user_id=user_id, epoch=user.session_epoch,
        lifetime=timedelta(days=session_days), now=now)
    _stamp_login(session, user, method, now)
    return LoginResult(user=to_view(user), login_session_id=opened.login_session_id,
                       handoff_code=opened.handoff_code)


def sign_in_with_cookie(
    *,
    database: Database,
    cookie: str,
    cookie_key: str,
    session_days: float = 1.0,
    now: datetime | None = None,
) -> LoginResult:
    """A returning browser: its login cookie, checked against the database.

    Anything the cookie cannot vouch for (undecodable, another algorithm, a forged or
    copied-then-signed-out session, one from before "sign out everywhere", expired by the
    lifetime it was issued with or by today's shorter one) is COOKIE_REVOKED: the browser is
    treated as signed out and its cookie cleared; nothing raises.
    """
    now = _now(now)
    with database.write() as session:
        found = login_sessions.find_cookie_session(
            session=session, value=cookie, cookie_key=cookie_key,
            lifetime=timedelta(days=session_days), now=now)
        user = session.get(User, found.user_id) if found is not None else None
        if found is None or user is None or not user.active:
            return _refused(LoginRefusal.COOKIE_REVOKED)
        _stamp_login(session, user, "cookie", now)
        return LoginResult(user=to_view(user), login_session_id=found.login_session_id)


def _stamp_login(session: Session, user: User, method: str, now: datetime) -> None:
    user.last_login_at = now
    session.add(user)
    record_event(session=session, action="login", actor_id=user.id, target=f"user:{user.id}",
                 details={"method": method})
    session.flush()


def sign_out(
    *, session: Session, user_id: int, login_session_id: int | None, now: datetime | None = None
) -> None:
    """Sign out this browser: its login cookie, and every copy of it, stops working."""
    if login_session_id is not None:
        login_sessions.end_login_session(session=session, login_session_id=login_session_id,
                                         now=_now(now))
    record_event(session=session, action="logout", actor_id=user_id, target=f"user:{user_id}",
                 details={"everywhere": False})


def end_sessions(
    *, session: Session, user_id: int, actor_id: int | None = None, now: datetime | None = None
) -> UserView:
    """Sign the user out everywhere: every open session and every saved login cookie."""
    user = _get_user_row(session, user_id)
    _bump_epoch(session, user, _now(now))
    session.add(user)
    record_event(session=session, action="logout", actor_id=actor_id or user_id,
                 target=f"user:{user_id}", details={"everywhere": True})
    session.flush()
    return to_view(user)


def change_password_here(
    *,
    session: Session,
    user_id: int,
    login_session_id: int | None,
    current_password: str,
    new_password: str,
) -> UserView:
    """Change the password: every other session ends, this browser's carries on.

    Raises:
        AccountError: the current password is wrong or the new one breaks the rules.
    """
    updated = change_password(session=session, user_id=user_id,
                              current_password=current_password, new_password=new_password)
    login_sessions.end_user_sessions(session=session, user_id=user_id, now=_now(None),
                                     keep=login_session_id, keep_epoch=updated.session_epoch)
    return updated


def _bump_epoch(session: Session, user: User, now: datetime) -> None:
    user.session_epoch += 1
    user.sessions_ended_at = now
    assert user.id is not None
    login_sessions.end_user_sessions(session=session, user_id=user.id, now=now)


def _get_user_row(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise TeamActionRefused("No such user.")
    return user


# --------------------------------------------------------------------------------------------
# Invites
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteView:
    id: int
    label: str
    campaign_id: int | None
    campaign_name: str
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    revoked: bool
    status: str  # "active", "expired", "used up", "revoked"


@dataclass(frozen=True)
class NewInvite:
    invite: InviteView
    token: str  # shown once, in the link; only its hash is stored


def _invite_status(invite: Invite, now: datetime) -> str:
    if invite.revoked:
        return "revoked"
    if invite.uses >= invite.max_uses:
        return "used up"
    if invite.expires_at <= now:
        return "expired"
    return "active"


def _invite_view(invite: Invite, campaign_name: str, now: datetime) -> InviteView:
    assert invite.id is not None
    return InviteView(
        id=invite.id, label=invite.label, campaign_id=invite.campaign_id,
        campaign_name=campaign_name, created_at=invite.created_at, expires_at=invite.expires_at,
        max_uses=invite.max_uses, uses=invite.uses, revoked=invite.revoked,
        status=_invite_status(invite, now),
    )


def invite_link(token: str, public_url: str = "") -> str:
    """The link to send: absolute when RINGROUND_PUBLIC_URL is set, else relative to the app."""
    return f"{public_url.rstrip('/')}/join?invite={token}"


def create_invite(
    *,
    session: Session,
    actor_id: int | None,
    expires_in_hours: float = 48,
    max_uses: int = 50,
    label: str = "",
    campaign_id: int | None = None,
    now: datetime | None = None,
) -> NewInvite:
    """Make an invite link for volunteers.

    Raises:
        AuthError: the expiry, use limit or campaign is not valid.
    """
    now = _now(now)
    if not 0 < expires_in_hours <= MAX_INVITE_DAYS * 24:
        raise AuthError(f"An invite must expire within {MAX_INVITE_DAYS} days.")
    if not 1 <= max_uses <= MAX_INVITE_USES:
        raise AuthError(f"An invite can be used 1 to {MAX_INVITE_USES} times.")
    label = label.strip()
    if len(label) > 200:
        raise AuthError("That label is too long (200 characters at most).")
    campaign_name = ""
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise AuthError("That campaign no longer exists.")
        campaign_name = campaign.name
    token = new_token()
    invite = Invite(
        token_hash=hash_token(token), label=label, campaign_id=campaign_id,
        created_by_id=actor_id, created_at=now,
        expires_at=now + timedelta(hours=expires_in_hours), max_uses=max_uses,
    )
    session.add(invite)
    session.flush()
    record_event(session=session, action="invite_created", actor_id=actor_id,
                 target=f"invite:{invite.id}",
                 details={"max_uses": max_uses, "expires_at": invite.expires_at.isoformat(),
                          "campaign_id": campaign_id})
    return NewInvite(invite=_invite_view(invite, campaign_name, now), token=token)


def list_invites(*, session: Session, now: datetime | None = None) -> list[InviteView]:
    now = _now(now)
    rows = session.exec(
        select(Invite, Campaign.name)
        .join(Campaign, col(Invite.campaign_id) == col(Campaign.id), isouter=True)
        .order_by(col(Invite.created_at).desc(), col(Invite.id).desc())
    ).all()
    return [_invite_view(invite, name or "", now) for invite, name in rows]


def revoke_invite(*, session: Session, invite_id: int, actor_id: int | None) -> None:
    invite = session.get(Invite, invite_id)
    if invite is None:
        raise AuthError("No such invite.")
    invite.revoked = True
    session.add(invite)
    # Not in core.audit.AUDITED_ACTIONS yet (the lead adds it); the column takes any action name.
    record_event(session=session, action="invite_revoked", actor_id=actor_id,
                 target=f"invite:{invite_id}")


def _refusal_for(invite: Invite | None, now: datetime) -> InviteInvalid:
    if invite is None:
        return InviteInvalid("This invite link is not valid. Check you copied all of it.")
    status = _invite_status(invite, now)
    if status == "revoked":
        return InviteInvalid("This invite link has been withdrawn. Ask an organiser for a new one.")
    if status == "used up":
        return InviteInvalid(
            "This invite link has been used as many times as allowed. "
            "Ask an organiser for a new one."
        )
    return InviteInvalid("This invite link has expired. Ask an organiser for a new one.")


def check_invite(*, session: Session, token: str, now: datetime | None = None) -> InviteView:
    """The invite a link names, if it can still be used.

    Raises:
        InviteInvalid: unknown, expired, used up or revoked (the message says which).
    """
    now = _now(now)
    invite = session.exec(select(Invite).where(Invite.token_hash == hash_token(token))).first()
    if invite is None or _invite_status(invite, now) != "active":
        raise _refusal_for(invite, now)
    campaign = session.get(Campaign, invite.campaign_id) if invite.campaign_id else None
    return _invite_view(invite, campaign.name if campaign else "", now)


def register_with_invite(
    *,
    session: Session,
    token: str,
    name: str,
    email: str,
    username: str,
    password: str,
    phone: str = "",
    region: str = "GB",
    now: datetime | None = None,
) -> UserView:
    """Create a volunteer from an invite link, adding them to the invite's campaign.

    Raises everything inside the caller's transaction, so a refusal leaves the invite unused.

    Raises:
        InviteInvalid: the invite cannot be used.
        AccountError: a field is invalid, or the username or email is taken.
    """
    now = _now(now)
    token_hash = hash_token(token)
    # bcrypt before the first statement: on SQLite that statement takes the write lock.
    password_hash = hash_password(password)
    # The use is taken with one conditional UPDATE, so that the last place on an invite goes to
    # exactly one of two volunteers registering at the same moment.
    claimed = session.execute(
        sa.update(Invite)
        .where(
            col(Invite.token_hash) == token_hash,
            col(Invite.revoked).is_(False),
            col(Invite.uses) < col(Invite.max_uses),
            col(Invite.expires_at) > now,
        )
        .values(uses=col(Invite.uses) + 1)
        .returning(col(Invite.id), col(Invite.campaign_id))
    ).first()
    if claimed is None:
        invite = session.exec(select(Invite).where(Invite.token_hash == token_hash)).first()
        raise _refusal_for(invite, now)
    invite_id, campaign_id = claimed
    stored_phone: str | None = None
    if phone.strip():
        try:
            stored_phone = normalise_phone(phone, region=region).e164
        except InvalidPhone as exc:
            raise AccountError(
                f"That phone number does not look right ({exc}). Leave it empty to add it later."
            ) from None
    user = create_user(session=session, username=username, name=name, email=email,
                       password=password, role="volunteer", phone=stored_phone,
                       password_hash=password_hash)
    if campaign_id is not None and session.get(Campaign, campaign_id) is not None:
        session.add(CampaignMember(campaign_id=campaign_id, user_id=user.id))
    recruited_by = session.execute(sa.select(col(Invite.recruited_by_campaign_id))
                                   .where(col(Invite.id) == invite_id)).scalar()
    if recruited_by is not None:
        # A recruit's own invite: their calls count for the campaign that recruited them.
        session.add(RecruitedVolunteer(user_id=user.id, campaign_id=recruited_by,
                                       created_at=now))
    record_event(session=session, action="invite_used", actor_id=user.id,
                 target=f"invite:{invite_id}",
                 details={"user_id": user.id, "campaign_id": campaign_id})
    session.flush()
    return user


# --------------------------------------------------------------------------------------------
# Password resets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPasswordReset:
    user_id: int
    username: str
    expires_at: datetime
    token: str  # shown once to the organiser, who passes the link on


def reset_link(token: str, public_url: str = "") -> str:
    return f"{public_url.rstrip('/')}/reset?token={token}"


def create_password_reset(
    *,
    session: Session,
    user_id: int,
    actor_id: int | None,
    hours: float = RESET_LINK_HOURS,
    now: datetime | None = None,
) -> NewPasswordReset:
    """Make a one-time reset link for a user; any older unused link for them stops working.

    Raises:
        TeamActionRefused: no such user, or the user is deactivated.
    """
    now = _now(now)
    user = _get_user_row(session, user_id)
    if not user.active:
        raise TeamActionRefused("Reactivate this account before resetting its password.")
    session.execute(
        sa.update(PasswordReset)
        .where(col(PasswordReset.user_id) == user_id, col(PasswordReset.used_at).is_(None),
               col(PasswordReset.expires_at) > now)
        .values(expires_at=now)
    )
    token = new_token()
    reset = PasswordReset(token_hash=hash_token(token), user_id=user_id, created_by_id=actor_id,
                          created_at=now, expires_at=now + timedelta(hours=hours))
    session.add(reset)
    record_event(session=session, action="password_reset_created", actor_id=actor_id,
                 target=f"user:{user_id}")
    session.flush()
    return NewPasswordReset(user_id=user_id, username=user.username,
                            expires_at=reset.expires_at, token=token)


def check_password_reset(
    *, session: Session, token: str, now: datetime | None = None
) -> UserView:
    """The user a reset link is for, if the link still works.

    Raises:
        ResetInvalid: unknown, expired or used link, or a deactivated user.
    """
    now = _now(now)
    reset = session.exec(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token))
    ).first()
    _refuse_unusable_reset(reset, now)
    assert reset is not None
    user = _get_user_row(session, reset.user_id)
    if not user.active:
        raise ResetInvalid("This account has been deactivated.")
    return to_view(user)


def _refuse_unusable_reset(reset: PasswordReset | None, now: datetime) -> None:
    if reset is None:
        raise ResetInvalid("This reset link is not valid. Check you copied all of it.")
    if reset.used_at is not None:
        raise ResetInvalid("This reset link has already been used. Ask an organiser for a new one.")
    if reset.expires_at <= now:
        raise ResetInvalid("This reset link has expired. Ask an organiser for a new one.")


def use_password_reset(
    *, session: Session, token: str, new_password: str, now: datetime | None = None
) -> UserView:
    """Set a new password from a reset link; the link dies and every old session ends.

    Also clears a lockout: the organiser who made the link has vouched for the user.

    Raises:
        ResetInvalid: the link cannot be used.
        AccountError: the new password breaks the rules (the link stays usable).
    """
    now = _now(now)
    new_hash = hash_password(new_password)
    token_hash = hash_token(token)
    # Spent with one conditional UPDATE, so a link opened in two tabs works once.
    claimed = session.execute(
        sa.update(PasswordReset)
        .where(col(PasswordReset.token_hash) == token_hash,
               col(PasswordReset.used_at).is_(None), col(PasswordReset.expires_at) > now)
        .values(used_at=now)
        .returning(col(PasswordReset.user_id))
    ).first()
    if claimed is None:
        reset = session.exec(
            select(PasswordReset).where(PasswordReset.token_hash == token_hash)
        ).first()
        _refuse_unusable_reset(reset, now)
        raise ResetInvalid("This reset link cannot be used.")
    user = _get_user_row(session, claimed[0])
    if not user.active:
        raise ResetInvalid("This account has been deactivated.")
    user.password_hash = new_hash
    login_throttle.clear_username(session=session, username=user.username)
    _bump_epoch(session, user, now)
    session.add(user)
    record_event(session=session, action="password_reset_used", actor_id=user.id,
                 target=f"user:{user.id}")
    session.flush()
    return to_view(user)


# --------------------------------------------------------------------------------------------
# The team
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamMember:
    id: int
    username: str
    name: str
    email: str
    role: str
    active: bool
    locked: bool
    failed_logins: int
    last_login_at: datetime | None
    created_at: datetime
    phone_verified: bool


def list_team(*, session: Session, now: datetime | None = None) -> list[TeamMember]:
    """Everyone, with recent failed sign-ins and whether a sign-in block is running."""
    users = session.exec(
        select(User).order_by(col(User.active).desc(), col(User.role), col(User.name))
    ).all()
    states = login_throttle.username_states(
        session=session, usernames=[u.username for u in users], now=_now(now))
    none = login_throttle.ThrottleState(0, None)
    return [
        TeamMember(
            id=u.id, username=u.username, name=u.name, email=u.email, role=u.role,
            active=u.active, locked=states.get(u.username, none).blocked_until is not None,
            failed_logins=states.get(u.username, none).failures,
            last_login_at=u.last_login_at, created_at=u.created_at,
            phone_verified=u.phone_verified,
        )
        for u in users
        if u.id is not None
    ]


def _other_active_organisers(session: Session, user_id: int) -> int:
    # FOR UPDATE (ignored by SQLite, whose writes are already serialised by BEGIN IMMEDIATE)
    # makes two organisers demoting each other at once on PostgreSQL take turns, so the second
    # sees the first's change and is refused instead of leaving nobody in charge.
    rows = session.execute(
        sa.select(col(User.id))
        .where(col(User.role) == "organiser", col(User.active).is_(True))
        .with_for_update()
    ).all()
    return sum(1 for (other_id,) in rows if other_id != user_id)


def deactivate_user(
    *, session: Session, user_id: int, actor_id: int, now: datetime | None = None
) -> None:
    """Deactivate an account and end its sessions at their next click.

    Raises:
        TeamActionRefused: deactivating oneself, or the last active organiser.
    """
    if user_id == actor_id:
        raise TeamActionRefused("You cannot deactivate your own account.")
    user = _get_user_row(session, user_id)
    if not user.active:
        return
    if user.role == "organiser" and _other_active_organisers(session, user_id) == 0:
        raise TeamActionRefused("This is the last active organiser; promote someone else first.")
    user.active = False
    _bump_epoch(session, user, _now(now))
    session.add(user)
    record_event(session=session, action="user_deactivated", actor_id=actor_id,
                 target=f"user:{user_id}")
    session.flush()


def reactivate_user(*, session: Session, user_id: int, actor_id: int) -> None:
    user = _get_user_row(session, user_id)
    if user.active:
        return
    user.active = True
    session.add(user)
    record_event(session=session, action="user_reactivated", actor_id=actor_id,
                 target=f"user:{user_id}")
    session.flush()


def set_role(*, session: Session, user_id: int, role: str, actor_id: int) -> None:
    """Promote to organiser or demote to volunteer.

    Raises:
        TeamActionRefused: unknown role, or demoting the last active organiser.
    """
    if role not in ("organiser", "volunteer"):
        raise TeamActionRefused(f"Unknown role {role!r}.")
    user = _get_user_row(session, user_id)
    if user.role == role:
        return
    if (
        user.role == "organiser"
        and user.active
        and _other_active_organisers(session, user_id) == 0
    ):
        raise TeamActionRefused("This is the last active organiser; promote someone else first.")
    before = user.role
    user.role = role
    session.add(user)
    record_event(session=session, action="role_change", actor_id=actor_id,
                 target=f"user:{user_id}", details={"from": before, "to": role})
    session.flush()


def promote_user(*, session: Session, user_id: int, actor_id: int) -> None:
    set_role(session=session, user_id=user_id, role="organiser", actor_id=actor_id)


def demote_user(*, session: Session, user_id: int, actor_id: int) -> None:
    set_role(session=session, user_id=user_id, role="volunteer", actor_id=actor_id)


def unlock_user(*, session: Session, user_id: int, actor_id: int | None) -> None:
    """Lift any sign-in block on the user and forget their failed sign-ins."""
    user = _get_user_row(session, user_id)
    had = {"counters": login_throttle.clear_username(session=session, username=user.username)}
    record_event(session=session, action="unlock", actor_id=actor_id, target=f"user:{user_id}",
                 details=had)
    session.flush()



def invite_campaign_choices(*, session: Session) -> list[tuple[int, str]]:
    """Campaigns an invite can add volunteers to (not closed), newest first."""
    rows = session.exec(
        select(Campaign.id, Campaign.name)
        .where(Campaign.status != "closed")
        .order_by(col(Campaign.created_at).desc())
    ).all()
    return [(campaign_id, name) for campaign_id, name in rows if campaign_id is not None]
