"""A volunteer's own figures and the leaderboard they may see, on both backends."""

from __future__ import annotations

import pytest

from core import stats, volunteer_stats
from db.engine import Database
from tests.db.stats_fixture import NOW, Day
from tests.factories import make_campaign


def test_my_totals_today_and_all_time(database: Database, day: Day) -> None:
    with database.session() as session:
        asha = volunteer_stats.my_totals(session=session, volunteer_id=day.v1, now=NOW)
        cara = volunteer_stats.my_totals(session=session, volunteer_id=day.v3, now=NOW)
    # Asha's call_back at 23:50 London on the 14th was yesterday.
    assert asha == {"today": {"dials": 2, "conversations": 1, "completions": 1},
                    "all_time": {"dials": 3, "conversations": 2, "completions": 1}}
    # Cara's calls span two campaigns.
    assert cara["all_time"] == {"dials": 2, "conversations": 1, "completions": 1}


def test_my_campaigns_are_the_active_ones_and_those_i_called_for(database: Database,
                                                                day: Day) -> None:
    with database.write() as session:
        make_campaign(session, name="Old closed one", status="closed")
    with database.session() as session:
        names = [c["name"] for c in
                 volunteer_stats.my_campaigns(session=session, volunteer_id=day.v1)]
    assert names == ["Bedford survey", "NHS day"]


def test_volunteers_see_short_names_on_a_visible_leaderboard(database: Database,
                                                             day: Day) -> None:
    with database.session() as session:
        board = volunteer_stats.visible_leaderboard(session=session, campaign_id=day.a)
    assert [(r["rank"], r["name"], r["completions"]) for r in board] == [
        (1, "Asha", 1), (2, "Cara", 1), (3, "Ben", 0)]
    assert volunteer_stats.short_name("Asha  Patel") == "Asha P."
    assert volunteer_stats.short_name("Mary Jane van der Berg") == "Mary B."


def test_a_hidden_leaderboard_is_refused(database: Database, day: Day) -> None:
    with database.write() as session:
        stats.set_leaderboard_visible(session=session, campaign_id=day.a, visible=False)
    with database.session() as session:
        with pytest.raises(volunteer_stats.LeaderboardHidden):
            volunteer_stats.visible_leaderboard(session=session, campaign_id=day.a)
        with pytest.raises(stats.CampaignNotFound):
            volunteer_stats.visible_leaderboard(session=session, campaign_id=999)
