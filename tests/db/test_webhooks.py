"""Twilio callbacks: only requests signed with our token, for our public URL, write anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from twilio.request_validator import RequestValidator

from core.config import Settings
from core.webhooks import (
    expected_url,
    handle_inbound_sms,
    handle_status_callback,
    signature_valid,
)
from db.engine import Database
from db.models import CallAttempt, SmsMessage, Suppression
from tests.factories import demo_settings, make_campaign, make_contact

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://calls.example.org"
PARENT = "CA" + "1" * 32
CHILD = "CA" + "2" * 32


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path, RINGROUND_PUBLIC_URL=PUBLIC + "/",
                         TWILIO_ACCOUNT_SID="AC" + "a" * 32, TWILIO_AUTH_TOKEN=TOKEN)


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def make_attempt(database: Database, status: str | None = None, duration: int | None = None
                 ) -> int:
    with database.write() as session:
        campaign = make_campaign(session)
        contact = make_contact(session)
        attempt = CallAttempt(
            idempotency_key=f"k-{contact.id}", campaign_id=campaign.id, contact_id=contact.id,
            outcome_code="completed", started_at=datetime.now(UTC), provider="twilio",
            provider_call_id=PARENT, provider_status=status, duration_seconds=duration,
        )
        session.add(attempt)
        session.flush()
        return int(attempt.id or 0)


def attempt_state(database: Database, attempt_id: int) -> tuple[str | None, int | None]:
    with database.session() as session:
        attempt = session.get(CallAttempt, attempt_id)
        assert attempt is not None
        return attempt.provider_status, attempt.duration_seconds


def status_callback(database: Database, settings: Settings, params: dict[str, str],
                    headers: dict[str, str], query: str = ""):
    return handle_status_callback(database=database, settings=settings, params=params,
                                  headers=headers, query=query)


STATUS_URL = PUBLIC + "/twilio/status"
SMS_URL = PUBLIC + "/twilio/sms"


def test_a_signed_status_callback_stores_status_and_duration(
    database: Database, settings: Settings
) -> None:
    attempt_id = make_attempt(database, status="in-progress")
    params = {"CallSid": PARENT, "CallStatus": "completed", "CallDuration": "73"}
    response = status_callback(database, settings, params, sign(STATUS_URL, params))
    assert response.status == 200
    assert attempt_state(database, attempt_id) == ("completed", 73)


def test_the_contacts_leg_overrides_a_final_status_with_the_real_outcome(
    database: Database, settings: Settings
) -> None:
    attempt_id = make_attempt(database, status="completed", duration=40)
    params = {"CallSid": CHILD, "ParentCallSid": PARENT, "CallStatus": "busy", "CallDuration": "0"}
    assert status_callback(database, settings, params, sign(STATUS_URL, params)).status == 200
    assert attempt_state(database, attempt_id) == ("busy", 0)


def test_the_volunteers_leg_never_overwrites_a_final_status(
    database: Database, settings: Settings
) -> None:
    attempt_id = make_attempt(database, status="no-answer", duration=0)
    params = {"CallSid": PARENT, "CallStatus": "completed", "CallDuration": "31"}
    assert status_callback(database, settings, params, sign(STATUS_URL, params)).status == 200
    assert attempt_state(database, attempt_id) == ("no-answer", 0)


def test_a_callback_for_an_unknown_call_is_accepted_and_changes_nothing(
    database: Database, settings: Settings
) -> None:
    attempt_id = make_attempt(database)
    params = {"CallSid": "CA" + "9" * 32, "CallStatus": "busy"}
    response = status_callback(database, settings, params, sign(STATUS_URL, params))
    assert (response.status, response.body) == (200, "updated 0")
    assert attempt_state(database, attempt_id) == (None, None)


GOOD = {"CallSid": PARENT, "CallStatus": "busy", "CallDuration": "5"}


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        pytest.param(GOOD, {}, id="missing header"),
        pytest.param(GOOD, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, id="invalid"),
        pytest.param(GOOD, sign(STATUS_URL, GOOD, token="another-accounts-token"),
                     id="wrong token"),
        pytest.param({**GOOD, "CallStatus": "completed"}, sign(STATUS_URL, GOOD),
                     id="tampered body"),
        pytest.param({**GOOD, "Extra": "1"}, sign(STATUS_URL, GOOD), id="added parameter"),
        pytest.param(GOOD, sign("https://evil.example.org/twilio/status", GOOD),
                     id="tampered url"),
        pytest.param(GOOD, sign(SMS_URL, GOOD), id="signed for another route"),
    ],
)
def test_an_unsigned_or_tampered_status_callback_is_refused_and_writes_nothing(
    database: Database, settings: Settings, params: dict[str, str], headers: dict[str, str]
) -> None:
    attempt_id = make_attempt(database, status="in-progress")
    response = status_callback(database, settings, params, headers)
    assert response.status == 403
    assert attempt_state(database, attempt_id) == ("in-progress", None)


def test_the_query_string_is_part_of_what_twilio_signs(
    database: Database, settings: Settings
) -> None:
    attempt_id = make_attempt(database)
    headers = sign(STATUS_URL + "?campaign=3", GOOD)
    assert status_callback(database, settings, GOOD, headers, query="campaign=4").status == 403
    assert status_callback(database, settings, GOOD, headers, query="campaign=3").status == 200
    assert attempt_state(database, attempt_id) == ("busy", 5)


def test_without_a_public_url_or_auth_token_every_callback_is_refused(
    database: Database, settings: Settings
) -> None:
    attempt_id = make_attempt(database)
    headers = sign(STATUS_URL, GOOD)
    no_url = replace(settings, public_url="")
    no_token = replace(settings, twilio=replace(settings.twilio, auth_token=""))
    assert status_callback(database, no_url, GOOD, headers).status == 403
    assert status_callback(database, no_token, GOOD, headers).status == 403
    assert attempt_state(database, attempt_id) == (None, None)


def test_a_signed_stop_reply_suppresses_the_number_and_confirms_by_text(
    database: Database, settings: Settings
) -> None:
    params = {"From": "+447400100077", "Body": "Stop", "MessageSid": "SM" + "5" * 32}
    response = handle_inbound_sms(database=database, settings=settings, params=params,
                                  headers=sign(SMS_URL, params))
    assert (response.status, response.media_type) == (200, "application/xml")
    assert "<Message>" in response.body
    with database.session() as session:
        suppression = session.exec(select(Suppression)).one()
    assert (suppression.phone, suppression.source) == ("+447400100077", "sms_stop")


def test_a_forged_stop_reply_is_refused_and_suppresses_nobody(
    database: Database, settings: Settings
) -> None:
    params = {"From": "+447400100077", "Body": "STOP"}
    forged = {**params, "From": "+447400100078"}
    response = handle_inbound_sms(database=database, settings=settings, params=forged,
                                  headers=sign(SMS_URL, params))
    assert response.status == 403
    with database.session() as session:
        assert session.exec(select(Suppression)).all() == []
        assert session.exec(select(SmsMessage)).all() == []


def test_the_expected_url_is_the_public_one_plus_path_and_query() -> None:
    assert expected_url(PUBLIC + "/", "/twilio/sms", "a=1") == PUBLIC + "/twilio/sms?a=1"


def test_signature_headers_are_matched_whatever_their_case() -> None:
    params = {"A": "1"}
    header = sign(STATUS_URL, params)["X-Twilio-Signature"]
    assert signature_valid(auth_token=TOKEN, url=STATUS_URL, params=params,
                           headers={"x-twilio-signature": header})
