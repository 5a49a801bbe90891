"""The call queue on both databases: claim order, leases, callbacks, idempotent saves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.queue import (
    CallbackTimeNeeded,
    CallingClosed,
    CampaignNotActive,
    LeaseLost,
    NotAllowedToCall,
    UnknownOutcome,
    claim_next_contact,
    queue_summary,
    record_outcome,
    release,
    release_lapsed_leases,
    renew_lease,
    reveal_number,
    stop,
)
from core.suppression import add_suppression
from core.survey import AnswerError
from db.engine import Database
from db.models import (
    AuditEvent,
    CallAttempt,
    CampaignMember,
    Contact,
    QueueEntry,
    Suppression,
    SurveyAnswer,
)
from tests.factories import make_campaign, make_contact, make_question, make_user, queue_contacts

# A Wednesday at 14:00 London time (13:00 UTC in summer): inside the default window.
NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)


def key() -> str:
    return uuid.uuid4().hex


def setup_queue(db: Database, n: int = 3, **campaign_fields):
    with db.write() as s:
        volunteer = make_user(s)
        other = make_user(s)
        campaign = make_campaign(s, **campaign_fields)
        contacts = [make_contact(s) for _ in range(n)]
        entries = queue_contacts(s, campaign, contacts)
        return volunteer, other, campaign.id, [c.id for c in contacts], [e.id for e in entries]


def claim(db: Database, campaign_id: int, volunteer_id: int, now=NOON, **kwargs):
    with db.write() as s:
        return claim_next_contact(session=s, campaign_id=campaign_id, volunteer_id=volunteer_id,
                                  now=now, **kwargs)


def save(db: Database, entry_id: int, volunteer_id: int, code: str, now=NOON, **kwargs):
    kwargs.setdefault("idempotency_key", key())
    kwargs.setdefault("answers", {})
    kwargs.setdefault("notes", "")
    with db.write() as s:
        return record_outcome(session=s, queue_entry_id=entry_id, volunteer_id=volunteer_id,
                              outcome_code=code, started_at=now - timedelta(minutes=2), now=now,
                              **kwargs)


def entry(db: Database, entry_id: int) -> QueueEntry:
    with db.session() as s:
        row = s.get(QueueEntry, entry_id)
        assert row is not None
        return row


def test_fresh_contacts_are_handed_out_by_priority_then_queue_order(database) -> None:
    volunteer, _, campaign_id, contact_ids, entry_ids = setup_queue(database, n=3)
    with database.write() as s:
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[2]).values(priority=5))
    first = claim(database, campaign_id, volunteer.id)
    assert first is not None and first.queue_entry_id == entry_ids[2]
    assert first.tier == "fresh"
    assert first.lease_expires_at == NOON + timedelta(minutes=10)
    row = entry(database, entry_ids[2])
    assert (row.status, row.claimed_by_id, row.leased_from) == ("leased", volunteer.id, "fresh")


def test_a_reload_gives_back_the_contact_already_held_instead_of_a_new_one(database) -> None:
    volunteer, _, campaign_id, _, entry_ids = setup_queue(database, n=3)
    first = claim(database, campaign_id, volunteer.id)
    again = claim(database, campaign_id, volunteer.id, now=NOON + timedelta(minutes=1))
    assert first is not None and again is not None
    assert again.queue_entry_id == first.queue_entry_id
    assert again.tier == "held"
    assert again.lease_expires_at == NOON + timedelta(minutes=11)
    with database.session() as s:
        leased = s.exec(select(QueueEntry).where(QueueEntry.status == "leased")).all()
    assert len(leased) == 1


def test_two_volunteers_never_get_the_same_contact(database) -> None:
    volunteer, other, campaign_id, _, _ = setup_queue(database, n=2)
    a = claim(database, campaign_id, volunteer.id)
    b = claim(database, campaign_id, other.id)
    assert a is not None and b is not None
    assert a.contact_id != b.contact_id
    with database.write() as s:
        third = make_user(s)
    assert claim(database, campaign_id, third.id) is None


def test_the_contact_card_carries_only_script_fields_and_no_phone(database) -> None:
    with database.write() as s:
        volunteer = make_user(s)
        campaign = make_campaign(s, script="Hi {first_name|friend}, about {union_branch}.")
        contact = make_contact(s, first_name="Asha", email="asha@example.org",
                               postcode="CW1 2AB", custom={"union_branch": "Crewe",
                                                           "secret": "x"})
        queue_contacts(s, campaign, [contact])
        campaign_id = campaign.id
    claimed = claim(database, campaign_id, volunteer.id)
    assert claimed is not None
    assert claimed.fields == {"first_name": "Asha", "union_branch": "Crewe"}
    assert "phone" not in vars(claimed)
    assert "+44" not in repr(claimed)


def test_due_callbacks_of_my_own_come_first_then_due_retries_then_fresh(database) -> None:
    volunteer, other, campaign_id, _, entry_ids = setup_queue(database, n=4)
    with database.write() as s:
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[1]).values(
            status="retry", due_at=NOON - timedelta(hours=1), attempts=1))
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[2]).values(
            status="callback", due_at=NOON - timedelta(minutes=5), callback_owner_id=volunteer.id,
            release_at=NOON + timedelta(minutes=55), attempts=1))
        # A retry not due yet waits.
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[3]).values(
            status="retry", due_at=NOON + timedelta(hours=1), attempts=1))
    order = []
    for _ in range(4):
        claimed = claim(database, campaign_id, volunteer.id)
        if claimed is None:
            break
        order.append((claimed.queue_entry_id, claimed.tier))
        save(database, claimed.queue_entry_id, volunteer.id, "refused")
    assert order == [(entry_ids[2], "callback"), (entry_ids[1], "retry"),
                     (entry_ids[0], "fresh")]


def test_a_callback_stays_with_its_owner_until_its_grace_passes(database) -> None:
    volunteer, other, campaign_id, _, entry_ids = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id)
    assert claimed is not None
    callback_at = NOON + timedelta(hours=2)
    result = save(database, claimed.queue_entry_id, volunteer.id, "call_back",
                  callback_at=callback_at)
    assert result.queue_status == "callback"
    row = entry(database, entry_ids[0])
    assert (row.due_at, row.release_at, row.callback_owner_id) == (
        callback_at, callback_at + timedelta(minutes=60), volunteer.id)
    # Due but within grace: the owner gets it, nobody else does.
    assert claim(database, campaign_id, other.id, now=callback_at + timedelta(minutes=5)) is None
    # Before it is due, not even the owner.
    early = callback_at - timedelta(minutes=1)
    assert claim(database, campaign_id, volunteer.id, now=early) is None
    # After the grace, anyone may take it.
    late = callback_at + timedelta(minutes=61)
    taken = claim(database, campaign_id, other.id, now=late)
    assert taken is not None and taken.tier == "released_callback"
    assert taken.callback_at == callback_at


def test_the_owner_gets_their_due_callback_inside_the_grace(database) -> None:
    volunteer, other, campaign_id, _, _ = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id)
    callback_at = NOON + timedelta(hours=2)
    save(database, claimed.queue_entry_id, volunteer.id, "call_back", callback_at=callback_at)
    mine = claim(database, campaign_id, volunteer.id, now=callback_at + timedelta(minutes=5))
    assert mine is not None and mine.tier == "callback"
    assert [h.outcome_code for h in mine.history] == ["call_back"]


def test_a_lapsed_lease_goes_back_to_the_queue_and_renewal_keeps_it(database) -> None:
    volunteer, other, campaign_id, _, entry_ids = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id)
    assert claimed is not None
    # Renewed at 9 minutes: still held at 15.
    with database.write() as s:
        expiry = renew_lease(session=s, queue_entry_id=claimed.queue_entry_id,
                             volunteer_id=volunteer.id, now=NOON + timedelta(minutes=9))
    assert expiry == NOON + timedelta(minutes=19)
    assert claim(database, campaign_id, other.id, now=NOON + timedelta(minutes=15)) is None
    # Not renewed again: at 20 minutes the other volunteer takes it.
    taken = claim(database, campaign_id, other.id, now=NOON + timedelta(minutes=20))
    assert taken is not None and taken.queue_entry_id == claimed.queue_entry_id
    assert entry(database, entry_ids[0]).leased_from == "fresh"
    with database.write() as s, pytest.raises(LeaseLost):
        renew_lease(session=s, queue_entry_id=claimed.queue_entry_id, volunteer_id=volunteer.id,
                    now=NOON + timedelta(minutes=21))
    with pytest.raises(LeaseLost):
        save(database, claimed.queue_entry_id, volunteer.id, "refused",
             now=NOON + timedelta(minutes=21))


def test_the_lapsed_lease_sweep_restores_each_row_to_its_earlier_status(database) -> None:
    volunteer, other, campaign_id, _, entry_ids = setup_queue(database, n=2)
    with database.write() as s:
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[1]).values(
            status="retry", due_at=NOON - timedelta(hours=1), attempts=1))
    claim(database, campaign_id, volunteer.id)
    claim(database, campaign_id, volunteer.id, exclude_entry_ids=[entry_ids[1]])
    with database.write() as s:
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[1]).values(
            status="leased", claimed_by_id=other.id, due_at=NOON))
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[0]).values(
            status="leased", claimed_by_id=volunteer.id, due_at=NOON))
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[0])
                  .values(leased_from="fresh"))
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[1])
                  .values(leased_from="retry"))
        count = release_lapsed_leases(session=s, now=NOON + timedelta(minutes=1))
    assert count == 2
    assert entry(database, entry_ids[0]).status == "fresh"
    assert entry(database, entry_ids[1]).status == "retry"
    assert entry(database, entry_ids[1]).attempts == 1


def test_skip_returns_the_contact_unharmed_and_moves_on(database) -> None:
    volunteer, _, campaign_id, _, entry_ids = setup_queue(database, n=2)
    with database.write() as s:
        s.execute(sa.update(QueueEntry).where(QueueEntry.id == entry_ids[0]).values(
            status="retry", due_at=NOON - timedelta(hours=1), attempts=2))
    first = claim(database, campaign_id, volunteer.id)
    assert first is not None and first.queue_entry_id == entry_ids[0]
    with database.write() as s:
        assert release(session=s, queue_entry_id=first.queue_entry_id,
                       volunteer_id=volunteer.id, now=NOON)
    row = entry(database, entry_ids[0])
    assert (row.status, row.attempts, row.claimed_by_id, row.leased_from) == (
        "retry", 2, None, None)
    assert row.due_at is not None and row.due_at <= NOON
    second = claim(database, campaign_id, volunteer.id, exclude_entry_ids=[entry_ids[0]])
    assert second is not None and second.queue_entry_id == entry_ids[1]


def test_stop_releases_the_lease(database) -> None:
    volunteer, other, campaign_id, _, entry_ids = setup_queue(database, n=1)
    claim(database, campaign_id, volunteer.id)
    with database.write() as s:
        assert stop(session=s, campaign_id=campaign_id, volunteer_id=volunteer.id, now=NOON) == 1
    assert entry(database, entry_ids[0]).status == "fresh"
    assert claim(database, campaign_id, other.id) is not None


def test_saving_writes_attempt_answers_and_contact_in_one_go(database) -> None:
    volunteer, _, campaign_id, contact_ids, entry_ids = setup_queue(database, n=1)
    with database.write() as s:
        from db.models import Campaign
        campaign = s.get(Campaign, campaign_id)
        q1 = make_question(s, campaign, required=True)
        q2 = make_question(s, campaign, kind="multi", text="Issues?",
                           options=["Pay", "Safety", "Hours"])
        q1_id, q2_id = q1.id, q2.id
    claimed = claim(database, campaign_id, volunteer.id)
    result = save(database, claimed.queue_entry_id, volunteer.id, "completed",
                  answers={q1_id: "Yes", q2_id: ["Pay", "Hours"]}, notes="keen",
                  provider="twilio", provider_call_id="CA123", provider_status="completed",
                  duration_seconds=95)
    assert (result.queue_status, result.is_conversation, result.is_completion) == (
        "done", True, True)
    with database.session() as s:
        attempt = s.exec(select(CallAttempt)).one()
        answers = s.exec(select(SurveyAnswer).order_by(SurveyAnswer.id)).all()
        contact = s.get(Contact, contact_ids[0])
    assert (attempt.outcome_code, attempt.notes, attempt.provider, attempt.provider_call_id,
            attempt.duration_seconds, attempt.outside_window) == (
        "completed", "keen", "twilio", "CA123", 95, False)
    assert [(a.question_id, a.value) for a in answers] == [
        (q1_id, "Yes"), (q2_id, "Pay"), (q2_id, "Hours")]
    assert contact.last_contacted_at == NOON
    assert entry(database, entry_ids[0]).attempts == 1


def test_a_completion_without_its_required_answer_is_refused_and_nothing_saved(database) -> None:
    volunteer, _, campaign_id, _, entry_ids = setup_queue(database, n=1)
    with database.write() as s:
        from db.models import Campaign
        question = make_question(s, s.get(Campaign, campaign_id), required=True)
    claimed = claim(database, campaign_id, volunteer.id)
    with pytest.raises(AnswerError) as error:
        save(database, claimed.queue_entry_id, volunteer.id, "completed", answers={})
    assert question.id in error.value.problems
    with pytest.raises(UnknownOutcome):
        save(database, claimed.queue_entry_id, volunteer.id, "no_such_outcome")
    with pytest.raises(CallbackTimeNeeded):
        save(database, claimed.queue_entry_id, volunteer.id, "call_back")
    with database.session() as s:
        assert s.exec(select(CallAttempt)).all() == []
    assert entry(database, entry_ids[0]).status == "leased"


def test_saving_twice_with_one_key_records_once(database) -> None:
    volunteer, _, campaign_id, _, entry_ids = setup_queue(database, n=2)
    claimed = claim(database, campaign_id, volunteer.id)
    the_key = key()
    first = save(database, claimed.queue_entry_id, volunteer.id, "no_answer",
                 idempotency_key=the_key)
    second = save(database, claimed.queue_entry_id, volunteer.id, "no_answer",
                  idempotency_key=the_key, now=NOON + timedelta(seconds=1))
    assert not first.duplicate and second.duplicate
    assert second.attempt_id == first.attempt_id
    assert second.queue_status == "retry"
    with database.session() as s:
        assert len(s.exec(select(CallAttempt)).all()) == 1
    assert entry(database, claimed.queue_entry_id).attempts == 1


def statements_of(db: Database, work) -> list[str]:
    """The first word of each statement `work()` sends (SAVEPOINT and RELEASE included)."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if not statement.upper().startswith("BEGIN"):  # SQLite's; psycopg's is implicit
            sent.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return sent


def test_a_claim_and_a_save_take_one_round_trip_each_before_they_write(database) -> None:
    """Each statement is a round trip on PostgreSQL, and a save is a cycle of two transactions
    (bench/claim.py): the claim is its UPDATE (after the per-volunteer lock on PostgreSQL, and
    no savepoint), and the save reads what it needs in one SELECT before writing."""
    volunteer, _, campaign_id, _, _ = setup_queue(database, n=2)
    # The first claim reads the campaign's rules, which later claims take from memory.
    first = claim(database, campaign_id, volunteer.id)
    save(database, first.queue_entry_id, volunteer.id, "refused")
    claimed = []
    sent = statements_of(database, lambda: claimed.append(claim(database, campaign_id,
                                                                volunteer.id)))
    assert sent == (["UPDATE"] if database.is_sqlite else ["SELECT", "UPDATE"])
    sent = statements_of(database, lambda: save(database, claimed[0].queue_entry_id,
                                                volunteer.id, "refused"))
    assert "SAVEPOINT" not in sent
    assert sent[0] == "SELECT" and sent.count("SELECT") == 1
    assert sent[1:3] == ["INSERT", "INSERT"]  # the attempt, then its rollup


def test_retries_stop_at_the_campaigns_max_attempts(database) -> None:
    volunteer, _, campaign_id, _, entry_ids = setup_queue(database, n=1, max_attempts=2)
    now = NOON
    statuses = []
    for _ in range(2):
        claimed = claim(database, campaign_id, volunteer.id, now=now)
        assert claimed is not None
        statuses.append(save(database, claimed.queue_entry_id, volunteer.id, "no_answer",
                             now=now).queue_status)
        now += timedelta(hours=4)
    assert statuses == ["retry", "done"]
    row = entry(database, entry_ids[0])
    assert row.attempts == 2 and row.status == "done"
    assert claim(database, campaign_id, volunteer.id, now=NOON + timedelta(days=1)) is None


def test_a_retry_waits_its_hours(database) -> None:
    volunteer, _, campaign_id, _, _ = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id)
    result = save(database, claimed.queue_entry_id, volunteer.id, "no_answer")
    assert result.next_due_at == NOON + timedelta(hours=4)
    assert claim(database, campaign_id, volunteer.id, now=NOON + timedelta(hours=3)) is None
    again = claim(database, campaign_id, volunteer.id, now=NOON + timedelta(hours=4))
    assert again is not None and again.tier == "retry"


def test_do_not_call_reaches_every_campaign_at_once(database) -> None:
    with database.write() as s:
        volunteer = make_user(s)
        first, second, third = make_campaign(s), make_campaign(s), make_campaign(s)
        person, bystander = make_contact(s), make_contact(s)
        for campaign in (first, second, third):
            queue_contacts(s, campaign, [person])
        queue_contacts(s, second, [bystander])
        ids = first.id, second.id, third.id
        phone = person.phone
    claimed = claim(database, ids[0], volunteer.id)
    result = save(database, claimed.queue_entry_id, volunteer.id, "do_not_call")
    assert result.queue_status == "done"
    with database.session() as s:
        source = s.exec(select(Suppression.source).where(Suppression.phone == phone)).one()
        assert source == "outcome"
        statuses = dict(s.exec(select(QueueEntry.campaign_id, QueueEntry.status)
                               .where(QueueEntry.contact_id == claimed.contact_id)).all())
    assert statuses == {ids[0]: "done", ids[1]: "excluded", ids[2]: "excluded"}
    assert claim(database, ids[2], volunteer.id) is None
    other = claim(database, ids[1], volunteer.id)
    assert other is not None and other.contact_id != claimed.contact_id


def test_a_wrong_number_is_marked_bad_and_leaves_every_queue(database) -> None:
    with database.write() as s:
        volunteer = make_user(s)
        first, second = make_campaign(s), make_campaign(s)
        person = make_contact(s)
        queue_contacts(s, first, [person])
        queue_contacts(s, second, [person])
        ids = first.id, second.id
    claimed = claim(database, ids[0], volunteer.id)
    save(database, claimed.queue_entry_id, volunteer.id, "wrong_number")
    with database.session() as s:
        assert s.get(Contact, claimed.contact_id).bad_number is True
    assert claim(database, ids[1], volunteer.id) is None


def test_a_number_suppressed_after_queueing_is_never_handed_out(database) -> None:
    volunteer, _, campaign_id, contact_ids, entry_ids = setup_queue(database, n=2)
    with database.write() as s:
        phone = s.get(Contact, contact_ids[0]).phone
        # Straight into the table, as a concurrent import might, bypassing the queue sweep.
        s.add(Suppression(phone=phone, source="organiser"))
        s.execute(sa.update(Contact).where(Contact.id == contact_ids[1]).values(bad_number=True))
    assert claim(database, campaign_id, volunteer.id) is None
    assert {entry(database, i).status for i in entry_ids} == {"excluded"}


def test_suppressing_a_leased_contact_makes_its_save_lose_the_lease(database) -> None:
    volunteer, _, campaign_id, contact_ids, _ = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id)
    with database.write() as s:
        add_suppression(session=s, phone=s.get(Contact, contact_ids[0]).phone)
    with pytest.raises(LeaseLost):
        save(database, claimed.queue_entry_id, volunteer.id, "refused")


def test_no_contact_is_handed_out_outside_calling_hours(database) -> None:
    volunteer, _, campaign_id, _, entry_ids = setup_queue(database, n=1)
    late = datetime(2026, 6, 10, 20, 30, tzinfo=UTC)  # 21:30 in London
    with pytest.raises(CallingClosed) as closed:
        claim(database, campaign_id, volunteer.id, now=late)
    assert closed.value.reopens_at == datetime(2026, 6, 11, 8, 0, tzinfo=UTC)
    assert entry(database, entry_ids[0]).status == "fresh"


def test_a_save_after_hours_is_kept_and_flagged(database) -> None:
    volunteer, _, campaign_id, _, _ = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id,
                    now=datetime(2026, 6, 10, 19, 55, tzinfo=UTC))
    result = save(database, claimed.queue_entry_id, volunteer.id, "refused",
                  now=datetime(2026, 6, 10, 20, 5, tzinfo=UTC))
    assert result.outside_window is True


def test_paused_and_members_only_campaigns_refuse_claims(database) -> None:
    volunteer, _, campaign_id, _, _ = setup_queue(database, n=1, status="paused")
    with pytest.raises(CampaignNotActive):
        claim(database, campaign_id, volunteer.id)
    volunteer, _, campaign_id, _, _ = setup_queue(database, n=1, open_to_all=False)
    with pytest.raises(NotAllowedToCall):
        claim(database, campaign_id, volunteer.id)
    with database.write() as s:
        s.add(CampaignMember(campaign_id=campaign_id, user_id=volunteer.id))
    assert claim(database, campaign_id, volunteer.id) is not None


def test_revealing_the_number_is_audited_without_the_number(database) -> None:
    volunteer, other, campaign_id, contact_ids, _ = setup_queue(database, n=1)
    claimed = claim(database, campaign_id, volunteer.id)
    with database.write() as s:
        number = reveal_number(session=s, queue_entry_id=claimed.queue_entry_id,
                               volunteer_id=volunteer.id, now=NOON)
        phone = s.get(Contact, contact_ids[0]).phone
    assert number.tel_uri == f"tel:{phone}"
    assert number.display.startswith("07400")
    with database.session() as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "number_revealed")).one()
    assert (event.actor_id, event.target) == (volunteer.id, f"contact:{claimed.contact_id}")
    assert phone not in repr(event.details) and phone[-9:] not in repr(event.details)
    with database.write() as s, pytest.raises(LeaseLost):
        reveal_number(session=s, queue_entry_id=claimed.queue_entry_id, volunteer_id=other.id,
                      now=NOON)


def test_queue_summary_counts_by_status(database) -> None:
    volunteer, _, campaign_id, _, _ = setup_queue(database, n=3)
    claimed = claim(database, campaign_id, volunteer.id)
    save(database, claimed.queue_entry_id, volunteer.id, "no_answer")
    claim(database, campaign_id, volunteer.id)
    with database.session() as s:
        summary = queue_summary(session=s, campaign_id=campaign_id)
    assert (summary.fresh, summary.retry, summary.leased, summary.waiting) == (1, 1, 1, 3)
    assert summary.next_due_at == NOON + timedelta(hours=4)


def test_campaign_changes_apply_to_the_very_next_claim(database) -> None:
    from core.campaigns import change_status, set_calling_window

    volunteer, _, campaign_id, _, _ = setup_queue(database, n=3)
    first = claim(database, campaign_id, volunteer.id)  # caches the campaign's rules
    with database.write() as s:
        release(session=s, queue_entry_id=first.queue_entry_id, volunteer_id=volunteer.id,
                now=NOON)
        change_status(session=s, campaign_id=campaign_id, action="pause")
    with pytest.raises(CampaignNotActive):
        claim(database, campaign_id, volunteer.id)
    with database.write() as s:
        change_status(session=s, campaign_id=campaign_id, action="resume")
    assert claim(database, campaign_id, volunteer.id) is not None
    with database.write() as s:
        set_calling_window(session=s, campaign_id=campaign_id, window={"2": ["15:00", "16:00"]})
    with pytest.raises(CallingClosed):
        claim(database, campaign_id, volunteer.id)
    # Even a change that bypasses core.campaigns (no updated_at bump) stops claims.
    with database.write() as s:
        set_calling_window(session=s, campaign_id=campaign_id,
                           window={str(d): ["00:00", "24:00"] for d in range(7)})
    assert claim(database, campaign_id, volunteer.id, exclude_entry_ids=[]) is not None
    with database.write() as s:
        s.execute(sa.text("UPDATE campaign SET status = 'closed' WHERE id = :c"),
                  {"c": campaign_id})
    with pytest.raises(CampaignNotActive):
        claim(database, campaign_id, volunteer.id)


def test_the_revealed_number_carries_the_words_the_import_read_beside_it(database) -> None:
    volunteer, _, campaign_id, contact_ids, _ = setup_queue(database, n=1)
    with database.write() as s:
        contact = s.get(Contact, contact_ids[0])
        contact.phone_notes = {contact.phone: "after 6pm", "+441270212345": "work"}
    claimed = claim(database, campaign_id, volunteer.id)
    with database.write() as s:
        number = reveal_number(session=s, queue_entry_id=claimed.queue_entry_id,
                               volunteer_id=volunteer.id, now=NOON)
    assert number.note == "after 6pm"  # the dialled number's note, not another number's
