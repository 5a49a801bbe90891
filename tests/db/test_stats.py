"""Every dashboard aggregate against the hand-worked day in stats_fixture, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core import stats
from db.engine import Database
from tests.db.stats_fixture import (
    NOW,
    TODAY_START,
    Day,
    add_answer,
    add_attempt,
    make_volunteer,
    queue,
)
from tests.factories import make_campaign, make_contact


def test_headline_numbers_for_one_campaign(database: Database, day: Day) -> None:
    with database.session() as session:
        numbers = stats.headline(session=session, campaign_id=day.a, now=NOW)
    assert numbers == {
        "timezone": "Europe/London",
        "contacts": 5, "remaining": 4, "excluded": 0, "done": 1,
        "reached": 3, "completed": 2,
        "dials": 6, "conversations": 4, "completions": 2,
        "dials_today": 4, "conversations_today": 3,
        "contact_rate": pytest.approx(4 / 6),
        "avg_call_seconds": pytest.approx(180.0),
        "calling_now": 1,
    }


def test_headline_numbers_across_all_campaigns(database: Database, day: Day) -> None:
    with database.session() as session:
        numbers = stats.headline(session=session, campaign_id=None, now=NOW)
    assert (numbers["contacts"], numbers["remaining"], numbers["dials"],
            numbers["conversations"], numbers["reached"], numbers["completed"],
            numbers["dials_today"], numbers["calling_now"]) == (6, 5, 7, 4, 3, 2, 5, 2)


def test_a_lapsed_lease_is_not_someone_calling_now(database: Database, day: Day) -> None:
    with database.session() as session:
        assert stats.volunteers_calling_now(session=session, campaign_id=day.a, now=NOW) == 1
        later = NOW + timedelta(minutes=6)
        assert stats.volunteers_calling_now(session=session, campaign_id=None, now=later) == 0


def test_dials_today_follow_the_campaigns_own_time_zone(database: Database) -> None:
    with database.write() as session:
        campaign = make_campaign(session, timezone="America/New_York")
        contact = make_contact(session)
        # 23:00 on the 14th in New York: yesterday there, though the 15th in London.
        add_attempt(session, campaign=campaign, contact=contact, volunteer=None,
                    at=datetime(2026, 7, 15, 3, 0, tzinfo=UTC), code="no_answer")
        add_attempt(session, campaign=campaign, contact=contact, volunteer=None,
                    at=datetime(2026, 7, 15, 5, 0, tzinfo=UTC), code="no_answer")
        campaign_id = campaign.id
    with database.session() as session:
        numbers = stats.headline(session=session, campaign_id=campaign_id, now=NOW)
    assert numbers["timezone"] == "America/New_York"
    assert (numbers["dials"], numbers["dials_today"]) == (2, 1)


def test_an_unknown_campaign_is_reported(database: Database) -> None:
    with database.session() as session, pytest.raises(stats.CampaignNotFound):
        stats.headline(session=session, campaign_id=999, now=NOW)


def test_an_empty_campaign_has_zeros_not_errors(database: Database) -> None:
    with database.write() as session:
        campaign_id = make_campaign(session).id
    with database.session() as session:
        numbers = stats.headline(session=session, campaign_id=campaign_id, now=NOW)
        assert stats.outcome_breakdown(session=session, campaign_id=campaign_id) == []
        assert stats.leaderboard(session=session, campaign_id=campaign_id) == []
        assert stats.recruits(session=session, campaign_id=campaign_id) == []
        assert stats.progress_by_ward(session=session, campaign_id=campaign_id) == []
    assert (numbers["dials"], numbers["contact_rate"], numbers["avg_call_seconds"]) == (0, 0.0,
                                                                                       None)


def test_calls_per_quarter_hour_through_the_london_day(database: Database, day: Day) -> None:
    with database.session() as session:
        buckets = stats.calls_by_quarter_hour(session=session, campaign_id=day.a,
                                              day=date(2026, 7, 15))
    assert len(buckets) == 96
    assert buckets[0]["start"].isoformat() == "2026-07-15T00:00:00+01:00"
    busy = {b["start"].strftime("%H:%M"): (b["dials"], b["conversations"])
            for b in buckets if b["dials"]}
    assert busy == {"00:00": (1, 1), "09:00": (1, 0), "10:15": (2, 2)}


def test_the_day_the_clocks_go_back_has_a_hundred_quarter_hours(database: Database) -> None:
    with database.write() as session:
        campaign = make_campaign(session)
        contact = make_contact(session)
        # 01:30 UTC on 25 October 2026 is 01:30 GMT, the second 01:30 of that London night.
        add_attempt(session, campaign=campaign, contact=contact, volunteer=None,
                    at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC), code="refused")
        campaign_id = campaign.id
    with database.session() as session:
        buckets = stats.calls_by_quarter_hour(session=session, campaign_id=campaign_id,
                                              day=date(2026, 10, 25))
    assert len(buckets) == 100
    [busy] = [b for b in buckets if b["dials"]]
    assert busy["start"].isoformat() == "2026-10-25T01:30:00+00:00"
    assert buckets.index(busy) == 10
    assert busy["conversations"] == 1


def test_outcome_breakdown_all_time_and_today(database: Database, day: Day) -> None:
    with database.session() as session:
        all_time = stats.outcome_breakdown(session=session, campaign_id=day.a)
        today = stats.outcome_breakdown(session=session, campaign_id=day.a, since=TODAY_START)
    assert [(r["code"], r["count"]) for r in all_time] == [
        ("completed", 2), ("no_answer", 2), ("call_back", 1), ("refused", 1)]
    assert all_time[0]["label"] == "Talked – completed survey"
    assert all_time[0]["share"] == pytest.approx(2 / 6)
    assert [(r["code"], r["count"]) for r in today] == [
        ("completed", 2), ("no_answer", 1), ("refused", 1)]


def test_survey_results_count_each_chosen_option(database: Database, day: Day) -> None:
    with database.session() as session:
        results = stats.survey_results(session=session, campaign_id=day.a)
    assert [(r["question_id"], r["answers"], r["total"], r["respondents"]) for r in results] == [
        (day.q1, [{"value": "Yes", "count": 2}, {"value": "No", "count": 1}], 3, 3),
        (day.q2, [{"value": "NHS", "count": 2}, {"value": "Housing", "count": 1},
                  {"value": "Transport", "count": 0}], 3, 2),
        # free text is counted, never listed on the dashboard
        (day.q3, [], 1, 1),
    ]


def test_progress_per_ward_and_per_constituency(database: Database, day: Day) -> None:
    with database.session() as session:
        wards = stats.progress_by_ward(session=session, campaign_id=day.a)
    assert [(w["constituency"], w["ward"], w["contacts"], w["called"], w["reached"],
             w["completed"], w["remaining"]) for w in wards] == [
        ("Bedford", "Castle", 2, 0, 0, 0, 2),
        ("Crewe and Nantwich", "Crewe Central", 2, 2, 2, 1, 1),
        ("Crewe and Nantwich", "Nantwich North", 1, 1, 1, 1, 1),
    ]
    with database.session() as session:
        everywhere = stats.progress_by_ward(session=session, campaign_id=None)
    assert [(w["ward"], w["contacts"], w["called"], w["remaining"]) for w in everywhere] == [
        ("Castle", 2, 0, 2), ("Kingsbrook", 1, 1, 1), ("Crewe Central", 2, 2, 1),
        ("Nantwich North", 1, 1, 1)]
    seats = stats.progress_by_constituency(wards)
    assert [(s["constituency"], s["contacts"], s["reached"], s["completed"], s["remaining"],
             s["wards"], s["reached_share"]) for s in seats] == [
        ("Bedford", 2, 0, 0, 2, 1, 0.0),
        ("Crewe and Nantwich", 3, 3, 2, 2, 2, 1.0),
    ]


def test_leaderboard_ranks_completions_then_conversations(database: Database, day: Day) -> None:
    with database.session() as session:
        all_time = stats.leaderboard(session=session, campaign_id=day.a)
        today = stats.leaderboard(session=session, campaign_id=day.a, since=TODAY_START)
        everywhere = stats.leaderboard(session=session, campaign_id=None, limit=1)
    assert [(r["rank"], r["name"], r["dials"], r["conversations"], r["completions"])
            for r in all_time] == [(1, "Asha", 3, 2, 1), (2, "Cara", 1, 1, 1), (3, "Ben", 2, 1, 0)]
    assert [(r["name"], r["dials"], r["conversations"], r["completions"]) for r in today] == [
        ("Asha", 2, 1, 1), ("Cara", 1, 1, 1), ("Ben", 1, 1, 0)]
    assert [(r["name"], r["dials"]) for r in everywhere] == [("Asha", 3)]


def test_recruits_are_the_contacts_who_gave_the_campaigns_answer(database: Database,
                                                                 day: Day) -> None:
    with database.session() as session:
        found = stats.recruits(session=session, campaign_id=day.a)
        none_in_b = stats.recruits(session=session, campaign_id=day.b)
    assert [(r["contact_id"], r["first_name"], r["constituency"], r["do_not_call"])
            for r in found] == [
        (day.contacts["c1"], "Ann", "Crewe and Nantwich", False),
        (day.contacts["c3"], "Cat", "Crewe and Nantwich", True),
    ]
    assert found[0]["phone"].startswith("+44")
    assert found[0]["answered_at"] == datetime(2026, 7, 15, 9, 20, tzinfo=UTC)
    assert none_in_b == []


def test_compliance_panel(database: Database, day: Day) -> None:
    with database.session() as session:
        all_time = stats.compliance(session=session, campaign_id=day.a)
        today = stats.compliance(session=session, campaign_id=day.a, since=TODAY_START)
        b = stats.compliance(session=session, campaign_id=day.b)
    assert all_time == {
        "outside_window": 2,
        # No continuous session in this day: nothing dialled by Ringround, nothing abandoned.
        "live_answered_24h": 0, "abandoned_24h": 0, "abandoned_amd_estimate_24h": 0.0,
        "abandoned_rate_24h": 0.0,
        "suppressed_by_source": {"outcome": 1, "organiser": 1, "import": 1},
        "suppressed_total": 3,
        "tps_registered": 2, "tps_queued": 0, "tps_excluded": 2,
    }
    assert (today["outside_window"], today["suppressed_by_source"]) == (
        1, {"outcome": 1, "import": 1})
    assert (b["outside_window"], b["tps_queued"], b["tps_excluded"]) == (0, 1, 1)


def test_the_leaderboard_switch_is_stored_on_the_campaign(database: Database, day: Day) -> None:
    with database.write() as session:
        stats.set_leaderboard_visible(session=session, campaign_id=day.a, visible=False)
    with database.session() as session:
        choices = {c["id"]: c for c in stats.campaign_choices(session=session)}
    assert choices[day.a]["leaderboard_visible"] is False
    assert choices[day.b]["leaderboard_visible"] is True
    with database.write() as session, pytest.raises(stats.CampaignNotFound):
        stats.set_leaderboard_visible(session=session, campaign_id=999, visible=True)


def test_a_saved_call_shows_up_once_the_cache_expires(database: Database, day: Day) -> None:
    clock = [1000.0]
    cache = stats.TTLCache(clock=lambda: clock[0])

    def dials() -> int:
        numbers = stats.cached("headline", database=database, ttl=3, cache=cache,
                               campaign_id=day.a)
        return int(numbers["dials"])

    assert dials() == 6
    with database.write() as session:
        volunteer = make_volunteer(session, "Dev")
        add_attempt(session, campaign=session.get(stats.Campaign, day.a),
                    contact=session.get(stats.Contact, day.contacts["c5"]),
                    volunteer=volunteer, at=datetime.now(UTC), code="no_answer")
    clock[0] += 2.9
    assert dials() == 6  # still inside the 3 s every viewer shares
    clock[0] += 0.2
    assert dials() == 7
    assert cache.computations == 2


def test_recruit_count_and_the_newest_recruits_first(database: Database, day: Day) -> None:
    with database.session() as session:
        assert stats.recruit_count(session=session, campaign_id=day.a) == 2
        assert stats.recruit_count(session=session, campaign_id=None) == 2
        assert stats.recruit_count(session=session, campaign_id=day.b) == 0
        newest = stats.recruits(session=session, campaign_id=day.a, limit=1)
    assert [r["first_name"] for r in newest] == ["Ann"]


def test_a_person_who_said_yes_twice_is_one_recruit(database: Database, day: Day) -> None:
    with database.write() as session:
        campaign = session.get(stats.Campaign, day.a)
        ann = session.get(stats.Contact, day.contacts["c1"])
        attempt = add_attempt(session, campaign=campaign, contact=ann, volunteer=None,
                              at=NOW, code="completed", duration=60)
        add_answer(session, attempt_id=attempt, campaign=campaign, question_id=day.q1,
                   contact=ann, value="Yes")
    with database.session() as session:
        assert stats.recruit_count(session=session, campaign_id=day.a) == 2
        found = stats.recruits(session=session, campaign_id=day.a)
    assert [(r["first_name"], r["answered_at"]) for r in found] == [
        ("Ann", NOW), ("Cat", datetime(2026, 7, 14, 23, 5, tzinfo=UTC))]


def test_the_cache_keeps_campaigns_and_filters_apart(database: Database, day: Day) -> None:
    cache = stats.TTLCache(clock=lambda: 0.0)
    a = stats.cached("headline", database=database, ttl=3, cache=cache, campaign_id=day.a)
    b = stats.cached("headline", database=database, ttl=3, cache=cache, campaign_id=day.b)
    today = stats.cached("outcome_breakdown", database=database, ttl=3, cache=cache,
                         campaign_id=day.a, since=TODAY_START)
    ever = stats.cached("outcome_breakdown", database=database, ttl=3, cache=cache,
                        campaign_id=day.a)
    assert (a["contacts"], b["contacts"]) == (5, 1)
    assert sum(r["count"] for r in today) == 4
    assert sum(r["count"] for r in ever) == 6
    assert cache.computations == 4


def test_across_campaigns_people_are_counted_in_each_campaign(database: Database,
                                                              day: Day) -> None:
    with database.write() as session:
        # Ann, already reached in A, is also queued and reached in B: two campaigns' contact,
        # twice.
        campaign_b = session.get(stats.Campaign, day.b)
        ann = session.get(stats.Contact, day.contacts["c1"])
        queue(session, campaign_b, ann, status="done")
        session.flush()
        add_attempt(session, campaign=campaign_b, contact=ann, volunteer=None,
                    at=NOW, code="refused", duration=30)
    with database.session() as session:
        everywhere = stats.headline(session=session, campaign_id=None, now=NOW)
        b = stats.headline(session=session, campaign_id=day.b, now=NOW)
    assert (b["reached"], everywhere["reached"], everywhere["conversations"]) == (1, 4, 5)
