"""The dashboard's call rollups stay exactly what the attempts say, on both databases (#19)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core import rollups, stats
from core.queue import LeaseLost, claim_next_contact, record_outcome
from db.engine import Database
from db.models import ROLLUP_ALL_TIME, CallRollup, Campaign, CampaignRollup
from tests.factories import make_campaign, make_contact, make_user, queue_contacts
from tests.racing import at_once

# A Wednesday in June, 14:07 London time: inside the default calling window.
NOW = datetime(2026, 6, 10, 13, 7, tzinfo=UTC)


def _campaign_with_queue(db: Database, n: int) -> tuple[list[int], int, list[int]]:
    with db.write() as s:
        volunteers = [make_user(s).id for _ in range(2)]
        campaign = make_campaign(s)
        queue_contacts(s, campaign, [make_contact(s) for _ in range(n)])
        return volunteers, int(campaign.id), []


def _call(db: Database, campaign_id: int, volunteer_id: int, code: str, now: datetime,
          *, key: str | None = None, duration: int | None = None) -> None:
    with db.write() as s:
        claimed = claim_next_contact(session=s, campaign_id=campaign_id,
                                     volunteer_id=volunteer_id, now=now)
        assert claimed is not None
        entry_id = claimed.queue_entry_id
    with db.write() as s:
        record_outcome(session=s, queue_entry_id=entry_id, volunteer_id=volunteer_id,
                       outcome_code=code, idempotency_key=key or uuid.uuid4().hex, answers={},
                       notes="", started_at=now - timedelta(minutes=1), now=now,
                       duration_seconds=duration)


def test_every_saved_call_is_counted_once_in_its_quarter_hour_and_all_time(
    database: Database,
) -> None:
    (ann, bob), campaign_id, _ = _campaign_with_queue(database, 6)
    _call(database, campaign_id, ann, "no_answer", NOW)
    _call(database, campaign_id, ann, "completed", NOW + timedelta(minutes=2), duration=90)
    _call(database, campaign_id, bob, "refused", NOW + timedelta(minutes=10), duration=30)
    _call(database, campaign_id, bob, "completed", NOW + timedelta(minutes=11), duration=60)

    with database.session() as s:
        stored = rollups.stored(session=s, campaign_id=campaign_id)
        recomputed = rollups.from_attempts(session=s, campaign_id=campaign_id)
        quarter = rollups.bucket_of(NOW)  # 13:00 UTC; the last call starts at 13:17 - 1 min
    assert stored == recomputed
    per_volunteer, per_campaign = stored["callrollup"], stored["campaignrollup"]
    # Per volunteer: (campaign, bucket, volunteer, conversation, completion).
    assert per_volunteer[(campaign_id, ROLLUP_ALL_TIME, ann, True, True)] == (1, 90, 1)
    assert per_volunteer[(campaign_id, ROLLUP_ALL_TIME, ann, False, False)] == (1, 0, 0)
    # Bob's refusal started at 13:16: the 13:15 quarter hour, not 13:00's.
    assert per_volunteer[(campaign_id, quarter + 900, bob, True, False)] == (1, 30, 1)
    assert (campaign_id, quarter, bob, True, False) not in per_volunteer
    # Per campaign: (campaign, bucket, outcome, conversation, completion, outside window).
    assert per_campaign[(campaign_id, ROLLUP_ALL_TIME, "completed", True, True, False)] == (
        2, 150, 2)
    assert per_campaign[(campaign_id, quarter + 900, "refused", True, False, False)] == (
        1, 30, 1)
    for rows in (per_volunteer, per_campaign):
        assert sum(calls for (_, bucket, *_), (calls, _, _) in rows.items()
                   if bucket == ROLLUP_ALL_TIME) == 4


def test_a_save_repeated_with_its_key_or_rolled_back_counts_nothing_more(
    database: Database,
) -> None:
    (ann, bob), campaign_id, _ = _campaign_with_queue(database, 3)
    with database.write() as s:
        claimed = claim_next_contact(session=s, campaign_id=campaign_id, volunteer_id=ann,
                                     now=NOW)
        assert claimed is not None
    for _ in range(2):  # a double click: the same idempotency key twice
        with database.write() as s:
            record_outcome(session=s, queue_entry_id=claimed.queue_entry_id, volunteer_id=ann,
                           outcome_code="busy", idempotency_key="same-key", answers={},
                           notes="", started_at=NOW, now=NOW)
    # Bob never held this lease: his save raises and its transaction, rollup included, rolls
    # back.
    with pytest.raises(LeaseLost), database.write() as s:
        record_outcome(session=s, queue_entry_id=claimed.queue_entry_id, volunteer_id=bob,
                       outcome_code="busy", idempotency_key="bobs-key", answers={},
                       notes="", started_at=NOW, now=NOW)
    with database.session() as s:
        maintained = rollups.stored(session=s, campaign_id=campaign_id)
        assert maintained == rollups.from_attempts(session=s, campaign_id=campaign_id)
    assert maintained["callrollup"][(campaign_id, ROLLUP_ALL_TIME, ann, False, False)] == (
        1, 0, 0)
    assert maintained["campaignrollup"][
        (campaign_id, ROLLUP_ALL_TIME, "busy", False, False, False)] == (1, 0, 0)


def test_the_campaigns_rows_hold_every_volunteers_calls_saved_at_once_and_not_one_row_each(
    database: Database,
) -> None:
    """Eight volunteers save the same outcome in the same quarter hour at once: the campaign's
    rows count all eight (no save lost or deadlocked on the shared rows), and stay two (all
    time and the quarter hour) where the per-volunteer table has two each."""
    with database.write() as s:
        volunteers = [int(make_user(s).id) for _ in range(8)]
        campaign = make_campaign(s)
        queue_contacts(s, campaign, [make_contact(s) for _ in range(8)])
        campaign_id = int(campaign.id)
    claimed = {}
    for volunteer in volunteers:
        with database.write() as s:
            entry = claim_next_contact(session=s, campaign_id=campaign_id,
                                       volunteer_id=volunteer, now=NOW)
            assert entry is not None
            claimed[volunteer] = entry.queue_entry_id

    def save(volunteer: int) -> None:
        with database.write() as s:
            record_outcome(session=s, queue_entry_id=claimed[volunteer], volunteer_id=volunteer,
                           outcome_code="completed", idempotency_key=uuid.uuid4().hex,
                           answers={}, notes="", started_at=NOW, now=NOW, duration_seconds=60)

    at_once(save, volunteers)
    with database.session() as s:
        maintained = rollups.stored(session=s, campaign_id=campaign_id)
        assert maintained == rollups.from_attempts(session=s, campaign_id=campaign_id)
        day_start, day_end = stats.local_day_bounds(stats.local_today("Europe/London", NOW),
                                                    "Europe/London")
        busiest = max(stats.calls_by_quarter_hour(session=s, campaign_id=campaign_id,
                                                  day=stats.local_today("Europe/London", NOW)),
                      key=lambda period: period["dials"])
        outcomes = stats.outcome_breakdown(session=s, campaign_id=campaign_id,
                                           since=day_start, until=day_end)
    assert maintained["campaignrollup"] == {
        (campaign_id, ROLLUP_ALL_TIME, "completed", True, True, False): (8, 480, 8),
        (campaign_id, rollups.bucket_of(NOW), "completed", True, True, False): (8, 480, 8)}
    assert len(maintained["callrollup"]) == 16
    assert (busiest["dials"], busiest["conversations"]) == (8, 8)
    assert [(o["code"], o["count"]) for o in outcomes] == [("completed", 8)]


def test_rebuild_recomputes_what_saving_maintained_and_replaces_stale_rows(
    database: Database,
) -> None:
    (ann, _), campaign_id, _ = _campaign_with_queue(database, 3)
    _call(database, campaign_id, ann, "completed", NOW, duration=45)
    _call(database, campaign_id, ann, "voicemail", NOW + timedelta(hours=1))
    with database.session() as s:
        before = rollups.stored(session=s, campaign_id=campaign_id)
    with database.write() as s:
        # Drifted, e.g. a bulk load.
        s.execute(sa.update(CallRollup).values(calls=99))
        s.execute(sa.update(CampaignRollup).values(calls=0))
        assert rollups.rebuild(session=s, campaign_id=campaign_id) == sum(
            len(rows) for rows in before.values())
    with database.session() as s:
        assert rollups.stored(session=s, campaign_id=campaign_id) == before


def test_deleting_a_campaign_takes_its_rollups_with_it(database: Database) -> None:
    (ann, _), campaign_id, _ = _campaign_with_queue(database, 2)
    _call(database, campaign_id, ann, "refused", NOW)
    with database.write() as s:
        s.execute(sa.delete(Campaign).where(Campaign.id == campaign_id))  # type: ignore[arg-type]
    with database.session() as s:
        for table in (CallRollup, CampaignRollup):
            assert s.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0


def test_the_dashboard_reads_periods_that_start_on_a_quarter_hour_only(
    database: Database,
) -> None:
    (ann, _), campaign_id, _ = _campaign_with_queue(database, 2)
    _call(database, campaign_id, ann, "refused", NOW)
    with database.session() as s:
        whole_hour = NOW.replace(minute=0)
        assert stats.outcome_breakdown(session=s, campaign_id=campaign_id, since=whole_hour)
        with pytest.raises(ValueError, match="quarter hour"):
            stats.outcome_breakdown(session=s, campaign_id=campaign_id, since=NOW)


@pytest.mark.parametrize("moment, start", [
    (datetime(2026, 6, 10, 13, 0, tzinfo=UTC), datetime(2026, 6, 10, 13, 0, tzinfo=UTC)),
    (datetime(2026, 6, 10, 13, 14, 59, 999999, tzinfo=UTC),
     datetime(2026, 6, 10, 13, 0, tzinfo=UTC)),
    (datetime(2026, 6, 10, 13, 15, tzinfo=UTC), datetime(2026, 6, 10, 13, 15, tzinfo=UTC)),
    # 23:50 in Kolkata (UTC+5:30) is 18:20 UTC: quarter hours line up in every zone.
    (datetime(2026, 6, 10, 18, 20, tzinfo=UTC), datetime(2026, 6, 10, 18, 15, tzinfo=UTC)),
])
def test_bucket_of_floors_to_the_quarter_hour(moment: datetime, start: datetime) -> None:
    assert rollups.bucket_of(moment) == int(start.timestamp())


def test_survey_tallies_count_each_answer_and_each_person_once_and_follow_erasure(
    database: Database,
) -> None:
    from core.contacts import erase_contact
    from tests.factories import make_question

    with database.write() as s:
        ann, bob = make_user(s).id, make_user(s).id
        campaign = make_campaign(s)
        join = make_question(s, campaign, text="Join us?", position=0)
        issues = make_question(s, campaign, text="Issues?", kind="multi", position=1,
                               options=["NHS", "Housing", "Transport"])
        notes = make_question(s, campaign, text="Anything else?", kind="text", options=[],
                              position=2)
        contacts = [make_contact(s) for _ in range(3)]
        queue_contacts(s, campaign, contacts)
        campaign_id, contact_ids = int(campaign.id), [c.id for c in contacts]
        q_join, q_issues, q_notes = join.id, issues.id, notes.id

    def complete(volunteer: int, answers: dict[int, object]) -> int:
        with database.write() as s:
            claimed = claim_next_contact(session=s, campaign_id=campaign_id,
                                         volunteer_id=volunteer, now=NOW)
            assert claimed is not None
            record_outcome(session=s, queue_entry_id=claimed.queue_entry_id,
                           volunteer_id=volunteer, outcome_code="completed",
                           idempotency_key=uuid.uuid4().hex, answers=answers, notes="",
                           started_at=NOW, now=NOW)
            return claimed.contact_id

    first = complete(ann, {q_join: "Yes", q_issues: ["NHS", "Housing"], q_notes: "more buses"})
    complete(bob, {q_join: "No", q_issues: ["NHS"]})
    complete(ann, {q_join: "Yes", q_issues: ["Transport"], q_notes: "a private story"})

    with database.session() as s:
        tallies = rollups.stored_survey(session=s, campaign_id=campaign_id)
        assert tallies == rollups.survey_from_answers(session=s, campaign_id=campaign_id)
        results = {r["question_id"]: r for r in stats.survey_results(session=s,
                                                                     campaign_id=campaign_id)}
    assert tallies[q_join] == ({"Yes": 2, "No": 1}, 3)
    assert tallies[q_issues] == ({"NHS": 2, "Housing": 1, "Transport": 1}, 3)
    # Free text is counted, never listed, and its words are not kept in the tallies.
    assert tallies[q_notes] == ({"": 2}, 2)
    assert (results[q_notes]["answers"], results[q_notes]["total"]) == ([], 2)
    assert [(a["value"], a["count"]) for a in results[q_issues]["answers"]] == [
        ("NHS", 2), ("Housing", 1), ("Transport", 1)]

    with database.write() as s:
        erase_contact(session=s, contact_id=first, actor_id=ann)
    with database.session() as s:
        tallies = rollups.stored_survey(session=s, campaign_id=campaign_id)
        assert tallies == rollups.survey_from_answers(session=s, campaign_id=campaign_id)
    assert tallies[q_join] == ({"Yes": 1, "No": 1}, 2)
    assert tallies[q_issues] == ({"NHS": 1, "Transport": 1}, 2)
    assert contact_ids  # three queued, one erased


def test_a_volunteers_own_figures_read_from_the_rollups_equal_their_attempts(
    database: Database,
) -> None:
    from core import volunteer_stats
    from core.tally import volunteer_counts

    with database.write() as s:
        ann, bob = make_user(s).id, make_user(s).id
        first, second = make_campaign(s), make_campaign(s)
        queue_contacts(s, first, [make_contact(s) for _ in range(6)])
        queue_contacts(s, second, [make_contact(s) for _ in range(3)])
        first_id, second_id = int(first.id), int(second.id)
    # London is on BST: today began at 23:00 UTC on the 9th.
    yesterday_late = datetime(2026, 6, 9, 22, 50, tzinfo=UTC)  # 23:50 London, yesterday
    today_early = datetime(2026, 6, 9, 23, 10, tzinfo=UTC)  # 00:10 London, today

    def save(campaign_id: int, volunteer_id: int, code: str, started_at: datetime) -> None:
        with database.write() as s:
            claimed = claim_next_contact(session=s, campaign_id=campaign_id,
                                         volunteer_id=volunteer_id, now=NOW)
            assert claimed is not None
            record_outcome(session=s, queue_entry_id=claimed.queue_entry_id,
                           volunteer_id=volunteer_id, outcome_code=code,
                           idempotency_key=uuid.uuid4().hex, answers={}, notes="",
                           started_at=started_at, now=NOW)

    save(first_id, ann, "completed", NOW - timedelta(minutes=5))
    save(first_id, ann, "no_answer", yesterday_late)
    save(first_id, ann, "refused", today_early)
    save(second_id, ann, "completed", NOW - timedelta(days=3))
    save(second_id, ann, "voicemail", NOW - timedelta(minutes=1))
    save(first_id, bob, "completed", NOW - timedelta(minutes=2))  # not Ann's
    with database.write() as s:  # a campaign Ann called for, closed since, is still listed
        s.execute(sa.update(Campaign).where(Campaign.id == second_id)  # type: ignore[arg-type]
                  .values(status="closed"))

    with database.session() as s:
        mine = volunteer_stats.my_totals(session=s, volunteer_id=ann, now=NOW)
        day_start, _ = stats.local_day_bounds(stats.local_today("Europe/London", NOW),
                                              "Europe/London")
        from_attempts = {
            "today": volunteer_counts(session=s, volunteer_id=ann, since=day_start),
            "all_time": volunteer_counts(session=s, volunteer_id=ann, since=None)}
        campaigns = [c["id"] for c in volunteer_stats.my_campaigns(session=s, volunteer_id=ann)]
        bobs = [c["id"] for c in volunteer_stats.my_campaigns(session=s, volunteer_id=bob)]
    assert mine == {period: {"dials": c.dials, "conversations": c.conversations,
                             "completions": c.completions}
                    for period, c in from_attempts.items()}
    assert mine == {"today": {"dials": 3, "conversations": 2, "completions": 1},
                    "all_time": {"dials": 5, "conversations": 3, "completions": 2}}
    assert campaigns == [first_id, second_id]  # active first, then the closed one called for
    assert bobs == [first_id]
