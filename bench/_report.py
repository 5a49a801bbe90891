"""What bench/load.py (browsers) and bench/protocol.py (websockets) share: the command line,
the scratch database, the seeded servers, the rhythm of each volunteer's calls, the check of
the database against what the volunteers saw, and the printed report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from db.engine import Database
from tests.e2e.harness import (
    AppServer,
    attempts_by_contact,
    duplicate_assignments,
    leases,
    migrated_sqlite_url,
    percentile,
    scratch_postgres,
    seed_campaign,
    seed_people,
)

TARGET_P95_SECONDS = 1.0
# bench/load.py's pace: seconds a volunteer spends before picking an outcome (half as long
# again before Save); its docstring says why this is faster than any real call and still fair.
CALLING_PACE = (8.0, 20.0)
# (label on the button, answer to the survey or None). Conversations answer the survey.
OUTCOMES = [
    ("No answer", None),
    ("Talked – completed survey", "Yes"),
    ("Talked – refused", None),
    ("Left voicemail", None),
    ("Talked – completed survey", "No"),
    ("Busy", None),
]
LABEL_TO_CODE = {
    "No answer": "no_answer", "Talked – completed survey": "completed",
    "Talked – refused": "refused", "Left voicemail": "voicemail", "Busy": "busy",
}
T = TypeVar("T")
CONFIRMED = re.compile(r"Saved “(?P<label>.+?)” for (?P<name>.+?)(?: \(it was already saved\))?\.")



@dataclass
class Save:
    contact: str
    label: str
    seconds: float | None  # click to next contact on screen; None when no next contact came
    confirmed: bool


@dataclass
class VolunteerRun:
    username: str
    server: str
    shown: list[str] = field(default_factory=list)
    saves: list[Save] = field(default_factory=list)
    rerun_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: str = ""

    def saved(self, *, contact: str, label: str, seconds: float | None,
              seen: tuple[str, str] | None) -> None:
        """Note a save, confirmed if the page's confirmation (label, name) names this one."""
        confirmed = seen is not None and seen == (label, contact)
        if seen is not None and not confirmed:
            self.errors.append(f"{self.username}: confirmation {seen} after saving {label} "
                               f"{contact}")
        self.saves.append(Save(contact=contact, label=label, seconds=seconds,
                               confirmed=confirmed))


async def make_calls(
    run: VolunteerRun, *, calls: int, seed: int, think: tuple[float, float],
    pick: Callable[[str, str | None], Awaitable[None]],
    save: Callable[[str, str], Awaitable[str | None]],
) -> None:
    """A volunteer's calls from the contact on screen (the last in run.shown), in one rhythm
    for both drivers, so that their figures compare: a think, then the n-th call's outcome
    OUTCOMES[(seed + n) % len] is picked (with its survey answer), half a think, then saved.

    `pick(label, answer)` picks them; `save(name, label)` saves, notes the save on the run and
    hands back the next contact's name, or None when the queue is empty.
    """
    rng = random.Random(seed)
    name = run.shown[-1]
    for number in range(calls):
        label, answer = OUTCOMES[(seed + number) % len(OUTCOMES)]
        await asyncio.sleep(rng.uniform(*think))
        await pick(label, answer)
        await asyncio.sleep(rng.uniform(*think) / 2)
        following = await save(name, label)
        if following is None:
            run.finished = "queue empty"
            return
        name = following
        run.shown.append(name)
    run.finished = "done"


@dataclass
class LoadReport:
    volunteers: int
    servers: int
    backend: str
    calls_per_volunteer: int
    seconds: float
    saves: int
    confirmed: int
    p50: float
    p95: float
    max: float
    rerun_p50: float
    rerun_p95: float
    duplicates: list[dict[str, Any]]
    shown_twice: list[str]
    lost: list[dict[str, Any]]
    unconfirmed_rows: int
    errors: list[str]
    runs: list[VolunteerRun] = field(repr=False, default_factory=list)
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0  # Chromium, Playwright's driver and this process
    think: tuple[float, float] = CALLING_PACE
    # From the servers' own run log (RINGROUND_RUN_LOG): see server_side().
    server: dict[str, Any] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def meets_target(self) -> bool:
        return self.p95 <= TARGET_P95_SECONDS

    @property
    def clean(self) -> bool:
        """No contact given twice, no confirmed save lost, no volunteer's run failed."""
        return not (self.duplicates or self.shown_twice or self.lost or self.errors)

    @property
    def calls_per_minute(self) -> float:
        return self.saves / self.seconds * 60 if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("runs")
        data["calls_per_minute"] = round(self.calls_per_minute, 1)
        return data


# --------------------------------------------------------------------------------------------
# Checking what the database says against what the volunteers saw
# --------------------------------------------------------------------------------------------


def check(database: Database, campaign_id: int, runs: list[VolunteerRun]) -> dict[str, Any]:
    rows = attempts_by_contact(database, campaign_id)
    by_key = {(r["username"], r["contact"], r["outcome_code"]) for r in rows}
    lost = [
        {"volunteer": run.username, "contact": save.contact, "outcome": save.label}
        for run in runs for save in run.saves
        if save.confirmed and (run.username, save.contact, LABEL_TO_CODE[save.label]) not in by_key
    ]
    owners: dict[str, str] = {}
    shown_twice: list[str] = []
    for run in runs:
        for name in run.shown:
            if name in owners and owners[name] != run.username:
                shown_twice.append(f"{name}: {owners[name]} and {run.username}")
            owners.setdefault(name, run.username)
    confirmed = sum(save.confirmed for run in runs for save in run.saves)
    return {
        "duplicates": duplicate_assignments(database, campaign_id),
        "shown_twice": shown_twice,
        "lost": lost,
        "confirmed": confirmed,
        "unconfirmed_rows": len(rows) - confirmed,
        "leases": leases(database, campaign_id),
    }


def report_from(runs: list[VolunteerRun], seconds: float, checked: dict[str, Any], *,
                servers: int, backend: str, calls: int,
                think: tuple[float, float] = CALLING_PACE) -> LoadReport:
    latencies = [s.seconds for run in runs for s in run.saves if s.seconds is not None]
    reruns = [s for run in runs for s in run.rerun_seconds]
    return LoadReport(
        volunteers=len(runs), servers=servers, backend=backend, calls_per_volunteer=calls,
        seconds=seconds, saves=sum(len(run.saves) for run in runs),
        confirmed=checked["confirmed"],
        p50=statistics.median(latencies) if latencies else float("nan"),
        p95=percentile(latencies, 0.95), max=max(latencies, default=float("nan")),
        rerun_p50=statistics.median(reruns) if reruns else float("nan"),
        rerun_p95=percentile(reruns, 0.95),
        duplicates=checked["duplicates"], shown_twice=checked["shown_twice"],
        lost=checked["lost"], unconfirmed_rows=checked["unconfirmed_rows"],
        errors=[error for run in runs for error in run.errors], runs=runs, think=think,
    )


# --------------------------------------------------------------------------------------------
# The servers' side of the story: their run log
# --------------------------------------------------------------------------------------------


def read_run_log(paths: list[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": statistics.median(values), "p95": percentile(values, 0.95),
            "max": max(values)}


def server_side(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What the servers measured, per kind of calling-page run.

    `card_ms` is from the moment the save's click reaches the page (its on_click callback, the
    first code a run executes) to the next contact's card being handed to Streamlit for the
    browser; `run_ms` to the end of that run. A bare rerun (an outcome click) starts at the top
    of app.py. The database counts are per run: statements, commits, rollbacks (a round trip
    each on PostgreSQL) and pool checkouts (one pre-ping round trip each on PostgreSQL).
    """
    summary: dict[str, Any] = {}
    calling = [r for r in records if r.get("page") == "calling"]
    for kind, runs in (("save", [r for r in calling if r["kind"] == "save"]),
                       ("rerun", [r for r in calling
                                  if r["kind"] == "run" and "claim_ms" not in r])):
        if not runs:
            continue
        entry: dict[str, Any] = {"runs": len(runs), "run_ms": _spread([r["run_ms"] for r in runs])}
        cards = [r["card_ms"] for r in runs if "card_ms" in r]
        if cards:
            entry["card_ms"] = _spread(cards)
        for name in ("statements", "commits", "rollbacks", "checkouts"):
            values = [r[name] for r in runs]
            entry[name] = {"median": statistics.median(values), "max": max(values)}
        for name in ("write_wait_ms", "commit_ms", "gc_ms"):
            entry[name] = _spread([r[name] for r in runs])
        summary[kind] = entry
    return summary


# --------------------------------------------------------------------------------------------
# Running the volunteers' event loop
# --------------------------------------------------------------------------------------------


def run_in_own_thread(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run on a thread of its own: the caller may already be inside an event loop
    (Playwright's sync API, used by the other browser tests, keeps one running)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make_coroutine())
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="volunteers")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# The command line and the database
# --------------------------------------------------------------------------------------------


def command_line(description: str, *, volunteers: int, calls: int,
                 think: tuple[float, float]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--volunteers", type=int, default=volunteers)
    parser.add_argument("--calls", type=int, default=calls, help="saves per volunteer")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--think", type=float, nargs=2, default=think, metavar=("MIN", "MAX"),
                        help="seconds before picking an outcome (half again before Save)")
    return parser


def refused(args: argparse.Namespace) -> bool:
    """Say so (on stderr) if these arguments ask for what cannot run."""
    if args.servers > 1 and args.db == "sqlite":
        print("two servers share one database only on PostgreSQL: add --db postgres",
              file=sys.stderr)
        return True
    return False


@contextlib.contextmanager
def database_url(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "postgres":
        with scratch_postgres() as url:
            yield url
    else:
        yield migrated_sqlite_url(workdir / "db")


# --------------------------------------------------------------------------------------------
# A run's stage: seeded volunteers and campaign, the servers; and its report at the end
# --------------------------------------------------------------------------------------------


@dataclass
class Stage:
    database_url: str
    campaign_id: int
    usernames: list[str]
    organiser: str
    run_logs: list[Path]
    apps: list[AppServer]


def set_stage(database: Database, *, database_url: str, workdir: Path, volunteers: int,
              calls: int, servers: int, server_env: dict[str, str] | None = None) -> Stage:
    """Seed the volunteers and a campaign with enough contacts; make (not start) the servers,
    each logging its runs (RINGROUND_RUN_LOG)."""
    people = seed_people(database, volunteers=volunteers)
    campaign = seed_campaign(database, contacts=volunteers * (calls + 2) + 20)
    run_logs = [workdir / f"app{i + 1}-runs.jsonl" for i in range(servers)]
    apps = [AppServer(database_url=database_url, workdir=workdir, name=f"app{i + 1}",
                      extra_env={"RINGROUND_RUN_LOG": str(run_logs[i]), **(server_env or {})})
            for i in range(servers)]
    return Stage(database_url=database_url, campaign_id=campaign["id"],
                 usernames=[p["username"] for p in people if p["role"] == "volunteer"],
                 organiser=next(p["username"] for p in people if p["role"] == "organiser"),
                 run_logs=run_logs, apps=apps)


def final_report(database: Database, stage: Stage, runs: list[VolunteerRun], seconds: float,
                 *, calls: int, think: tuple[float, float]) -> LoadReport:
    """Check the database against what the volunteers saw; add the servers' own figures."""
    checked = check(database, stage.campaign_id, runs)
    backend = "postgresql" if stage.database_url.startswith("postgresql") else "sqlite"
    report = report_from(runs, seconds, checked, servers=len(stage.apps), backend=backend,
                         calls=calls, think=think)
    report.server = server_side(read_run_log(stage.run_logs))
    report.load_average = os.getloadavg()
    return report


# --------------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------------


def _ms(spread: dict[str, float]) -> str:
    if not spread:
        return "n/a"
    return f"p50 {spread['p50']:.0f} ms, p95 {spread['p95']:.0f} ms, max {spread['max']:.0f} ms"


def print_server_side(server: dict[str, Any]) -> None:
    if not server:
        print("  server side: no run log (RINGROUND_RUN_LOG was not set)")
        return
    save, rerun = server.get("save", {}), server.get("rerun", {})
    print(f"  server side, save click reaching the page -> next card sent: "
          f"{_ms(save.get('card_ms', {}))} (whole run {_ms(save.get('run_ms', {}))})")
    print(f"  server side, bare rerun: {_ms(rerun.get('run_ms', {}))}")
    for label, entry in (("save", save), ("bare rerun", rerun)):
        if not entry:
            continue
        counts = ", ".join(f"{entry[name]['median']:g} {name}" for name in
                           ("statements", "commits", "rollbacks", "checkouts"))
        print(f"  database work per {label} (median of {entry['runs']}): {counts}; "
              f"write-lock wait {_ms(entry['write_wait_ms'])}; "
              f"in COMMIT {_ms(entry['commit_ms'])}; in GC {_ms(entry['gc_ms'])}")


def print_report(report: LoadReport, *, client: str = "in Chromium") -> None:
    ms = 1000
    load = report.load_average if any(report.load_average) else os.getloadavg()
    print(f"{report.volunteers} volunteers {client}, {report.servers} server(s), "
          f"{report.backend}, {os.cpu_count()} CPU cores, think {report.think[0]:g}-"
          f"{report.think[1]:g} s, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"  saves: {report.saves} in {report.seconds:.1f} s "
          f"({report.calls_per_minute:.0f} calls/minute), confirmed on screen: "
          f"{report.confirmed}")
    print(f"  Save -> next contact on screen: p50 {report.p50 * ms:.0f} ms, "
          f"p95 {report.p95 * ms:.0f} ms, max {report.max * ms:.0f} ms "
          f"(target p95 <= {TARGET_P95_SECONDS * ms:.0f} ms)")
    print(f"  baseline, a bare rerun (outcome click): p50 {report.rerun_p50 * ms:.0f} ms, "
          f"p95 {report.rerun_p95 * ms:.0f} ms")
    print_server_side(report.server)
    capacity = report.seconds * (os.cpu_count() or 1)
    print(f"  CPU over the run: app server(s) {report.server_cpu_seconds:.0f} s "
          f"({report.server_cpu_seconds / max(1, report.saves) * ms:.0f} ms per save), browsers "
          f"and driver {report.client_cpu_seconds:.0f} s, of {capacity:.0f} core-seconds")
    print(f"  duplicate assignments: {len(report.duplicates) + len(report.shown_twice)}, "
          f"lost outcomes: {len(report.lost)}, errors: {len(report.errors)}")
    for error in report.errors[:10]:
        print(f"    {error}")
    verdict = "MET" if report.meets_target else "MISSED"
    print(f"  target p95 Save -> next <= {TARGET_P95_SECONDS * ms:.0f} ms: {verdict} "
          f"(p95 {report.p95 * ms:.0f} ms)")
