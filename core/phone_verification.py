"""A volunteer proves they own the phone Twilio will ring, with a 6-digit code sent by text.

Only a hash of the code is stored. A code lasts 10 minutes and allows 5 guesses; a new code
replaces the old one, and at most a handful are sent per hour so the form cannot be used to
pump texts (each costs money and may annoy whoever owns the number).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from core.audit import record_event
from core.config import Settings
from core.dialing import TextingMode, sms_dialer, texting_mode
from core.phones import InvalidPhone, mask_phone, normalise_phone
from db.engine import Database
from db.models import PhoneVerification, User

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 5
CODE_DIGITS = 6


class PhoneVerificationError(ValueError):
    """The request was refused; str() is a sentence for the volunteer."""


@dataclass(frozen=True)
class PendingCode:
    """A code to send. The plain code leaves core only to go into the text message."""

    verification_id: int
    phone: str
    code: str
    expires_at: datetime

    def message(self) -> str:
        return f"Your Ringround code is {self.code}. It expires in 10 minutes."


@dataclass(frozen=True)
class ConfirmResult:
    """What a guess achieved.

    A result rather than an exception: a wrong guess must still commit its attempt count.
    """

    verified: bool
    message: str
    phone: str | None = None
    attempts_left: int = 0


def hash_code(*, verification_user_id: int, phone: str, code: str) -> str:
    return hashlib.sha256(f"{verification_user_id}:{phone}:{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def start_phone_verification(
    *,
    session: Session,
    user_id: int,
    raw_phone: str,
    region: str = "GB",
    now: datetime | None = None,
    code_factory: Callable[[], str] = new_code,
) -> PendingCode:
    """Make a new code for this phone, replacing any earlier one; the caller texts it.

    Raises:
        PhoneVerificationError: the number is invalid, or too many codes were asked for.
    """
    now = now or datetime.now(UTC)
    try:
        phone = normalise_phone(raw_phone, region=region).e164
    except InvalidPhone as exc:
        raise PhoneVerificationError(f"That is {exc}: check it and try again.") from None
    recent = session.exec(
        select(func.count())
        .select_from(PhoneVerification)
        .where(PhoneVerification.user_id == user_id)
        .where(col(PhoneVerification.created_at) > now - timedelta(hours=1))
    ).one()
    if recent >= MAX_CODES_PER_HOUR:
        raise PhoneVerificationError(
            "Too many codes were sent in the last hour. Please try again later."
        )
    # A new code supersedes older ones: only the latest can be used.
    session.execute(
        sa.update(PhoneVerification)
        .where(col(PhoneVerification.user_id) == user_id)
        .where(col(PhoneVerification.verified_at).is_(None))
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = code_factory()
    row = PhoneVerification(
        user_id=user_id,
        phone=phone,
        code_hash=hash_code(verification_user_id=user_id, phone=phone, code=code),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return PendingCode(verification_id=row.id, phone=phone, code=code, expires_at=row.expires_at)


def confirm_phone_code(
    *, session: Session, user_id: int, code: str, now: datetime | None = None
) -> ConfirmResult:
    """Check a code against the user's latest one; on success the phone becomes theirs."""
    now = now or datetime.now(UTC)
    row = session.exec(
        select(PhoneVerification)
        .where(PhoneVerification.user_id == user_id)
        .where(col(PhoneVerification.verified_at).is_(None))
        .order_by(col(PhoneVerification.id).desc())
        .limit(1)
        .with_for_update()
    ).first()
    if row is None:
        return ConfirmResult(False, "There is no code waiting: ask for a new one.")
    if row.expires_at <= now:
        return ConfirmResult(False, "That code has expired: ask for a new one.")
    if row.attempts >= MAX_ATTEMPTS:
        return ConfirmResult(False, "Too many wrong guesses: ask for a new code.")
    row.attempts += 1
    expected = hash_code(verification_user_id=user_id, phone=row.phone, code=code.strip())
    if not hmac.compare_digest(expected, row.code_hash):
        left = MAX_ATTEMPTS - row.attempts
        session.add(row)
        session.flush()
        if left == 0:
            return ConfirmResult(False, "That code is wrong, and that was the last try: "
                                        "ask for a new code.")
        return ConfirmResult(
            False, f"That code is wrong: {left} {'try' if left == 1 else 'tries'} left.",
            attempts_left=left,
        )
    row.verified_at = now
    session.add(row)
    user = session.get(User, user_id)
    if user is None:
        return ConfirmResult(False, "Your account no longer exists.")
    user.phone = row.phone
    user.phone_verified = True
    session.add(user)
    record_event(session=session, action="phone_verified", actor_id=user_id,
                 target=f"user:{user_id}", details={"phone": mask_phone(row.phone)})
    session.flush()
    return ConfirmResult(True, "Your phone is confirmed.", phone=row.phone)


def remove_phone(*, session: Session, user_id: int) -> None:
    """Forget the volunteer's phone; Twilio calls need a new confirmed one."""
    session.execute(
        sa.update(User)
        .where(col(User.id) == user_id)
        .values(phone=None, phone_verified=False)
        .execution_options(synchronize_session=False)
    )
    record_event(session=session, action="phone_removed", actor_id=user_id,
                 target=f"user:{user_id}")


@dataclass(frozen=True)
class SentCode:
    """A code on its way: where it went (masked) and, in the demo only, the text itself."""

    masked_phone: str
    # Set only when nothing was really sent (the demo's fake), so the page can show it.
    demo_text: str = ""


def phone_confirmation_mode(settings: Settings) -> TextingMode:
    """Whether this server can text a confirmation code, from which number, or why not."""
    return texting_mode(settings)


def send_verification_code(
    *, database: Database, settings: Settings, user_id: int, raw_phone: str,
    now: datetime | None = None, code_factory: Callable[[], str] = new_code,
) -> SentCode:
    """Make a code for this phone and text it from the server's number.

    The code is committed before the text goes, so no database lock is held while the provider
    answers.

    Raises:
        PhoneVerificationError: the number is invalid, too many codes, or no text can go.
        DialerError: the provider refused or could not be reached.
    """
    texting = texting_mode(settings)
    if not texting.can_text:
        raise PhoneVerificationError(texting.problem)
    with database.write() as session:
        pending = start_phone_verification(
            session=session, user_id=user_id, raw_phone=raw_phone,
            region=settings.default_region, now=now, code_factory=code_factory,
        )
    sms_dialer(settings).send_sms(pending.phone, texting.sender or "Ringround", pending.message())
    return SentCode(masked_phone=mask_phone(pending.phone),
                    demo_text="" if texting.real else pending.message())
