"""First run: the one moment an account is created without an organiser's say-so."""

from __future__ import annotations

from sqlmodel import Session

from core.accounts import create_user
from core.users import UserView, organiser_exists


class SetupClosed(Exception):
    """An organiser already exists; first-run setup is over."""


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
