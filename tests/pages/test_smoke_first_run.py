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


def test_the_demo_button_loads_data_and_closes_setup(make_app, app_db) -> None:
    at = make_app()
    at.button(key="setup_demo").click()
    at.run()
    assert not at.exception
    with app_db.session() as session:
        usernames = set(session.exec(select(User.username)))
    assert {"organiser", "volunteer1", "volunteer8"} <= usernames
    assert at.session_state["demo_loaded"]["contacts"] == 3000
    # An organiser now exists, so a new visitor no longer gets the setup page.
    assert "Welcome to Ringround" not in [t.value for t in make_app().title]


def test_setup_is_closed_once_an_organiser_exists(make_app, app_db) -> None:
    import pytest

    from core.setup import SetupClosed, create_first_organiser
    from tests.factories import make_user

    with app_db.write() as session:
        make_user(session, role="organiser")
    at = make_app()
    assert "Welcome to Ringround" not in [t.value for t in at.title]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/setup.py")
    with pytest.raises(SetupClosed), app_db.write() as session:
        create_first_organiser(session=session, username="late", name="Late", email="l@e.org",
                               password="a long enough password")


def _public_setup(app_env: str):
    """The setup page as a visitor from elsewhere sees it (the server is not on localhost)."""
    from streamlit.testing.v1 import AppTest

    from core.config import PROJECT_ROOT
    from tests.pages.conftest import APP_TIMEOUT

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=APP_TIMEOUT)
    at.context["url"] = "https://calls.example.org/"
    at.run()
    for key, value in [("setup_name", "Mallory"), ("setup_email", "m@example.org"),
                       ("setup_username", "mallory"), ("setup_password", "a long enough password"),
                       ("setup_confirm", "a long enough password")]:
        at.text_input(key=key).input(value)
    return at


def test_on_a_public_server_the_first_visitor_needs_the_setup_code_from_the_log(
    app_env, app_db
) -> None:
    from core.config import load_settings
    from core.setup import setup_code

    at = _public_setup(app_env)
    at.text_input(key="setup_code").input("ABCD-EFGH-IJKL-MNOP")
    at.button[0].click()
    at.run()
    assert "setup code is not right" in " ".join(e.value for e in at.error)
    at.button(key="setup_demo").click()  # the demo's organiser password is public
    at.run()
    assert "setup code is not right" in " ".join(e.value for e in at.error)
    with app_db.session() as session:
        assert session.exec(select(User)).all() == []
    at.text_input(key="setup_code").input(setup_code(load_settings().cookie_key).lower())
    at.button[0].click()
    at.run()
    with app_db.session() as session:
        assert session.exec(select(User.username)).one() == "mallory"


def test_on_localhost_setup_needs_no_code(make_app) -> None:
    assert [t for t in make_app().text_input if t.key == "setup_code"] == []
