"""Import realistic 550,000-row membership files end to end, beside their baselines.

    python bench/import.py                         # SQLite file in a temporary directory
    python bench/import.py --rows 50000            # quick run while developing
    python bench/import.py --files narrow          # only the narrow file (or: wide)
    python bench/import.py --db postgres [--url postgresql+psycopg://postgres@127.0.0.1/test]
    python bench/import.py --rounds 1              # one round (default 2)

Two files (issue #14). The narrow one:
The file mixes phone formats (07..., +44..., 0044..., +44 (0)..., dashes, dots, brackets),
carries a landline for a quarter of members, repeats about 3% of numbers in another format,
has about 1% bad rows (Ofcom drama numbers, junk, no number), shares landlines between
household members, and has custom columns. It is written in a child process, so that the
peak memory printed (ru_maxrss) is the import's own.

The wide one is shaped like a NationBuilder people export: 40 columns, three phone columns
holding placeholders ("n/a", "tbc", "same as mobile", "0"), numbers with notes ("(after 6pm)",
"home"), Excel-shortened numbers, a do_not_call and an is_mobile_bad column, about 330 bytes a
row (about 180 MB for 550,000 rows).

Measured: the whole of core.importing.run_import (parse, normalise phones, dedupe against the
file and the database, write, accounting) on a fresh database. Baselines, in the same run:
narrow: the same final contact rows (read back after the import) inserted into a fresh database
with a bare DB-API executemany in one transaction; wide: reading the file with the csv module
and normalising its numbers with the same phone code, no database.
Targets (ratios, since machines differ by 1.6x from session to session): the wide file's rows/s
at least 2/3 of the narrow file's; the narrow import <= 3x its raw-insert baseline; peak <= 1 GiB.
Every measurement is taken in each of --rounds rounds (both imports back to back, then both
baselines) and the ratios come from each one's fastest round, every round's own printed beside
them: on a shared machine a slow round measures what else was running.
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench._scratch import scratch_database  # noqa: E402
from core.importing import PhoneNormaliser, phones_in_cell, run_import  # noqa: E402
from db.engine import Database  # noqa: E402
from db.models import Contact  # noqa: E402

TARGET_BYTES = 1 << 30
TARGET_WIDE_SHARE = 2 / 3  # wide rows/s over narrow rows/s, at least
TARGET_RAW_RATIO = 3.0  # narrow import over its raw-insert baseline, at most
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


def write_csv(path: str, header: list[str], rows: Iterable[list[str]]) -> None:
    """Stream rows to disk under their header (constant memory)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def members(rows: int, rng: random.Random, *, repeated: float
            ) -> Iterator[tuple[float, int, str, str, list[str]]]:
    """Each row's roll of the dice and its member (now and then, `repeated` of the rows, an
    earlier member again, number written differently), with their seat, its area code and
    wards."""
    seats = list(SEATS.items())
    for i in range(rows):
        roll = rng.random()
        person = rng.randrange(i) if roll < repeated and i > 10 else i
        seat, (area, wards) = seats[person % len(seats)]
        yield roll, person, seat, area, wards


def write_file(path: str, rows: int, seed: int) -> None:
    """Stream a realistic membership export to disk (constant memory)."""
    write_csv(path, HEADER, membership_rows(rows, random.Random(seed)))


def membership_rows(rows: int, rng: random.Random) -> Iterator[list[str]]:
    for roll, person, seat, area, wards in members(rows, rng, repeated=0.03):
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
        yield [
            f"M{person:07d}", rng.choice(FIRST), rng.choice(LAST), mobile, home,
            f"member{person}@example.org", f"CW{person % 9 + 1} {person % 10}AB", seat,
            wards[person % len(wards)], tags, "Y" if person % 20 == 0 else "N",
            f"Branch {person % 40}", f"20{10 + person % 15}-0{1 + person % 9}-15",
            rng.choice(["Weekday evenings", "Saturday", "Sunday", ""]),
        ]


NB_HEADER = [
    "nationbuilder_id", "first_name", "middle_name", "last_name", "email", "email_opt_in",
    "phone_number", "mobile_number", "work_phone_number", "is_mobile_bad", "do_not_call",
    "do_not_contact", "mobile_opt_in", "primary_address1", "primary_address2", "primary_city",
    "primary_county", "primary_zip", "primary_country_code", "registered_address1",
    "registered_zip", "tag_list", "sex", "born_at", "created_at", "updated_at", "employer",
    "occupation", "membership_level", "membership_status", "membership_started_at",
    "membership_expires_at", "support_level", "party", "donations_count", "donations_amount",
    "volunteer", "parent_name", "point_person_name", "note",
]
PLACEHOLDERS = ["n/a", "-", "tbc", "0", "none", "same as mobile", "0000 000000"]
NOTES = [" (after 6pm)", " home", " (Mum's)", " - evenings only"]
JOBS = ["Nurse", "Teacher", "Porter", "Retired", "Student", "Care worker", "Driver", "Cleaner"]


def write_wide_file(path: str, rows: int, seed: int) -> None:
    """Stream a NationBuilder-shaped people export to disk (constant memory)."""
    write_csv(path, NB_HEADER, nationbuilder_rows(rows, random.Random(seed)))


def nationbuilder_rows(rows: int, rng: random.Random) -> Iterator[list[str]]:
    for roll, person, _seat, area, wards in members(rows, rng, repeated=0.02):
        mobile = styled(mobile_nsn(person), rng) if roll < 0.85 else ""
        phone = ""
        kind = rng.random()
        if person % 3 == 0:
            phone = styled(landline_nsn(area, person // 3), rng)
        elif kind < 0.06:
            phone = rng.choice(PLACEHOLDERS)
        if mobile and kind > 0.96:
            mobile += rng.choice(NOTES)
        elif mobile and 0.955 < kind <= 0.96:
            mobile = "4.474E+11"  # Excel shortened it
        work = styled(landline_nsn(area, 300000 + person), rng) if roll > 0.92 else ""
        if not mobile and not phone and roll > 0.97:
            phone = "tbc"  # a member with no usable number at all
        first, last = rng.choice(FIRST), rng.choice(LAST)
        yield [
            f"{100000 + person}", first, "", last, f"{first.lower()}.{person}@example.org",
            "true", phone, mobile, work, "true" if kind < 0.003 else "false",
            "true" if 0.5 < kind < 0.52 else "false", "false",
            "true" if roll < 0.3 else "false", f"{person % 200 + 1} High Street",
            "", wards[person % len(wards)], "Cheshire", f"CW{person % 9 + 1} {person % 10}AB",
            "GB", "", "", ",".join(rng.sample(TAGS, rng.randint(0, 3))),
            rng.choice(["F", "M", ""]),
            f"19{50 + person % 50}-0{1 + person % 9}-1{person % 10}",
            "2019-05-01T10:00:00+01:00", "2026-11-20T09:12:00+00:00", "NHS Trust",
            rng.choice(JOBS), "Member", "active", "2019-05-01", "2027-05-01",
            str(1 + person % 5), "Labour", str(person % 7), f"{person % 300}.00",
            "true" if roll < 0.1 else "false", "", "Branch secretary",
            rng.choice(["", "", "Met at the fete", "Prefers email"]),
        ]


def wide_baseline(path: str) -> float:
    """Read the wide file with the csv module and normalise its numbers with the same phone
    code as the import (no database): the floor for parsing it."""
    normalise = PhoneNormaliser("GB")
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        columns = [header.index(n) for n in ("mobile_number", "phone_number",
                                             "work_phone_number")]
        for cells in reader:
            for index in columns:
                if cells[index]:
                    phones_in_cell(cells[index], normalise)
    return time.perf_counter() - started


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
                if name in ("other_phones", "phone_notes", "custom"):
                    values[index] = json.dumps(value)
                elif name == "import_batch_id":
                    values[index] = None  # the baseline database has no batch row
                elif hasattr(value, "tzinfo") and value is not None:
                    values[index] = value.replace(tzinfo=None)
            rows.append(tuple(values))
    return rows


def raw_baseline(database: Database, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Insert the rows with a bare DB-API executemany in one transaction: (wall, CPU)."""
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
        return time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        raw.close()


def timed_import(kind: str, url: str | None, label: str, path: str
                 ) -> tuple[Any, float, float, float, int, list[tuple[Any, ...]]]:
    """Import the file into a fresh database: (result, writer CPU, parser CPU, load, the
    process's peak RSS so far, the stored contact rows if narrow)."""
    with scratch_database(kind, url, label=label) as database:
        load_before = os.getloadavg()[0]
        cpu_main = time.process_time()
        cpu_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(path, "rb") as stream:
            result = run_import(database=database, stream=stream, filename=Path(path).name)
        cpu_main = time.process_time() - cpu_main
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_worker = (after.ru_utime + after.ru_stime
                      - cpu_children.ru_utime - cpu_children.ru_stime)
        load = max(load_before, os.getloadavg()[0])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rows = stored_rows(database) if label == "narrow" else []  # after the peak is read
    return result, cpu_main, cpu_worker, load, peak, rows


def report(label: str, result: Any, cpu_main: float, cpu_worker: float, load: float) -> None:
    balanced = (result.inserted + result.updated + result.unchanged + result.merged
                + result.rejected)
    log(f"{label} accounting: {result.total_rows:,} rows = {result.inserted:,} inserted + "
        f"{result.updated:,} updated + {result.unchanged:,} unchanged + {result.merged:,} merged"
        f" + {result.rejected:,} rejected "
        f"({'balanced' if balanced == result.total_rows else 'NOT BALANCED'}); "
        f"{result.warnings:,} warnings, {result.do_not_call:,} flagged do-not-call")
    log(f"{label} import:  {result.seconds:6.1f} s  "
        f"({result.total_rows / result.seconds:,.0f} rows/s); CPU {cpu_main:.1f} s writer + "
        f"{cpu_worker:.1f} s parsing process; load average {load:.1f}")


@dataclass
class Round:
    """One round's figures: each import, and the baselines measured right after them."""

    imports: dict[str, Any] = field(default_factory=dict)  # label: ImportResult
    cpu: dict[str, tuple[float, float]] = field(default_factory=dict)  # writer, parser
    wide_baseline: float = 0.0
    raw_insert: float = 0.0
    raw_insert_cpu: float = 0.0
    peak: int = 0  # the process's peak RSS once this round's imports were done


def run_round(number: int, wanted: list[str], paths: dict[str, str], db: str,
              url: str | None) -> Round:
    """Both imports back to back (so that the load moves as little as possible between the
    two files whose rows/s are compared), then the two baselines."""
    figures = Round()
    rows: list[tuple[Any, ...]] = []
    for label in wanted:
        result, cpu_main, cpu_worker, load, peak, stored = timed_import(db, url, label,
                                                                        paths[label])
        figures.peak = max(figures.peak, peak)
        figures.imports[label], figures.cpu[label] = result, (cpu_main, cpu_worker)
        report(f"round {number} {label}", result, cpu_main, cpu_worker, load)
        rows = stored or rows
    if "wide" in wanted:
        figures.wide_baseline = wide_baseline(paths["wide"])
        log(f"round {number} wide baseline:  {figures.wide_baseline:6.1f} s  (csv module + the "
            "same phone code, no database)")
    if "narrow" in wanted:
        with scratch_database(db, url, label="baseline") as database:
            figures.raw_insert, figures.raw_insert_cpu = raw_baseline(database, rows)
        log(f"round {number} narrow baseline: {figures.raw_insert:6.1f} s  (bare executemany "
            f"of the final {len(rows):,} contact rows; CPU {figures.raw_insert_cpu:.1f} s)")
    return figures


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=550_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL admin URL (DATABASE_URL style)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--files", choices=["both", "narrow", "wide"], default="both")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of every measurement; the figures are each one's fastest")
    args = parser.parse_args()
    log(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"({os.cpu_count()} cores); {time.strftime('%Y-%m-%d %H:%M %Z')}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"narrow": str(Path(tmp) / "members.csv"),
                 "wide": str(Path(tmp) / "nationbuilder-people.csv")}
        writers = {"narrow": write_file, "wide": write_wide_file}
        wanted = ["wide", "narrow"] if args.files == "both" else [args.files]
        for label in wanted:
            started = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(
                target=writers[label], args=(paths[label], args.rows, args.seed))
            child.start()
            child.join()
            size = Path(paths[label]).stat().st_size
            log(f"generated {label}: {args.rows:,} rows, {size / 1e6:.0f} MB in "
                f"{time.perf_counter() - started:.1f} s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rounds = [run_round(n, wanted, paths, args.db, args.url)
                  for n in range(1, max(args.rounds, 1) + 1)]
    return summarise(rounds, wanted, rss_before)


def summarise(rounds: list[Round], wanted: list[str], rss_before: int) -> int:
    """Each figure is its fastest round's: on a shared machine a slow round measures what else
    ran then, and the fastest is the nearest to what the work itself costs (timeit's rule).
    Every round's own ratios are printed too."""
    results = {label: [r.imports[label] for r in rounds] for label in wanted}
    ok = all(result.balanced for runs in results.values() for result in runs)
    accounting = {label: {tuple(getattr(r, n) for n in ("inserted", "updated", "unchanged",
                                                       "merged", "rejected"))
                          for r in runs} for label, runs in results.items()}
    if any(len(kinds) > 1 for kinds in accounting.values()):
        log("the rounds' accounting differs: NOT REPEATABLE")
        ok = False
    seconds = {label: min(r.seconds for r in runs) for label, runs in results.items()}
    busier = {label: min(max(r.cpu[label]) for r in rounds) for label in wanted}
    log(f"fastest of {len(rounds)} round(s):")
    for label in wanted:
        log(f"{label} import:  {seconds[label]:6.1f} s  "
            f"({results[label][0].total_rows / seconds[label]:,.0f} rows/s); busier process "
            f"{busier[label]:.1f} s CPU")
    if "wide" in wanted:
        baseline = min(r.wide_baseline for r in rounds)
        log(f"wide baseline:   {baseline:6.1f} s  (csv module + the same phone code, no "
            f"database); ratio {seconds['wide'] / baseline:.2f}x")
    if "narrow" in wanted:
        raw = min(r.raw_insert for r in rounds)
        raw_cpu = min(r.raw_insert_cpu for r in rounds)
        ratio = seconds["narrow"] / raw
        each = ", ".join(f"{r.imports['narrow'].seconds / r.raw_insert:.2f}x" for r in rounds)
        log(f"narrow baseline: {raw:6.1f} s  (bare executemany of the final contact rows; CPU "
            f"{raw_cpu:.1f} s); ratio {ratio:.2f}x the raw insert, target <= "
            f"{TARGET_RAW_RATIO:.0f}x {verdict(ratio <= TARGET_RAW_RATIO)} (each round: {each})")
        # On a shared machine wall clock moves with the load; CPU seconds less so. On two free
        # cores the import takes about as long as its busier process.
        log(f"narrow by CPU:   busier process {busier['narrow']:.1f} s = "
            f"{busier['narrow'] / raw_cpu:.2f}x the raw insert's CPU (target <= "
            f"{TARGET_RAW_RATIO:.0f}x {verdict(busier['narrow'] <= TARGET_RAW_RATIO * raw_cpu)})")
        ok = ok and ratio <= TARGET_RAW_RATIO
    # The first round's: later rounds' high-water mark includes the narrow baseline's rows.
    peak = rounds[0].peak
    log(f"peak RSS:        {peak / 2**20:6.0f} MiB during the first round's imports (before "
        f"them {rss_before / 2**20:.0f} MiB)  target <= 1024 MiB {verdict(peak <= TARGET_BYTES)}")
    ok = ok and peak <= TARGET_BYTES
    if len(wanted) == 2:
        rows = results["wide"][0].total_rows, results["narrow"][0].total_rows
        share = (rows[0] / seconds["wide"]) / (rows[1] / seconds["narrow"])
        each = ", ".join(
            f"{(rows[0] / r.imports['wide'].seconds) / (rows[1] / r.imports['narrow'].seconds):.2f}"
            for r in rounds)
        scaled = seconds["wide"] * 23 / seconds["narrow"]
        log(f"wide/narrow:     {share:6.2f} of the narrow file's rows/s, target >= "
            f"{TARGET_WIDE_SHARE:.2f} {verdict(share >= TARGET_WIDE_SHARE)} (each round: {each});"
            f" sanity: wide {seconds['wide']:.1f} s = {scaled:.1f} s on a machine where the "
            "narrow file takes 23 s (<= 45 s)")
        by_cpu = (rows[0] / busier["wide"]) / (rows[1] / busier["narrow"])
        log(f"wide/narrow by CPU of the busier process: {by_cpu:.2f} (target >= "
            f"{TARGET_WIDE_SHARE:.2f})")
        ok = ok and share >= TARGET_WIDE_SHARE
    log(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
