"""Ofcom's figure on the compliance panel: abandoned calls over live answers, per campaign, over
the last 24 hours, with the AMD false-positive estimate Ofcom asks for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core import stats
from core.dialing.session import AMD_FALSE_POSITIVE_ESTIMATE, abandoned_calls
from db.engine import Database
from db.models import CallingSession, SessionCall
from tests.factories import make_campaign, make_user

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def calls(database: Database, rows: list[tuple[str, bool, timedelta]], campaign_id: int | None
          = None) -> int:
    """(result, abandoned, how long ago) per dialled line; the campaign's id."""
    with database.write() as session:
        if campaign_id is None:
            campaign_id = make_campaign(session, dialer="fake").id
        volunteer = make_user(session)
        room = CallingSession(campaign_id=campaign_id, volunteer_id=volunteer.id, room="r",
                              started_at=NOW, updated_at=NOW)
        session.add(room)
        session.flush()
        for result, abandoned, ago in rows:
            session.add(SessionCall(session_id=room.id, campaign_id=campaign_id, result=result,
                                    abandoned=abandoned, idempotency_key=uuid.uuid4().hex,
                                    dialled_at=NOW - ago))
    assert campaign_id is not None
    return campaign_id


def test_the_rate_counts_live_answers_and_abandons_of_this_campaign_in_the_last_24_hours(
    database: Database,
) -> None:
    hour = timedelta(hours=1)
    campaign = calls(database, [("talked", False, hour)] * 30 + [("", True, hour)]
                     + [("busy", False, hour)] * 5 + [("talked", False, 25 * hour)] * 9
                     + [("", True, 30 * hour)] * 4)
    calls(database, [("", True, hour)] * 10)  # another campaign's
    with database.session() as session:
        got = abandoned_calls(session=session, campaign_id=campaign, now=NOW)
    assert (got.live_answered, got.abandoned, got.amd_estimate) == (31, 1, 0.0)
    assert got.rate == pytest.approx(1 / 31)


def test_when_machines_were_detected_the_amd_estimate_is_added(database: Database) -> None:
    hour = timedelta(hours=1)
    campaign = calls(database, [("talked", False, hour)] * 100
                     + [("voicemail_left", False, hour)] * 40)
    with database.session() as session:
        got = abandoned_calls(session=session, campaign_id=campaign, now=NOW)
        panel = stats.compliance(session=session, campaign_id=campaign, until=NOW)
    estimate = AMD_FALSE_POSITIVE_ESTIMATE * 100
    assert got.amd_estimate == pytest.approx(estimate)
    assert got.rate == pytest.approx(estimate / (100 + estimate))
    assert (panel["live_answered_24h"], panel["abandoned_24h"]) == (100, 0)
    assert panel["abandoned_rate_24h"] == pytest.approx(got.rate)
