"""Time every dashboard query over a big campaign: 1,000,000 attempts, 550,000 contacts.

    python -m bench.dashboard                      # SQLite file in a temporary directory
    python -m bench.dashboard --attempts 50000     # quick run while developing
    python -m bench.dashboard --attempts 1000000 5000000   # does the cost grow with the day?
    python -m bench.dashboard --db postgres [--url postgresql+psycopg://postgres@127.0.0.1/test]

PostgreSQL runs in a scratch database created beside the given URL's and dropped afterwards.
Each query runs uncached (the cache would hide it) --repeat times; the median and the slowest
are printed in milliseconds beside a baseline measured in the same run: a bare
`SELECT count(*) FROM callattempt WHERE campaign_id = ?` over the big campaign.
The data is built in SQL (one INSERT ... SELECT over a run of numbers per table, the
attempts' indexes built once afterwards, the rollups rebuilt once), deterministic, so five
million attempts build in minutes. The budget is 200 ms per query on SQLite. On a shared
machine, read the SQLite CPU column (the query's own cost) beside wall time, and the load
average printed with them.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench._scratch import scratch_database, timed
from core import rollups, stats, volunteer_stats
from core.outcomes import DEFAULT_OUTCOMES
from core.stats_cache import TTLCache
from db.engine import Database
from db.migrate import upgrade
from db.models import (
    PROGRESS_CALLED,
    PROGRESS_COMPLETED,
    PROGRESS_REACHED,
    CallRollup,
    Campaign,
    CampaignRollup,
    Contact,
    Outcome,
    QueueEntry,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
)

BUDGET_MS = 200.0
SEATS = ["Crewe and Nantwich", "Bedford", "Hastings and Rye", "Stroud", "Carlisle",
         "High Peak", "Ipswich", "Wycombe", "Warrington South", "Milton Keynes North"]
WARDS_PER_SEAT = 8
OUTCOME_WEIGHTS = {"no_answer": 38, "voicemail": 14, "busy": 4, "completed": 18, "refused": 10,
                   "call_back": 6, "wrong_number": 4, "do_not_call": 2, "moved_deceased": 4}
assert sum(OUTCOME_WEIGHTS.values()) == 100  # each is a percentage of the calls
FLAGS = {o.code: (o.is_conversation, o.is_completion) for o in DEFAULT_OUTCOMES}
ISSUES = ["NHS", "Housing", "Transport", "Cost of living"]


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------
# Building the data in SQL: each table is one INSERT ... SELECT over a run of numbers, so that
# five million attempts take minutes rather than hours (no Python row per attempt).
# --------------------------------------------------------------------------------------------

_PRIME = 2_147_483_647  # 2^31 - 1: the product of two residues still fits in 64 bits


def _mix(n: str, salt: int) -> str:
    """SQL for a pseudo-random number in [0, 2^31 - 1) drawn from the integer `n`: two
    rounds of a product of two affine residues (a quartic in n), deterministic, and the same
    on SQLite and PostgreSQL (64-bit integer arithmetic only). Each salt draws independently
    of the others, as a fresh random.random() per field did."""

    def once(x: str, s: int) -> str:
        return (f"((({x}) * 48271 + {s}) % {_PRIME}) * "
                f"((({x}) * 69621 + {s * 7 + 1}) % {_PRIME}) % {_PRIME}")

    # bigint from the start: PostgreSQL's integer columns would overflow at the first product.
    return f"({once(once(f'CAST({n} AS BIGINT)', salt), salt + 11)})"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _numbers(dialect: str) -> str:
    """A CTE `numbers(n)` from :lo to :hi."""
    if dialect == "sqlite":
        return ("WITH RECURSIVE numbers(n) AS (SELECT CAST(:lo AS INTEGER) UNION ALL "
                "SELECT n + 1 FROM numbers WHERE n < :hi)")
    return "WITH numbers(n) AS (SELECT generate_series(CAST(:lo AS bigint), :hi))"


def _timestamp(dialect: str, epoch: str) -> str:
    """SQL for a UTCDateTime column's stored value at whole epoch second `epoch`."""
    if dialect == "sqlite":  # the text SQLAlchemy writes: naive UTC, six decimals
        return f"(strftime('%Y-%m-%d %H:%M:%S', {epoch}, 'unixepoch') || '.000000')"
    return f"(to_timestamp({epoch}) AT TIME ZONE 'UTC')"


def _padded(dialect: str, n: str, width: int) -> str:
    if dialect == "sqlite":
        return f"printf('%0{width}d', {n})"
    return f"lpad(CAST({n} AS text), {width}, '0')"


def _case(value: str, thresholds: list[tuple[int, str]]) -> str:
    """CASE WHEN value < t1 THEN r1 WHEN value < t2 THEN r2 ... (the last one is ELSE)."""
    whens = " ".join(f"WHEN {value} < {t} THEN {r}" for t, r in thresholds[:-1])
    return f"(CASE {whens} ELSE {thresholds[-1][1]} END)"


def _weighted(value: str, weights: dict[str, int], result: Callable[[str], str]) -> str:
    """CASE over `value` in [0, sum of weights): each key's share of the range."""
    thresholds, total = [], 0
    for key, weight in weights.items():
        total += weight
        thresholds.append((total, result(key)))
    return _case(value, thresholds)


def _run(database: Database, sql: str, chunks: list[tuple[int, int]], what: str,
         **params: Any) -> None:
    """Run an INSERT ... SELECT FROM numbers once per chunk, each in its own transaction."""
    started = time.perf_counter()
    for lo, hi in chunks:
        with database.write() as s:
            s.execute(sa.text(sql), {"lo": lo, "hi": hi, **params})
        if len(chunks) > 1:
            log(f"    {what}: {hi:,} ({time.perf_counter() - started:.0f} s)")


def _chunks(total: int, size: int = 500_000) -> list[tuple[int, int]]:
    return [(lo, min(lo + size - 1, total)) for lo in range(1, total + 1, size)]


@contextmanager
def indexes_built_afterwards(database: Database, tables: list[str]) -> Iterator[None]:
    """Drop these tables' secondary indexes for a bulk load and build each again afterwards
    from its own definition: one sort per index instead of millions of random inserts into it.
    Unique constraints stay (they are the tables' own)."""
    names = ", ".join(_quoted(t) for t in tables)
    with database.engine.begin() as connection:
        if database.is_sqlite:
            found = connection.exec_driver_sql(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND tbl_name IN ({names}) AND sql IS NOT NULL").all()
        else:
            found = connection.exec_driver_sql(
                f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                f"current_schema() AND tablename IN ({names}) AND indexname NOT IN "
                f"(SELECT conname FROM pg_constraint)").all()
        for name, _ in found:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        yield
    finally:  # a failed load in a shared database (the tests') leaves it indexed as it was
        with database.engine.begin() as connection:
            for _, definition in found:
                connection.exec_driver_sql(definition)


def _add_calls(database: Database, dialect: str, *, attempts: int, contacts: int,
               ids: dict[str, Any], first_contact: int, split: int, volunteer_ids: list[int],
               now_epoch: int, day_start: int) -> None:
    """The attempts, one INSERT ... SELECT per half million, and the survey answers of their
    completions in the big campaign."""
    volunteers = len(volunteer_ids)
    conversation = {code: FLAGS[code][0] for code in OUTCOME_WEIGHTS}
    completion = {code: FLAGS[code][1] for code in OUTCOME_WEIGHTS}
    outcome = f"({_mix('n', 2)} % 100)"
    is_conversation = _weighted(outcome, OUTCOME_WEIGHTS,
                                lambda code: "TRUE" if conversation[code] else "FALSE")
    is_completion = _weighted(outcome, OUTCOME_WEIGHTS,
                              lambda code: "TRUE" if completion[code] else "FALSE")
    contact = f"({first_contact} + {_mix('n', 1)} % {contacts})"
    # A tenth of all calls happen today: the campaign day the organisers are watching; the
    # rest over the last 30 days.
    at = (f"(CASE WHEN {_mix('n', 4)} % 10 = 0 THEN :day_start + {_mix('n', 5)} % :today_span "
          f"ELSE :now - 86400 - {_mix('n', 5)} % {29 * 86400} END)")
    _run(database, f"""{_numbers(dialect)}
        INSERT INTO callattempt (idempotency_key, campaign_id, contact_id, volunteer_id,
            outcome_code, is_conversation, is_completion, notes, started_at, ended_at,
            duration_seconds, provider, outside_window, created_at)
        SELECT 'bench-' || {_padded(dialect, "n", 10)},
            CASE WHEN {contact} <= :split THEN :big ELSE :small END, {contact},
            {volunteer_ids[0]} + {_mix('n', 3)} % {volunteers},
            {_weighted(outcome, OUTCOME_WEIGHTS, _quoted)}, {is_conversation}, {is_completion},
            '', {_timestamp(dialect, at)}, {_timestamp(dialect, at)},
            CASE WHEN {is_conversation} THEN 90 + {_mix('n', 6)} % 331
                 ELSE 5 + {_mix('n', 6)} % 36 END,
            'tel', {_mix('n', 7)} % 1000 = 0, {_timestamp(dialect, at)}
        FROM numbers""", _chunks(attempts), "attempts",
        split=split, big=ids["big"], small=ids["small"], now=now_epoch,
        day_start=day_start, today_span=max(now_epoch - day_start, 60))

    # Each completion in the big campaign answers both questions: yes two times in three, and
    # one or two of the issues.
    first_issue = f"({_mix('id', 13)} % {len(ISSUES)})"
    second_issue = f"(({first_issue} + 1 + {_mix('id', 14)} % {len(ISSUES) - 1}) % {len(ISSUES)})"

    def issue(position: str) -> str:
        return _case(position, [(i + 1, _quoted(name)) for i, name in enumerate(ISSUES)])

    completions = "FROM callattempt WHERE campaign_id = :big AND is_completion"
    answer = "INSERT INTO surveyanswer (attempt_id, campaign_id, contact_id, question_id, value)"
    with database.write() as s:
        for sql in (
            f"{answer} SELECT id, campaign_id, contact_id, :q1, CASE WHEN {_mix('id', 12)} % 3 "
            f"= 0 THEN 'No' ELSE 'Yes' END {completions}",
            f"{answer} SELECT id, campaign_id, contact_id, :q2, {issue(first_issue)} "
            f"{completions}",
            f"{answer} SELECT id, campaign_id, contact_id, :q2, {issue(second_issue)} "
            f"{completions} AND {_mix('id', 15)} % 2 = 0",
        ):
            s.execute(sa.text(sql), {"big": ids["big"], "q1": ids["q1"], "q2": ids["q2"]})


def build(database: Database, *, attempts: int, contacts: int, volunteers: int) -> dict[str, Any]:
    """Fill the database, each table by INSERT ... SELECT; returns the ids the queries need.

    The shape: two campaigns (nine contacts in ten in the big one), `volunteers` volunteers,
    the default outcomes in OUTCOME_WEIGHTS' proportions, a tenth of the calls spread over
    today and the rest over the last 30 days, two survey questions answered on each
    completion in the big campaign, queue entries with the attempts and progress bits the
    calls left, 150 leases and 5,000 numbers on the do-not-call list.
    """
    now = datetime.now(UTC)
    started = time.perf_counter()
    upgrade(database.engine)
    dialect = database.engine.dialect.name
    with database.write() as s:
        s.execute(sa.insert(User), [
            {"username": f"vol{i}", "name": f"Volunteer {i}", "email": f"vol{i}@example.org",
             "password_hash": "x", "role": "volunteer", "created_at": now}
            for i in range(volunteers)])
        volunteer_ids = sorted(s.execute(sa.select(User.id)).scalars())
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
                            options=ISSUES, position=1)
        s.add_all([q1, q2])
        s.flush()
        big.recruit_rule = {"question_id": q1.id, "value": "Yes"}
        s.add(big)
        ids = {"big": big.id, "small": small.id, "q1": q1.id, "q2": q2.id,
               "volunteer": volunteer_ids[0]}
    # The draws below pick a volunteer as first id + offset: the ids must run without gaps.
    assert volunteer_ids == list(range(volunteer_ids[0], volunteer_ids[0] + volunteers))
    now_epoch = int(now.timestamp())
    stamp_now = _timestamp(dialect, ":now")
    json_list, json_object = ("'[]'", "'{}'") if dialect == "sqlite" else (
        "CAST('[]' AS json)", "CAST('{}' AS json)")

    seat = "(CASE n % {} {} END)".format(len(SEATS), " ".join(
        f"WHEN {i} THEN {_quoted(name)}" for i, name in enumerate(SEATS)))
    _run(database, f"""{_numbers(dialect)}
        INSERT INTO contact (phone, phone_type, other_phones, phone_notes, first_name,
            last_name, email, postcode, constituency, ward, membership_number, tags, tps,
            consenting_member, bad_number, custom, created_at, updated_at)
        SELECT '+4474' || {_padded(dialect, "n", 8)}, 'mobile', {json_list}, {json_object},
            'First' || n, 'Last' || n, '', '', {seat},
            {seat} || ' ward ' || ({_mix("n", 8)} % {WARDS_PER_SEAT}), '', '',
            {_mix("n", 9)} % 100 < 6, FALSE, FALSE, {json_object}, {stamp_now}, {stamp_now}
        FROM numbers""", _chunks(contacts), "contacts", now=now_epoch)
    with database.session() as s:
        first_contact, last_contact, count = s.execute(
            sa.select(sa.func.min(Contact.id), sa.func.max(Contact.id), sa.func.count())).one()
    assert (first_contact, count) == (last_contact - contacts + 1, contacts), "contact ids gap"
    split = first_contact + int(contacts * 0.9) - 1  # the big campaign's last contact
    log(f"  contacts: {contacts:,} ({time.perf_counter() - started:.0f} s)")

    statuses = {"done": 40, "retry": 20, "fresh": 35, "excluded": 5}
    with database.write() as s:
        s.execute(sa.text(f"""
            INSERT INTO queueentry (campaign_id, contact_id, status, priority, attempts,
                constituency, ward, progress, created_at)
            SELECT CASE WHEN id <= :split THEN :big ELSE :small END, id,
                {_weighted(f"({_mix('id', 10)} % 100)", statuses, _quoted)}, 0, 0,
                constituency, ward, 0, {stamp_now}
            FROM contact"""), {"split": split, "big": ids["big"], "small": ids["small"],
                               "now": now_epoch})
    log(f"  queue: {contacts:,} ({time.perf_counter() - started:.0f} s)")

    day_start, _ = stats.local_day_bounds(stats.local_today("Europe/London", now), "Europe/London")
    with indexes_built_afterwards(database, ["callattempt", "surveyanswer"]):
        _add_calls(database, dialect, attempts=attempts, contacts=contacts, ids=ids,
                   first_contact=first_contact, split=split, volunteer_ids=volunteer_ids,
                   now_epoch=now_epoch, day_start=int(day_start.timestamp()))
    log(f"  attempts and survey answers, indexed ({time.perf_counter() - started:.0f} s)")
    with database.session() as s:
        answers_total = int(s.execute(sa.select(sa.func.count()).select_from(SurveyAnswer))
                            .scalar_one())
    log(f"  survey answers: {answers_total:,}")

    with database.write() as s:
        # Each contact's queue entry as record_outcome would have left it after those calls.
        s.execute(sa.text(f"""
            UPDATE queueentry SET attempts = called.n, progress = called.bits
            FROM (SELECT contact_id, count(*) AS n, {PROGRESS_CALLED}
                      + {PROGRESS_REACHED} * max(CASE WHEN is_conversation THEN 1 ELSE 0 END)
                      + {PROGRESS_COMPLETED} * max(CASE WHEN is_completion THEN 1 ELSE 0 END)
                      AS bits
                  FROM callattempt GROUP BY contact_id) AS called
            WHERE queueentry.contact_id = called.contact_id"""))
        # Volunteers calling right now: 120 live leases, 30 lapsed (one each, fewer when
        # there are fewer volunteers).
        leases = min(150, volunteers)
        for n, cid in enumerate(range(first_contact, first_contact + leases)):
            s.execute(sa.update(QueueEntry).where(QueueEntry.contact_id == cid).values(
                status="leased", claimed_by_id=volunteer_ids[n],
                due_at=now + timedelta(minutes=10 if n < leases * 4 // 5 else -5)))
        sources = ["outcome", "organiser", "import", "sms_stop"]
        s.execute(sa.insert(Suppression), [
            {"phone": f"+4475{n:08d}", "reason": "", "source": sources[n % len(sources)],
             "created_at": now - timedelta(days=30 * n / 5000)}
            for n in range(5000)])
    log(f"  queue progress, leases, do-not-call ({time.perf_counter() - started:.0f} s)")
    with database.write() as s:
        # The attempts went in in bulk, so their dashboard rollups are counted in bulk too
        # (record_outcome keeps them as each call is saved).
        rollup_rows = rollups.rebuild(session=s)
        rollup_rows += rollups.rebuild_survey(session=s, campaign_ids=[ids["big"], ids["small"]])
    log(f"  rollups: {rollup_rows:,} rows ({time.perf_counter() - started:.0f} s)")
    with database.session() as s:
        # What the "today" figures read: bounded by the day's quarter hours and outcomes (per
        # campaign) and by its volunteers and quarter hours (per volunteer), not by its calls.
        day_start, _ = stats.local_day_bounds(stats.local_today("Europe/London", now),
                                              "Europe/London")
        today = {table.__tablename__: s.execute(
            sa.select(sa.func.count()).select_from(table).where(
                table.campaign_id == ids["big"], table.bucket >= rollups.bucket_of(day_start))
        ).scalar_one() for table in (CampaignRollup, CallRollup)}  # type: ignore[attr-defined]
    log(f"  today's rollup rows, big campaign: {today['campaignrollup']:,} per campaign "
        f"(quarter hour x outcome), {today['callrollup']:,} per volunteer")
    if not database.is_sqlite:
        # What autovacuum does within minutes of a bulk load: statistics for the planner, and
        # the visibility map that lets PostgreSQL answer from an index alone.
        with database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    log(f"  built: {attempts:,} attempts, {contacts:,} contacts, {answers_total:,} "
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
    with scratch_database(args.db, args.url, keep=args.path) as database:
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
