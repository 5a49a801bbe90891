"""Event texts (confirmation, reminder, cancellation) through the real twilio client against
Prism's mock of Twilio's own OpenAPI description (issue #17).

Each text goes the way the app sends it (core.event_texts: claim on the sign-up, send, record),
and the request Twilio would receive is checked field by field: To, From and Body exactly as
the person should read them, and nothing else (Ringround asks no status callback for texts).
Prism answers 422 to a Messages create its spec does not accept, which fails the send.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core import events
from core.config import TwilioSettings, load_settings
from core.dialing import TwilioDialer, rebased_http_client, reset_dialers
from core.dialing.registry import twilio_dialer
from core.event_texts import (
    TextPurpose,
    deliver_due_texts,
    ics_link,
    send_due_texts,
    text_body,
)
from db.engine import Database
from db.models import EventSignup, SmsMessage
from tests.factories import make_campaign, make_contact, make_event

ACCOUNT_SID = "AC" + "a" * 32
CALLER_ID = "+441270123456"
ASHA = "+447400123456"
PUBLIC_URL = "https://calls.example.org"
MESSAGES = f"Accounts/{ACCOUNT_SID}/Messages.json"
# Tuesday 1 December 2026, 11:00 London; the event is Saturday 12 December, 10:00-13:00.
NOW = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
REMINDER_TIME = datetime(2026, 12, 11, 10, 0, tzinfo=UTC)
CANCELLED_AT = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)

RebasedHttpClient: Any = type(rebased_http_client("http://127.0.0.1"))


class FormRecordingClient(RebasedHttpClient):  # type: ignore[misc,valid-type]
    """The contract tests' rebased client (twilio's public HttpClient extension point), also
    keeping each request's form, so a test can read what Twilio would have been sent."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.forms: list[dict[str, Any]] = []

    def request(self, method: str, uri: str, params: Any = None, data: Any = None,
                **kwargs: Any) -> Any:
        self.forms.append(dict(data or {}))
        return super().request(method, uri, params=params, data=data, **kwargs)


def answered(http: Any) -> list[tuple[str, str, int | None]]:
    return [(method, url.split("/2010-04-01/")[1], status) for method, url, status in http.requests]


@pytest.fixture
def http(prism_url: str) -> FormRecordingClient:
    return FormRecordingClient(prism_url)


@pytest.fixture
def dialer(http: FormRecordingClient) -> TwilioDialer:
    return TwilioDialer(
        TwilioSettings(account_sid=ACCOUNT_SID, auth_token="token", caller_ids=(CALLER_ID,)),
        http_client=http,
        status_callback_url="https://calls.example.org/twilio/status",
    )


@pytest.fixture
def booked(sqlite_database: Database) -> dict[str, int]:
    with sqlite_database.write() as s:
        campaign = make_campaign(s, caller_id=CALLER_ID, dialer="twilio")
        event_id = make_event(s, campaigns=[campaign], title="Saturday canvass",
                              day=date(2026, 12, 12), start=time(10, 0), end=time(13, 0),
                              place="Crewe Library, Prince Albert St")
        asha = make_contact(s, first_name="Asha", phone=ASHA)
        signup_id = events.sign_up(session=s, event_ids=[event_id], contact_id=asha.id,
                                   campaign_id=campaign.id, volunteer_id=None,
                                   now=NOW).signup_ids[0]
    return {"campaign_id": int(campaign.id or 0), "event_id": event_id,
            "contact_id": int(asha.id or 0), "signup_id": signup_id}


def expected_body(database: Database, event_id: int, purpose: TextPurpose) -> str:
    with database.session() as s:
        event = events.get_event(session=s, event_id=event_id)
    return text_body(purpose, event, first_name="Asha",
                     link=ics_link(PUBLIC_URL, event.ics_token))


def recorded(database: Database) -> list[SmsMessage]:
    with database.session() as s:
        return list(s.exec(select(SmsMessage).where(SmsMessage.direction == "out")
                           .order_by(SmsMessage.id)))


@pytest.mark.parametrize("purpose", list(TextPurpose))
def test_each_event_text_is_a_message_create_the_spec_accepts_with_to_from_and_body(
    sqlite_database: Database, booked: dict[str, int], dialer: TwilioDialer,
    http: FormRecordingClient, purpose: TextPurpose,
) -> None:
    now = {TextPurpose.CONFIRM: NOW, TextPurpose.REMIND: REMINDER_TIME,
           TextPurpose.CANCEL: CANCELLED_AT}[purpose]
    if purpose == TextPurpose.CANCEL:
        with sqlite_database.write() as s:
            assert events.cancel_event(session=s, event_id=booked["event_id"], actor_id=None,
                                       now=now) == [booked["signup_id"]]
    body = expected_body(sqlite_database, booked["event_id"], purpose)

    report = send_due_texts(database=sqlite_database, dialer=dialer, sender=CALLER_ID,
                            now=now, public_url=PUBLIC_URL, purposes=[purpose])

    assert (report.sent, report.failed) == (1, 0)
    assert answered(http) == [("POST", MESSAGES, 201)]
    assert http.forms == [{"To": ASHA, "From": CALLER_ID, "Body": body}]
    [message] = recorded(sqlite_database)
    assert (message.purpose, message.event_signup_id, message.phone, message.body) == (
        str(purpose), booked["signup_id"], ASHA, body)
    assert message.provider_id and message.provider_id.startswith("SM")
    assert message.status and message.status != "failed"


def test_the_texts_say_what_the_person_needs_and_the_confirmation_links_the_calendar(
    sqlite_database: Database, booked: dict[str, int], dialer: TwilioDialer,
    http: FormRecordingClient,
) -> None:
    send_due_texts(database=sqlite_database, dialer=dialer, sender=CALLER_ID, now=NOW,
                   public_url=PUBLIC_URL, purposes=[TextPurpose.CONFIRM])
    send_due_texts(database=sqlite_database, dialer=dialer, sender=CALLER_ID,
                   now=REMINDER_TIME, public_url=PUBLIC_URL, purposes=[TextPurpose.REMIND])
    with sqlite_database.write() as s:
        events.cancel_event(session=s, event_id=booked["event_id"], actor_id=None,
                            now=CANCELLED_AT)
    send_due_texts(database=sqlite_database, dialer=dialer, sender=CALLER_ID,
                   now=CANCELLED_AT, public_url=PUBLIC_URL, purposes=[TextPurpose.CANCEL])
    confirm, remind, cancel = (form["Body"] for form in http.forms)
    with sqlite_database.session() as s:
        token = events.get_event(session=s, event_id=booked["event_id"]).ics_token
    assert confirm.startswith("Hi Asha! You're booked for Saturday canvass, Sat 12 Dec, "
                              "10:00–13:00, at Crewe Library, Prince Albert St.")
    assert f"{PUBLIC_URL}/events/{token}.ics" in confirm and "Reply NO" in confirm
    assert remind.startswith("Hi Asha! A reminder: Saturday canvass, Sat 12 Dec, 10:00–13:00")
    assert "has been cancelled" in cancel
    assert [status for _, _, status in http.requests] == [201, 201, 201]
    with sqlite_database.session() as s:
        signup = s.get(EventSignup, booked["signup_id"])
        assert signup is not None
        assert (signup.confirmed_via, signup.reminded_at is not None,
                signup.told_cancelled_at is not None) == ("sms", True, True)


def test_a_confirmation_goes_through_the_configured_twilio_account_to_the_mock(
    sqlite_database: Database, booked: dict[str, int], prism_url: str, tmp_path: Path,
) -> None:
    """As the calling page sends it: the campaign's provider chosen from the settings."""
    settings = load_settings(
        env={"RINGROUND_COOKIE_KEY": secrets.token_urlsafe(48), "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
             "TWILIO_AUTH_TOKEN": "t", "TWILIO_CALLER_IDS": CALLER_ID,
             "RINGROUND_PUBLIC_URL": PUBLIC_URL, "TWILIO_BASE_URL": prism_url,
             "RINGROUND_DATA_DIR": str(tmp_path), "DATABASE_URL": "sqlite://"},
        secrets_path=tmp_path / "none.toml",
    )
    reset_dialers()
    try:
        report = deliver_due_texts(database=sqlite_database, settings=settings, now=NOW,
                                   signup_ids=[booked["signup_id"]],
                                   purposes=[TextPurpose.CONFIRM])
        http = twilio_dialer(settings).client.http_client
        assert report.sent == 1
        assert answered(http) == [("POST", MESSAGES, 201)]
    finally:
        reset_dialers()
    [message] = recorded(sqlite_database)
    assert message.body == expected_body(sqlite_database, booked["event_id"],
                                         TextPurpose.CONFIRM)
    assert message.provider_id and message.provider_id.startswith("SM")
