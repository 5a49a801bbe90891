"""The calling page through AppTest: start, see a contact, call, save with an answer, next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from core.phones import display_phone
from core.queue import LeaseLost, record_outcome
from db.models import AuditEvent, CallAttempt, Campaign, Contact, QueueEntry, SurveyAnswer
from tests.factories import (
    ALL_DAY,
    make_campaign,
    make_contact,
    make_question,
    make_user,
    queue_contacts,
)

SCRIPT = "Hello {first_name|friend}, this is {volunteer_first_name}."


def form_key(at, name: str) -> str:
    """The page keys each form widget by the contact on screen (see pages/calling.py)."""
    return f"{name}_{at.session_state['calling_contact'].queue_entry_id}"


def arrange(app_db, *, contacts: int = 2, window=None, **campaign_fields):
    with app_db.write() as s:
        make_user(s, role="organiser")
        volunteer = make_user(s, name="Jo Volunteer")
        campaign = make_campaign(s, calling_window=window or ALL_DAY,
                                 script=SCRIPT,
                                 **campaign_fields)
        question = make_question(s, campaign, required=True)
        people = [make_contact(s, first_name=f"Person{n}", last_name="Smith")
                  for n in range(contacts)]
        queue_contacts(s, campaign, people)
        return volunteer, campaign.id, question.id, [(p.id, p.phone) for p in people]


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.success] + [e.value for e in at.warning] + \
        [e.value for e in at.info] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def start(make_app, volunteer):
    at = make_app(user=volunteer, page="pages/calling.py")
    assert not at.exception
    at.button(key="calling_start").click()
    at.run()
    assert not at.exception
    return at


def test_save_and_next_records_once_and_shows_the_next_contact(make_app, app_db) -> None:
    volunteer, campaign_id, question_id, people = arrange(app_db)
    at = start(make_app, volunteer)
    shown = texts(at)
    first = at.session_state["calling_contact"]
    assert first.first_name in shown and "Hello " in shown and "this is Jo" in shown
    # The number is nowhere on screen until Call is pressed.
    phones = dict(people)
    phone = phones[first.contact_id]
    assert display_phone(phone) not in shown and phone not in shown and phone[-6:] not in shown
    # One tap dials: the Call control is itself the tel: link (its tap is audited in a browser,
    # tests/e2e/test_calling_phone.py); until then no reveal is recorded.
    link = at.link_button(key=form_key(at, "calling_dial"))
    assert link.proto.url == f"tel:{phones[first.contact_id]}"
    assert link.proto.label == f"Call {first.first_name}"
    with app_db.session() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "number_revealed")).all() == []

    at.radio(key=form_key(at, f"calling_q_{question_id}")).set_value("Yes")
    at.radio(key=form_key(at, "calling_outcome")).set_value("completed")
    at.text_area(key=form_key(at, "calling_notes")).input("Keen to help")
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert not at.exception
    assert any("Saved" in s.value for s in at.success)
    second = at.session_state["calling_contact"]
    assert second.contact_id != first.contact_id
    assert second.first_name in texts(at)
    # The form starts empty for the next person.
    assert at.radio(key=form_key(at, "calling_outcome")).value is None

    # A second click lands on the fresh form and records nothing.
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert any("Pick an outcome" in w.value for w in at.warning)

    with app_db.session() as s:
        attempts = s.exec(select(CallAttempt)).all()
        answers = s.exec(select(SurveyAnswer)).all()
        entry = s.exec(select(QueueEntry).where(QueueEntry.contact_id == first.contact_id)).one()
    assert [(a.contact_id, a.outcome_code, a.notes, a.is_completion) for a in attempts] == [
        (first.contact_id, "completed", "Keen to help", True)]
    assert [(a.question_id, a.value) for a in answers] == [(question_id, "Yes")]
    assert entry.status == "done"
    assert "1 dials · 1 conversations · 1 surveys" in "\n".join(
        c.value for c in at.sidebar.caption)


def test_a_save_that_committed_before_a_reconnect_is_confirmed_not_repeated(
    make_app, app_db
) -> None:
    volunteer, campaign_id, question_id, _ = arrange(app_db)
    at = start(make_app, volunteer)
    contact = at.session_state["calling_contact"]
    attempt_key = at.session_state["calling_attempt_key"]
    # The first click's save reached the database, but its page run never finished.
    now = datetime.now(UTC)
    with app_db.write() as s:
        record_outcome(session=s, queue_entry_id=contact.queue_entry_id,
                       volunteer_id=volunteer.id, outcome_code="no_answer",
                       idempotency_key=attempt_key, answers={}, notes="",
                       started_at=now - timedelta(minutes=1), now=now)
    at.radio(key=form_key(at, "calling_outcome")).set_value("no_answer")
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert not at.exception
    assert any("already saved" in s.value for s in at.success)
    assert at.session_state["calling_contact"].contact_id != contact.contact_id
    with app_db.session() as s:
        assert len(s.exec(select(CallAttempt)).all()) == 1


def test_a_required_answer_is_asked_for_before_saving_a_completion(make_app, app_db) -> None:
    volunteer, _, _, _ = arrange(app_db)
    at = start(make_app, volunteer)
    at.radio(key=form_key(at, "calling_outcome")).set_value("completed")
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert any("needs an answer" in e.value for e in at.error)
    with app_db.session() as s:
        assert s.exec(select(CallAttempt)).all() == []


def test_each_question_kind_is_asked_with_its_own_widget_and_saved_as_answered(
    make_app, app_db
) -> None:
    volunteer, campaign_id, yes_no_id, _ = arrange(app_db)
    with app_db.write() as s:
        campaign = s.get(Campaign, campaign_id)
        single = make_question(s, campaign, text="Which matters most?", kind="single",
                               options=["Pay", "Safety", "Hours"], position=1)
        multi = make_question(s, campaign, text="Which days can you help?", kind="multi",
                              options=["Sat", "Sun", "Mon"], position=2)
        scale = make_question(s, campaign, text="How likely?", kind="scale", options=[],
                              position=3)
        free = make_question(s, campaign, text="Anything else?", kind="text", options=[],
                             position=4)
        ids = single.id, multi.id, scale.id, free.id
    single_id, multi_id, scale_id, free_id = ids
    at = start(make_app, volunteer)

    # Multiple choice lets the volunteer pick several (a radio would allow only one).
    days = at.multiselect(key=form_key(at, f"calling_q_{multi_id}"))
    assert days.options == ["Sat", "Sun", "Mon"]
    days.set_value(["Sat", "Mon"])
    single_radio = at.radio(key=form_key(at, f"calling_q_{single_id}"))
    assert single_radio.options == ["Pay", "Safety", "Hours"] and not single_radio.horizontal
    single_radio.set_value("Safety")
    scale_radio = at.radio(key=form_key(at, f"calling_q_{scale_id}"))
    assert scale_radio.options == ["1", "2", "3", "4", "5"] and scale_radio.horizontal
    scale_radio.set_value("4")
    at.text_input(key=form_key(at, f"calling_q_{free_id}")).input("Ring after six")
    at.radio(key=form_key(at, f"calling_q_{yes_no_id}")).set_value("No")
    at.radio(key=form_key(at, "calling_outcome")).set_value("completed")
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert not at.exception
    assert any("Saved" in s.value for s in at.success)
    with app_db.session() as s:
        answers = s.exec(select(SurveyAnswer).order_by(SurveyAnswer.id)).all()
    assert sorted((a.question_id, a.value) for a in answers) == sorted([
        (yes_no_id, "No"), (single_id, "Safety"), (multi_id, "Sat"), (multi_id, "Mon"),
        (scale_id, "4"), (free_id, "Ring after six"),
    ])


def test_skip_moves_on_and_stop_releases_the_lease(make_app, app_db) -> None:
    volunteer, _, _, _ = arrange(app_db)
    at = start(make_app, volunteer)
    first = at.session_state["calling_contact"]
    at.button(key=form_key(at, "calling_skip")).click()
    at.run()
    second = at.session_state["calling_contact"]
    assert second.contact_id != first.contact_id
    at.button(key="calling_stop").click()
    at.run()
    assert not at.exception
    with app_db.session() as s:
        statuses = set(s.exec(select(QueueEntry.status)).all())
        attempts = s.exec(select(CallAttempt)).all()
    assert statuses == {"fresh"} and attempts == []
    assert at.button(key="calling_start")


def test_a_callback_outcome_asks_when_and_keeps_the_contact_for_this_volunteer(
    make_app, app_db
) -> None:
    volunteer, _, _, _ = arrange(app_db, contacts=1)
    at = start(make_app, volunteer)
    contact = at.session_state["calling_contact"]
    at.radio(key=form_key(at, "calling_outcome")).set_value("call_back")
    at.run()
    assert at.date_input(key=form_key(at, "calling_callback_date"))
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert not at.exception
    with app_db.session() as s:
        entry = s.exec(select(QueueEntry).where(QueueEntry.contact_id == contact.contact_id)).one()
    assert (entry.status, entry.callback_owner_id) == ("callback", volunteer.id)
    assert entry.due_at is not None and entry.due_at > datetime.now(UTC)
    assert "Nobody is waiting" in texts(at)


def test_outside_calling_hours_the_page_says_when_calling_reopens(make_app, app_db) -> None:
    volunteer, _, _, _ = arrange(app_db, window={str(d): [] for d in range(7)} | {
        str((datetime.now(UTC) + timedelta(days=2)).weekday()): ["10:00", "12:00"]})
    at = start(make_app, volunteer)
    assert "There is no calling today. Calling opens " in texts(at)
    assert "at 10:00 (Europe/London time)." in texts(at)
    assert "calling_contact" not in at.session_state


def test_contact_data_cannot_inject_markup_into_the_page(make_app, app_db) -> None:
    volunteer, _, _, people = arrange(app_db, contacts=1)
    with app_db.write() as s:
        s.get(Contact, people[0][0]).first_name = "<script>alert(1)</script>**x**"
    at = start(make_app, volunteer)
    shown = "\n".join(m.value for m in at.markdown)
    assert "<script>" not in shown and "**x**" not in shown
    assert "&lt;script&gt;" in shown


def test_a_finished_campaign_shows_a_friendly_empty_state(make_app, app_db) -> None:
    volunteer, campaign_id, _, _ = arrange(app_db, contacts=0)
    at = start(make_app, volunteer)
    assert "Everyone in this campaign has been called" in texts(at)


def test_members_only_campaigns_are_not_offered_to_others(make_app, app_db) -> None:
    volunteer, campaign_id, _, _ = arrange(app_db, open_to_all=False)
    at = make_app(user=volunteer, page="pages/calling.py")
    assert not at.exception
    assert "no campaign for you to call" in texts(at)


def test_a_stale_second_click_cannot_save_against_the_next_contact(make_app, app_db) -> None:
    volunteer, *_ = arrange(app_db, contacts=3)
    at = start(make_app, volunteer)
    first_key = form_key(at, "calling_save")
    at.radio(key=form_key(at, "calling_outcome")).set_value("no_answer")
    at.button(key=first_key).click()
    at.run()
    # The next contact is on screen; the first contact's Save button is gone with it, so a
    # second click that arrives late has nothing to press.
    assert form_key(at, "calling_save") != first_key
    assert first_key not in [b.key for b in at.button]
    with app_db.session() as session:
        assert len(session.exec(select(CallAttempt)).all()) == 1


# The lease on the contact on screen (issue #5): a rerun renews it only once it has aged a
# minute, so that thirty volunteers' clicks do not each queue a write; the heartbeat fragment
# keeps an idle page's lease (tests/e2e/test_lease_heartbeat.py watches that in a browser).
RENEWED = "calling_lease_renewed_until"


def lease_row(app_db, queue_entry_id: int) -> QueueEntry:
    with app_db.session() as s:
        entry = s.get(QueueEntry, queue_entry_id)
        assert entry is not None
        return entry


def age_the_lease(at, app_db, by: timedelta) -> datetime:
    """Pretend the page last renewed `by` ago: move the expiry back in the page and the row."""
    older = at.session_state[RENEWED] - by
    at.session_state[RENEWED] = older
    with app_db.write() as s:
        s.get(QueueEntry, at.session_state["calling_contact"].queue_entry_id).due_at = older
    return older


def test_a_rerun_within_half_a_minute_of_the_claim_does_not_write_the_lease(
    make_app, app_db
) -> None:
    volunteer, *_ = arrange(app_db)
    at = start(make_app, volunteer)
    contact = at.session_state["calling_contact"]
    claimed = lease_row(app_db, contact.queue_entry_id).due_at
    assert claimed == contact.lease_expires_at == at.session_state[RENEWED]

    at.radio(key=form_key(at, "calling_outcome")).set_value("no_answer")
    at.run()
    at.run()
    assert not at.exception
    assert at.session_state["calling_contact"] == contact
    # Renewing would have stored a later now + lease, to the microsecond.
    assert lease_row(app_db, contact.queue_entry_id).due_at == claimed
    assert at.session_state[RENEWED] == claimed


def test_a_rerun_once_the_lease_has_aged_a_minute_renews_it(make_app, app_db) -> None:
    volunteer, *_ = arrange(app_db, lease_minutes=10)
    at = start(make_app, volunteer)
    contact = at.session_state["calling_contact"]
    older = age_the_lease(at, app_db, timedelta(minutes=2))
    # The heartbeat fragment runs in a full run too and would renew a lease this old if the
    # rerun's own renewal did not; the lost-lease test below is the one that tells them apart.

    before = datetime.now(UTC)
    at.run()
    after = datetime.now(UTC)
    assert not at.exception
    assert at.session_state["calling_contact"] == contact
    row = lease_row(app_db, contact.queue_entry_id)
    assert (row.status, row.claimed_by_id) == ("leased", volunteer.id)
    assert row.due_at is not None and row.due_at > older
    assert before + timedelta(minutes=10) <= row.due_at <= after + timedelta(minutes=10)
    assert at.session_state[RENEWED] == row.due_at


def test_a_lease_someone_else_took_meanwhile_is_dropped_with_a_notice_and_the_next_contact(
    make_app, app_db
) -> None:
    volunteer, *_ = arrange(app_db)
    with app_db.write() as s:
        other = make_user(s, name="Sam Othercaller")
    at = start(make_app, volunteer)
    lost = at.session_state["calling_contact"]
    lost_outcome_key = form_key(at, "calling_outcome")
    at.radio(key=lost_outcome_key).set_value("no_answer")
    # The page's lease lapsed unrenewed (a laptop asleep), and another volunteer claimed them.
    at.session_state[RENEWED] -= timedelta(minutes=11)
    with app_db.write() as s:
        entry = s.get(QueueEntry, lost.queue_entry_id)
        entry.claimed_by_id = other.id
        entry.due_at = datetime.now(UTC) + timedelta(minutes=10)

    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [str(LeaseLost())]
    shown = at.session_state["calling_contact"]
    assert shown.contact_id != lost.contact_id
    assert shown.first_name in texts(at) and lost.first_name not in texts(at)
    # Nothing typed for the lost contact is carried over to the next one.
    assert lost_outcome_key not in [r.key for r in at.radio]
    assert at.radio(key=form_key(at, "calling_outcome")).value is None
    taken = lease_row(app_db, lost.queue_entry_id)
    assert (taken.status, taken.claimed_by_id) == ("leased", other.id)
    mine = lease_row(app_db, shown.queue_entry_id)
    assert (mine.status, mine.claimed_by_id) == ("leased", volunteer.id)
    with app_db.session() as s:
        assert s.exec(select(CallAttempt)).all() == []


def test_a_lease_lost_half_a_minute_after_renewal_is_dropped_once_not_rerun_for_ever(
    make_app, app_db, monkeypatch
) -> None:
    # Regression: the heartbeat renewed leases over 30 s old and full runs only those over
    # 60 s, so a lease lost in between sent the heartbeat's rerun into a loop (479 renewals
    # in 10 s under AppTest).
    import core.queue

    renewals: list[int] = []
    real_renew = core.queue.renew_lease

    def counted(**kwargs):  # a pass-through spy
        renewals.append(kwargs["queue_entry_id"])
        return real_renew(**kwargs)

    monkeypatch.setattr(core.queue, "renew_lease", counted)
    volunteer, *_ = arrange(app_db)
    at = start(make_app, volunteer)
    lost = at.session_state["calling_contact"]
    # Another caller's "wrong number" for the same person takes every open entry of theirs.
    with app_db.write() as s:
        entry = s.get(QueueEntry, lost.queue_entry_id)
        entry.status, entry.claimed_by_id, entry.due_at = "excluded", None, None
    at.session_state[RENEWED] -= timedelta(seconds=45)

    at.run(timeout=10)
    assert not at.exception
    assert [w.value for w in at.warning] == [str(LeaseLost())]
    assert at.session_state["calling_contact"].contact_id != lost.contact_id
    assert renewals.count(lost.queue_entry_id) <= 2


def test_do_not_call_again_asks_for_confirmation_before_it_saves(make_app, app_db) -> None:
    from db.models import Suppression

    volunteer, _, _, people = arrange(app_db)
    at = start(make_app, volunteer)
    contact = at.session_state["calling_contact"]
    at.radio(key=form_key(at, "calling_outcome")).set_value("do_not_call")
    at.run()
    confirm = at.checkbox(key=form_key(at, "calling_dnc_confirm"))
    assert "never call this number again" in confirm.label and confirm.value is False
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert not at.exception
    assert any("takes this number out of every campaign" in w.value for w in at.warning)
    assert at.session_state["calling_contact"] == contact  # still on the same person
    with app_db.session() as s:
        assert s.exec(select(CallAttempt)).all() == []
        assert s.exec(select(Suppression)).all() == []

    at.checkbox(key=form_key(at, "calling_dnc_confirm")).check()
    at.button(key=form_key(at, "calling_save")).click()
    at.run()
    assert not at.exception
    assert any("Do not call again" in s.value for s in at.success)
    phone = dict(people)[contact.contact_id]
    with app_db.session() as s:
        assert [a.outcome_code for a in s.exec(select(CallAttempt)).all()] == ["do_not_call"]
        assert [row.phone for row in s.exec(select(Suppression)).all()] == [phone]


def test_stop_is_at_the_top_not_beside_skip(make_app, app_db) -> None:
    volunteer, *_ = arrange(app_db)
    at = start(make_app, volunteer)
    keys = [b.key for b in at.button]
    assert keys.index("calling_stop") < keys.index(form_key(at, "calling_save"))
    assert keys.index(form_key(at, "calling_save")) + 1 == keys.index(form_key(at, "calling_skip"))
    assert keys[-1] == form_key(at, "calling_skip")


def test_the_note_beside_the_revealed_number_is_shown_as_plain_text(make_app, app_db) -> None:
    from core.queue import RevealedNumber

    volunteer, _, _, people = arrange(app_db, contacts=1)
    at = start(make_app, volunteer)
    contact_id, phone = people[0]
    # What the Call link's tap stores (the tap itself runs in a browser: tests/e2e).
    at.session_state["calling_revealed"] = RevealedNumber(
        contact_id=contact_id, display=display_phone(phone), tel_uri=f"tel:{phone}",
        note="**after** 6pm [x](https://example.org)")
    at.run()
    assert not at.exception
    assert "Note with this number: **after** 6pm [x](https://example.org)" in [
        t.value for t in at.text]
    assert "after" not in texts(at).replace(display_phone(phone), "")
