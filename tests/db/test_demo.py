"""Demo data looks like a day of real calls: each call moved its contact as a real save would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.demo import demo_calling_span, load_demo
from core.outcomes import EntryState, QueueStatus, transition
from db.engine import Database
from db.models import CallAttempt, Campaign, Contact, Outcome, QueueEntry, Suppression


def test_each_demo_call_left_its_queue_entry_where_a_real_save_would(database: Database) -> None:
    with database.write() as session:
        load_demo(session=session, contacts=120)
    with database.session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.status == "active")).one()
        outcomes = {o.code: o for o in session.exec(
            select(Outcome).where(Outcome.campaign_id == campaign.id))}
        suppressed = set(session.exec(select(Suppression.phone)))
        rows = session.exec(
            select(QueueEntry, CallAttempt, Contact)
            .join(CallAttempt, CallAttempt.queue_entry_id == QueueEntry.id)  # type: ignore[arg-type]
            .join(Contact, Contact.id == QueueEntry.contact_id)  # type: ignore[arg-type]
            .where(QueueEntry.campaign_id == campaign.id)
        ).all()
    assert rows
    behaviours_seen = set()
    for entry, attempt, contact in rows:
        outcome = outcomes[attempt.outcome_code]
        behaviours_seen.add(outcome.behaviour)
        expected = transition(
            outcome,
            EntryState(attempts=0, max_attempts=campaign.max_attempts,
                       callback_grace_minutes=campaign.callback_grace_minutes),
            attempt.started_at,
            entry.due_at if entry.status == QueueStatus.CALLBACK else None,
        )
        assert (entry.status, entry.attempts, entry.due_at, entry.release_at) == (
            expected.status, expected.attempts, expected.due_at, expected.release_at
        ), attempt.outcome_code
        assert entry.progress == expected.progress
        assert contact.bad_number is expected.bad_number
        assert (contact.phone in suppressed) is expected.suppress
        if expected.owns_callback:
            assert entry.callback_owner_id == attempt.volunteer_id
            assert entry.release_at == entry.due_at + timedelta(
                minutes=campaign.callback_grace_minutes)
    # 120 contacts give a few dozen calls: enough that the retries, callbacks and finals show.
    assert {"final", "retry", "callback"} <= behaviours_seen


LONDON_DAY = {str(d): ["09:00", "21:00"] for d in range(7)}


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Winter, 14:30 in London: from 09:00 today to five minutes ago.
        (_utc(2026, 12, 5, 14, 30), (_utc(2026, 12, 5, 9, 0), _utc(2026, 12, 5, 14, 25))),
        # After closing: today's whole window, never past 21:00.
        (_utc(2026, 12, 5, 22, 40), (_utc(2026, 12, 5, 9, 0), _utc(2026, 12, 5, 20, 59))),
        # Before opening: still today, the last two hours (calls outside hours, and shown so).
        (_utc(2026, 12, 5, 7, 0), (_utc(2026, 12, 5, 5, 0), _utc(2026, 12, 5, 6, 55))),
        # Summer: 09:00 London is 08:00 UTC.
        (_utc(2026, 7, 4, 12, 0), (_utc(2026, 7, 4, 8, 0), _utc(2026, 7, 4, 11, 55))),
    ],
)
def test_demo_calls_happen_today_inside_todays_window_when_it_can(now, expected) -> None:
    assert demo_calling_span(LONDON_DAY, now) == expected


def test_demo_data_is_dated_today_and_its_campaign_comes_first(database: Database) -> None:
    from core.campaigns import list_campaigns

    now = _utc(2026, 12, 5, 14, 30)
    with database.write() as session:
        load_demo(session=session, contacts=120, now=now)
    with database.session() as session:
        starts = [a.started_at.replace(tzinfo=UTC) if a.started_at.tzinfo is None
                  else a.started_at for a in session.exec(select(CallAttempt))]
        outside = [a for a in session.exec(select(CallAttempt)) if a.outside_window]
        first = list_campaigns(session=session)[0]
    assert starts and all(_utc(2026, 12, 5, 9, 0) <= s <= now for s in starts)
    assert outside == []
    assert (first.name, first.status) == ("NHS campaign day – Saturday", "active")


def test_the_demo_has_upcoming_events_a_sign_up_question_and_a_day_of_sign_ups_and_check_ins(
    database: Database,
) -> None:
    from core.event_funnel import campaign_funnel
    from core.events import list_events
    from core.survey import list_questions

    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    with database.write() as session:
        made = load_demo(session=session, contacts=400, now=now)
    with database.session() as session:
        upcoming = list_events(session=session, now=now)
        campaign_id = upcoming[0].campaign_ids[0]
        kinds = [q.kind for q in list_questions(session=session, campaign_id=campaign_id)]
        funnel = campaign_funnel(session=session, campaign_id=campaign_id, now=now)
    assert {e.constituency for e in upcoming} >= {"Crewe and Nantwich", "Hastings and Rye",
                                                  "Bedford"}
    assert "event_signup" in kinds
    assert made["signups"] == funnel.signed_up > 10
    assert (funnel.attended, funnel.no_show) == (7, 3)
    assert 0 < funnel.confirmed <= funnel.signed_up and funnel.yes <= funnel.reached
