"""My calls: a volunteer's own figures, and the leaderboard only when the organisers allow."""

from __future__ import annotations

from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from core import stats
from core.config import PROJECT_ROOT
from core.users import UserView
from db.engine import Database
from db.models import Campaign, Contact, User
from tests.db.stats_fixture import Day, add_attempt, build_day

PAGE = "pages/my_stats.py"


def as_asha(app_db: Database, day: Day) -> UserView:
    """Give Asha (a fixture volunteer) a call today and sign-in credentials."""
    with app_db.write() as session:
        add_attempt(session, campaign=session.get(Campaign, day.a),
                    contact=session.get(Contact, day.contacts["c5"]),
                    volunteer=session.get(User, day.v1), at=datetime.now(UTC),
                    code="completed", duration=100)
        user = session.get(User, day.v1)
        return UserView(id=user.id, username=user.username, name=user.name, email=user.email,
                        role=user.role, active=True, session_epoch=user.session_epoch)


def test_a_volunteer_sees_their_own_figures_and_the_leaderboard(make_app, app_db,
                                                                organiser) -> None:
    day = build_day(app_db)
    asha = as_asha(app_db, day)
    at = make_app(user=asha, page=PAGE)
    at.selectbox(key="my_stats_campaign").select(day.a).run()
    assert not at.exception
    values = [(m.label, m.value) for m in at.metric]
    assert values == [("Dials", "1"), ("Conversations", "1"), ("Completed surveys", "1"),
                      ("Dials", "4"), ("Conversations", "3"), ("Completed surveys", "2")]
    board = at.dataframe[0].value
    assert list(board["name"]) == ["You", "Cara", "Ben"]


def test_a_hidden_leaderboard_is_not_shown_to_volunteers(make_app, app_db, organiser) -> None:
    day = build_day(app_db)
    with app_db.write() as session:
        stats.set_leaderboard_visible(session=session, campaign_id=day.a, visible=False)
    asha = as_asha(app_db, day)
    at = make_app(user=asha, page=PAGE)
    at.selectbox(key="my_stats_campaign").select(day.a).run()
    assert not at.exception
    assert not at.dataframe
    assert "hidden" in at.info[0].value


def test_my_calls_shows_nothing_to_someone_not_signed_in(app_env, app_db, organiser) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / PAGE), default_timeout=30)
    at.run()
    assert [w.value for w in at.warning] == ["Please sign in."]
    assert not at.metric
