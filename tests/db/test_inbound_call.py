"""Ringing the campaign number back (Ofcom: a caller ID that can be called back): Twilio's signed
voice webhook is answered with who called and how to opt out; an unsigned one gets 403."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from core.config import Settings
from core.webhooks import handle_inbound_call
from db.engine import Database
from tests.factories import demo_settings, make_campaign

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://calls.example.org"
URL = PUBLIC + "/twilio/voice"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path, RINGROUND_PUBLIC_URL=PUBLIC, TWILIO_ACCOUNT_SID="AC" + "a" * 32,
                         TWILIO_AUTH_TOKEN=TOKEN)


def ring_back(database: Database, settings: Settings, to: str, token: str = TOKEN) -> tuple:
    params = {"From": "+447400100002", "To": to, "CallSid": "CA" + "3" * 32}
    signature = RequestValidator(token).compute_signature(URL, params)
    result = handle_inbound_call(database=database, settings=settings, params=params,
                                 headers={"X-Twilio-Signature": signature})
    return result.status, result.body


def test_calling_back_says_which_campaign_called_and_how_to_stop_it(
    database: Database, settings: Settings
) -> None:
    with database.write() as session:
        make_campaign(session, name="Save Crewe Hospital", caller_id="01270 123456")
    status, body = ring_back(database, settings, "+441270123456")
    said = ET.fromstring(body).find("Say")
    assert status == 200 and said is not None and said.text is not None
    assert "Save Crewe Hospital" in said.text and "STOP" in said.text


def test_an_unsigned_ring_back_is_refused(database: Database, settings: Settings) -> None:
    assert ring_back(database, settings, "+441270123456", token="wrong")[0] == 403
