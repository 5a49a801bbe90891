"""First run: the one moment an account is created without an organiser's say-so.

On a server reached from elsewhere, the first visitor must not be able to claim the
organiser account (or load the demo, whose organiser password is published): they must type
the setup code the server prints in its log. The code is derived from the cookie key, so every
app server and `manage.py setup-code` know the same one without storing it, and it stops
mattering once an organiser exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlmodel import Session

from core.accounts import create_user
from core.users import UserView, organiser_exists

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class SetupClosed(Exception):
    """An organiser already exists, or the setup code is missing or wrong."""


def setup_code(cookie_key: str) -> str:
    """The code that opens first-run setup on a non-local server, e.g. `K7QX-M2PA-…`."""
    digest = hmac.new(cookie_key.encode("utf-8"), b"ringround-first-organiser",
                      hashlib.sha256).digest()
    letters = base64.b32encode(digest).decode("ascii")[:16]
    return "-".join(letters[i:i + 4] for i in range(0, 16, 4))


def setup_needs_code(*, address: str, host: str) -> bool:
    """Only a browser on the server's own machine, with no proxy in between, goes without."""
    return not (address == "local" and host.lower() in LOCAL_HOSTS)


def check_setup_code(*, given: str, cookie_key: str) -> None:
    """Raises: SetupClosed when the code is not the server's."""
    wanted = setup_code(cookie_key).replace("-", "")
    typed = given.strip().upper().replace("-", "").replace(" ", "")
    if not hmac.compare_digest(typed.encode(), wanted.encode()):
        raise SetupClosed(
            "That setup code is not right. It is printed in the server's log when Ringround "
            "starts (or run `manage.py setup-code` on the server); or create the organiser "
            "with `manage.py create-organiser`."
        )


def create_first_organiser(
    *, session: Session, username: str, name: str, email: str, password: str
) -> UserView:
    """Create the first organiser, refusing if one exists (checked inside the write transaction).

    Raises:
        SetupClosed: an organiser already exists.
        AccountError: a field is invalid.
    """
    if organiser_exists(session=session):
        raise SetupClosed("Ringround is already set up; sign in instead.")
    return create_user(
        session=session, username=username, name=name, email=email, password=password,
        role="organiser",
    )
