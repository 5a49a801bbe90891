"""Continuous calling on the calling page, through AppTest with the fake Twilio: start a session,
three people (a person, a machine, a busy line), outcomes logged, pause, end."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.dialing import CallLife, shared_fake_room_dialer
from db.models import CallAttempt, CallingSession
from tests.factories import ALL_DAY, make_campaign, make_contact, make_user, queue_contacts

MESSAGE = "Hello from the NHS campaign. We will try you again soon."


pytestmark = pytest.mark.usefixtures("fresh_dialers")


def arrange(app_db: Any, lives: list[CallLife]) -> dict[str, Any]:
    with app_db.write() as s:
        make_user(s, role="organiser")
        volunteer = make_user(s, confirmed_phone="+447400100099")
        campaign = make_campaign(s, dialer="fake", caller_id="+441270123456",
                                 calling_window=ALL_DAY, voicemail_message=MESSAGE)
        contacts = [make_contact(s, first_name=name, last_name="Tester")
                    for name in ("Human", "Machine", "Busy")[:len(lives)]]
        entries = queue_contacts(s, campaign, contacts)
        for position, entry in enumerate(entries):
            entry.priority = len(entries) - position
            s.add(entry)
    fake = shared_fake_room_dialer()
    fake.lives.update({c.phone: life for c, life in zip(contacts, lives, strict=True)})
    return {"volunteer": volunteer, "campaign_id": campaign.id}


def words(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [t.value for t in at.text]
    for kind in (at.success, at.warning, at.info, at.error):
        parts += [e.value for e in kind]
    return "\n".join(str(p) for p in parts)


def run_until(at: AppTest, text: str, limit: int = 15) -> None:
    for _ in range(limit):
        if text in words(at):
            return
        at.run()
        assert not at.exception, at.exception
    raise AssertionError(f"never saw {text!r} in:\n{words(at)}")


def test_a_session_puts_a_person_through_logs_a_machine_and_a_busy_line_then_pauses_and_ends(
    make_app: Any, app_db: Any
) -> None:
    world = arrange(app_db, [CallLife.HUMAN, CallLife.MACHINE, CallLife.BUSY])
    at = make_app(user=world["volunteer"], page="pages/calling.py")
    at.button(key="calling_start").click().run()
    assert "Continuous calling" in words(at)
    at.button(key="calling_session_start").click().run()
    assert not at.exception
    assert "Ringing your phone" in words(at)
    # Answered, on the line, the first person dialled and put through: their card appears.
    run_until(at, "Connected")
    assert "<h3>Human Tester</h3>" in [h.proto.body for h in at.html]
    assert "+4474" not in words(at)  # no number on a session's screen
    entry = at.session_state["calling_contact"].queue_entry_id
    at.radio(key=f"calling_outcome_{entry}").set_value("completed")
    at.button(key=f"calling_save_{entry}").click().run()
    assert not at.exception
    # The machine hears the message and the busy line is logged, without a click.
    run_until(at, "Nobody is waiting")
    with app_db.session() as s:
        logged = [(a.outcome_code, a.volunteer_id) for a in
                  s.exec(select(CallAttempt).order_by(CallAttempt.id)).all()]
    volunteer_id = world["volunteer"].id
    assert logged == [("completed", volunteer_id), ("voicemail", volunteer_id),
                      ("busy", volunteer_id)]
    assert "3 dialled · 1 talked to" in words(at)
    machine = [leg for leg in shared_fake_room_dialer().legs if leg.message]
    assert [leg.message for leg in machine] == [MESSAGE]

    at.button(key="calling_session_pause").click().run()
    assert not at.exception and "Paused" in words(at)
    assert at.button(key="calling_session_resume") is not None
    at.button(key="calling_session_end").click().run()
    assert not at.exception
    assert at.button(key="calling_session_start") is not None  # offered again
    with app_db.session() as s:
        [session] = s.exec(select(CallingSession)).all()
        assert session.status == "ended"
    assert {leg.status for leg in shared_fake_room_dialer().legs} <= {
        "completed", "busy", "canceled"}


def test_own_phone_campaigns_offer_no_session(make_app: Any, app_db: Any) -> None:
    world = arrange(app_db, [CallLife.HUMAN])
    with app_db.write() as s:
        from db.models import Campaign

        campaign = s.get(Campaign, world["campaign_id"])
        campaign.dialer = "tel"
        s.add(campaign)
    at = make_app(user=world["volunteer"], page="pages/calling.py")
    at.button(key="calling_start").click().run()
    assert not at.exception
    assert "calling_session_start" not in [b.key for b in at.button]
    assert "<h3>Human Tester</h3>" in [h.proto.body for h in at.html]
