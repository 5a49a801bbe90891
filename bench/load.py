"""Volunteers calling at once, in real Chromium pages: save-to-next time, duplicates, lost saves.

    python -m bench.load                             # 30 volunteers, one server, SQLite
    python -m bench.load --volunteers 40 --calls 20  # heavier
    python -m bench.load --think 0.5 1.5             # stress: a save every ~2 s per volunteer
    python -m bench.load --db postgres --servers 2   # two app servers on one PostgreSQL

Pacing: before picking an outcome each volunteer waits a random THINK seconds (default 8-20),
and half as long again before Save, so one save every ~21 s on average. No real call is that
quick (an unanswered one rings for ~25 s before the volunteer can press "No answer"), so thirty
volunteers at this pace load the server like a hundred or more real ones. `--think 0.5 1.5` is
a stress run: on a 2-core machine thirty Chromium pages redrawing every two seconds then take
all the CPU themselves (vmstat: 0 % idle, the app server under 10 %), and the figure measures
the browsers more than Ringround.

Each volunteer is a browser context of its own (its own cookies, its own Streamlit session) in
ONE headless Chromium, driven by Playwright's async API. Each signs in on the real login page,
starts calling, and for every contact picks an outcome (answering the survey when the call
was a conversation) and presses "Save and next", pausing a little between clicks as a person
would.

The figure is the time from the Save click to the next contact's name on screen, measured
inside the page (a capturing click listener and a MutationObserver on the contact card, both
on the page's own clock), so the test driver's scheduling does not inflate it. It is printed
with p50/p95/max beside a baseline measured in the same run: the time for a bare rerun of the
same page (a click on an outcome, which redraws the page without touching the queue), so the
save's own cost can be told apart from Streamlit's round trip on this machine.

Afterwards the database is checked: no contact called by two volunteers or twice (duplicate
assignments), and every save a volunteer saw confirmed on screen is a CallAttempt row by that
volunteer with that outcome (lost outcomes).
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
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import TimeoutError as PlaywrightTimeout

from db.engine import Database, make_engine
from tests.e2e.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    AppServer,
    attempts_by_contact,
    duplicate_assignments,
    leases,
    migrated_sqlite_url,
    percentile,
    scratch_postgres,
    seed_campaign,
    seed_people,
    tree_cpu_seconds,
)

T = TypeVar("T")
TARGET_P95_SECONDS = 1.0
# Seconds a volunteer spends before picking an outcome (half as long again before Save): see
# the module docstring for why this is faster than any real call and still a fair load.
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
IDLE = (
    '[data-testid="stApp"][data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)
CONFIRMED = re.compile(r"Saved “(?P<label>.+?)” for (?P<name>.+?)(?: \(it was already saved\))?\.")

# Runs in every page before Streamlit loads: notes when Save is clicked, and every change of
# the contact card's name, on the page's own clock.
PAGE_PROBE = r"""
(() => {
  const rr = window.__rr = {saveAt: null, shown: [], outcomeAt: null, rerunDone: []};
  const cardName = () => {
    const h = document.querySelector('[data-testid="stMain"] [data-testid="stColumn"] h3');
    if (!h) return null;
    const box = h.closest('[data-testid="stElementContainer"]');
    if (box && box.getAttribute('data-stale') === 'true') return null;
    return h.textContent.replace(/\s+/g, ' ').trim();
  };
  rr.cardName = cardName;
  let last = null;
  const look = () => {
    const name = cardName();
    if (name && name !== last) { last = name; rr.shown.push({name, at: performance.now()}); }
  };
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('button');
    // The first click counts: a click a busy page dropped, and the volunteer's second try,
    // are both part of the wait they saw.
    if (button && button.innerText.includes('Save and next') && rr.saveAt === null)
      rr.saveAt = performance.now();
  }, true);
  const start = () => {
    new MutationObserver(look).observe(document.body,
      {subtree: true, childList: true, characterData: true, attributes: true,
       attributeFilter: ['data-stale']});
    look();
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
"""


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
    def calls_per_minute(self) -> float:
        return self.saves / self.seconds * 60 if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("runs")
        data["calls_per_minute"] = round(self.calls_per_minute, 1)
        return data


# --------------------------------------------------------------------------------------------
# One volunteer in one browser context
# --------------------------------------------------------------------------------------------


async def wait_idle(page: Any, timeout: float = 60.0, settle: float = 0.15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        await page.wait_for_selector(IDLE, state="attached",
                                     timeout=max(100, (deadline - time.monotonic()) * 1000))
        await asyncio.sleep(settle)
        if await page.locator(IDLE).count() == 1:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not settle")


async def sign_in(page: Any, url: str, username: str, timeout: float) -> None:
    """Sign in on the login page, pressing Sign in again if a busy page dropped the click."""
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    await wait_idle(page, timeout)
    start = page.get_by_role("button", name="Start calling")
    username_box = page.get_by_label("Username", exact=True)
    for _attempt in range(4):
        if await username_box.count():
            await username_box.fill(username)
            await page.get_by_label("Password", exact=True).fill(PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
        with contextlib.suppress(PlaywrightTimeout):
            await start.wait_for(timeout=timeout * 1000)
            break
    await start.wait_for(timeout=timeout * 1000)
    await wait_idle(page, timeout)


async def card_name(page: Any) -> str | None:
    name = await page.evaluate("() => window.__rr.cardName()")
    return str(name) if name else None


async def pick(page: Any, group: str, option: str) -> float:
    """Click a radio option; return how long the rerun took to finish, seen from the driver."""
    started = time.perf_counter()
    await page.get_by_role("radiogroup", name=group).get_by_text(option, exact=True).click()
    await wait_idle(page, settle=0.05)
    return time.perf_counter() - started


async def save_and_wait(page: Any, previous: str, timeout: float) -> tuple[float | None, str]:
    """Press Save and next; wait for a different contact (or the end); return (seconds, text).

    A click that a busy page dropped (the button still there, nothing running) is repeated
    after a few seconds, as a volunteer would; the save is idempotent, so a repeat is safe.
    """
    await page.evaluate("() => { window.__rr.saveAt = null; }")
    save = page.get_by_role("button", name="Save and next", exact=True)
    deadline = time.monotonic() + timeout
    while True:
        await save.click(timeout=timeout * 1000)
        try:
            handle = await page.wait_for_function(
                """(previous) => {
                    const rr = window.__rr;
                    if (rr.saveAt === null) return false;
                    const next = rr.shown.find(s => s.at >= rr.saveAt && s.name !== previous);
                    if (next) return {seconds: (next.at - rr.saveAt) / 1000, name: next.name};
                    const main = document.querySelector('[data-testid="stMain"]');
                    const app = document.querySelector('[data-testid="stApp"]');
                    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning';
                    const text = main ? main.innerText : '';
                    const empty = /has been called|Nobody is waiting/.test(text);
                    if (idle && empty) return {seconds: null, name: ''};
                    return false;
                }""",
                arg=previous, polling=50, timeout=min(15.0, timeout) * 1000,
            )
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline or not await save.count():
                raise
            await wait_idle(page, timeout)
    result = await handle.json_value()
    await wait_idle(page, settle=0.05)
    return result["seconds"], result["name"]


async def start_calling(page: Any, timeout: float) -> None:
    """Press Start calling until a contact is on screen (a busy page may drop a click)."""
    start = page.get_by_role("button", name="Start calling")
    for attempt in range(3):
        if await start.count():
            await start.click()
        try:
            await page.wait_for_function("() => window.__rr.cardName() !== null",
                                         timeout=timeout * 1000 / 3)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            await wait_idle(page, timeout)


async def confirmation(page: Any) -> tuple[str, str] | None:
    boxes = page.locator('[data-testid="stAlertContentSuccess"]')
    for text in await boxes.all_inner_texts():
        match = CONFIRMED.search(text.replace("\n", " "))
        if match:
            return match["label"], match["name"]
    return None


async def volunteer(
    browser: Any, url: str, username: str, *, calls: int, seed: int,
    think: tuple[float, float], timeout: float, start_delay: float,
) -> VolunteerRun:
    run = VolunteerRun(username=username, server=url)
    rng = random.Random(seed)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout * 1000)
    await context.add_init_script(PAGE_PROBE)
    page = await context.new_page()
    try:
        await asyncio.sleep(start_delay)
        await sign_in(page, url, username, timeout)
        await start_calling(page, timeout)
        await wait_idle(page)
        name = await card_name(page)
        assert name is not None
        run.shown.append(name)
        for number in range(calls):
            label, answer = OUTCOMES[(seed + number) % len(OUTCOMES)]
            await asyncio.sleep(rng.uniform(*think))
            if answer is not None:
                run.rerun_seconds.append(await pick(page, "Will you join Saturday's action?",
                                                    answer))
            run.rerun_seconds.append(await pick(page, "Outcome", label))
            await asyncio.sleep(rng.uniform(*think) / 2)
            seconds, following = await save_and_wait(page, name, timeout)
            seen = await confirmation(page)
            confirmed = seen is not None and seen == (label, name)
            if seen is not None and not confirmed:
                run.errors.append(f"{username}: confirmation {seen} after saving {label} {name}")
            run.saves.append(Save(contact=name, label=label, seconds=seconds,
                                  confirmed=confirmed))
            if not following:
                run.finished = "queue empty"
                break
            name = following
            run.shown.append(name)
        else:
            run.finished = "done"
    except Exception as exc:  # recorded, and the run goes on with the other volunteers
        run.errors.append(f"{username}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        with contextlib.suppress(Exception):
            shot = Path(tempfile.gettempdir()) / f"ringround-load-{username}.png"
            await page.screenshot(path=str(shot), full_page=True)
            run.errors.append(f"{username}: screenshot {shot}")
    finally:
        await context.close()
    return run


async def drive(
    urls: list[str], usernames: list[str], *, calls: int, think: tuple[float, float],
    timeout: float, ramp_seconds: float,
) -> tuple[list[VolunteerRun], float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        started = time.perf_counter()
        try:
            runs = await asyncio.gather(*(
                volunteer(browser, urls[i % len(urls)], username, calls=calls, seed=i,
                          think=think, timeout=timeout,
                          start_delay=ramp_seconds * i / max(1, len(usernames)))
                for i, username in enumerate(usernames)
            ))
        finally:
            await browser.close()
        return list(runs), time.perf_counter() - started


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
# A whole run: database, seed, servers, browsers, checks
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

    worker = threading.Thread(target=target, name="load-volunteers")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _reaped_children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


@contextlib.contextmanager
def database_url(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "postgres":
        with scratch_postgres() as url:
            yield url
    else:
        yield migrated_sqlite_url(workdir / "db")


def run_load(
    *, database_url: str, workdir: Path, volunteers: int = 30, calls: int = 10,
    servers: int = 1, think: tuple[float, float] = CALLING_PACE, timeout: float = 60.0,
    ramp_seconds: float = 20.0, server_env: dict[str, str] | None = None,
) -> LoadReport:
    """Seed, start the servers, drive the volunteers, stop the servers, check the database."""
    database = Database(make_engine(database_url, pool_size=4, max_overflow=4))
    try:
        people = seed_people(database, volunteers=volunteers)
        campaign = seed_campaign(database, contacts=volunteers * (calls + 2) + 20)
        usernames = [p["username"] for p in people if p["role"] == "volunteer"]
        run_logs = [workdir / f"app{i + 1}-runs.jsonl" for i in range(servers)]
        apps = [AppServer(database_url=database_url, workdir=workdir, name=f"app{i + 1}",
                          extra_env={"RINGROUND_RUN_LOG": str(run_logs[i]),
                                     **(server_env or {})})
                for i in range(servers)]
        try:
            for app in apps:
                app.start()
            server_cpu = [tree_cpu_seconds(app.process.pid) for app in apps if app.process]
            everything = tree_cpu_seconds(os.getpid()) + _reaped_children_cpu()
            runs, seconds = run_in_own_thread(lambda: drive(
                [app.url for app in apps], usernames, calls=calls, think=think,
                timeout=timeout, ramp_seconds=ramp_seconds,
            ))
            server_seconds = sum(
                tree_cpu_seconds(app.process.pid) - before
                for app, before in zip(apps, server_cpu, strict=True) if app.process
            )
            # The browser has exited by now; its CPU time is counted in this process's
            # children only once reaped, so measure what is left: everything minus servers.
            client_seconds = tree_cpu_seconds(os.getpid()) + _reaped_children_cpu() - everything
            client_seconds -= server_seconds
        finally:
            for app in apps:
                app.stop()
        checked = check(database, campaign["id"], runs)
        backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
        report = report_from(runs, seconds, checked, servers=servers, backend=backend,
                             calls=calls, think=think)
        report.server_cpu_seconds = server_seconds
        report.client_cpu_seconds = client_seconds
        report.server = server_side(read_run_log(run_logs))
        report.load_average = os.getloadavg()
        return report
    finally:
        database.dispose()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=30)
    parser.add_argument("--calls", type=int, default=10, help="saves per volunteer")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--think", type=float, nargs=2, default=CALLING_PACE,
                        metavar=("MIN", "MAX"),
                        help="seconds before picking an outcome (half again before Save)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON too")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run .ci/install-browser", file=sys.stderr)
        return 2
    if args.servers > 1 and args.db == "sqlite":
        print("two servers share one database only on PostgreSQL: add --db postgres",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ringround-load-") as tmp, \
            database_url(args.db, Path(tmp)) as url:
        report = run_load(database_url=url, workdir=Path(tmp), volunteers=args.volunteers,
                          calls=args.calls, servers=args.servers, think=tuple(args.think))
    print_report(report)
    if args.json:
        print(json.dumps(report.summary(), default=str, indent=2))
    bad = report.duplicates or report.shown_twice or report.lost or report.errors
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
