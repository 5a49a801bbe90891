"""The contract of pages/_ui.run_action, the one way a page acts (issue #16).

Each test runs a tiny page through AppTest against the app's real database: one button that
renames a user through core, as a page would.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from db.engine import Database
from db.models import User
from tests.factories import make_user
from tests.pages.conftest import APP_TIMEOUT


def rename_page(user_id: int, new_name: str, then_fail: str, options: dict) -> None:
    """A page with one action: rename the user (then, if asked, refuse or fail half-way)."""
    import streamlit as st

    from core.accounts import AccountError, update_name
    from pages import _ui

    def rename(session):
        renamed = update_name(session=session, user_id=user_id, name=new_name)
        if then_fail == "refuse":
            raise AccountError("Refused after the rename had been written.")
        if then_fail == "bug":
            raise ZeroDivisionError("a bug")
        return renamed

    _ui.show_flash()
    st.caption(f"run {st.session_state.setdefault('runs', 0)}")
    st.session_state["runs"] += 1
    if st.button("Rename", key="rename"):
        result = _ui.run_action(rename, errors=(AccountError,), **options)
        st.session_state["result"] = (result.ok, getattr(result.value, "name", None))


def build(user_id: int, new_name: str, *, then_fail: str = "", **options: Any) -> AppTest:
    at = AppTest.from_function(rename_page, default_timeout=APP_TIMEOUT,
                               args=(user_id, new_name, then_fail, options))
    at.run()
    return at


def name_in_database(db: Database, user_id: int) -> str:
    with db.session() as session:
        return session.exec(select(User.name).where(User.id == user_id)).one()


@pytest.fixture
def user_id(app_db: Database) -> int:
    with app_db.write() as session:
        return make_user(session, name="Ada Lovelace").id


def test_a_done_action_is_committed_says_so_and_returns_its_value(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "Ada King", done=lambda user: f"Renamed to {user.name}.")
    at.button(key="rename").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Renamed to Ada King."]
    assert at.error == []
    assert at.session_state["result"] == (True, "Ada King")
    assert name_in_database(app_db, user_id) == "Ada King"


def test_a_refused_action_shows_the_domain_error_and_writes_nothing(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "Ada King", then_fail="refuse", done="Renamed.")
    at.button(key="rename").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Refused after the rename had been written."]
    assert at.success == []
    assert at.session_state["result"] == (False, None)
    # The rename ran inside the transaction; the refusal rolled it back.
    assert name_in_database(app_db, user_id) == "Ada Lovelace"


def test_a_domain_error_before_any_write_is_shown_as_its_message(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "   ", done="Renamed.")
    at.button(key="rename").click().run()
    assert [e.value for e in at.error] == ["Please give a name."]
    assert name_in_database(app_db, user_id) == "Ada Lovelace"


def test_with_rerun_the_message_is_flashed_in_the_run_that_follows(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "Ada King", done="Renamed.", rerun=True)
    assert at.caption[0].value == "run 0"
    at.button(key="rename").click().run()
    assert not at.exception
    # The click's run stopped at the rerun; the next run drew the page afresh, with the flash.
    assert at.caption[0].value == "run 2"
    assert "result" not in at.session_state
    assert [s.value for s in at.success] == ["Renamed."]
    at.run()
    assert at.success == []  # a flash is shown once
    assert name_in_database(app_db, user_id) == "Ada King"


def test_plain_text_confirmation_does_not_render_markdown(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "**Ada**", done=lambda user: f"Renamed to {user.name}.", shown="text")
    at.button(key="rename").click().run()
    assert at.success == []
    assert [t.value for t in at.text] == ["✅ Renamed to **Ada**."]


def test_on_refusal_takes_the_message_instead_of_an_error_box(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "", on_refusal=lambda exc: __import__("streamlit").warning(f"!{exc}"))
    at.button(key="rename").click().run()
    assert at.error == []
    assert [w.value for w in at.warning] == ["!Please give a name."]


def test_an_error_that_is_not_a_domain_error_propagates_and_writes_nothing(
    app_db: Database, user_id: int
) -> None:
    at = build(user_id, "Ada King", then_fail="bug", done="Renamed.")
    at.button(key="rename").click().run()
    assert [e.message for e in at.exception] == ["a bug"]
    assert at.success == []
    assert name_in_database(app_db, user_id) == "Ada Lovelace"
