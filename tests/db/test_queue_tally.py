"""A volunteer's own tally: dials, conversations and completed surveys, per session and day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from core.tally import Counts, volunteer_tally
from db.models import CallAttempt
from tests.factories import make_campaign, make_user

# 00:30 BST on 11 June 2026 is 23:30 UTC on 10 June: "today" in London began an hour ago.
NOW = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)


def test_the_tally_counts_this_session_and_the_london_day_for_this_volunteer_only(
    database,
) -> None:
    with database.write() as s:
        me, someone_else = make_user(s), make_user(s)
        campaign = make_campaign(s)
        for volunteer, minutes_ago, talk, done in [
            (me, 5, True, True),       # this session
            (me, 8, False, False),     # this session
            (me, 20, True, False),     # today (00:10 BST), before the session
            (me, 40, True, True),      # yesterday in London (22:50 UTC = 23:50 BST)
            (someone_else, 5, True, True),
        ]:
            s.add(CallAttempt(
                idempotency_key=uuid.uuid4().hex, campaign_id=campaign.id,
                volunteer_id=volunteer.id, outcome_code="x", is_conversation=talk,
                is_completion=done, started_at=NOW - timedelta(minutes=minutes_ago)))
    with database.session() as s:
        tally = volunteer_tally(session=s, volunteer_id=me.id, now=NOW,
                                session_started_at=NOW - timedelta(minutes=10))
    assert tally.session == Counts(dials=2, conversations=1, completions=1)
    assert tally.day == Counts(dials=3, conversations=2, completions=1)
