"""Thirty volunteers calling at once in real Chromium pages against one app server.

The figures (save-to-next p50/p95, the server's own timings and database counts per run,
calls per minute, CPU split) are printed and written to
artifacts/e2e/load.json for the README's performance table. `python -m bench.load` runs the
same thing by hand, with more volunteers or calls if wanted.
"""

from __future__ import annotations

import json
import os

import pytest

from bench._report import CALLING_PACE, print_report
from bench.load import run_load
from tests.e2e.harness import ARTIFACTS

pytestmark = pytest.mark.e2e

VOLUNTEERS = int(os.environ.get("RINGROUND_LOAD_VOLUNTEERS", "30"))
CALLS = int(os.environ.get("RINGROUND_LOAD_CALLS", "5"))
# A guard against collapse, not the target: the target (p95 <= 1 s,
# bench._report.TARGET_P95_SECONDS) is measured and printed by `python -m bench.load`, because
# wall-clock time on a shared 2-core machine varies from session to session. CI judges
# correctness; the bench judges speed.
# Two guards. What the server does with a save (the click reaching the page to the next
# card handed to the browser) is Ringround's own work: p95 200-400 ms in CI runs, guarded at
# 3 s. What the browser sees adds thirty Chromium pages sharing the server's two cores, and
# that varies most between machines (p95 1.0 s in one session's clean-clone CI, 4.1-4.5 s in
# the next's, with the server side at 350 ms in both): guarded only against a hang, at 15 s.
P95_LIMIT = float(os.environ.get("RINGROUND_LOAD_P95_LIMIT", "15.0"))
SERVER_P95_LIMIT_MS = float(os.environ.get("RINGROUND_LOAD_SERVER_P95_LIMIT_MS", "3000"))
# The database work of one calling-page run, from the server's own run log. Unlike time these
# counts are the same on any machine, so they are pinned: a bare rerun (an outcome click, the
# page only redrawn) reads and never writes; a save writes the outcome and claims the next
# contact, and nothing else. Periodic work (the hourly purge) runs on a thread of its own.
# Today (bench/load.py's run log): a bare rerun 7-15 statements on 2-4 connections (the user
# and check-in read, the page's reads, the follow-up text's and event offers' own reads once a
# conversation outcome is picked); a save 26-30 statements, 2 commits on 6 connections.
# A rerun that falls due to renew the lease (30 s after the last renewal: a slow click does
# it) adds the renewal's own transaction on top of any of those: 3 statements on 1 connection
# (seen in a clean-clone CI run: 16 + 3 and 14 + 3, the lease renewed with a conversation
# outcome's reads and without).
RENEWAL_STATEMENTS = 3
RENEWAL_CONNECTIONS = 1
RERUN_MAX_STATEMENTS = 16 + RENEWAL_STATEMENTS
RERUN_MAX_CONNECTIONS = 4 + RENEWAL_CONNECTIONS
SAVE_MAX_STATEMENTS = 32
SAVE_MAX_COMMITS = 2


def test_thirty_volunteers_at_once_get_no_duplicate_lose_no_save_and_see_the_next_contact_fast(
    tmp_path, sqlite_app_url, chromium_path
):
    report = run_load(database_url=sqlite_app_url, workdir=tmp_path / "servers",
                      volunteers=VOLUNTEERS, calls=CALLS, think=CALLING_PACE)
    print_report(report)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report.summary(), default=str, indent=2))

    assert report.errors == []
    assert report.volunteers == VOLUNTEERS
    assert report.saves == VOLUNTEERS * CALLS
    # Zero duplicate assignments: nobody saw a contact another volunteer had, and no contact
    # has two calls in the database.
    assert report.shown_twice == []
    assert report.duplicates == []
    # Zero lost outcomes: every save confirmed on screen is a row, and no row is unconfirmed.
    assert report.confirmed == report.saves
    assert report.lost == []
    assert report.unconfirmed_rows == 0
    assert report.p95 <= P95_LIMIT, (
        f"save -> next contact p95 {report.p95:.2f} s is over the collapse guard {P95_LIMIT:.2f} s"
    )

    rerun, save = report.server["rerun"], report.server["save"]
    assert save["card_ms"]["p95"] <= SERVER_P95_LIMIT_MS, (
        f"the server's save -> next card p95 {save['card_ms']['p95']:.0f} ms is over the "
        f"collapse guard {SERVER_P95_LIMIT_MS:.0f} ms")
    assert save["runs"] >= report.saves  # a click a busy page dropped is pressed again
    assert rerun["commits"]["median"] == 0, "a rerun that only redraws the page wrote"
    # At most the lease's renewal, once it is 30 s old (a slow machine can delay a click so).
    assert rerun["commits"]["max"] <= 1
    assert rerun["statements"]["max"] <= RERUN_MAX_STATEMENTS
    assert rerun["checkouts"]["max"] <= RERUN_MAX_CONNECTIONS
    assert save["commits"]["max"] <= SAVE_MAX_COMMITS
    assert save["statements"]["max"] <= SAVE_MAX_STATEMENTS
