"""Continuous calling end to end against the fake Twilio's scripted call lives: the volunteer held
on the line, people put through, machines, busy and no-answer logged by themselves, a dropped
volunteer, pause, end, two advances at once, and the signed webhook driving it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from twilio.request_validator import RequestValidator

from core.config import Settings
from core.dialing import CallLife, FakeRoomDialer, MachineDetection
from core.dialing.session import (
    MIN_RING_SECONDS,
    SessionStatus,
    SessionView,
    advance,
    end,
    line_done,
    pause,
    resume,
    start_session,
)
from core.webhooks import handle_session_callback
from db.engine import Database
from db.models import CallAttempt, Campaign, QueueEntry, SessionCall
from tests.factories import (
    ALL_DAY,
    demo_settings,
    make_campaign,
    make_contact,
    make_user,
    queue_contacts,
)
from tests.racing import at_once, times

CALLER_ID = "+441270123456"
VOLUNTEER_PHONE = "+447400100099"
TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://calls.example.org"
NOW = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path, TWILIO_CALLER_IDS=CALLER_ID)


def arrange(database: Database, lives: list[CallLife], *, message: str = "",
            phone: bool = True) -> dict[str, Any]:
    """A fake-dialer campaign with one queued contact per life, in that order."""
    with database.write() as session:
        volunteer = make_user(session, confirmed_phone=VOLUNTEER_PHONE if phone else None)
        campaign = make_campaign(session, dialer="fake", caller_id=CALLER_ID,
                                 calling_window=ALL_DAY, voicemail_message=message)
        contacts = [make_contact(session, first_name=f"Person{i}") for i in range(len(lives))]
        entries = queue_contacts(session, campaign, contacts)
        for position, entry in enumerate(entries):
            entry.priority = len(entries) - position  # claimed in list order
            session.add(entry)
    fake = FakeRoomDialer(lives={c.phone: life for c, life in zip(contacts, lives, strict=True)})
    return {"campaign_id": campaign.id, "volunteer_id": volunteer.id, "fake": fake,
            "phones": [c.phone for c in contacts], "entries": [e.id for e in entries]}


def start(database: Database, settings: Settings, world: dict[str, Any]) -> SessionView:
    return start_session(database=database, dialer=world["fake"], settings=settings,
                         campaign_id=world["campaign_id"], volunteer_id=world["volunteer_id"],
                         now=NOW)


def run_until(database: Database, settings: Settings, world: dict[str, Any], view: SessionView,
              status: SessionStatus, limit: int = 20) -> SessionView:
    for step in range(limit):
        if view.status == status:
            return view
        view = advance(database=database, dialer=world["fake"], settings=settings,
                       session_id=view.id, now=NOW + timedelta(seconds=step))
    raise AssertionError(f"stuck in {view.status}: {view.notice}")


def started(database: Database, settings: Settings, lives: list[CallLife],
            status: SessionStatus, **arranged: Any) -> tuple[dict[str, Any], SessionView]:
    """Arrange a campaign with these lives, start the session, run it until `status`."""
    world = arrange(database, lives, **arranged)
    return world, run_until(database, settings, world, start(database, settings, world), status)


def step(database: Database, settings: Settings, world: dict[str, Any],
         view: SessionView) -> SessionView:
    """One advance of the session, as the page's poll makes."""
    return advance(database=database, dialer=world["fake"], settings=settings,
                   session_id=view.id, now=NOW)


def resumed(database: Database, settings: Settings, world: dict[str, Any],
            view: SessionView) -> SessionView:
    return resume(database=database, dialer=world["fake"], settings=settings,
                  session_id=view.id, volunteer_id=world["volunteer_id"], now=NOW)


def attempts(database: Database) -> list[tuple[int | None, str, str | None]]:
    with database.session() as session:
        rows = session.exec(select(CallAttempt).order_by(CallAttempt.id)).all()
        return [(a.contact_id, a.outcome_code, a.provider_status) for a in rows]


def save_outcome(database: Database, world: dict[str, Any], view: SessionView, code: str
                 ) -> None:
    """What the calling page's Save does for the person on the line."""
    from core import queue

    assert view.line is not None
    line = view.line
    with database.write() as session:
        queue.record_outcome(
            session=session, queue_entry_id=line.queue_entry_id,
            volunteer_id=world["volunteer_id"], outcome_code=code,
            idempotency_key=line.attempt_key, answers={}, notes="", started_at=NOW, now=NOW,
            provider="fake", provider_call_id=line.call.provider_call_id)


def entry_status(database: Database, entry_id: int) -> str:
    with database.session() as session:
        entry = session.get(QueueEntry, entry_id)
        assert entry is not None
        return entry.status


def test_start_rings_the_volunteers_confirmed_phone_once_into_their_own_room(
    database: Database, settings: Settings
) -> None:
    world = arrange(database, [CallLife.HUMAN])
    view = start(database, settings, world)
    assert view.status == SessionStatus.CONNECTING
    [leg] = world["fake"].legs
    assert (leg.phone, leg.caller_id) == (VOLUNTEER_PHONE, CALLER_ID)
    assert leg.room.startswith("ringround-")
    view = run_until(database, settings, world, view, SessionStatus.DIALING)
    assert len([x for x in world["fake"].legs if x.phone == VOLUNTEER_PHONE]) == 1


def test_a_volunteer_without_a_confirmed_phone_cannot_start(database: Database,
                                                            settings: Settings) -> None:
    from core.dialing import NoVerifiedPhone

    world = arrange(database, [CallLife.HUMAN], phone=False)
    with pytest.raises(NoVerifiedPhone, match="My account"):
        start(database, settings, world)
    assert world["fake"].legs == []


def test_a_person_is_dialled_from_the_campaign_number_and_put_through(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.HUMAN], SessionStatus.TALKING)
    contact_leg = world["fake"].leg_to(world["phones"][0])
    assert contact_leg.caller_id == CALLER_ID
    assert contact_leg.ring_seconds >= MIN_RING_SECONDS
    assert contact_leg.detection == MachineDetection.DETECT
    assert contact_leg.room == world["fake"].legs[0].room
    assert view.line is not None and view.line.queue_entry_id == world["entries"][0]
    assert view.line.answered_by == "human"
    assert world["phones"][0] not in repr(view)  # no number ever reaches the page
    assert attempts(database) == []  # the volunteer saves this one themselves


def test_busy_and_no_answer_are_logged_by_themselves_and_the_next_contact_is_dialled(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.BUSY, CallLife.NO_ANSWER, CallLife.HUMAN],
                          SessionStatus.TALKING)
    with database.session() as session:
        ids = [e.contact_id for e in session.exec(
            select(QueueEntry).where(QueueEntry.campaign_id == world["campaign_id"])
            .order_by(QueueEntry.id)).all()]
    assert attempts(database) == [(ids[0], "busy", "busy"), (ids[1], "no_answer", "no-answer")]
    assert view.line is not None and view.line.contact_id == ids[2]
    assert (view.dialled, view.logged) == (3, {"busy": 1, "no_answer": 1})
    assert [entry_status(database, e) for e in world["entries"]] == ["retry", "retry", "leased"]


def test_a_machine_hears_the_campaigns_message_and_is_logged_as_voicemail_left(
    database: Database, settings: Settings
) -> None:
    message = "Hello from the NHS campaign. We will try you again soon."
    world, _view = started(database, settings, [CallLife.MACHINE, CallLife.HUMAN],
                           SessionStatus.TALKING, message=message)
    machine = world["fake"].leg_to(world["phones"][0])
    assert machine.detection == MachineDetection.AWAIT_BEEP
    assert machine.message == message and machine.status == "completed"
    assert [code for _, code, _ in attempts(database)] == ["voicemail"]


def test_without_a_message_a_machine_is_hung_up_on_and_logged_as_no_answer(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.MACHINE, CallLife.HUMAN],
                          SessionStatus.TALKING)
    machine = world["fake"].leg_to(world["phones"][0])
    assert (machine.message, machine.status) == ("", "completed")
    assert [code for _, code, _ in attempts(database)] == ["no_answer"]
    assert view.logged == {"hung_up_machine": 1}


def test_after_the_outcome_is_saved_the_line_is_hung_up_and_the_next_contact_dialled(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.HUMAN, CallLife.HUMAN],
                          SessionStatus.TALKING)
    first = world["fake"].leg_to(world["phones"][0])
    assert view.line is not None
    save_outcome(database, world, view, "completed")
    line_done(database=database, dialer=world["fake"], session_id=view.id,
              volunteer_id=world["volunteer_id"], now=NOW)
    assert first.status == "completed"
    view = step(database, settings, world, view)
    view = run_until(database, settings, world, view, SessionStatus.TALKING)
    assert view.line is not None and view.line.queue_entry_id == world["entries"][1]


def test_when_the_volunteers_phone_drops_the_session_pauses_and_the_contact_goes_back(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.NO_ANSWER], SessionStatus.DIALING)
    world["fake"].drop_volunteer_after = 0
    view = run_until(database, settings, world, view, SessionStatus.PAUSED)
    assert "Your phone hung up" in view.notice and "back to the queue" in view.notice
    assert entry_status(database, world["entries"][0]) == "fresh"
    assert world["fake"].leg_to(world["phones"][0]).status == "canceled"
    assert attempts(database) == []
    # Resume rings the volunteer again, into a fresh room.
    view = resumed(database, settings, world, view)
    assert view.status == SessionStatus.CONNECTING
    assert len([x for x in world["fake"].legs if x.phone == VOLUNTEER_PHONE]) == 2


def test_pause_lets_the_current_call_finish_then_dials_nobody_until_resume(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.NO_ANSWER, CallLife.HUMAN],
                          SessionStatus.DIALING)
    pause(database=database, session_id=view.id, volunteer_id=world["volunteer_id"], now=NOW)
    view = run_until(database, settings, world, view, SessionStatus.PAUSED)
    for _ in range(3):
        view = step(database, settings, world, view)
    assert view.status == SessionStatus.PAUSED
    assert [code for _, code, _ in attempts(database)] == ["no_answer"]
    assert len(world["fake"].legs) == 2  # the volunteer and the unanswered line, nobody else
    view = resumed(database, settings, world, view)
    view = run_until(database, settings, world, view, SessionStatus.TALKING)
    assert view.line is not None and view.line.queue_entry_id == world["entries"][1]


def test_end_hangs_up_both_phones_and_returns_a_ringing_contact_to_the_queue(
    database: Database, settings: Settings
) -> None:
    world, view = started(database, settings, [CallLife.NO_ANSWER], SessionStatus.DIALING)
    end(database=database, dialer=world["fake"], session_id=view.id,
        volunteer_id=world["volunteer_id"], now=NOW)
    assert {leg.status for leg in world["fake"].legs} == {"completed", "canceled"}
    assert entry_status(database, world["entries"][0]) == "fresh"
    view = step(database, settings, world, view)
    assert view.status == SessionStatus.ENDED and len(world["fake"].legs) == 2


def test_two_advances_at_once_never_dial_a_contact_twice(database: Database,
                                                         settings: Settings) -> None:
    world = arrange(database, [CallLife.HUMAN, CallLife.HUMAN, CallLife.HUMAN])
    view = start(database, settings, world)

    def go(_: int) -> None:
        for _ in range(4):
            step(database, settings, world, view)

    at_once(go, times(4))
    dialled = [leg.phone for leg in world["fake"].legs if leg.phone != VOLUNTEER_PHONE]
    assert dialled == [world["phones"][0]]  # 1:1 — one contact for one volunteer


def test_a_campaign_on_own_phones_offers_no_session(database: Database,
                                                    settings: Settings) -> None:
    from core.dialing.session import SessionError

    world = arrange(database, [CallLife.HUMAN])
    with database.write() as session:
        campaign = session.get(Campaign, world["campaign_id"])
        assert campaign is not None
        campaign.dialer = "tel"
        session.add(campaign)
    with pytest.raises(SessionError, match="Continuous calling needs"):
        start(database, settings, world)


# --- the signed webhook ---------------------------------------------------------------------


@pytest.fixture
def hooked(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path, TWILIO_CALLER_IDS=CALLER_ID, RINGROUND_PUBLIC_URL=PUBLIC,
                         TWILIO_ACCOUNT_SID="AC" + "a" * 32, TWILIO_AUTH_TOKEN=TOKEN)


def deliver(database: Database, settings: Settings, url: str, params: dict[str, str],
            token: str = TOKEN) -> int:
    signature = RequestValidator(token).compute_signature(url, params)
    return handle_session_callback(
        database=database, settings=settings, params=params,
        headers={"X-Twilio-Signature": signature}, now=NOW).status


def test_signed_callbacks_alone_drive_a_session_through_busy_machine_and_a_person(
    database: Database, hooked: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = arrange(database, [CallLife.BUSY, CallLife.MACHINE, CallLife.HUMAN])
    fake: FakeRoomDialer = world["fake"]
    # The webhook advances the session with the process's room dialer: the same fake here.
    monkeypatch.setattr("core.webhooks.room_dialer_for", lambda kind, settings: fake)
    view = start(database, hooked, world)
    assert fake.legs[0].status_callback == PUBLIC + "/twilio/session"
    for _ in range(12):  # time passes; only callbacks tell Ringround what happened
        for url, params in fake.tick():
            assert deliver(database, hooked, url, params) == 200
    with database.session() as session:
        calls = session.exec(select(SessionCall).order_by(SessionCall.id)).all()
        assert [(c.result, c.outcome_code) for c in calls] == [
            ("busy", "busy"), ("hung_up_machine", "no_answer"), ("talked", "")]
    view = advance(database=database, dialer=fake, settings=hooked, session_id=view.id,
                   now=NOW, poll=False)
    assert view.status == SessionStatus.TALKING


def test_a_callback_with_a_bad_signature_is_refused_and_changes_nothing(
    database: Database, hooked: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = arrange(database, [CallLife.BUSY])
    fake: FakeRoomDialer = world["fake"]
    monkeypatch.setattr("core.webhooks.room_dialer_for", lambda kind, settings: fake)
    view = start(database, hooked, world)
    sent = fake.tick() + fake.tick()
    assert sent
    for url, params in sent:
        assert deliver(database, hooked, url, params, token="not-the-token") == 403
        forged = {**params, "CallStatus": "busy" if params["CallStatus"] != "busy" else "failed"}
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        assert handle_session_callback(database=database, settings=hooked, params=forged,
                                       headers={"X-Twilio-Signature": signature}).status == 403
    with database.session() as session:
        assert session.exec(select(SessionCall)).all() == []
    again = advance(database=database, dialer=fake, settings=hooked, session_id=view.id,
                    now=NOW, poll=False)
    assert again.status == SessionStatus.CONNECTING
