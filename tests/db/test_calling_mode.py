"""How a campaign calls, as core tells the page: bridged or not, ready or why not, texts or not;
and the confirmation code sent by core, not by the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config import Settings, load_settings
from core.dialing import calling_mode, shared_fake_dialer
from core.phone_verification import PhoneVerificationError, send_verification_code
from db.engine import Database
from tests.conftest import TEST_COOKIE_KEY
from tests.factories import make_campaign, make_user

SID = "AC" + "a" * 32
CALLER_ID = "+441270123456"


def settings(tmp_path: Path, **env: str) -> Settings:
    base = {"RINGROUND_DATA_DIR": str(tmp_path), "RINGROUND_COOKIE_KEY": TEST_COOKIE_KEY}
    return load_settings(env={**base, **env}, secrets_path=tmp_path / "none.toml")


TWILIO = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t", "TWILIO_CALLER_IDS": CALLER_ID}


pytestmark = pytest.mark.usefixtures("fresh_dialers")


def arrange(database: Database, *, phone: bool = True, **campaign: Any) -> tuple[int, int]:
    with database.write() as session:
        volunteer = make_user(session, confirmed_phone="+447400100099" if phone else None)
        made = make_campaign(session, **campaign)
        assert made.id is not None
        return made.id, volunteer.id


def mode(database: Database, ids: tuple[int, int], settings: Settings) -> Any:
    with database.session() as session:
        return calling_mode(session=session, campaign_id=ids[0], volunteer_id=ids[1],
                            settings=settings)


def test_a_campaign_on_own_phones_is_not_bridged(database: Database, tmp_path: Path) -> None:
    got = mode(database, arrange(database, dialer="tel"), settings(tmp_path, **TWILIO))
    assert (got.bridged, got.ready, got.problem, got.needs_phone) == (False, False, "", False)
    assert got.texting.can_text  # still texts from the configured number


def test_a_twilio_campaign_on_a_server_without_twilio_says_so_before_any_call(
    database: Database, tmp_path: Path
) -> None:
    got = mode(database, arrange(database, dialer="twilio"), settings(tmp_path))
    assert got.bridged and not got.ready and "Twilio is not set up" in got.problem


def test_a_twilio_campaign_with_an_invalid_caller_id_says_so(database: Database,
                                                             tmp_path: Path) -> None:
    got = mode(database, arrange(database, dialer="twilio", caller_id="12345"),
               settings(tmp_path, **TWILIO))
    assert not got.ready and "caller ID" in got.problem


def test_a_volunteer_without_a_confirmed_phone_is_asked_for_one(database: Database,
                                                                tmp_path: Path) -> None:
    got = mode(database, arrange(database, dialer="twilio", phone=False),
               settings(tmp_path, **TWILIO))
    assert (got.bridged, got.ready, got.needs_phone, got.problem) == (True, False, True, "")


def test_a_ready_twilio_campaign_shows_the_number_contacts_will_see(database: Database,
                                                                     tmp_path: Path) -> None:
    got = mode(database, arrange(database, dialer="twilio"), settings(tmp_path, **TWILIO))
    assert (got.ready, got.caller_id, got.texting.sender) == (True, "01270 123456", CALLER_ID)


def test_in_the_demo_a_code_is_texted_by_the_fake_and_shown(database: Database,
                                                            tmp_path: Path) -> None:
    _, volunteer = arrange(database, phone=False)
    demo = settings(tmp_path, RINGROUND_DEMO="1")
    sent = send_verification_code(database=database, settings=demo, user_id=volunteer,
                                  raw_phone="07400 100123", code_factory=lambda: "123456")
    assert sent.demo_text == "Your Ringround code is 123456. It expires in 10 minutes."
    assert "100123" not in sent.masked_phone
    [text] = shared_fake_dialer().sent
    assert (text.to, text.from_) == ("+447400100123", "Ringround")


def test_a_code_is_refused_in_words_when_there_is_no_number_to_text_from(
    database: Database, tmp_path: Path
) -> None:
    _, volunteer = arrange(database, phone=False)
    no_number = settings(tmp_path, TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN="t")
    with pytest.raises(PhoneVerificationError, match="no number to text from"):
        send_verification_code(database=database, settings=no_number, user_id=volunteer,
                               raw_phone="07400 100123")


def test_a_session_asks_twilio_less_often_once_signed_callbacks_can_reach_ringround(
    database: Database, tmp_path: Path
) -> None:
    ids = arrange(database, dialer="twilio")
    polling = mode(database, ids, settings(tmp_path, **TWILIO))
    called_back = mode(database, ids, settings(tmp_path, RINGROUND_PUBLIC_URL="https://x.org",
                                               **TWILIO))
    assert (polling.continuous, polling.poll_seconds, called_back.poll_seconds) == (
        True, 2.0, 10.0)
    own_phone = mode(database, arrange(database, dialer="tel"), settings(tmp_path, **TWILIO))
    assert not own_phone.continuous
