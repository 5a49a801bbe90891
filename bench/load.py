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

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench import _report as shared
from db.engine import Database, make_engine
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, PASSWORD, tree_cpu_seconds

IDLE = (
    '[data-testid="stApp"][data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)

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
    """Sign in on the login page, pressing Sign in again if a busy page dropped the click.

    Thirty Chromium pages opening at once on two cores can leave one page's first load
    unfinished past the timeout (seen once in a clean-clone CI run at load 8-13: the page's
    skeleton drawn, the app never started); the volunteer reloads once, as a person would.
    """
    for attempt in range(2):
        try:
            await page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
            await wait_idle(page, timeout)
            break
        except (PlaywrightTimeout, TimeoutError):
            if attempt:
                raise
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
        match = shared.CONFIRMED.search(text.replace("\n", " "))
        if match:
            return match["label"], match["name"]
    return None


async def volunteer(
    browser: Any, url: str, username: str, *, calls: int, seed: int,
    think: tuple[float, float], timeout: float, start_delay: float,
) -> shared.VolunteerRun:
    run = shared.VolunteerRun(username=username, server=url)
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

        async def pick_outcome(label: str, answer: str | None) -> None:
            if answer is not None:
                run.rerun_seconds.append(await pick(page, "Will you join Saturday's action?",
                                                    answer))
            run.rerun_seconds.append(await pick(page, "Outcome", label))

        async def save(name: str, label: str) -> str | None:
            seconds, following = await save_and_wait(page, name, timeout)
            run.saved(contact=name, label=label, seconds=seconds,
                      seen=await confirmation(page))
            return following or None

        await shared.make_calls(run, calls=calls, seed=seed, think=think, pick=pick_outcome,
                                save=save)
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
) -> tuple[list[shared.VolunteerRun], float]:
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
# A whole run: database, seed, servers, browsers, checks
# --------------------------------------------------------------------------------------------


def _reaped_children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def run_load(
    *, database_url: str, workdir: Path, volunteers: int = 30, calls: int = 10,
    servers: int = 1, think: tuple[float, float] = shared.CALLING_PACE, timeout: float = 60.0,
    ramp_seconds: float = 20.0, server_env: dict[str, str] | None = None,
) -> shared.LoadReport:
    """Seed, start the servers, drive the volunteers, stop the servers, check the database."""
    database = Database(make_engine(database_url, pool_size=4, max_overflow=4))
    try:
        stage = shared.set_stage(database, database_url=database_url, workdir=workdir,
                                 volunteers=volunteers, calls=calls, servers=servers,
                                 server_env=server_env)
        apps = stage.apps
        try:
            for app in apps:
                app.start()
            server_cpu = [tree_cpu_seconds(app.process.pid) for app in apps if app.process]
            everything = tree_cpu_seconds(os.getpid()) + _reaped_children_cpu()
            runs, seconds = shared.run_in_own_thread(lambda: drive(
                [app.url for app in apps], stage.usernames, calls=calls, think=think,
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
        report = shared.final_report(database, stage, runs, seconds, calls=calls, think=think)
        report.server_cpu_seconds = server_seconds
        report.client_cpu_seconds = client_seconds
        return report
    finally:
        database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = shared.command_line(__doc__.split("\n\n")[0], volunteers=30, calls=10,
                                 think=shared.CALLING_PACE)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON too")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run .ci/install-browser", file=sys.stderr)
        return 2
    if shared.refused(args):
        return 2
    with tempfile.TemporaryDirectory(prefix="ringround-load-") as tmp, \
            shared.database_url(args.db, Path(tmp)) as url:
        report = run_load(database_url=url, workdir=Path(tmp), volunteers=args.volunteers,
                          calls=args.calls, servers=args.servers, think=tuple(args.think))
    shared.print_report(report)
    if args.json:
        print(json.dumps(report.summary(), default=str, indent=2))
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
