"""A recruit texted a volunteer invite registers and their calls count for the campaign that
recruited them (issue #17)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import select

from core.auth import register_with_invite
from core.config import Settings
from core.dialing import reset_dialers, shared_fake_dialer
from core.event_funnel import recruited_callers
from core.recruits import InviteNotSent, send_recruit_invite
from core.suppression import add_suppression
from db.engine import Database
from db.models import CallAttempt, SmsMessage
from tests.factories import make_campaign, make_contact

NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def test_a_texted_invite_credits_the_recruits_calls_to_the_recruiting_campaign(
    database: Database, tmp_path: Path
) -> None:
    reset_dialers()
    settings = Settings(database_url="sqlite://", data_dir=tmp_path, cookie_key="k" * 48,
                        public_url="https://calls.example.org")
    with database.write() as s:
        campaign = make_campaign(s, dialer="fake", name="Saturday push")
        other = make_campaign(s)
        recruit = make_contact(s, first_name="Asha")
        refuser = make_contact(s)
        add_suppression(session=s, phone=refuser.phone, source="organiser", reason="asked")
    with pytest.raises(InviteNotSent, match="asked not to be contacted"):
        send_recruit_invite(database=database, settings=settings, campaign_id=campaign.id,
                            contact_id=refuser.id, actor_id=None, now=NOW)
    sent = send_recruit_invite(database=database, settings=settings, campaign_id=campaign.id,
                               contact_id=recruit.id, actor_id=None, now=NOW)
    [text] = shared_fake_dialer().sent
    assert text.to == recruit.phone and sent.link in text.body
    assert text.body.startswith("Hi Asha! Thanks for saying you'd help Saturday push.")
    token = parse_qs(urlparse(sent.link).query)["invite"][0]
    with database.write() as s:
        user = register_with_invite(session=s, token=token, name="Asha K",
                                    email="asha@example.org", username="asha",
                                    password="a long enough password", now=NOW)
        for n in range(3):
            s.add(CallAttempt(idempotency_key=f"r{n}", campaign_id=other.id,
                              volunteer_id=user.id, outcome_code="no_answer", started_at=NOW))
        messages = s.exec(select(SmsMessage)).all()
    with database.session() as s:
        assert recruited_callers(session=s, campaign_id=campaign.id) == {"callers": 1,
                                                                         "calls": 3}
        assert recruited_callers(session=s, campaign_id=other.id) == {"callers": 0, "calls": 0}
    assert [m.purpose for m in messages] == ["invite"]
    reset_dialers()
