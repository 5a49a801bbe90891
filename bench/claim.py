"""Claim + record-outcome throughput, against a bare single-statement claim on the same database.

    python -m bench.claim --db sqlite --contacts 10000 550000 --threads 4 32
    python -m bench.claim --db postgres --contacts 10000 550000 --threads 4 32

Claim latency is a queueing figure: with T threads claiming and saving back to back on a
2-core machine, each claim waits behind the others' work, so the median grows with T whatever
the statement costs (Little's law: T / throughput). A real campaign day is far quieter: fifty
volunteers each claim about once a minute, under one claim a second in all. So the median is
read at 4 threads at once (already hundreds of claims a second) and the duplicate check at 32.

For each queue size it builds a fresh database, fills one campaign's queue, then alternates
rounds of (a) the baseline: one `UPDATE … WHERE id = (SELECT … LIMIT 1 [FOR UPDATE SKIP LOCKED])
RETURNING` on the fresh tier followed by core.queue.record_outcome, and (b) Ringround's
claim_next_contact followed by the same record_outcome. It prints the median claim latency,
cycles per second, the ratio to the baseline, the query plan of the claim, and checks that no
queue entry was handed out twice. Figures at several sizes are compared at the end (claims
must not slow down as the queue grows).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core import rollups
from core.queue import claim_next_contact, record_outcome
from db.engine import Database, make_engine
from db.migrate import upgrade
from db.models import UTCDateTime

POSTGRES_ADMIN_URL = os.environ.get(
    "RINGROUND_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
OUTCOMES = ("refused", "no_answer")  # a final and a retry, alternately


@dataclass
class Round:
    name: str
    cycles: int
    seconds: float
    claim_ms: list[float]
    claimed: list[int]
    record_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.cycles / self.seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.claim_ms)


# --------------------------------------------------------------------------------------------
# A fresh database with one big campaign queue
# --------------------------------------------------------------------------------------------


def fresh_database(kind: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        path = workdir / f"claim-{uuid.uuid4().hex[:6]}.sqlite3"
        return f"sqlite:///{path}", lambda: None
    name = f"ringround_bench_{uuid.uuid4().hex[:8]}"

    def admin_sql(sql: str) -> None:
        # A new connection each time: an idle one may not survive a long benchmark.
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            connection.exec_driver_sql(sql)
        admin.dispose()

    admin_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def fill(db: Database, contacts: int, volunteers: int) -> tuple[int, list[int]]:
    """One active campaign, open all day, with `contacts` fresh queue entries (built in SQL)."""
    sqlite = db.is_sqlite
    stamp = "'2026-06-10 12:00:00.000000'" if sqlite else "TIMESTAMP '2026-06-10 12:00:00'"
    series = (
        f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {contacts}) "
        if sqlite else ""
    )
    source = "s" if sqlite else f"generate_series(1, {contacts}) AS s(n)"
    phone = ("'+447' || printf('%09d', n)" if sqlite else "'+447' || lpad(n::text, 9, '0')")
    text = "CAST(n AS TEXT)" if sqlite else "n::text"
    with db.write() as session:
        session.execute(sa.text(
            series + "INSERT INTO contact (phone, phone_type, other_phones, phone_notes,"
            " first_name, last_name,"
            " email, postcode, constituency, ward, membership_number, tags, tps,"
            " consenting_member, bad_number, custom, created_at, updated_at) "
            f"SELECT {phone}, 'mobile', '[]', '{{}}', 'First' || {text}, 'Last', '', '',"
            " 'Crewe', '',"
            f" '', '', false, false, false, '{{}}', {stamp}, {stamp} FROM {source}"
        ))
        campaign_id = session.execute(sa.text(
            "INSERT INTO campaign (name, description, script, status, timezone, calling_window,"
            " caller_id, dialer, max_attempts, lease_minutes, callback_grace_minutes,"
            " open_to_all, leaderboard_visible, recruit_rule, sms_template, created_at,"
            " updated_at) VALUES ('Bench', '', 'Hello {first_name}', 'active', 'Europe/London',"
            " :window, '', 'tel', 3, 10, 60, true, true, '{}', '', "
            f"{stamp}, {stamp}) RETURNING id"
        ), {"window": '{"0":["00:00","24:00"],"1":["00:00","24:00"],"2":["00:00","24:00"],'
                      '"3":["00:00","24:00"],"4":["00:00","24:00"],"5":["00:00","24:00"],'
                      '"6":["00:00","24:00"]}'}).scalar_one()
        for position, (code, behaviour, hours, talk) in enumerate(
            [("refused", "final", 0, True), ("no_answer", "retry", 4, False)]
        ):
            session.execute(sa.text(
                "INSERT INTO outcome (campaign_id, code, label, behaviour, retry_after_hours,"
                " is_conversation, is_completion, position, active) VALUES"
                " (:c, :code, :code, :behaviour, :hours, :talk, false, :position, true)"
            ), {"c": campaign_id, "code": code, "behaviour": behaviour, "hours": hours,
                "talk": talk, "position": position})
        session.execute(sa.text(
            "INSERT INTO queueentry (campaign_id, contact_id, status, priority, attempts,"
            f" created_at) SELECT :c, id, 'fresh', 0, 0, {stamp} FROM contact ORDER BY id"
        ), {"c": campaign_id})
        people = []
        for n in range(volunteers):
            people.append(session.execute(sa.text(
                "INSERT INTO \"user\" (username, name, email, password_hash, role, phone_verified,"
                " active, session_epoch, created_at) VALUES"
                f" (:u, :u, :e, 'x', 'volunteer', false, true, 0, {stamp}) RETURNING id"
            ), {"u": f"bench{n}", "e": f"bench{n}@example.org"}).scalar_one())
    with db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    return campaign_id, people


# --------------------------------------------------------------------------------------------
# The two claims being compared
# --------------------------------------------------------------------------------------------


def bare_claim_statement(postgres: bool) -> sa.TextClause:
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return sa.text(
        "UPDATE queueentry SET status = 'leased', claimed_by_id = :me, due_at = :expiry,"
        " leased_from = status, claimed_at = :now"
        " WHERE id = (SELECT id FROM queueentry WHERE campaign_id = :c AND status = 'fresh'"
        f" ORDER BY priority DESC, id DESC LIMIT 1{lock}) AND status = 'fresh'"
        " RETURNING id"
    ).bindparams(sa.bindparam("expiry", type_=UTCDateTime()),
                 sa.bindparam("now", type_=UTCDateTime()))


def run_round(db: Database, name: str, campaign_id: int, volunteers: list[int],
              cycles: int) -> Round:
    bare = bare_claim_statement(not db.is_sqlite)
    per_thread = max(1, cycles // len(volunteers))
    claim_ms: list[float] = []
    record_ms: list[float] = []
    claimed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(volunteers) + 1)

    def work(volunteer_id: int) -> None:
        mine_ms: list[float] = []
        mine_record_ms: list[float] = []
        mine: list[int] = []
        try:
            barrier.wait()
            for n in range(per_thread):

                def claim(session: Session) -> int | None:
                    if name == "baseline":
                        return session.connection().execute(bare, {
                            "me": volunteer_id, "c": campaign_id, "now": NOW,
                            "expiry": NOW + timedelta(minutes=10)}).scalar()
                    got = claim_next_contact(session=session, campaign_id=campaign_id,
                                             volunteer_id=volunteer_id, now=NOW)
                    return got.queue_entry_id if got else None

                def record(session: Session, entry: int, code: str, key: str) -> None:
                    record_outcome(session=session, queue_entry_id=entry,
                                   volunteer_id=volunteer_id, outcome_code=code,
                                   idempotency_key=key, answers={}, notes="",
                                   started_at=NOW - timedelta(minutes=1), now=NOW)

                # Both sides retry SQLite's "database is locked" the way the app does.
                started = time.perf_counter()
                entry_id = db.retrying(claim)
                mine_ms.append((time.perf_counter() - started) * 1000)
                if entry_id is None:
                    break
                mine.append(entry_id)
                started = time.perf_counter()
                db.retrying(functools.partial(record, entry=entry_id, code=OUTCOMES[n % 2],
                                              key=uuid.uuid4().hex))
                mine_record_ms.append((time.perf_counter() - started) * 1000)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        with lock:
            claim_ms.extend(mine_ms)
            record_ms.extend(mine_record_ms)
            claimed.extend(mine)

    threads = [threading.Thread(target=work, args=(v,)) for v in volunteers]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return Round(name, len(claimed), seconds, claim_ms, claimed, record_ms)


def rollup_cost(db: Database, campaign_id: int, volunteer_id: int,
                n: int = 300) -> tuple[float, float]:
    """Median ms of a write transaction holding only the rollup upsert that each save adds
    (core/rollups.py), and of an empty write transaction: their difference is what counting a
    call for the dashboard costs a save. Rolled back, so the figures stay untouched."""

    def timed(body: Any) -> float:
        times = []
        for _ in range(n):
            started = time.perf_counter()
            with db.write() as session:
                body(session)
                session.rollback()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    upsert = timed(lambda session: rollups.count_attempt(
        session=session, campaign_id=campaign_id, volunteer_id=volunteer_id,
        outcome_code="no_answer", is_conversation=False, is_completion=False,
        outside_window=False, started_at=NOW, duration_seconds=None))
    empty = timed(lambda session: session.connection())
    return upsert, empty


def query_plan(db: Database, campaign_id: int, volunteer_id: int) -> str:
    """EXPLAIN the claim UPDATE exactly as claim_next_contact sends it (then roll it back)."""
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "UPDATE QUEUEENTRY SET" in statement.upper() and not captured:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        session_context = db.write()
        session = session_context.__enter__()
        try:
            claim_next_contact(session=session, campaign_id=campaign_id,
                               volunteer_id=volunteer_id, now=NOW)
            statement, parameters = captured[0]
            prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
            cursor = session.connection().connection.cursor()
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
        finally:
            session.rollback()
            session_context.__exit__(None, None, None)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    return "\n".join(str(row[-1] if db.is_sqlite else row[0]) for row in rows)


def scans(plan: str, postgres: bool) -> list[str]:
    if postgres:
        # One Sort is allowed: the (at most seven) candidates, one per tier.
        lines = [line.strip() for line in plan.splitlines()]
        bad = [line for line in lines if "Seq Scan on queueentry" in line]
        # One primary-key lookup (the row being updated) and one Sort (the candidates).
        keyed = [line for line in lines if "queueentry_pkey" in line]
        sorts = [line for line in lines if line.startswith("->  Sort")]
        return bad + keyed[1:] + sorts[1:]
    # The one TEMP B-TREE allowed orders the (at most seven) candidate rows, one per tier.
    return [line for line in plan.splitlines()
            if ("SCAN queueentry" in line and "USING" not in line)
            or "RIGHT PART OF ORDER BY" in line]


def bench(kind: str, contacts: int, thread_counts: list[int], cycles: int, rounds: int,
          workdir: Path) -> dict[int, dict[str, float]]:
    """Fill one queue of `contacts`, then time both claims at each thread count in turn."""
    url, drop = fresh_database(kind, workdir)
    most = max(thread_counts)
    db = Database(make_engine(url, pool_size=most + 4, max_overflow=8))
    try:
        upgrade(db.engine)
        started = time.perf_counter()
        campaign_id, volunteers = fill(db, contacts, most)
        print(f"\n== {kind}: {contacts:,} queued contacts "
              f"(filled in {time.perf_counter() - started:.1f}s)")
        plan = query_plan(db, campaign_id, volunteers[0])
        bad = scans(plan, not db.is_sqlite)
        print("claim plan:\n  " + plan.replace("\n", "\n  "))
        print("claim plan uses indexes only:", "yes" if not bad else f"NO: {bad}")
        # Never drain the queue: an empty queue would time the "nobody left" path instead.
        cycles = min(cycles, int(0.8 * contacts / (2 * rounds * len(thread_counts))))
        by_threads: dict[int, dict[str, float]] = {}
        for threads in thread_counts:
            print(f"-- {threads} threads at once, load average {os.getloadavg()[0]:.1f}")
            results: dict[str, list[Round]] = {"baseline": [], "ringround": []}
            for _ in range(rounds):
                for name in ("baseline", "ringround"):
                    results[name].append(
                        run_round(db, name, campaign_id, volunteers[:threads], cycles))
            claimed = [e for rs in results.values() for r in rs for e in r.claimed]
            duplicates = [e for e, times in Counter(claimed).items() if times > 1]
            figures: dict[str, float] = {}
            for name, rs in results.items():
                rate = statistics.median(r.per_second for r in rs)
                median = statistics.median(ms for r in rs for ms in r.claim_ms)
                figures[f"{name}_rate"], figures[f"{name}_median_ms"] = rate, median
                print(f"{name:>9}: {rate:8.0f} claim+record cycles/s, median claim "
                      f"{median:.2f} ms ({sum(r.cycles for r in rs)} cycles in {len(rs)} rounds)")
            ratio = figures["ringround_rate"] / figures["baseline_rate"]
            figures["ratio"] = ratio
            save_ms = statistics.median(ms for rs in results.values() for r in rs
                                        for ms in r.record_ms)
            upsert_ms, empty_ms = rollup_cost(db, campaign_id, volunteers[0])
            print(f"     save: median record_outcome {save_ms:.2f} ms; of that the dashboard "
                  f"rollup upsert ~{upsert_ms - empty_ms:.2f} ms (its own write transaction "
                  f"{upsert_ms:.2f} ms against an empty one's {empty_ms:.2f} ms)")
            print(f"    ratio: {ratio:.0%} of the bare UPDATE…RETURNING baseline (target ≥ 80%)")
            print(f"duplicates: {len(duplicates)} of {len(claimed)} claims (target 0)")
            if duplicates:
                raise SystemExit("a queue entry was handed out twice")
            by_threads[threads] = figures
        return by_threads
    finally:
        db.dispose()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--contacts", type=int, nargs="+", default=[10_000])
    parser.add_argument("--threads", type=int, nargs="+", default=[8],
                        help="claiming threads at once; several values are run in turn")
    parser.add_argument("--cycles", type=int, default=2000, help="claims per round")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {n: bench(args.db, n, args.threads, args.cycles, args.rounds, Path(tmp))
                   for n in args.contacts}
    sizes = sorted(figures)
    print(f"\nSummary ({args.db}, {os.cpu_count()} CPU cores; median claim, ratio of "
          "throughput to the bare baseline):")
    for threads in args.threads:
        cells = [f"{n:,}: {figures[n][threads]['ringround_median_ms']:.2f} ms "
                 f"(baseline {figures[n][threads]['baseline_median_ms']:.2f} ms), "
                 f"{figures[n][threads]['ratio']:.0%}" for n in sizes]
        print(f"  {threads:>3} threads  " + " | ".join(cells))
        if len(sizes) > 1:
            small, large = figures[sizes[0]][threads], figures[sizes[-1]][threads]
            slowdown = large["ringround_median_ms"] / small["ringround_median_ms"]
            rate_drop = small["ringround_rate"] / large["ringround_rate"]
            print(f"               {sizes[0]:,} vs {sizes[-1]:,} contacts: median claim "
                  f"×{slowdown:.2f}, throughput ×{rate_drop:.2f} (target within 1.5×)")


if __name__ == "__main__":
    main()
