"""Two app servers on one PostgreSQL, volunteers split across them, an organiser on each."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest

from bench._report import check, print_report, read_run_log, report_from, server_side
from bench.load import drive
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import (
    ARTIFACTS,
    PASSWORD,
    attempts_by_contact,
    seed_campaign,
    seed_people,
    tree_cpu_seconds,
)

pytestmark = pytest.mark.e2e

VOLUNTEERS = 12
CALLS = 4
# A brisk pace (a save every ~1.5 s each): this test checks sharing, not speed; its figures are
# a stress run's, and bench/load.py --servers 2 --db postgres measures the calling pace.
THINK = (0.3, 1.0)


def metric(page, label: str) -> int | None:
    """The number an st.metric labelled `label` shows, or None while it is not on screen."""
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    if box.count() == 0:
        return None
    text = box.first.locator('[data-testid="stMetricValue"]').inner_text()
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else None


def open_dashboard(context, url: str):
    page = context.new_page()
    ui.open_app(page, url)
    ui.sign_in(page, "org1", PASSWORD)
    page.get_by_text("Dials (all time)", exact=True).wait_for(timeout=60_000)
    return page


def test_two_servers_on_one_postgresql_share_the_queue_and_both_dashboards_see_every_call(
    start_server, postgres_app_url, new_context, test_db_factory, screenshots, tmp_path
):
    db = test_db_factory(postgres_app_url)
    people = seed_people(db, volunteers=VOLUNTEERS)
    campaign = seed_campaign(db, contacts=VOLUNTEERS * (CALLS + 2) + 10)
    run_logs = [tmp_path / "app1-runs.jsonl", tmp_path / "app2-runs.jsonl"]
    first = start_server(postgres_app_url, name="app1", RINGROUND_DASHBOARD_REFRESH_SECONDS="2",
                         RINGROUND_RUN_LOG=str(run_logs[0]))
    second = start_server(postgres_app_url, name="app2", RINGROUND_DASHBOARD_REFRESH_SECONDS="2",
                          RINGROUND_RUN_LOG=str(run_logs[1]))
    dashboards = [open_dashboard(new_context(), server.url) for server in (first, second)]
    for page in dashboards:
        assert metric(page, "Dials (all time)") == 0

    # The volunteers run in their own browser on their own event loop (Playwright's async
    # API), half on each server, while the organisers' pages stay open on this thread.
    usernames = [p["username"] for p in people if p["role"] == "volunteer"]
    outcome: dict[str, object] = {}

    def volunteers() -> None:
        try:
            outcome["runs"] = asyncio.run(drive(
                [first.url, second.url], usernames, calls=CALLS, think=THINK,
                timeout=90, ramp_seconds=4,
            ))
        except BaseException as exc:  # reported on the test's thread
            outcome["error"] = exc

    cpu_before = [tree_cpu_seconds(server.process.pid) for server in (first, second)]
    worker = threading.Thread(target=volunteers)
    worker.start()
    while worker.is_alive():
        for page in dashboards:  # keep the organisers' pages busy with their live refresh
            page.wait_for_timeout(1000)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    runs, seconds = outcome["runs"]  # type: ignore[misc]

    checked = check(db, campaign["id"], runs)
    report = report_from(runs, seconds, checked, servers=2, backend="postgresql", calls=CALLS,
                         think=THINK)
    # Both servers' CPU over the volunteers' run (the dashboards' refreshes included).
    report.server_cpu_seconds = sum(
        tree_cpu_seconds(server.process.pid) - before
        for server, before in zip((first, second), cpu_before, strict=True))
    report.server = server_side(read_run_log(run_logs))
    print_report(report)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "two-servers.json").write_text(
        json.dumps(report.summary(), default=str, indent=2))
    assert report.errors == []
    assert {run.server for run in runs} == {first.url, second.url}
    assert report.shown_twice == [] and report.duplicates == []
    assert report.lost == [] and report.unconfirmed_rows == 0
    assert report.saves == VOLUNTEERS * CALLS

    # Every call, made on either server, reaches both dashboards by their own refresh.
    total = len(attempts_by_contact(db, campaign["id"]))
    assert total == VOLUNTEERS * CALLS
    deadline = time.monotonic() + 30
    seen = [None, None]
    while time.monotonic() < deadline:
        seen = [metric(page, "Dials (all time)") for page in dashboards]
        if seen == [total, total]:
            break
        dashboards[0].wait_for_timeout(500)
    for number, page in enumerate(dashboards, start=1):
        screenshots.take(page, f"dashboard on server {number}")
    assert seen == [total, total], f"dashboards show {seen}, the database has {total} calls"
