"""Creating accounts and checking passwords. Hashes never leave this module's callers' DB rows."""

from __future__ import annotations

import re

import bcrypt
from sqlmodel import Session, func, select

from core.audit import record_event
from core.users import UserView, to_view
from db.models import ROLE_VALUES, User, utcnow

BCRYPT_MAX_BYTES = 72
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """The account details were refused; str() is a message for the person typing them."""


def check_password_rules(password: str) -> None:
    """Raises: AccountError naming what is wrong with the password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        # bcrypt only looks at the first 72 bytes; bcrypt 5 refuses longer input outright.
        raise AccountError(
            f"That password is too long: at most {BCRYPT_MAX_BYTES} bytes "
            "(about 72 letters, fewer with accents or emoji)."
        )


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > BCRYPT_MAX_BYTES or not password_hash:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


def normalise_username(username: str) -> str:
    return username.strip().lower()


def create_user(
    *,
    session: Session,
    username: str,
    name: str,
    email: str,
    password: str,
    role: str = "volunteer",
    phone: str | None = None,
    actor_id: int | None = None,
    password_hash: str | None = None,
) -> UserView:
    """Create an account.

    Pass password_hash (from hash_password) to do the slow bcrypt work before the write
    transaction starts (on SQLite the first statement takes the write lock); the password
    itself is then not used.

    Raises:
        AccountError: a field is invalid, or the username or email is taken.
    """
    username = normalise_username(username)
    email = email.strip().lower()
    name = name.strip()
    if role not in ROLE_VALUES:
        raise AccountError(f"Unknown role {role!r}.")
    if not _USERNAME.match(username):
        raise AccountError(
            "Usernames are 2 to 63 characters: lower-case letters, digits, '.', '_' or '-'."
        )
    if not name:
        raise AccountError("Please give a name.")
    if len(name) > 200:
        raise AccountError("That name is too long (200 characters at most).")
    if len(email) > 320 or not _EMAIL.match(email):
        raise AccountError("That email address does not look right.")
    if password_hash is None or not password_hash.startswith("$2"):
        password_hash = hash_password(password)
    taken = session.exec(
        select(func.count())
        .select_from(User)
        .where((User.username == username) | (User.email == email))
    ).one()
    if taken:
        raise AccountError("That username or email is already registered.")
    user = User(
        username=username,
        name=name,
        email=email,
        password_hash=password_hash,
        role=role,
        phone=phone,
    )
    session.add(user)
    session.flush()
    if role == "organiser":
        record_event(session=session, action="organiser_created", actor_id=actor_id,
                     target=f"user:{user.id}")
    return to_view(user)


def change_password(
    *, session: Session, user_id: int, current_password: str, new_password: str
) -> UserView:
    """Change one's own password, ending every other session (their epoch no longer matches).

    Returns the user with the new session epoch, so the caller can keep this session signed in.

    Raises:
        AccountError: the current password is wrong or the new one breaks the rules.
    """
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AccountError("This account is not active.")
    if not verify_password(current_password, user.password_hash):
        raise AccountError("Your current password is not right.")
    user.password_hash = hash_password(new_password)
    user.session_epoch += 1
    user.sessions_ended_at = utcnow()
    session.add(user)
    session.flush()
    return to_view(user)


def update_name(*, session: Session, user_id: int, name: str) -> UserView:
    """Raises: AccountError when the name is empty."""
    name = name.strip()
    if not name:
        raise AccountError("Please give a name.")
    if len(name) > 200:
        raise AccountError("That name is too long (200 characters at most).")
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("No such user.")
    user.name = name
    session.add(user)
    session.flush()
    return to_view(user)
