"""Progress per ward stays true through every writer of queue entries, on both backends.

The dashboard reads it from queue entries alone (their copy of the contact's area and their
progress bits), so each test changes the data the way the app does and then reads the figures.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from core import stats
from core.contacts import update_contact
from core.importing import run_import, undo_batch
from core.queue import claim_next_contact, record_outcome
from core.targeting import Segment, attach_segment
from db.engine import Database
from tests.factories import make_campaign, make_contact, make_user, phone_number, queue_contacts

# A Wednesday at 14:00 London time: inside the default calling window.
NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
PEOPLE = {  # first name: (constituency, ward)
    "Ann": ("Bedford", "Castle"),
    "Bob": ("Bedford", "Castle"),
    "Cat": ("Stroud", "Nailsworth"),
    "Dan": ("Stroud", "Nailsworth"),
    "Eve": ("Stroud", "Nailsworth"),
}


def attached_campaign(database: Database) -> tuple[int, int, dict[str, int]]:
    """(campaign id, volunteer id, contact ids by first name), everyone attached."""
    with database.write() as session:
        volunteer = make_user(session)
        campaign = make_campaign(session)
        people = {
            name: make_contact(session, first_name=name, constituency=seat, ward=ward,
                               phone=phone_number(23460 + n)).id
            for n, (name, (seat, ward)) in enumerate(PEOPLE.items())
        }
        assert attach_segment(session=session, segment=Segment(), campaign_id=campaign.id) == 5
        return campaign.id, volunteer.id, people


def progress(database: Database, campaign_id: int | None) -> list[tuple]:
    with database.session() as session:
        wards = stats.progress_by_ward(session=session, campaign_id=campaign_id)
    return [(w["constituency"], w["ward"], w["contacts"], w["called"], w["reached"],
             w["completed"], w["remaining"]) for w in wards]


def call(database: Database, campaign_id: int, volunteer_id: int, outcomes: dict[int, str],
         now: datetime, callback_at: datetime | None = None) -> None:
    """Claim the next contact and record the outcome planned for them."""
    with database.write() as session:
        claimed = claim_next_contact(session=session, campaign_id=campaign_id,
                                     volunteer_id=volunteer_id, now=now)
        assert claimed is not None
        record_outcome(session=session, queue_entry_id=claimed.queue_entry_id,
                       volunteer_id=volunteer_id, outcome_code=outcomes[claimed.contact_id],
                       idempotency_key=uuid.uuid4().hex, answers={}, notes="",
                       started_at=now - timedelta(minutes=2), now=now,
                       callback_at=callback_at)


def test_progress_per_ward_after_attaching_counts_everyone_as_not_yet_called(
    database: Database,
) -> None:
    campaign_id, _, _ = attached_campaign(database)
    assert progress(database, campaign_id) == [
        ("Bedford", "Castle", 2, 0, 0, 0, 2),
        ("Stroud", "Nailsworth", 3, 0, 0, 0, 3),
    ]


def test_progress_per_ward_follows_each_recorded_outcome(database: Database) -> None:
    campaign_id, volunteer_id, people = attached_campaign(database)
    first_day = {people["Ann"]: "call_back", people["Bob"]: "no_answer",
                 people["Cat"]: "completed"}
    tomorrow = NOON + timedelta(days=1)
    for _ in first_day:  # claimed in id order: Ann, Bob, Cat
        call(database, campaign_id, volunteer_id, first_day, NOON, callback_at=tomorrow)
    assert progress(database, campaign_id) == [
        # Ann reached (call back tomorrow), Bob called (retry later): both still to call
        ("Bedford", "Castle", 2, 2, 1, 0, 2),
        # Cat reached and completed; Dan and Eve not called yet
        ("Stroud", "Nailsworth", 3, 1, 1, 1, 2),
    ]
    # At the call back Ann does not answer: she stays among those reached.
    call(database, campaign_id, volunteer_id, {people["Ann"]: "no_answer"}, tomorrow)
    assert progress(database, campaign_id)[0] == ("Bedford", "Castle", 2, 2, 1, 0, 2)
    # Bob's and Ann's retries: both complete, each counted once however often called.
    for _ in range(2):
        call(database, campaign_id, volunteer_id,
             {people["Ann"]: "completed", people["Bob"]: "completed"}, tomorrow + timedelta(days=1))
    assert progress(database, campaign_id)[0] == ("Bedford", "Castle", 2, 2, 2, 2, 0)


def test_editing_a_contacts_ward_moves_their_progress_to_the_new_ward(
    database: Database,
) -> None:
    campaign_id, volunteer_id, people = attached_campaign(database)
    call(database, campaign_id, volunteer_id, {people["Ann"]: "completed"}, NOON)
    with database.write() as session:
        update_contact(session=session, contact_id=people["Ann"],
                       changes={"constituency": "Stroud", "ward": "Dursley"})
    assert progress(database, campaign_id) == [
        ("Bedford", "Castle", 1, 0, 0, 0, 1),
        ("Stroud", "Dursley", 1, 1, 1, 1, 0),
        ("Stroud", "Nailsworth", 3, 0, 0, 0, 3),
    ]


def test_an_import_that_changes_a_ward_moves_the_contact_and_its_undo_moves_them_back(
    database: Database,
) -> None:
    campaign_id, volunteer_id, people = attached_campaign(database)
    call(database, campaign_id, volunteer_id, {people["Ann"]: "refused"}, NOON)
    before = progress(database, campaign_id)
    # Ann is +447400123460; Zed is new, and in no queue.
    data = ("First,Phone,Constituency,Ward\nAnn,07400 123460,Stroud,Dursley\n"
            "Zed,07400 123470,Stroud,Dursley\n")
    result = run_import(database=database, stream=io.BytesIO(data.encode()),
                        filename="members.csv", policy="overwrite")
    assert (result.inserted, result.updated) == (1, 1)
    assert progress(database, campaign_id) == [
        ("Bedford", "Castle", 1, 0, 0, 0, 1),
        ("Stroud", "Dursley", 1, 1, 1, 0, 0),
        ("Stroud", "Nailsworth", 3, 0, 0, 0, 3),
    ]
    with database.write() as session:
        undo_batch(session=session, batch_id=result.batch_id)
    assert progress(database, campaign_id) == before


def test_across_campaigns_each_campaigns_figures_add_up(database: Database) -> None:
    """As in the headline: someone reached in two campaigns is two of the contacts reached."""
    with database.write() as session:
        volunteer_id = make_user(session).id
        first, second = make_campaign(session), make_campaign(session)
        ann = make_contact(session, constituency="Bedford", ward="Castle")
        queue_contacts(session, first, [ann])
        queue_contacts(session, second, [ann])
        campaign_ids = (first.id, second.id)
    for campaign_id in campaign_ids:
        call(database, campaign_id, volunteer_id, {ann.id: "refused"}, NOON)
    assert progress(database, None) == [("Bedford", "Castle", 2, 2, 2, 0, 0)]


def progress_plan(database: Database, campaign_id: int | None,
                  query: Callable[..., object] = stats.progress_by_ward) -> str:
    """EXPLAIN a one-statement dashboard query (progress per ward unless told) exactly as sent."""
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session() as session:
            if not database.is_sqlite:
                # Tiny test tables make a scan and a hash cheapest; take those away so the plan
                # shows whether the index alone can serve the WHERE and the GROUP BY order.
                for setting in ("enable_seqscan", "enable_sort", "enable_hashagg"):
                    session.execute(sa.text(f"SET LOCAL {setting} = off"))
            query(session=session, campaign_id=campaign_id)
            [(statement, parameters)] = captured
            cursor = session.connection().connection.cursor()
            prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", capture)
    return "\n".join(str(row[-1] if database.is_sqlite else row[0]).strip() for row in rows)


def assert_an_ordered_walk_of(database: Database, plan: str, index: str) -> None:
    """The plan reads only this index (covering), in its order: no sort, no hash."""
    if database.is_sqlite:
        assert f"USING COVERING INDEX {index}" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert f"Index Only Scan using {index}" in plan, plan
        assert "Sort" not in plan and "HashAggregate" not in plan, plan


def test_progress_per_ward_is_one_ordered_walk_of_its_covering_index(
    database: Database,
) -> None:
    """Issue #6: joining contacts and attempts cost a second at 550,000 contacts."""
    campaign_id, _, _ = attached_campaign(database)
    for one_or_all in (campaign_id, None):
        plan = progress_plan(database, one_or_all)
        assert_an_ordered_walk_of(database, plan, "ix_queue_area_progress")
        assert "contact" not in plan.replace("contact_id", ""), plan
        assert "callattempt" not in plan, plan


def test_the_headlines_queue_figures_are_one_ordered_walk_of_a_covering_index(
    database: Database,
) -> None:
    """Issue #19: the headline scanned the campaign's queue twice (statuses, then progress bits);
    at 550,000 entries that was most of its cost. Now one covering GROUP BY in index order."""
    campaign_id, _, _ = attached_campaign(database)
    for one_or_all in (campaign_id, None):
        plan = progress_plan(database, one_or_all, stats.queue_tally)
        assert_an_ordered_walk_of(database, plan, "ix_queue_status_progress")


def test_the_queue_tally_counts_statuses_and_progress_as_separate_counts_would(
    database: Database,
) -> None:
    campaign_id, volunteer, people = attached_campaign(database)
    outcomes = {people["Ann"]: "call_back", people["Bob"]: "no_answer",
                people["Cat"]: "completed"}
    for _ in outcomes:  # claimed in id order: Ann, Bob, Cat
        call(database, campaign_id, volunteer, outcomes, NOON, callback_at=NOON + timedelta(days=1))
    with database.write() as session:  # Dan is on the line: a lease
        assert claim_next_contact(session=session, campaign_id=campaign_id,
                                  volunteer_id=volunteer, now=NOON) is not None
    for one_or_all in (campaign_id, None):
        with database.session() as session:
            tally = stats.queue_tally(session=session, campaign_id=one_or_all)
            rows = session.execute(sa.text(
                "SELECT status, progress FROM queueentry"
                + ("" if one_or_all is None else " WHERE campaign_id = :c")),
                {"c": one_or_all}).all()
        statuses: dict[str, int] = {}
        for status, _ in rows:
            statuses[status] = statuses.get(status, 0) + 1
        assert tally.statuses == statuses
        assert tally.reached == sum(1 for _, p in rows if p & stats.PROGRESS_REACHED)
        assert tally.completed == sum(1 for _, p in rows if p & stats.PROGRESS_COMPLETED)
        assert len(tally.statuses) >= 4 and (tally.reached, tally.completed) == (2, 1)
