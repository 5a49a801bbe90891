"""Twenty volunteers at once over Streamlit's websocket protocol (bench/protocol.py), no browser.

The short CI version of the capacity runs: it fails on a duplicate assignment, a lost outcome,
an error, or a p95 past the collapse guard. The figures go to artifacts/e2e/protocol-load.json;
the long runs (50 to 200 volunteers, one or two servers) are `python -m bench.protocol`.

In the full suite the browser tests' Playwright keeps an event loop running on this thread;
the driver runs its own loop on a thread of its own (bench/_report.py's run_in_own_thread),
so this test passes there as it does alone (tests/core/test_protocol_driver.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import pytest

from bench._report import print_report
from bench.protocol import print_capacity, run_protocol_load
from tests.e2e.harness import ARTIFACTS

pytestmark = pytest.mark.e2e

VOLUNTEERS = int(os.environ.get("RINGROUND_PROTOCOL_VOLUNTEERS", "20"))
CALLS = 3
# Brisker than a real caller (a save every ~8 s each), to fit CI's two minutes.
THINK = (3.0, 7.0)
# A guard against collapse, not the target (p95 <= 1 s, printed by bench.protocol).
P95_LIMIT = float(os.environ.get("RINGROUND_PROTOCOL_P95_LIMIT", "5.0"))


def test_twenty_volunteers_over_websockets_get_no_duplicate_and_lose_no_save(
    tmp_path, sqlite_app_url
):
    report, capacity = run_protocol_load(
        database_url=sqlite_app_url, workdir=tmp_path / "servers", volunteers=VOLUNTEERS,
        calls=CALLS, think=THINK, timeout=60, ramp_seconds=5)
    print_report(report, client="over websockets (bench/protocol.py, no browser)")
    print_capacity(capacity)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "protocol-load.json").write_text(json.dumps(
        {**report.summary(), "capacity": asdict(capacity)}, default=str, indent=2))

    assert report.errors == []
    assert report.saves == VOLUNTEERS * CALLS
    assert report.shown_twice == [] and report.duplicates == []
    assert report.confirmed == report.saves
    assert report.lost == [] and report.unconfirmed_rows == 0
    # The organiser's dashboard, left open and refreshing itself through the run, shows
    # every call once the last save is in.
    [dashboard] = capacity.dashboards
    assert dashboard.error == "" and dashboard.refreshes > 0
    assert dashboard.shown == capacity.calls_stored == VOLUNTEERS * CALLS
    assert report.p95 <= P95_LIMIT, (
        f"save -> next contact p95 {report.p95:.2f} s is over the collapse guard {P95_LIMIT:.2f} s"
    )
