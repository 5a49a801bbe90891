"""Many volunteers at once, in threads and in separate processes: nobody gets a contact twice.

Run as a module (`python -m tests.db.test_queue_concurrency URL CAMPAIGN VOLUNTEER...`) it is the
worker the two-process test starts: it claims and saves until the queue is empty and prints
the queue entry ids it got, as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from core.config import PROJECT_ROOT
from core.queue import claim_next_contact, record_outcome
from db.engine import Database, make_engine
from db.models import CallAttempt, QueueEntry
from tests.factories import make_campaign, make_contact, make_user, queue_contacts
from tests.racing import at_once, times

NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)


def call_until_empty(db: Database, campaign_id: int, volunteer_id: int) -> list[int]:
    """One volunteer's evening: claim, save, repeat until nobody is left."""
    got: list[int] = []
    while True:
        with db.write() as session:
            claimed = claim_next_contact(session=session, campaign_id=campaign_id,
                                         volunteer_id=volunteer_id, now=NOON)
        if claimed is None:
            return got
        got.append(claimed.queue_entry_id)
        with db.write() as session:
            record_outcome(session=session, queue_entry_id=claimed.queue_entry_id,
                           volunteer_id=volunteer_id, outcome_code="refused",
                           idempotency_key=uuid.uuid4().hex, answers={}, notes="",
                           started_at=NOON - timedelta(minutes=1), now=NOON)


def fill(db: Database, contacts: int, volunteers: int) -> tuple[int, list[int]]:
    with db.write() as session:
        campaign = make_campaign(session)
        queue_contacts(session, campaign, [make_contact(session) for _ in range(contacts)])
        people = [make_user(session).id for _ in range(volunteers)]
        assert campaign.id is not None
        return campaign.id, people


def assert_each_contact_called_once(db: Database, claimed: list[int], contacts: int) -> None:
    repeats = [entry for entry, times in Counter(claimed).items() if times > 1]
    assert repeats == []
    assert len(claimed) == contacts
    with db.session() as session:
        attempts = session.exec(select(CallAttempt.queue_entry_id)).all()
        statuses = set(session.exec(select(QueueEntry.status)).all())
    assert sorted(attempts) == sorted(claimed)
    assert statuses == {"done"}


def test_thirty_two_volunteers_in_threads_never_share_a_contact(database) -> None:
    contacts = 320
    campaign_id, volunteers = fill(database, contacts, 32)
    results = at_once(lambda v: call_until_empty(database, campaign_id, v), volunteers)
    claimed = [entry for got in results for entry in got]
    assert_each_contact_called_once(database, claimed, contacts)
    assert sum(1 for got in results if got) > 1  # the work really was shared


def test_two_app_processes_never_share_a_contact(database, database_url: str) -> None:
    contacts = 200
    campaign_id, volunteers = fill(database, contacts, 8)
    halves = [volunteers[:4], volunteers[4:]]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.db.test_queue_concurrency", database_url,
             str(campaign_id), *map(str, half)],
            cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for half in halves
    ]
    for worker in workers:  # wait until both are ready, then let them go at once
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    claimed: list[int] = []
    per_process: list[list[int]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
        got = json.loads(out.strip().splitlines()[-1])
        per_process.append(got)
        claimed.extend(got)
    assert_each_contact_called_once(database, claimed, contacts)
    assert all(per_process), "both processes should have claimed contacts"


def test_the_same_save_sent_twice_at_once_records_once(database) -> None:
    campaign_id, (volunteer_id,) = fill(database, 1, 1)
    with database.write() as session:
        claimed = claim_next_contact(session=session, campaign_id=campaign_id,
                                     volunteer_id=volunteer_id, now=NOON)
    assert claimed is not None
    the_key = uuid.uuid4().hex

    def save(_: int) -> int:
        with database.write() as session:
            return record_outcome(
                session=session, queue_entry_id=claimed.queue_entry_id,
                volunteer_id=volunteer_id, outcome_code="refused", idempotency_key=the_key,
                answers={}, notes="", started_at=NOON - timedelta(minutes=1),
                now=NOON).attempt_id

    results = at_once(save, times(4))
    assert len(results) == 4 and len(set(results)) == 1
    with database.session() as session:
        assert len(session.exec(select(CallAttempt)).all()) == 1
        entry = session.get(QueueEntry, claimed.queue_entry_id)
        assert entry is not None and entry.attempts == 1


def _worker(url: str, campaign_id: int, volunteers: list[int]) -> None:
    db = Database(make_engine(url))
    # Both processes start claiming together: on a quick machine one process could otherwise
    # empty the queue before the other has even imported its modules.
    print("ready", flush=True)
    sys.stdin.readline()
    got = [entry for mine in at_once(lambda v: call_until_empty(db, campaign_id, v), volunteers)
           for entry in mine]
    db.dispose()
    print(json.dumps(got))


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), [int(v) for v in sys.argv[3:]])


def test_one_volunteer_claiming_fifteen_times_at_once_holds_one_lease(database) -> None:
    """Fifteen tabs (or a script) claiming in parallel: one lease, handed to every claim."""
    campaign_id, [volunteer_id] = fill(database, 40, 1)

    def claim(_: int) -> int:
        with database.write() as session:
            claimed = claim_next_contact(session=session, campaign_id=campaign_id,
                                         volunteer_id=volunteer_id, now=NOON)
        assert claimed is not None
        return claimed.queue_entry_id

    got = at_once(claim, times(15))
    with database.session() as session:
        leased = session.exec(select(QueueEntry.id).where(QueueEntry.status == "leased")).all()
    assert len(leased) == 1
    assert set(got) == set(leased)
