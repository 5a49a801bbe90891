"""Users as the rest of the app sees them: plain read models, never live ORM rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, func, select

from db.models import User


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    name: str
    email: str
    role: str
    active: bool
    session_epoch: int
    phone: str | None = None
    phone_verified: bool = False

    @property
    def is_organiser(self) -> bool:
        return self.role == "organiser"


def to_view(user: User) -> UserView:
    assert user.id is not None
    return UserView(
        id=user.id,
        username=user.username,
        name=user.name,
        email=user.email,
        role=user.role,
        active=user.active,
        session_epoch=user.session_epoch,
        phone=user.phone,
        phone_verified=user.phone_verified,
    )


def get_user(*, session: Session, user_id: int) -> UserView | None:
    user = session.get(User, user_id)
    return to_view(user) if user else None


def organiser_exists(*, session: Session) -> bool:
    count = session.exec(
        select(func.count()).select_from(User).where(User.role == "organiser")
    ).one()
    return count > 0
