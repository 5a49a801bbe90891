"""The dashboard page: renders empty and full, keeps its filters, is for organisers only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from core.config import PROJECT_ROOT
from core.stats_cache import DASHBOARD_CACHE
from db.models import Campaign, Contact
from tests.db.stats_fixture import Day, add_attempt, build_day
from tests.pages.conftest import sign_in_as

PAGE = "pages/dashboard.py"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    DASHBOARD_CACHE.clear()
    yield
    DASHBOARD_CACHE.clear()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def seats(at: AppTest) -> dict[str, tuple[int, int]]:
    """(reached, completed) per constituency, from the progress table."""
    [table] = [d.value for d in at.dataframe if "reached_share" in d.value.columns]
    return {row.constituency: (int(row.reached), int(row.completed))
            for row in table.itertuples()}


def test_the_dashboard_renders_before_any_campaign_exists(make_app, organiser) -> None:
    at = make_app(user=organiser, page=PAGE)
    assert not at.exception
    assert at.title[0].value == "Dashboard"
    assert "No campaigns yet" in at.info[0].value


def test_the_dashboard_shows_a_campaigns_figures(make_app, app_db, organiser) -> None:
    day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(day.a).run()
    assert not at.exception
    shown = metrics(at)
    assert (shown["Contacts"], shown["Reached"], shown["Completed"], shown["Remaining"],
            shown["Dials (all time)"], shown["Contact rate"], shown["Average call"]) == (
        "5", "3", "2", "4", "6", "67%", "3:00")
    # calls per 15 minutes, two survey questions (free text is only counted), progress; the
    # outcomes chart is empty because the fixture's calls were not made today
    assert len(at.get("vega_lite_chart")) == 4
    assert "Recruits: 2" in [h.value for h in at.subheader]
    # the filters are still there after a rerun (as after each timed refresh)
    at.run()
    assert at.selectbox(key="dashboard_campaign").value == day.a


def test_all_campaigns_adds_the_campaigns_up(make_app, app_db, organiser) -> None:
    build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(0).run()
    assert not at.exception
    assert (metrics(at)["Contacts"], metrics(at)["Dials (all time)"]) == ("6", "7")


def test_all_time_adds_the_outcomes_chart_and_pausing_says_so(make_app, app_db,
                                                              organiser) -> None:
    day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(day.a).run()
    at.button_group(key="dashboard_period").set_value("all").run()
    at.toggle(key="dashboard_paused").set_value(True).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 5
    assert any("paused" in c.value for c in at.caption)
    assert at.selectbox(key="dashboard_campaign").value == day.a


def test_the_leaderboard_switch_hides_it_from_volunteers(make_app, app_db, organiser) -> None:
    day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(day.a).run()
    at.toggle(key=f"dashboard_leaderboard_visible_{day.a}").set_value(False).run()
    assert not at.exception
    with app_db.session() as session:
        assert session.get(Campaign, day.a).leaderboard_visible is False


def test_a_saved_call_shows_up_at_the_first_refresh_after_the_cache_period(
        make_app, app_db, organiser, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [5000.0]
    monkeypatch.setattr(DASHBOARD_CACHE, "_clock", lambda: clock[0])
    day: Day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(day.a).run()
    assert metrics(at)["Dials today"] == "0"
    assert seats(at)["Bedford"] == (0, 0)
    with app_db.write() as session:
        campaign = session.get(Campaign, day.a)
        add_attempt(session, campaign=campaign, contact=session.get(Contact, day.contacts["c5"]),
                    volunteer=None, at=datetime.now(UTC), code="completed", duration=200)
    clock[0] += 1
    at.run()
    assert metrics(at)["Dials today"] == "0"  # shared for 3 s: twenty viewers, one query
    assert seats(at)["Bedford"] == (0, 0)
    clock[0] += 3
    at.run()
    assert (metrics(at)["Dials today"], metrics(at)["Completed"]) == ("1", "3")
    # progress per area too: cheap now (issue #6), it refreshes with every other figure
    assert seats(at)["Bedford"] == (1, 1)


def test_a_volunteer_cannot_open_the_dashboard(make_app, volunteer) -> None:
    at = make_app(user=volunteer)
    with pytest.raises(ValueError):
        at.switch_page(PAGE)


def test_the_dashboard_page_itself_refuses_a_volunteer(app_env, volunteer) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / PAGE), default_timeout=30)
    sign_in_as(at, volunteer)
    at.run()
    assert [e.value for e in at.error] == ["This page is for organisers."]
    assert not at.metric


def test_the_dashboard_reads_in_words_uk_dates_and_whole_numbers(
        make_app, app_db, organiser) -> None:
    import json

    from core import stats as core_stats
    from core.display import uk_date

    day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(day.a).run()
    assert not at.exception
    today = core_stats.local_today("Europe/London")
    headings = [h.value for h in at.subheader]
    assert f"Calls per 15 minutes, {uk_date(today)}" in headings
    text = "\n".join(m.value for m in at.markdown)
    assert " people answered" in text or " person answered" in text
    assert "(s)" not in text
    # Count axes never show half a call; the day's chart covers the calling window, not 24 h.
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[0]
    assert json.loads(chart.proto.spec)["encoding"]["y"]["axis"]["format"] == "d"
    points = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().num_rows
    assert points == 2 * ((21 - 9) * 4 + 1)  # 09:00 to 21:00 in quarter hours, both series
    # Table headings are words.
    [progress] = [d for d in at.dataframe if "reached_share" in d.value.columns]
    assert "Surveys completed" in progress.proto.columns


def test_recruits_numbers_show_only_on_request_and_each_reveal_is_audited(
        make_app, app_db, organiser) -> None:
    from sqlmodel import select

    from db.models import AuditEvent

    day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="dashboard_campaign").select(day.a).run()
    [table] = [t.value for t in at.table if "phone" in t.value.columns]
    assert set(table["phone"]) == {"(hidden)"}
    with app_db.session() as session:
        assert session.exec(select(AuditEvent).where(
            AuditEvent.action == "number_revealed")).all() == []
        phones = {c.phone for c in session.exec(select(Contact))}
    at.button(key="dashboard_recruits_reveal").click().run()
    assert not at.exception
    [table] = [t.value for t in at.table if "phone" in t.value.columns]
    assert "(hidden)" not in set(table["phone"]) and len(table) == 2
    with app_db.session() as session:
        events = session.exec(select(AuditEvent).where(
            AuditEvent.action == "number_revealed")).all()
    assert len(events) == 2 and {e.actor_id for e in events} == {organiser.id}
    assert all(e.details == {"where": "dashboard_recruits"} for e in events)
    assert not any(p in str([e.details for e in events]) for p in phones)
