"""Time every dashboard query over a big campaign: 1,000,000 attempts, 550,000 contacts.

    python -m bench.dashboard                      # SQLite file in a temporary directory
    python -m bench.dashboard --attempts 50000     # quick run while developing
    python -m bench.dashboard --attempts 1000000 5000000   # does the cost grow with the day?
    python -m bench.dashboard --db postgres [--url postgresql+psycopg://postgres@127.0.0.1/test]

PostgreSQL runs in a scratch database created beside the given URL's and dropped afterwards.
Each query runs uncached (the cache would hide it) --repeat times; the median and the slowest
are printed in milliseconds beside a baseline measured in the same run: a bare
`SELECT count(*) FROM callattempt WHERE campaign_id = ?` over the big campaign.
The budget is 200 ms per query on SQLite. On a shared machine, read the SQLite CPU column (the
query's own cost) beside wall time, and the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import rollups, stats, volunteer_stats
from core.outcomes import DEFAULT_OUTCOMES
from core.stats_cache import TTLCache
from db.engine import Database, make_engine
from db.migrate import upgrade
from db.models import (
    CallAttempt,
    Campaign,
    Contact,
    Outcome,
    QueueEntry,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
    progress_bits,
)

BUDGET_MS = 200.0
CHUNK = 20_000
SEATS = ["Crewe and Nantwich", "Bedford", "Hastings and Rye", "Stroud", "Carlisle",
         "High Peak", "Ipswich", "Wycombe", "Warrington South", "Milton Keynes North"]
WARDS_PER_SEAT = 8
OUTCOME_WEIGHTS = {"no_answer": 38, "voicemail": 14, "busy": 4, "completed": 18, "refused": 10,
                   "call_back": 6, "wrong_number": 4, "do_not_call": 2, "moved_deceased": 4}
FLAGS = {o.code: (o.is_conversation, o.is_completion) for o in DEFAULT_OUTCOMES}


def log(message: str) -> None:
    print(message, flush=True)


@contextmanager
def scratch_database(kind: str, url: str | None, path: str | None = None) -> Iterator[Database]:
    if kind == "sqlite" and path:  # kept between runs, for EXPLAIN and index work
        database = Database(make_engine(f"sqlite:///{Path(path).resolve()}"))
        try:
            yield database
        finally:
            database.dispose()
        return
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            database = Database(make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"))
            try:
                yield database
            finally:
                database.dispose()
        return
    admin_url = url or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    # --path names a PostgreSQL database kept between runs; otherwise a scratch one is dropped.
    name = path or f"ringround_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}).first()
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database(make_engine(
        sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)))
    try:
        yield database
    finally:
        database.dispose()
        if not path:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def build(database: Database, *, attempts: int, contacts: int, volunteers: int,
          seed: int = 6) -> dict[str, Any]:
    """Fill the database with Core executemany, in chunks; returns the ids the queries need."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    upgrade(database.engine)
    with database.write() as s:
        s.execute(sa.insert(User), [
            {"username": f"vol{i}", "name": f"Volunteer {i}", "email": f"vol{i}@example.org",
             "password_hash": "x", "role": "volunteer", "created_at": now}
            for i in range(volunteers)])
        volunteer_ids = list(s.execute(sa.select(User.id)).scalars())
        big = Campaign(name="Big campaign", status="active")
        small = Campaign(name="Small campaign", status="active")
        s.add_all([big, small])
        s.flush()
        for campaign in (big, small):
            s.add_all([Outcome(campaign_id=campaign.id, position=i, code=o.code, label=o.label,
                               behaviour=o.behaviour, is_conversation=o.is_conversation,
                               is_completion=o.is_completion)
                       for i, o in enumerate(DEFAULT_OUTCOMES)])
        q1 = SurveyQuestion(campaign_id=big.id, text="Will you join Saturday's action?",
                            kind="yes_no", options=["Yes", "No"], position=0)
        q2 = SurveyQuestion(campaign_id=big.id, text="Which issues matter most?", kind="multi",
                            options=["NHS", "Housing", "Transport", "Cost of living"], position=1)
        s.add_all([q1, q2])
        s.flush()
        big.recruit_rule = {"question_id": q1.id, "value": "Yes"}
        s.add(big)
        ids = {"big": big.id, "small": small.id, "q1": q1.id, "q2": q2.id,
               "volunteer": volunteer_ids[0]}

    big_share = 0.9
    for start in range(0, contacts, CHUNK):
        rows = []
        for n in range(start, min(start + CHUNK, contacts)):
            seat = SEATS[n % len(SEATS)]
            rows.append({
                "phone": f"+4474{n:08d}", "phone_type": "mobile", "other_phones": [],
                "first_name": f"First{n}", "last_name": f"Last{n}", "email": "",
                "postcode": "", "constituency": seat,
                "ward": f"{seat} ward {rng.randrange(WARDS_PER_SEAT)}",
                "membership_number": "", "tags": "", "tps": rng.random() < 0.06,
                "consenting_member": False, "bad_number": False, "custom": {},
                "created_at": now, "updated_at": now,
            })
        with database.write() as s:
            s.execute(sa.insert(Contact), rows)
    log(f"  contacts: {contacts:,} ({time.perf_counter() - started:.0f} s)")

    with database.write() as s:
        areas = {cid: (seat, ward) for cid, seat, ward in s.execute(
            sa.select(Contact.id, Contact.constituency, Contact.ward).order_by(Contact.id))}
    contact_ids = list(areas)
    split = int(len(contact_ids) * big_share)
    campaign_of = {}
    statuses = ["done"] * 40 + ["retry"] * 20 + ["fresh"] * 35 + ["excluded"] * 5
    for start in range(0, len(contact_ids), CHUNK):
        rows = []
        for cid in contact_ids[start:start + CHUNK]:
            campaign_id = ids["big"] if cid <= contact_ids[split - 1] else ids["small"]
            campaign_of[cid] = campaign_id
            rows.append({"campaign_id": campaign_id, "contact_id": cid,
                         "status": rng.choice(statuses), "priority": 0, "attempts": 0,
                         "constituency": areas[cid][0], "ward": areas[cid][1],
                         "created_at": now})
        with database.write() as s:
            s.execute(sa.insert(QueueEntry), rows)
    with database.write() as s:  # volunteers calling right now: 120 live leases, 30 lapsed
        for n, cid in enumerate(contact_ids[:150]):
            s.execute(sa.update(QueueEntry).where(QueueEntry.contact_id == cid).values(
                status="leased", claimed_by_id=volunteer_ids[n % len(volunteer_ids)],
                due_at=now + timedelta(minutes=10 if n < 120 else -5)))
    log(f"  queue: {len(contact_ids):,} ({time.perf_counter() - started:.0f} s)")

    codes, weights = zip(*OUTCOME_WEIGHTS.items(), strict=True)
    day_start, _ = stats.local_day_bounds(stats.local_today("Europe/London", now), "Europe/London")
    today_span = max((now - day_start).total_seconds(), 60)
    answers_total = 0
    made = 0
    calls: dict[int, list[int]] = {}  # contact id: [attempts, progress bits], as recorded
    while made < attempts:
        rows, answer_plan = [], []
        for _ in range(min(CHUNK, attempts - made)):
            made += 1
            cid = rng.choice(contact_ids)
            code = rng.choices(codes, weights)[0]
            conversation, completion = FLAGS[code]
            tally = calls.setdefault(cid, [0, 0])
            tally[0] += 1
            tally[1] |= progress_bits(is_conversation=conversation, is_completion=completion)
            # A tenth of all calls happen today: the campaign day the organisers are watching.
            if rng.random() < 0.1:
                at = day_start + timedelta(seconds=rng.uniform(0, today_span))
            else:
                at = now - timedelta(days=rng.uniform(1, 30))
            key = uuid.UUID(int=rng.getrandbits(128)).hex
            rows.append({
                "idempotency_key": key, "campaign_id": campaign_of[cid], "contact_id": cid,
                "volunteer_id": rng.choice(volunteer_ids), "outcome_code": code,
                "is_conversation": conversation, "is_completion": completion, "notes": "",
                "started_at": at, "ended_at": at,
                "duration_seconds": rng.randint(90, 420) if conversation else rng.randint(5, 40),
                "provider": "tel", "outside_window": rng.random() < 0.001, "created_at": at,
            })
            if completion and campaign_of[cid] == ids["big"]:
                answer_plan.append((key, cid))
        with database.write() as s:
            s.execute(sa.insert(CallAttempt), rows)
            if answer_plan:
                keys = [k for k, _ in answer_plan]
                attempt_ids = dict(s.execute(
                    sa.select(CallAttempt.idempotency_key, CallAttempt.id)
                    .where(CallAttempt.idempotency_key.in_(keys))).all())
                answers = []
                for key, cid in answer_plan:
                    base = {"attempt_id": attempt_ids[key], "campaign_id": ids["big"],
                            "contact_id": cid}
                    answers.append({**base, "question_id": ids["q1"],
                                    "value": rng.choice(["Yes", "Yes", "No"])})
                    for option in rng.sample(["NHS", "Housing", "Transport", "Cost of living"],
                                             rng.randint(1, 2)):
                        answers.append({**base, "question_id": ids["q2"], "value": option})
                s.execute(sa.insert(SurveyAnswer), answers)
                answers_total += len(answers)
        if made % 200_000 < CHUNK:
            log(f"  attempts: {made:,} ({time.perf_counter() - started:.0f} s)")
    # Each contact's queue entry as record_outcome would have left it after those calls.
    called = list(calls.items())
    queue = QueueEntry.__table__  # type: ignore[attr-defined]
    for start in range(0, len(called), CHUNK):
        with database.write() as s:
            s.execute(
                sa.update(queue).where(queue.c.contact_id == sa.bindparam("b_cid"))
                .values(attempts=sa.bindparam("b_n"), progress=sa.bindparam("b_bits")),
                [{"b_cid": cid, "b_n": n, "b_bits": bits}
                 for cid, (n, bits) in called[start:start + CHUNK]])
    with database.write() as s:
        s.execute(sa.insert(Suppression), [
            {"phone": f"+4475{n:08d}", "reason": "", "source": rng.choice(
                ["outcome", "organiser", "import", "sms_stop"]),
             "created_at": now - timedelta(days=rng.uniform(0, 30))}
            for n in range(5000)])
    with database.write() as s:
        # The attempts went in in bulk, so their dashboard rollups are counted in bulk too
        # (record_outcome keeps them as each call is saved).
        rollup_rows = rollups.rebuild(session=s)
        rollup_rows += rollups.rebuild_survey(session=s, campaign_ids=[ids["big"], ids["small"]])
    log(f"  rollups: {rollup_rows:,} rows ({time.perf_counter() - started:.0f} s)")
    if not database.is_sqlite:
        # What autovacuum does within minutes of a bulk load: statistics for the planner, and
        # the visibility map that lets PostgreSQL answer from an index alone.
        with database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    log(f"  built: {attempts:,} attempts, {len(contact_ids):,} contacts, {answers_total:,} "
        f"survey answers in {time.perf_counter() - started:.0f} s")
    return ids


def existing(database: Database) -> dict[str, Any] | None:
    """The ids of a database built by an earlier run with --path, or None."""
    upgrade(database.engine)
    with database.session() as s:
        campaigns = dict(s.execute(sa.select(Campaign.name, Campaign.id)).all())
        if "Big campaign" not in campaigns:
            return None
        questions = s.execute(sa.select(SurveyQuestion.id).order_by(SurveyQuestion.position)
                              .where(SurveyQuestion.campaign_id == campaigns["Big campaign"])
                              ).scalars().all()
        volunteer = s.execute(sa.select(sa.func.min(User.id))).scalar_one()
    return {"big": campaigns["Big campaign"], "small": campaigns["Small campaign"],
            "q1": questions[0], "q2": questions[1], "volunteer": volunteer}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, float]:
    """(min, median, max) wall-clock ms, and the median CPU ms of this process.

    On SQLite the query runs inside this process, so its CPU time is what the query costs
    whatever else the machine is doing; wall time on a shared machine includes waiting.
    """
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return min(times), statistics.median(times), max(times), statistics.median(cpu)


def queries(ids: dict[str, Any]) -> list[tuple[str, Callable[..., Any]]]:
    now = datetime.now(UTC)
    today = stats.local_today("Europe/London", now)
    since, _ = stats.local_day_bounds(today, "Europe/London")
    big = ids["big"]
    result: list[tuple[str, Callable[..., Any]]] = []
    for label, cid in (("big campaign", big), ("all campaigns", None)):
        result += [
            (f"headline ({label})", lambda s, c=cid: stats.headline(session=s, campaign_id=c)),
            (f"calls per 15 min today ({label})",
             lambda s, c=cid: stats.calls_by_quarter_hour(session=s, campaign_id=c, day=today)),
            (f"outcomes, all time ({label})",
             lambda s, c=cid: stats.outcome_breakdown(session=s, campaign_id=c)),
            (f"outcomes, today ({label})",
             lambda s, c=cid: stats.outcome_breakdown(session=s, campaign_id=c, since=since)),
            (f"progress per ward ({label})",
             lambda s, c=cid: stats.progress_by_ward(session=s, campaign_id=c)),
            (f"leaderboard, all time ({label})",
             lambda s, c=cid: stats.leaderboard(session=s, campaign_id=c)),
            (f"leaderboard, today ({label})",
             lambda s, c=cid: stats.leaderboard(session=s, campaign_id=c, since=since)),
            (f"recruits, newest 500 ({label})",
             lambda s, c=cid: stats.recruits(session=s, campaign_id=c, limit=500)),
            (f"compliance, all time ({label})",
             lambda s, c=cid: stats.compliance(session=s, campaign_id=c)),
            (f"compliance, today ({label})",
             lambda s, c=cid: stats.compliance(session=s, campaign_id=c, since=since)),
        ]
    result += [
        ("survey results (big campaign)",
         lambda s: stats.survey_results(session=s, campaign_id=big)),
        ("a volunteer's own stats",
         lambda s: volunteer_stats.my_totals(session=s, volunteer_id=ids["volunteer"])),
    ]
    return result


def run(database: Database, ids: dict[str, Any],
        repeat: int) -> list[tuple[str, float, float, float, float]]:
    rows = []
    with database.session() as session:
        baseline = timed(lambda: session.execute(
            sa.text("SELECT count(*) FROM callattempt WHERE campaign_id = :c"),
            {"c": ids["big"]}).scalar_one(), repeat)
        rows.append(("baseline: SELECT count(*) ... WHERE campaign_id=?", *baseline))
        for name, query in queries(ids):
            query(session)  # warm the page cache, as a dashboard left open all afternoon does
            rows.append((name, *timed(lambda q=query: q(session), repeat)))
    return rows


def single_flight(database: Database, ids: dict[str, Any]) -> int:
    """Twenty organisers open the dashboard at once: how many headline queries run?"""
    cache = TTLCache()
    barrier = threading.Barrier(20)

    def viewer() -> None:
        barrier.wait()
        stats.cached("headline", database=database, ttl=3, cache=cache, campaign_id=ids["big"])

    threads = [threading.Thread(target=viewer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return cache.computations


BASELINE_RATIO = 4.0  # each query's median within 4x the bare count(*) at the first size
GROWTH_RATIO = 1.5  # and within 1.5x of its own first-size figure at every larger size


def measure(args: argparse.Namespace, attempts: int,
            contacts: int) -> tuple[list[tuple[str, float, float, float, float]], int]:
    log(f"building on {args.db}: {attempts:,} attempts, {contacts:,} contacts, "
        f"{args.volunteers} volunteers")
    with scratch_database(args.db, args.url, args.path) as database:
        ids = existing(database) if args.path else None
        if ids is None:
            ids = build(database, attempts=attempts, contacts=contacts,
                        volunteers=args.volunteers)
        else:
            upgrade(database.engine)
            log("  reusing the database already built there")
        load_before = os.getloadavg()[0]
        rows = run(database, ids, args.repeat)
        computations = single_flight(database, ids)
    log(f"  load average while timing: {load_before:.1f} -> {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores")
    return rows, computations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, nargs="+", default=[1_000_000],
                        help="one or more sizes, e.g. 1000000 5000000: each is built and timed "
                             "in its own database, then compared")
    parser.add_argument("--contacts", type=int, default=None,
                        help="default: 55%% of the first --attempts (550,000 for a million), "
                             "the same at every size: a busier day, not a bigger membership")
    parser.add_argument("--volunteers", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", default=None, help="PostgreSQL admin URL (scratch DB beside it)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--path", default=None,
                        help="keep the database (SQLite: a file path; PostgreSQL: a database "
                             "name) and reuse it if already built; one size only")
    args = parser.parse_args()
    if args.path and len(args.attempts) > 1:
        parser.error("--path keeps one database: give one --attempts size")
    contacts = args.contacts or int(args.attempts[0] * 0.55)
    cpu_title = "  CPU ms" if args.db == "sqlite" else ""  # PostgreSQL works in its server
    results: list[tuple[int, list[tuple[str, float, float, float, float]], int]] = []
    for n in args.attempts:
        results.append((n, *measure(args, n, contacts)))
        size, rows, computations = results[-1]
        first_size, first_rows, _ = results[0]
        baseline = first_rows[0][2]
        width = max(len(row[0]) for row in first_rows)
        log(f"\n{size:,} attempts, {contacts:,} contacts ({args.db}; medians of {args.repeat})")
        log(f"{'query'.ljust(width)}    min ms  median ms    max ms{cpu_title}    ratio")
        own_first = {name: median for name, _, median, _, _ in first_rows}
        for name, best, median, worst, cpu in rows:
            cpu_text = f" {cpu:7.1f}" if args.db == "sqlite" else ""
            if name.startswith("baseline"):
                ratio = ""
            elif size == first_size:
                ratio = f"  {median / baseline:5.2f}x baseline"
            else:
                ratio = f"  {median / own_first[name]:5.2f}x its {first_size:,} figure"
            log(f"{name.ljust(width)} {best:9.1f} {median:10.1f} {worst:9.1f}{cpu_text}{ratio}")
        log(f"20 organisers opening the dashboard at once ran the headline query "
            f"{computations} time(s)")

    log("\nverdict")
    slow = [name for name, _, median, _, _ in first_rows[1:] if median > BASELINE_RATIO * baseline]
    log(f"  at {first_size:,}: " + (f"{len(slow)} queries over {BASELINE_RATIO:.0f}x the "
        f"baseline count(*) ({baseline:.1f} ms): {', '.join(slow)}" if slow else
        f"every query within {BASELINE_RATIO:.0f}x the baseline count(*) ({baseline:.1f} ms)"))
    for size, rows, _ in results[1:]:
        own_first = {name: median for name, _, median, _, _ in first_rows}
        grown = [name for name, _, median, _, _ in rows[1:]
                 if median > GROWTH_RATIO * own_first[name]]
        log(f"  at {size:,}: " + (f"{len(grown)} queries grew over {GROWTH_RATIO}x their "
            f"{first_size:,} figure: {', '.join(grown)}" if grown else
            f"every query within {GROWTH_RATIO}x of its {first_size:,} figure"))
    if args.db == "sqlite":
        over = [f"{name} at {size:,}" for size, rows, _ in results
                for name, _, median, _, _ in rows[1:] if median > BUDGET_MS]
        log(f"  {len(over)} medians over the {BUDGET_MS:.0f} ms sanity line: {', '.join(over)}"
            if over else f"  every median within the {BUDGET_MS:.0f} ms sanity line")


if __name__ == "__main__":
    main()
