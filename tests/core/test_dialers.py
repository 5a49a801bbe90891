"""The dialers: the fake's scripted calls, the Twilio bridge's status logic and its error messages.

TwilioDialer runs the real twilio client; only its HttpClient (the SDK's public extension point)
is replaced, by one that answers from a table, so no SDK internals are patched.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.response import Response

from core.config import TwilioSettings, load_settings
from core.dialing import (
    BadCredentials,
    CallerIdNotVerified,
    CallInfo,
    DialerError,
    DialerNotConfigured,
    DialerUnreachable,
    FakeDialer,
    InvalidNumber,
    MachineDetection,
    NoGeoPermission,
    NotABridge,
    RateLimited,
    RoomDial,
    SmsRecipientOptedOut,
    TelDialer,
    TwilioDialer,
    check_twilio,
    demo_script,
    dialer_for,
    map_twilio_error,
    rebased_http_client,
    reset_dialers,
    tel_link,
)
from core.dialing.twiml import bridge_twiml
from tests.factories import demo_settings

VOLUNTEER = "+447400100001"
CONTACT = "+447400100002"
CALLER_ID = "+441270123456"
SID = "AC" + "a" * 32
PARENT = "CA" + "1" * 32
CHILD = "CA" + "2" * 32
SETTINGS = TwilioSettings(account_sid=SID, auth_token="secret-token", caller_ids=(CALLER_ID,))


class TableHttpClient(HttpClient):
    """Answers each (method, path ending) from a table of (status, json body); records requests."""

    def __init__(self, table: dict[tuple[str, str], tuple[int, Any]] | None = None,
                 raise_error: Exception | None = None) -> None:
        super().__init__(logger=None, is_async=False)  # type: ignore[arg-type]
        self.table = table or {}
        self.raise_error = raise_error
        self.requests: list[dict[str, Any]] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.requests.append({"method": method.upper(), "uri": uri, "params": params,
                              "data": data, "auth": auth})
        if self.raise_error is not None:
            raise self.raise_error
        path = urlparse(uri).path
        for (table_method, ending), (status, body) in self.table.items():
            if table_method == method.upper() and path.endswith(ending):
                return Response(status, json.dumps(body))
        return Response(404, json.dumps({"code": 20404, "message": "not found", "status": 404}))


def call_json(sid: str, status: str, duration: str | None = None) -> dict[str, Any]:
    return {"sid": sid, "status": status, "duration": duration, "account_sid": SID}


def calls_page(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"calls": list(calls), "page": 0, "page_size": 1, "next_page_uri": None,
            "uri": "/x", "first_page_uri": "/x", "previous_page_uri": None, "start": 0, "end": 0}


def error(code: int, status: int = 400, message: str = "refused") -> tuple[int, Any]:
    return status, {"code": code, "message": message, "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}"}


@pytest.fixture
def app_settings(tmp_path: Any) -> Any:
    reset_dialers()
    yield demo_settings(tmp_path, TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN="t")
    reset_dialers()


def twilio(table: dict[tuple[str, str], tuple[int, Any]] | None = None, **kwargs: Any
           ) -> tuple[TwilioDialer, TableHttpClient]:
    http = TableHttpClient(table, **kwargs)
    return TwilioDialer(SETTINGS, http_client=http), http


# --- the fake ------------------------------------------------------------------------------


def test_the_fake_dialer_walks_a_call_through_its_script_one_poll_at_a_time() -> None:
    dialer = FakeDialer()
    sid = dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann Smith")
    seen = [dialer.status(sid).provider_status for _ in range(5)]
    assert seen == ["ringing", "in-progress", "completed", "completed", "completed"]
    final = dialer.status(sid)
    assert final.final and final.duration_seconds == 20 and final.suggested_outcome is None


def test_the_fake_dialer_records_who_was_bridged_and_the_twiml_it_would_send() -> None:
    dialer = FakeDialer()
    dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann Smith")
    call = dialer.calls[0]
    assert (call.volunteer_phone, call.contact_phone, call.caller_id) == (
        VOLUNTEER, CONTACT, CALLER_ID)
    assert call.twiml == bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID,
                                      contact_name="Ann Smith")


@pytest.mark.parametrize(
    ("script", "status", "outcome"),
    [
        (("queued", "ringing", "no-answer"), "no-answer", "no_answer"),
        (("queued", "busy"), "busy", "busy"),
        (("queued", "failed"), "failed", None),
    ],
)
def test_a_scripted_final_state_suggests_the_matching_outcome(
    script: tuple[str, ...], status: str, outcome: str | None
) -> None:
    dialer = FakeDialer(scripts={CONTACT: script})
    sid = dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "")
    for _ in range(len(script)):
        info = dialer.status(sid)
    assert (info.provider_status, info.suggested_outcome, info.final) == (status, outcome, True)


def test_hanging_up_the_fake_ends_a_connected_call_as_completed_and_a_ringing_one_as_canceled(
) -> None:
    dialer = FakeDialer()
    connected = dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "")
    dialer.status(connected)
    dialer.status(connected)  # in-progress
    ringing = dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "")
    assert dialer.hang_up(connected).provider_status == "completed"
    assert dialer.hang_up(ringing).provider_status == "canceled"
    assert dialer.status(ringing).provider_status == "canceled"  # stays ended


def test_the_fake_dialer_records_texts_and_can_be_made_to_fail_like_twilio() -> None:
    dialer = FakeDialer()
    receipt = dialer.send_sms(CONTACT, CALLER_ID, "Thanks!")
    assert receipt.status == "queued"
    assert [(s.to, s.from_, s.body) for s in dialer.sent] == [(CONTACT, CALLER_ID, "Thanks!")]
    dialer.fail_with = RateLimited("slow down")
    with pytest.raises(RateLimited):
        dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "")


def test_the_demo_script_shows_every_final_state_by_last_digit() -> None:
    assert demo_script("+447400100003")[-1] == "no-answer"
    assert demo_script("+447400100005")[-1] == "busy"
    assert demo_script("+447400100001")[-1] == "completed"


def test_own_phone_dialer_gives_a_tel_link_and_places_no_call() -> None:
    dialer = TelDialer()
    assert dialer.link("+44 7400 100002") == "tel:+447400100002"
    assert tel_link("+447400100002") == "tel:+447400100002"
    with pytest.raises(NotABridge):
        dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "")


def test_the_campaign_setting_picks_the_dialer(app_settings: Any) -> None:
    assert isinstance(dialer_for("tel", app_settings), TelDialer)
    assert isinstance(dialer_for("fake", app_settings), FakeDialer)
    assert isinstance(dialer_for("twilio", app_settings), TwilioDialer)
    assert dialer_for("fake", app_settings) is dialer_for("fake", app_settings)


# --- Twilio: requests and status logic ------------------------------------------------------


def test_the_twilio_client_is_not_built_until_first_used() -> None:
    dialer, http = twilio()
    assert dialer._client is None and http.requests == []


def test_a_bridge_rings_the_volunteer_from_the_caller_id_with_inline_twiml() -> None:
    dialer, http = twilio({("POST", "/Calls.json"): (201, call_json(PARENT, "queued"))})
    assert dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann Smith") == PARENT
    sent = http.requests[0]
    assert sent["data"]["To"] == VOLUNTEER and sent["data"]["From"] == CALLER_ID
    assert sent["data"]["Twiml"] == bridge_twiml(contact_phone=CONTACT, caller_id=CALLER_ID,
                                                 contact_name="Ann Smith")
    assert "StatusCallback" not in sent["data"]  # no public URL, so no callback
    assert sent["auth"] == (SID, "secret-token")


def test_with_a_public_url_the_bridge_asks_for_status_callbacks() -> None:
    http = TableHttpClient({("POST", "/Calls.json"): (201, call_json(PARENT, "queued"))})
    dialer = TwilioDialer(SETTINGS, http_client=http,
                          status_callback_url="https://calls.example.org/twilio/status")
    dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann")
    data = http.requests[0]["data"]
    assert data["StatusCallback"] == "https://calls.example.org/twilio/status"
    assert 'statusCallback="https://calls.example.org/twilio/status"' in data["Twiml"]


def test_an_api_key_authenticates_instead_of_the_auth_token() -> None:
    http = TableHttpClient({("POST", "/Calls.json"): (201, call_json(PARENT, "queued"))})
    settings = TwilioSettings(account_sid=SID, api_key="SK" + "b" * 32, api_secret="shh")
    TwilioDialer(settings, http_client=http).start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "")
    assert http.requests[0]["auth"] == ("SK" + "b" * 32, "shh")
    assert f"/Accounts/{SID}/Calls.json" in http.requests[0]["uri"]


def test_while_the_volunteers_phone_rings_the_status_is_ringing_with_a_hint() -> None:
    dialer, _ = twilio({("GET", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "ringing"))})
    info = dialer.status(PARENT)
    assert (info.provider_status, info.final) == ("ringing", False)
    assert "answer it" in info.detail


@pytest.mark.parametrize(
    ("child_status", "duration", "outcome", "stored_duration"),
    [("busy", "0", "busy", 0), ("no-answer", "0", "no_answer", 0),
     ("completed", "95", None, 95)],
)
def test_the_contacts_leg_decides_the_final_status_and_suggested_outcome(
    child_status: str, duration: str, outcome: str | None, stored_duration: int
) -> None:
    dialer, http = twilio({
        ("GET", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "completed", "120")),
        ("GET", "/Calls.json"): (200, calls_page(call_json(CHILD, child_status, duration))),
    })
    info = dialer.status(PARENT)
    assert info == CallInfo(provider="twilio", provider_call_id=PARENT,
                            provider_status=child_status, duration_seconds=stored_duration,
                            suggested_outcome=outcome)
    assert http.requests[1]["params"]["ParentCallSid"] == PARENT


def test_a_volunteer_who_does_not_answer_gets_no_outcome_suggested_for_the_contact() -> None:
    dialer, _ = twilio({
        ("GET", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "no-answer", "0")),
        ("GET", "/Calls.json"): (200, calls_page()),
    })
    info = dialer.status(PARENT)
    assert info.final and info.suggested_outcome is None
    assert info.detail == "Your phone did not answer, so the contact was not called."


def test_hanging_up_a_connected_bridge_completes_it() -> None:
    dialer, http = twilio({
        ("GET", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "in-progress")),
        ("POST", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "completed")),
        ("GET", "/Calls.json"): (200, calls_page(call_json(CHILD, "in-progress"))),
    })
    dialer.hang_up(PARENT)
    update = next(r for r in http.requests if r["method"] == "POST")
    assert update["data"] == {"Status": "completed"}


def test_hanging_up_while_the_volunteers_phone_rings_cancels_the_call() -> None:
    dialer, http = twilio({
        ("GET", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "ringing")),
        ("POST", f"/Calls/{PARENT}.json"): (200, call_json(PARENT, "canceled")),
    })
    dialer.hang_up(PARENT)
    assert next(r for r in http.requests if r["method"] == "POST")["data"] == {
        "Status": "canceled"}


def test_a_text_goes_from_the_campaign_number() -> None:
    dialer, http = twilio({("POST", "/Messages.json"): (
        201, {"sid": "SM" + "3" * 32, "status": "queued"})})
    receipt = dialer.send_sms(CONTACT, CALLER_ID, "Thanks!")
    assert receipt.provider_id == "SM" + "3" * 32
    assert http.requests[0]["data"] == {"To": CONTACT, "From": CALLER_ID, "Body": "Thanks!"}


def test_a_base_url_sends_the_real_clients_requests_to_a_mock_origin() -> None:
    client = rebased_http_client("http://127.0.0.1:9")
    dialer = TwilioDialer(SETTINGS, http_client=client, timeout=1)
    with pytest.raises(DialerUnreachable):
        dialer.status(PARENT)
    assert client.requests[0][1].startswith("http://127.0.0.1:9/2010-04-01/Accounts/")


# --- Twilio: failures become sentences ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "kind", "words"),
    [
        (20003, 401, BadCredentials, "credentials"),
        (21210, 400, CallerIdNotVerified, "caller ID"),
        (21215, 400, NoGeoPermission, "Geo permissions"),
        (13227, 400, NoGeoPermission, "Geo permissions"),
        (20429, 429, RateLimited, "try again"),
        (21211, 400, InvalidNumber, "cannot be dialled"),
    ],
)
def test_twilio_errors_become_clear_messages(
    code: int, status: int, kind: type[DialerError], words: str
) -> None:
    dialer, _ = twilio({("POST", "/Calls.json"): error(code, status)})
    with pytest.raises(kind) as raised:
        dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann")
    assert words in str(raised.value) and str(code) in str(raised.value)


def test_a_text_to_someone_who_replied_stop_to_twilio_is_reported_as_opted_out() -> None:
    dialer, _ = twilio({("POST", "/Messages.json"): error(21610)})
    with pytest.raises(SmsRecipientOptedOut):
        dialer.send_sms(CONTACT, CALLER_ID, "Hi")


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ConnectionError("no route"), requests.exceptions.Timeout("slow")],
)
def test_network_failures_say_twilio_could_not_be_reached(failure: Exception) -> None:
    dialer, _ = twilio(raise_error=failure)
    with pytest.raises(DialerUnreachable):
        dialer.status(PARENT)


def test_an_unknown_twilio_error_never_shows_the_number_it_quotes() -> None:
    dialer, _ = twilio({("POST", "/Calls.json"): error(
        21999, message=f"The number {CONTACT} is odd")})
    with pytest.raises(DialerError) as raised:
        dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann")
    assert CONTACT not in str(raised.value) and "7400" not in str(raised.value)
    assert "21999" in str(raised.value)


def test_twilio_server_errors_say_try_again_later() -> None:
    dialer, _ = twilio({("GET", f"/Calls/{PARENT}.json"): error(20500, 503)})
    with pytest.raises(DialerUnreachable, match="Try again"):
        dialer.status(PARENT)


def test_an_unconfigured_twilio_says_so_instead_of_calling() -> None:
    dialer = TwilioDialer(TwilioSettings(), http_client=TableHttpClient())
    with pytest.raises(DialerNotConfigured, match="Twilio is not set up"):
        dialer.start_bridge(VOLUNTEER, CONTACT, CALLER_ID, "Ann")


def test_a_campaign_without_a_caller_id_is_refused_before_calling_twilio() -> None:
    dialer, http = twilio()
    with pytest.raises(CallerIdNotVerified, match="no caller ID"):
        dialer.start_bridge(VOLUNTEER, CONTACT, "", "Ann")
    assert http.requests == []


def test_mapping_leaves_dialer_errors_as_they_are() -> None:
    original = RateLimited("x")
    assert map_twilio_error(original) is original
    assert isinstance(map_twilio_error(ValueError("?")), DialerError)


def test_checking_the_account_reports_its_name_and_type() -> None:
    dialer, _ = twilio({("GET", f"/Accounts/{SID}.json"): (
        200, {"sid": SID, "friendly_name": "Ringround", "status": "active", "type": "Trial"})})
    assert dialer.check_account() == {"friendly_name": "Ringround", "status": "active",
                                      "type": "Trial"}


# --- the organiser's check ------------------------------------------------------------------


def full_settings(tmp_path: Any, **env: str) -> Any:
    base = {"RINGROUND_DEMO": "1", "RINGROUND_DATA_DIR": str(tmp_path),
            "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t", "TWILIO_CALLER_IDS": CALLER_ID,
            "RINGROUND_PUBLIC_URL": "https://calls.example.org"}
    return load_settings(env={**base, **env}, secrets_path=tmp_path / "none.toml")


def account(status: str = "active", kind: str = "Full") -> dict[tuple[str, str], Any]:
    return {("GET", f"/Accounts/{SID}.json"): (
        200, {"sid": SID, "friendly_name": "Ringround", "status": status, "type": kind})}


def test_a_working_twilio_setup_checks_out(tmp_path: Any) -> None:
    result = check_twilio(full_settings(tmp_path), http_client=TableHttpClient(account()))
    assert (result.ok, result.problems, result.notes, result.account_name) == (
        True, (), (), "Ringround")


def test_bad_credentials_are_reported_in_words(tmp_path: Any) -> None:
    http = TableHttpClient({("GET", f"/Accounts/{SID}.json"): error(20003, 401)})
    result = check_twilio(full_settings(tmp_path), http_client=http)
    assert not result.ok and "credentials" in result.problems[0]


def test_a_trial_or_suspended_account_is_flagged(tmp_path: Any) -> None:
    trial = check_twilio(full_settings(tmp_path),
                         http_client=TableHttpClient(account(kind="Trial")))
    assert trial.ok and "trial account" in trial.notes[0]
    suspended = check_twilio(full_settings(tmp_path),
                             http_client=TableHttpClient(account(status="suspended")))
    assert not suspended.ok and "suspended" in suspended.problems[0]


def test_missing_or_invalid_caller_ids_are_problems_before_asking_twilio(tmp_path: Any) -> None:
    http = TableHttpClient(account())
    none = check_twilio(full_settings(tmp_path, TWILIO_CALLER_IDS=""), http_client=http)
    bad = check_twilio(full_settings(tmp_path, TWILIO_CALLER_IDS="12345"), http_client=http)
    assert "TWILIO_CALLER_IDS" in none.problems[0]
    assert "not a valid phone number" in bad.problems[0]
    assert http.requests == []


def test_without_a_public_url_the_check_explains_what_will_not_arrive(tmp_path: Any) -> None:
    result = check_twilio(full_settings(tmp_path, RINGROUND_PUBLIC_URL=""),
                          http_client=TableHttpClient(account()))
    assert result.ok and "STOP replies" in result.notes[0]


def test_unconfigured_twilio_is_a_problem_that_names_the_settings(tmp_path: Any) -> None:
    result = check_twilio(full_settings(tmp_path, TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN=""))
    assert not result.ok and "TWILIO_ACCOUNT_SID" in result.problems[0]


# --- Twilio: continuous calling -------------------------------------------------------------


@pytest.mark.parametrize(("detection", "sent"), [
    (MachineDetection.DETECT, "Enable"), (MachineDetection.AWAIT_BEEP, "DetectMessageEnd"),
    (MachineDetection.OFF, None)])
def test_a_contact_is_dialled_into_the_room_with_the_machine_detection_asked_for(
    detection: MachineDetection, sent: str | None
) -> None:
    dialer, http = twilio({("POST", "/Participants.json"): (
        201, {"call_sid": CHILD, "conference_sid": "CF" + "1" * 32})})
    sid = dialer.dial_into_room(RoomDial(room="ringround-x", contact_phone=CONTACT,
                                         caller_id=CALLER_ID, ring_seconds=25,
                                         detection=detection))
    data = http.requests[0]["data"]
    assert sid == CHILD and "/Conferences/ringround-x/Participants.json" in http.requests[0]["uri"]
    assert (data["From"], data["To"], data["Timeout"]) == (CALLER_ID, CONTACT, 25)
    assert data.get("MachineDetection") == sent


@pytest.mark.parametrize(("raw", "ours"), [
    ("human", "human"), ("machine_end_beep", "machine"), ("machine_start", "machine"),
    ("fax", "fax"), ("unknown", "unknown"), (None, "")])
def test_twilios_answered_by_is_read_in_our_words(raw: str | None, ours: str) -> None:
    dialer, _ = twilio({("GET", f"/Calls/{CHILD}.json"): (
        200, {**call_json(CHILD, "in-progress"), "answered_by": raw})})
    assert dialer.leg(CHILD).answered_by == ours


def test_every_name_the_port_defines_is_the_dialing_packages_own() -> None:
    """core.dialing re-exports the port by its __all__: a class or constant added to the port
    and left out of __all__ would be missing from the package's face."""
    import inspect

    import core.dialing
    from core.dialing import port

    defined = {name for name, value in vars(port).items()
               if not name.startswith("_") and not inspect.ismodule(value)
               and getattr(value, "__module__", port.__name__) == port.__name__}
    assert defined == set(port.__all__)
    assert set(port.__all__) <= set(core.dialing.__all__)
    assert all(getattr(core.dialing, name) is getattr(port, name) for name in port.__all__)
