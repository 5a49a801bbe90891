"""Demo data looks like a day of real calls: each call moved its contact as a real save would."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from core.demo import load_demo
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
