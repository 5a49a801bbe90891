"""The real twilio client, as TwilioDialer drives it, against a mock of Twilio's own OpenAPI spec.

Prism answers 2xx only to requests the spec accepts and 422 to ones it does not, so these tests
fail if the SDK or our use of it drifts from Twilio's published API (a renamed parameter that is
required, a status value Twilio does not take, a path that no longer exists).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.config import TwilioSettings
from core.dialing import (
    DialerError,
    MachineDetection,
    RoomDial,
    TwilioDialer,
    rebased_http_client,
)

ACCOUNT_SID = "AC" + "a" * 32
VOLUNTEER = "+447400100001"
CONTACT = "+447400100002"
CALLER_ID = "+441270123456"
CALLS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


@pytest.fixture
def dialer(prism_url: str) -> TwilioDialer:
    return TwilioDialer(
        TwilioSettings(account_sid=ACCOUNT_SID, auth_token="token", caller_ids=(CALLER_ID,)),
        http_client=rebased_http_client(prism_url),
        status_callback_url="https://calls.example.org/twilio/status",
    )


def answered(dialer: TwilioDialer) -> list[tuple[str, str, int | None]]:
    http: Any = dialer._http_client
    return [(method, url.split("/2010-04-01/")[1], status) for method, url, status in http.requests]


def test_prism_is_really_mocking_twilio_and_not_some_other_server(prism_url: str) -> None:
    client = rebased_http_client(prism_url)
    response = client.request(
        "GET", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}.json",
        auth=(ACCOUNT_SID, "token"),
    )
    assert response.status_code == 200 and '"friendly_name"' in response.text
    assert client.requests[0][1].startswith(prism_url)


def test_checking_the_credentials_fetches_the_account(dialer: TwilioDialer) -> None:
    account = dialer.check_account()
    assert set(account) == {"friendly_name", "status", "type"}
    assert answered(dialer) == [("GET", f"Accounts/{ACCOUNT_SID}.json", 200)]


def test_starting_a_bridge_is_a_call_create_the_spec_accepts(dialer: TwilioDialer) -> None:
    sid = dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "O'Brien & <Sons>")
    assert sid.startswith("CA")
    assert answered(dialer) == [("POST", f"Accounts/{ACCOUNT_SID}/Calls.json", 201)]


def test_polling_a_bridge_fetches_the_call_and_lists_its_child_legs(dialer: TwilioDialer) -> None:
    info = dialer.status("CA" + "b" * 32)
    assert info.provider == "twilio" and info.provider_status
    statuses = answered(dialer)
    assert statuses[0] == ("GET", f"Accounts/{ACCOUNT_SID}/Calls/{'CA' + 'b' * 32}.json", 200)
    assert all(200 <= (status or 0) < 300 for _, _, status in statuses)


@pytest.mark.parametrize("status", ["canceled", "completed"])
def test_both_ways_of_hanging_up_are_call_updates_the_spec_accepts(
    dialer: TwilioDialer, status: str
) -> None:
    dialer.client.calls("CA" + "c" * 32).update(status=status)
    dialer.hang_up("CA" + "c" * 32)
    assert all(200 <= (code or 0) < 300 for _, _, code in answered(dialer))
    assert answered(dialer)[0][0] == "POST"


def test_a_follow_up_text_is_a_message_create_the_spec_accepts(dialer: TwilioDialer) -> None:
    receipt = dialer.send_sms(CONTACT, CALLER_ID, "Thanks! Saturday: https://example.org/sat")
    assert receipt.provider_id.startswith("SM")
    assert answered(dialer) == [("POST", f"Accounts/{ACCOUNT_SID}/Messages.json", 201)]


def test_the_mock_rejects_a_call_create_without_a_to_number(dialer: TwilioDialer) -> None:
    response = dialer.client.request(
        "POST", CALLS_URL, data={"From": CALLER_ID, "Twiml": "<Response/>"}
    )
    assert response.status_code == 422
    assert "To" in response.text


def test_the_mock_rejects_a_hang_up_with_a_status_twilio_does_not_take(
    dialer: TwilioDialer,
) -> None:
    with pytest.raises(DialerError, match="422"):
        dialer._call(lambda: dialer.client.calls("CA" + "d" * 32).update(status="hangup"))


def test_the_organisers_credentials_check_passes_against_the_mock(
    prism_url: str, tmp_path: Any
) -> None:
    from core.config import load_settings
    from core.dialing import check_twilio

    settings = load_settings(
        env={"RINGROUND_DEMO": "1", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "t",
             "TWILIO_CALLER_IDS": CALLER_ID, "RINGROUND_PUBLIC_URL": "https://x.example.org",
             "TWILIO_BASE_URL": prism_url, "RINGROUND_DATA_DIR": str(tmp_path)},
        secrets_path=tmp_path / "none.toml",
    )
    result = check_twilio(settings)
    assert result.ok and result.account_name


# --- continuous calling: the session's requests -----------------------------------------------

ROOM = "ringround-0123456789abcdef"


def test_ringing_the_volunteer_into_their_room_is_a_call_create_the_spec_accepts(
    dialer: TwilioDialer,
) -> None:
    sid = dialer.ring_into_room(volunteer_phone=VOLUNTEER, caller_id=CALLER_ID, room=ROOM,
                                status_callback="https://calls.example.org/twilio/session")
    assert sid.startswith("CA")
    assert answered(dialer) == [("POST", f"Accounts/{ACCOUNT_SID}/Calls.json", 201)]


@pytest.mark.parametrize("detection", list(MachineDetection))
def test_dialling_a_contact_into_the_room_is_a_participant_create_the_spec_accepts(
    dialer: TwilioDialer, detection: MachineDetection
) -> None:
    sid = dialer.dial_into_room(RoomDial(
        room=ROOM, contact_phone=CONTACT, caller_id=CALLER_ID, ring_seconds=25,
        detection=detection, status_callback="https://calls.example.org/twilio/session"))
    assert sid.startswith("CA")
    assert answered(dialer) == [
        ("POST", f"Accounts/{ACCOUNT_SID}/Conferences/{ROOM}/Participants.json", 201)]


def test_the_participant_request_carries_machine_detection_and_a_ring_of_at_least_15_s(
    dialer: TwilioDialer,
) -> None:
    http: Any = dialer._http_client
    sent: list[dict[str, Any]] = []
    inner = http.inner.request

    def spy(method: str, uri: str, **kwargs: Any) -> Any:
        sent.append(dict(kwargs.get("data") or {}))
        return inner(method, uri, **kwargs)

    http.inner.request = spy
    dialer.dial_into_room(RoomDial(
        room=ROOM, contact_phone=CONTACT, caller_id=CALLER_ID, ring_seconds=25,
        detection=MachineDetection.AWAIT_BEEP,
        status_callback="https://calls.example.org/twilio/session"))
    [data] = sent
    assert (data["From"], data["To"], data["MachineDetection"]) == (
        CALLER_ID, CONTACT, "DetectMessageEnd")
    assert int(data["Timeout"]) >= 15
    assert (data["EarlyMedia"], data["EndConferenceOnExit"]) == ("false", "false")
    assert data["AmdStatusCallback"] == "https://calls.example.org/twilio/session"


def test_watching_ending_and_messaging_a_leg_are_call_requests_the_spec_accepts(
    dialer: TwilioDialer,
) -> None:
    sid = "CA" + "e" * 32
    assert dialer.leg(sid).status
    dialer.end_leg(sid)
    dialer.leave_message(sid, "Hello from the NHS campaign; we will try again.")
    assert answered(dialer)[0] == ("GET", f"Accounts/{ACCOUNT_SID}/Calls/{sid}.json", 200)
    assert all(200 <= (code or 0) < 300 for _, _, code in answered(dialer))
    assert answered(dialer)[-1][0] == "POST"


def test_the_mock_rejects_a_participant_without_a_from_number(dialer: TwilioDialer) -> None:
    url = (f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Conferences/{ROOM}/"
           "Participants.json")
    response = dialer.client.request("POST", url, data={"To": CONTACT})
    assert response.status_code == 422 and "From" in response.text
