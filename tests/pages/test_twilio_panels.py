"""The Twilio panels through AppTest: call with live state and hang up, confirm a phone, check
Twilio's settings, send a follow-up text. Each runs the real helper against a fresh database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.dialing import BadCredentials, shared_fake_dialer
from core.users import get_user
from db.models import Campaign, SmsMessage
from tests.factories import ALL_DAY, make_campaign, make_contact, make_user, queue_contacts

CALLER_ID = "+441270123456"


pytestmark = pytest.mark.usefixtures("fresh_dialers")


def call_panel(campaign_id: int, queue_entry_id: int, volunteer_id: int) -> None:
    import streamlit as st

    from pages._call_panel import twilio_call_controls

    info = twilio_call_controls(campaign_id=campaign_id, queue_entry_id=queue_entry_id,
                                volunteer_id=volunteer_id, attempt_key="attempt-1")
    if info is not None:
        st.write(f"RESULT {info.provider_status} {info.suggested_outcome} "
                 f"{info.duration_seconds} {info.provider_call_id}")


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in (at.success, at.warning, at.info, at.error):
        parts += [e.value for e in kind]
    return "\n".join(str(p) for p in parts)


def arrange_call(app_db: Any, *, phone: str, verified: bool = True, dialer: str = "fake"
                 ) -> dict[str, int]:
    with app_db.write() as s:
        volunteer = make_user(s, confirmed_phone="+447400100099" if verified else None)
        campaign = make_campaign(s, dialer=dialer, caller_id=CALLER_ID, calling_window=ALL_DAY)
        contact = make_contact(s, phone=phone, first_name="Ann", last_name="O'Brien")
        [entry] = queue_contacts(s, campaign, [contact], status="leased",
                                 claimed_by_id=volunteer.id, leased_from="fresh",
                                 due_at=datetime.now(UTC) + timedelta(minutes=10))
        return {"campaign_id": campaign.id, "contact_id": contact.id,
                "volunteer_id": volunteer.id, "queue_entry_id": entry.id}


def run_panel(ids: dict[str, int]) -> AppTest:
    kwargs = {key: ids[key] for key in ("campaign_id", "queue_entry_id", "volunteer_id")}
    at = AppTest.from_function(call_panel, kwargs=kwargs, default_timeout=30)
    at.run()
    assert not at.exception
    return at


def test_calling_rings_polls_to_a_final_state_and_suggests_busy(
    app_env: str, app_db: Any
) -> None:
    ids = arrange_call(app_db, phone="+447400100005")  # the demo script: busy
    at = run_panel(ids)
    at.button(key="call_attempt-1").click().run()
    assert not at.exception
    assert "Ringing" in texts(at)
    call = shared_fake_dialer().calls[0]
    assert (call.volunteer_phone, call.contact_phone, call.caller_id) == (
        "+447400100099", "+447400100005", CALLER_ID)
    assert "Ann O'Brien" in call.twiml.replace("&apos;", "'")
    assert "+447400100005" not in texts(at) and "100005" not in texts(at)
    at.run()  # the next poll: busy, final
    assert not at.exception
    assert f"RESULT busy busy 0 {call.sid}" in texts(at)
    assert at.button(key="call_attempt-1").label == "Call again"


def test_hang_up_ends_a_connected_call_and_returns_its_duration(
    app_env: str, app_db: Any
) -> None:
    ids = arrange_call(app_db, phone="+447400100001")  # queued, ringing, in-progress, completed
    at = run_panel(ids)
    at.button(key="call_attempt-1").click().run()
    at.run()  # in progress
    assert "Connected" in texts(at)
    at.button(key="hang_up_attempt-1").click().run()
    assert not at.exception
    assert "RESULT completed None" in texts(at)


def test_a_volunteer_without_a_confirmed_phone_is_offered_the_phone_form_instead_of_call(
    app_env: str, app_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGROUND_DEMO", "1")
    ids = arrange_call(app_db, phone="+447400100001", verified=False)
    at = run_panel(ids)
    assert "Add and confirm your phone number" in texts(at)
    assert at.text_input(key="phone_number") is not None
    assert "call_attempt-1" not in [b.key for b in at.button]
    assert shared_fake_dialer().calls == []


def test_a_twilio_failure_is_a_message_and_never_a_crash(app_env: str, app_db: Any) -> None:
    ids = arrange_call(app_db, phone="+447400100001")
    shared_fake_dialer().fail_with = BadCredentials("Twilio refused Ringround's credentials.")
    at = run_panel(ids)
    at.button(key="call_attempt-1").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Twilio refused Ringround's credentials."]
    assert "RESULT" not in texts(at)


def test_polling_errors_stop_after_a_few_and_leave_the_volunteer_in_charge(
    app_env: str, app_db: Any
) -> None:
    ids = arrange_call(app_db, phone="+447400100001")
    at = run_panel(ids)
    at.button(key="call_attempt-1").click().run()
    shared_fake_dialer().fail_with = BadCredentials("Twilio refused.")
    for _ in range(5):
        at.run()
    assert not at.exception
    assert "lost track of this call" in texts(at)
    assert "RESULT" not in texts(at)


def phone_section(user: object) -> None:
    from pages._phone import render_phone_section

    render_phone_section(user)  # type: ignore[arg-type]


def test_a_volunteer_confirms_their_phone_with_the_texted_code(
    app_env: str, app_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGROUND_DEMO", "1")
    with app_db.write() as s:
        user = make_user(s)
    at = AppTest.from_function(phone_section, kwargs={"user": user}, default_timeout=30)
    at.run()
    at.text_input(key="phone_number").input("07400 100123")
    at.button(key="phone_send_code").click().run()
    assert not at.exception
    [text] = shared_fake_dialer().sent
    assert text.to == "+447400100123"
    code = text.body.split("code is ")[1][:6]
    assert code in texts(at)  # demo mode shows the text, since nothing is really sent
    at.text_input(key="phone_code").input("000000" if code != "000000" else "111111")
    at.button(key="phone_confirm").click().run()
    assert "That code is wrong" in texts(at)
    at.text_input(key="phone_code").input(code)
    at.button(key="phone_confirm").click().run()
    assert not at.exception
    with app_db.session() as s:
        view = get_user(session=s, user_id=user.id)
    assert view is not None and (view.phone, view.phone_verified) == ("+447400100123", True)


def twilio_settings() -> None:
    from pages._twilio_settings import render_twilio_settings

    render_twilio_settings()


def test_checking_credentials_reports_an_unreachable_twilio_in_words(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "a" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_CALLER_IDS", CALLER_ID)
    monkeypatch.setenv("TWILIO_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    at = AppTest.from_function(twilio_settings, default_timeout=30)
    at.run()
    assert "Twilio is set up" in texts(at) and "01270 123456" in texts(at)
    at.button(key="twilio_check").click().run()
    assert not at.exception
    assert any("could not reach Twilio" in e.value for e in at.error)
    assert any("RINGROUND_PUBLIC_URL" in c for c in [x.value for x in at.caption])


def test_without_twilio_the_settings_say_how_to_set_it_up(app_env: str) -> None:
    at = AppTest.from_function(twilio_settings, default_timeout=30)
    at.run()
    assert "TWILIO_ACCOUNT_SID" in texts(at)
    assert at.button(key="twilio_check").disabled


def sms_panel(campaign_id: int, contact_id: int, volunteer_id: int) -> None:
    from pages._sms import render_sms_followup, render_sms_template_editor

    render_sms_template_editor(campaign_id=campaign_id, actor_id=volunteer_id)
    render_sms_followup(campaign_id=campaign_id, contact_id=contact_id,
                        volunteer_id=volunteer_id)


def test_a_follow_up_text_goes_with_one_click_and_only_once(app_env: str, app_db: Any) -> None:
    ids = arrange_call(app_db, phone="+447400100001")
    kwargs = {key: ids[key] for key in ("campaign_id", "contact_id", "volunteer_id")}
    at = AppTest.from_function(sms_panel, kwargs=kwargs, default_timeout=30)
    at.run()
    assert "no follow-up text" in texts(at)
    at.text_area(key=f"sms_template_{ids['campaign_id']}").input("Thanks {first_name}!")
    at.button(key=f"sms_template_save_{ids['campaign_id']}").click().run()
    assert "Saved." in texts(at)
    with app_db.session() as s:
        assert s.get(Campaign, ids["campaign_id"]).sms_template == "Thanks {first_name}!"
    at.run()
    assert [t.value for t in at.text] == ["Thanks Ann!"]
    send = f"sms_send_{ids['campaign_id']}_{ids['contact_id']}"
    at.button(key=send).click().run()
    assert not at.exception and "Follow-up text sent." in texts(at)
    assert [s.body for s in shared_fake_dialer().sent] == ["Thanks Ann!"]
    with app_db.session() as s:
        assert len(s.exec(select(SmsMessage)).all()) == 1


def test_on_the_calling_page_an_unreachable_twilio_never_stops_the_outcome_being_saved(
    make_app: Any, app_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.models import CallAttempt

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "a" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_BASE_URL", "http://127.0.0.1:9")  # Twilio "down"
    with app_db.write() as s:
        make_user(s, role="organiser")
        volunteer = make_user(s, confirmed_phone="+447400100099")
        campaign = make_campaign(s, dialer="twilio", caller_id=CALLER_ID, calling_window=ALL_DAY)
        from tests.factories import queue_contacts

        queue_contacts(s, campaign, [make_contact(s)])
    at = make_app(user=volunteer, page="pages/calling.py")
    at.button(key="calling_start").click().run()
    attempt_key = at.session_state["calling_attempt_key"]
    at.button(key=f"call_{attempt_key}").click().run()
    assert not at.exception
    assert any("could not reach Twilio" in e.value for e in at.error)
    entry = at.session_state["calling_contact"].queue_entry_id
    at.radio(key=f"calling_outcome_{entry}").set_value("no_answer")
    at.button(key=f"calling_save_{entry}").click().run()
    assert not at.exception
    with app_db.session() as s:
        attempts = s.exec(select(CallAttempt)).all()
    assert [(a.outcome_code, a.volunteer_id) for a in attempts] == [("no_answer", volunteer.id)]
