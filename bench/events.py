"""Events under load: the last places under contention, and the funnel over a big campaign.

    python -m bench.events contention [--db postgres] [--volunteers 50] [--places 20]
    python -m bench.events funnel [--attempts 1000000] [--signups 50000] [--db postgres]

contention: N threads (one per volunteer, each with its own connection) book the same event
for N different contacts at the same instant, through core.events.sign_up in a write
transaction, as the calling page's save does. Prints how many got a place, how many were told
"full" (and the message), and the places counter; exit status 1 unless exactly `places` won.

funnel: the dashboard's events funnel (core.event_funnel.campaign_funnel) over a campaign with
1,000,000 attempts (bench/dashboard.py's builder) and 50,000 sign-ups on 40 events, median of
--repeat runs, beside a baseline from the same run: `SELECT count(*) FROM callattempt WHERE
campaign_id = ?`. The target is 200 ms on SQLite. Load average printed alongside.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from bench._scratch import scratch_database, timed
from bench.dashboard import build
from core import events
from core.event_funnel import campaign_funnel, event_counts
from db.engine import Database
from db.migrate import upgrade
from db.models import CallAttempt, Campaign, Contact, Event, EventCampaign, EventSignup

BUDGET_MS = 200.0


def log(message: str) -> None:
    print(message, flush=True)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def contention(database: Database, *, volunteers: int, places: int) -> int:
    upgrade(database.engine)
    now = datetime.now(UTC)
    with database.write() as s:
        campaign = Campaign(name="Contention", status="active")
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        event_id = events.create_event(session=s, actor_id=None, draft=events.EventDraft(
            title="Saturday canvass", day=date.today() + timedelta(days=7),
            start=datetime.min.time().replace(hour=10), end=datetime.min.time().replace(hour=13),
            place="Library", capacity=places, campaign_ids=(campaign.id,)))
        s.execute(sa.insert(Contact), [
            {"phone": f"+447400{300000 + n:06d}", "first_name": f"P{n}", "created_at": now,
             "updated_at": now} for n in range(volunteers)])
        contact_ids = list(s.execute(sa.select(Contact.id).order_by(Contact.id)).scalars())
    barrier = threading.Barrier(volunteers)
    won: list[int] = []
    full: list[str] = []
    errors: list[str] = []
    waits: list[float] = []

    def volunteer(contact_id: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            database.retrying(lambda s: events.sign_up(
                session=s, event_ids=[event_id], contact_id=contact_id,
                campaign_id=campaign.id, volunteer_id=None, now=datetime.now(UTC)))
            won.append(contact_id)
        except events.EventFull as exc:
            full.append(str(exc))
        except Exception as exc:  # reported, and fails the run
            errors.append(f"{type(exc).__name__}: {exc}")
        waits.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=volunteer, args=(c,)) for c in contact_ids]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = (time.perf_counter() - started) * 1000
    with database.session() as s:
        taken = s.execute(sa.select(Event.places_taken).where(Event.id == event_id)).scalar_one()
        rows = s.execute(sa.select(sa.func.count()).select_from(EventSignup)
                         .where(EventSignup.event_id == event_id)).scalar_one()
    waits.sort()
    log(f"{volunteers} volunteers, {places} places: {len(won)} booked, {len(full)} told full, "
        f"{len(errors)} errors; places_taken={taken}, sign-up rows={rows}; all done in "
        f"{elapsed:.0f} ms (median booking {waits[len(waits) // 2]:.1f} ms, slowest "
        f"{waits[-1]:.1f} ms); load {load()}")
    if full:
        log(f"  the 'full' message: {full[0]}")
    for error in errors[:3]:
        log(f"  error: {error}")
    ok = len(won) == places and taken == places and rows == places and not errors
    log("  OK: exactly the places there were" if ok else "  FAILED")
    return 0 if ok else 1


def add_signups(database: Database, *, campaign_id: int, signups: int, seed: int = 17) -> None:
    """40 events (half past), and `signups` bookings of the campaign's called contacts."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with database.write() as s:
        event_ids = []
        for n in range(40):
            starts = now + timedelta(days=n - 20, hours=1)
            event = Event(title=f"Event {n}", starts_at=starts, ends_at=starts + timedelta(hours=3),
                          place="Hall", capacity=None, ics_token=f"bench{n:04d}")
            s.add(event)
            s.flush()
            assert event.id is not None
            event_ids.append(event.id)
            s.add(EventCampaign(event_id=event.id, campaign_id=campaign_id))
        contacts = list(s.execute(
            sa.select(CallAttempt.contact_id).where(CallAttempt.campaign_id == campaign_id,
                                                    CallAttempt.is_conversation.is_(True))
            .distinct().limit(signups)).scalars())
    rows = []
    seen: set[tuple[int, int]] = set()
    while len(rows) < signups:
        contact_id, event_id = rng.choice(contacts), rng.choice(event_ids)
        if (event_id, contact_id) in seen:
            continue
        seen.add((event_id, contact_id))
        past = event_ids.index(event_id) < 20
        rows.append({
            "event_id": event_id, "contact_id": contact_id, "campaign_id": campaign_id,
            "status": "booked" if rng.random() > 0.1 else "declined", "walk_in": False,
            "name": "", "phone": "", "confirmed_via": "",
            "confirmed_at": now if rng.random() < 0.8 else None,
            "attended_at": now if past and rng.random() < 0.6 else None, "created_at": now,
        })
    with database.write() as s:
        for start in range(0, len(rows), 10_000):
            s.execute(sa.insert(EventSignup), rows[start:start + 10_000])
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("ANALYZE")


def funnel(database: Database, *, attempts: int, contacts: int, signups: int,
           repeat: int) -> int:
    ids = build(database, attempts=attempts, contacts=contacts, volunteers=200)
    add_signups(database, campaign_id=ids["big"], signups=signups)

    def baseline() -> None:
        with database.session() as s:
            s.execute(sa.select(sa.func.count()).select_from(CallAttempt)
                      .where(CallAttempt.campaign_id == ids["big"])).scalar_one()

    def run_funnel() -> None:
        with database.session() as s:
            campaign_funnel(session=s, campaign_id=ids["big"])

    def run_events() -> None:
        with database.session() as s:
            event_counts(session=s)

    with database.session() as s:
        log(f"  funnel: {campaign_funnel(session=s, campaign_id=ids['big'])}")
    results = {name: timed(fn, repeat) for name, fn in (
        ("count(*) baseline", baseline), ("campaign funnel", run_funnel),
        ("per-event counts (40 events)", run_events))}
    log(f"{attempts:,} attempts, {signups:,} sign-ups; load {load()}")
    for name, (low, median, high, cpu) in results.items():
        log(f"  {name:32s} median {median:7.1f} ms (min {low:.1f}, max {high:.1f}; "
            f"CPU {cpu:.1f} ms)")
    return 0 if results["campaign funnel"][1] <= BUDGET_MS else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["contention", "funnel"])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", default=None, help="PostgreSQL admin URL (scratch DB beside it)")
    parser.add_argument("--volunteers", type=int, default=50)
    parser.add_argument("--places", type=int, default=20)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=550_000)
    parser.add_argument("--signups", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with scratch_database(args.db, args.url) as database:
        if args.what == "contention":
            status = contention(database, volunteers=args.volunteers, places=args.places)
        else:
            status = funnel(database, attempts=args.attempts, contacts=args.contacts,
                            signups=args.signups, repeat=args.repeat)
    sys.exit(status)


if __name__ == "__main__":
    main()
