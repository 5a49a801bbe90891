"""Import a realistic 550,000-row membership file end to end, beside a raw-insert baseline.

    python bench/import.py                         # SQLite file in a temporary directory
    python bench/import.py --rows 50000            # quick run while developing
    python bench/import.py --db postgres [--url postgresql+psycopg://postgres@127.0.0.1/test]

The file mixes phone formats (07..., +44..., 0044..., +44 (0)..., dashes, dots, brackets),
carries a landline for a quarter of members, repeats about 3% of numbers in another format,
has about 1% bad rows (Ofcom drama numbers, junk, no number), shares landlines between
household members, and has custom columns. It is written in a child process, so that the
peak memory printed (ru_maxrss) is the import's own.

Measured: the whole of core.importing.run_import (parse, normalise phones, dedupe against the
file and the database, write, accounting) on a fresh database. Baseline, in the same run:
the same final contact rows (read back after the import) inserted into a fresh database with
a bare DB-API executemany in one transaction. Targets: <= 30 s and <= 1 GiB peak.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from core.importing import run_import  # noqa: E402
from db.engine import Database, make_engine  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Contact  # noqa: E402

TARGET_SECONDS = 30.0
BASELINE_CPU = 0.0
TARGET_BYTES = 1 << 30
SEATS = {
    "Crewe and Nantwich": ("1270", ["Crewe Central", "Crewe East", "Wistaston", "Shavington"]),
    "Hastings and Rye": ("1424", ["Old Hastings", "Ore", "Silverhill", "Tressell"]),
    "Bedford": ("1234", ["Castle", "Kingsbrook", "Harpur", "De Parys"]),
    "Stroud": ("1453", ["Stroud Central", "Nailsworth", "Cainscross", "Dursley"]),
    "Worthing West": ("1903", ["Heene", "Marine", "Goring", "Tarring"]),
}
MOBILE_PREFIXES = ["7400", "7401", "7402", "7403", "7700", "7701", "7800", "7801", "7900",
                   "7901", "7500", "7501"]
FIRST = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Noah", "Oliver", "George", "Leo",
         "Zoë", "Siân", "Aoife", "Mohammed", "Priya", "Kwame", "Renée", "Bartłomiej"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Patel", "Khan", "Evans",
        "O'Brien", "Nowak", "Okafor", "Davies", "Hughes", "Ní Bhriain"]
TAGS = ["nhs", "member", "unison", "unite", "steward", "rep", "young", "retired"]
HEADER = ["Membership No", "Forename", "Surname", "Mobile", "Home Phone", "Email", "Postcode",
          "Constituency", "Ward", "Tags", "TPS", "Branch", "Joined", "Shift preference"]


def log(message: str) -> None:
    print(message, flush=True)


def mobile_nsn(i: int) -> str:
    k = len(MOBILE_PREFIXES)
    return MOBILE_PREFIXES[i % k] + f"{i // k:06d}"


def styled(nsn: str, rng: random.Random) -> str:
    a, b = nsn[:4], nsn[4:]
    return rng.choice([
        f"0{a} {b}", f"0{nsn}", f"+44{nsn}", f"+44 {a} {b}", f"0044 {a} {b}",
        f"+44 (0){a} {b}", f"0{a}-{b[:3]}-{b[3:]}", f"0{a}.{b}", f"(0{a}) {b}",
    ])


def landline_nsn(area: str, household: int) -> str:
    return area + f"{200000 + household % 700000:06d}"


def write_file(path: str, rows: int, seed: int) -> None:
    """Stream a realistic membership export to disk (constant memory)."""
    rng = random.Random(seed)
    seats = list(SEATS.items())
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            roll = rng.random()
            person = i
            if roll < 0.03 and i > 10:  # the same member again, number written differently
                person = rng.randrange(i)
            seat, (area, wards) = seats[person % len(seats)]
            mobile = styled(mobile_nsn(person), rng)
            home = ""
            if person % 4 == 0:
                home = styled(landline_nsn(area, person // 4), rng)
            if 0.03 <= roll < 0.04:  # a household member on the same landline, no mobile
                mobile, home = "", styled(landline_nsn(area, person // 4), rng)
            if 0.04 <= roll < 0.05:  # bad rows
                mobile = rng.choice(["07700 900" + f"{rng.randrange(1000):03d}", "12345",
                                     "n/a", "", "0740012345678"])
                home = ""
            tags = ",".join(rng.sample(TAGS, rng.randint(0, 3)))
            writer.writerow([
                f"M{person:07d}", rng.choice(FIRST), rng.choice(LAST), mobile, home,
                f"member{person}@example.org", f"CW{person % 9 + 1} {person % 10}AB", seat,
                wards[person % len(wards)], tags, "Y" if person % 20 == 0 else "N",
                f"Branch {person % 40}", f"20{10 + person % 15}-0{1 + person % 9}-15",
                rng.choice(["Weekday evenings", "Saturday", "Sunday", ""]),
            ])


@contextmanager
def scratch_database(kind: str, url: str | None, tmp: str, label: str) -> Iterator[Database]:
    if kind == "sqlite":
        database = Database(make_engine(f"sqlite:///{Path(tmp) / f'{label}.sqlite3'}"))
        upgrade(database.engine)
        try:
            yield database
        finally:
            database.dispose()
        return
    admin_url = url or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    name = f"ringround_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    scratch = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    database = Database(make_engine(scratch))
    upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


COLUMNS = [c.name for c in Contact.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]


def stored_rows(database: Database) -> list[tuple[Any, ...]]:
    """The imported contacts as DB-API parameter tuples (JSON as text, times as naive UTC)."""
    table = Contact.__table__  # type: ignore[attr-defined]
    rows = []
    with database.engine.connect() as connection:
        for row in connection.execute(sa.select(*(table.c[c] for c in COLUMNS))):
            values = list(row)
            for index, name in enumerate(COLUMNS):
                value = values[index]
                if name in ("other_phones", "custom"):
                    values[index] = json.dumps(value)
                elif name == "import_batch_id":
                    values[index] = None  # the baseline database has no batch row
                elif hasattr(value, "tzinfo") and value is not None:
                    values[index] = value.replace(tzinfo=None)
            rows.append(tuple(values))
    return rows


def raw_baseline(database: Database, rows: list[tuple[Any, ...]]) -> float:
    placeholder = "?" if database.is_sqlite else "%s"
    statement = (f"INSERT INTO contact ({', '.join(COLUMNS)}) "
                 f"VALUES ({', '.join([placeholder] * len(COLUMNS))})")
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        cpu_started = time.process_time()
        if database.is_sqlite:
            cursor.execute("BEGIN")
        cursor.executemany(statement, rows)
        if database.is_sqlite:
            cursor.execute("COMMIT")
        else:
            raw.commit()
        global BASELINE_CPU
        BASELINE_CPU = time.process_time() - cpu_started
        return time.perf_counter() - started
    finally:
        raw.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=550_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL admin URL (DATABASE_URL style)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "members.csv")
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=write_file, args=(path, args.rows, args.seed))
        child.start()
        child.join()
        size = Path(path).stat().st_size
        log(f"generated {args.rows:,} rows ({size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s")

        with scratch_database(args.db, args.url, tmp, "import") as database:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            load_before = os.getloadavg()[0]
            cpu_main = time.process_time()
            cpu_children = resource.getrusage(resource.RUSAGE_CHILDREN)
            with open(path, "rb") as stream:
                result = run_import(database=database, stream=stream, filename="members.csv")
            cpu_main = time.process_time() - cpu_main
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_worker = (after.ru_utime + after.ru_stime
                          - cpu_children.ru_utime - cpu_children.ru_stime)
            load_after = os.getloadavg()[0]
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            rows = stored_rows(database)

        with scratch_database(args.db, args.url, tmp, "baseline") as database:
            baseline = raw_baseline(database, rows)

    balanced = result.inserted + result.updated + result.merged + result.rejected
    log(f"accounting: {result.total_rows:,} rows = {result.inserted:,} inserted + "
        f"{result.updated:,} updated + {result.merged:,} merged + {result.rejected:,} rejected"
        f" ({'balanced' if balanced == result.total_rows else 'NOT BALANCED'})")
    log(f"import ({args.db}):   {result.seconds:6.1f} s  "
        f"({result.total_rows / result.seconds:,.0f} rows/s)  target <= {TARGET_SECONDS:.0f} s "
        f"{'OK' if result.seconds <= TARGET_SECONDS else 'MISSED'}")
    log(f"CPU:               {cpu_main:6.1f} s writer process + {cpu_worker:.1f} s parsing "
        f"process; load average {load_before:.1f} before, {load_after:.1f} after "
        f"({os.cpu_count()} cores)")
    log(f"peak RSS:          {peak / 2**20:6.0f} MiB (before import {rss_before / 2**20:.0f} MiB)"
        f"  target <= 1024 MiB {'OK' if peak <= TARGET_BYTES else 'MISSED'}")
    log(f"raw baseline:      {baseline:6.1f} s  (bare executemany of the {len(rows):,} final "
        f"contact rows; CPU {BASELINE_CPU:.1f} s)")
    log(f"ratio:             {result.seconds / baseline:6.1f}x the raw insert "
        f"(CPU: {(cpu_main + cpu_worker) / max(BASELINE_CPU, 1e-9):.1f}x in all, "
        f"{cpu_main / max(BASELINE_CPU, 1e-9):.1f}x for the writer alone)")
    ok = (balanced == result.total_rows and result.seconds <= TARGET_SECONDS
          and peak <= TARGET_BYTES)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
