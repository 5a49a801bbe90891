"""First run: an empty database opens the setup screen, and only that."""

from __future__ import annotations

from sqlmodel import select

from core.accounts import verify_password
from db.models import User


def test_an_empty_database_opens_the_setup_screen(make_app) -> None:
    at = make_app()
    assert not at.exception
    assert at.title[0].value == "Welcome to Ringround"


def test_setup_creates_the_first_organiser_and_signs_them_in(make_app, app_db) -> None:
    at = make_app()
    at.text_input(key="setup_name").input("Asha Patel")
    at.text_input(key="setup_email").input("asha@example.org")
    at.text_input(key="setup_username").input("asha")
    at.text_input(key="setup_password").input("a long enough password")
    at.text_input(key="setup_confirm").input("a long enough password")
    at.button[0].click()
    at.run()
    assert not at.exception
    with app_db.session() as session:
        user = session.exec(select(User)).one()
    assert user.role == "organiser"
    assert user.password_hash.startswith("$2")
    assert verify_password("a long enough password", user.password_hash)
    assert at.session_state["auth_user"]["id"] == user.id
