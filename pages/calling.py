"""Calling: pick a campaign, then one contact at a time: card, script, survey, outcome, next."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st
from sqlalchemy.exc import DBAPIError

from core import calling_hours, queue
from core.campaigns import (
    CampaignNotFound,
    CampaignView,
    callable_campaigns,
    get_campaign,
    list_outcomes,
    list_questions,
)
from core.script import escape_markdown, render_script
from core.survey import AnswerError, QuestionView
from core.tally import volunteer_tally
from db.engine import is_retryable
from pages import _ui
from pages._call_panel import twilio_call_controls
from pages._sms import render_sms_followup

CAMPAIGN = "calling_campaign_id"
CONTACT = "calling_contact"  # a core.queue.ClaimedContact (a plain frozen dataclass)
ATTEMPT_KEY = "calling_attempt_key"  # made when a contact is shown; reused by every save retry
SHOWN_AT = "calling_shown_at"
RENEWED = "calling_lease_renewed_until"
REVEALED = "calling_revealed"
SKIPPED = "calling_skipped"
SESSION_START = "calling_session_started"
CONFIRMED = "calling_confirmed"
NOTICE = "calling_notice"
SUGGESTED = "calling_suggested_applied"
PROBLEMS = "calling_problems"  # what stopped the last Save: (level, [messages]), shown once
CALL_RESULT = "calling_call_result"  # the bridged call's final state, as the form last saw it
# Every form widget's key ends with the contact's queue entry id: a stale second click on
# "Save and next" then names widgets that do not exist for the next contact, so it can neither
# save nor pre-select anything against the wrong person.
FORM_PREFIXES = ("calling_outcome_", "calling_notes_", "calling_callback_date_",
                 "calling_callback_time_", "calling_q_", "calling_save_", "calling_skip_")


def form_key(name: str, contact: queue.ClaimedContact) -> str:
    return f"{name}_{contact.queue_entry_id}"

user = _ui.require_user()


def now() -> datetime:
    return datetime.now(UTC)


def forget_contact() -> None:
    for name in (CONTACT, ATTEMPT_KEY, SHOWN_AT, REVEALED, SUGGESTED, RENEWED, CALL_RESULT):
        st.session_state.pop(name, None)
    for name in list(st.session_state.keys()):
        if str(name).startswith(FORM_PREFIXES):
            del st.session_state[name]


def stop_calling(campaign_id: int) -> None:
    with _ui.write_session() as session:
        queue.stop(session=session, campaign_id=campaign_id, volunteer_id=user.id, now=now())
    forget_contact()
    for name in (CAMPAIGN, SKIPPED, SESSION_START, CONFIRMED):
        st.session_state.pop(name, None)


def local(when: datetime, campaign: CampaignView) -> str:
    return when.astimezone(calling_hours.zone(campaign.timezone)).strftime("%a %d %b, %H:%M")


# --------------------------------------------------------------------------------------------
# Choosing a campaign
# --------------------------------------------------------------------------------------------

st.title("Calling")

if CAMPAIGN not in st.session_state:
    with _ui.read_session() as session:
        choices = callable_campaigns(session=session, user_id=user.id)
    if not choices:
        st.info("There is no campaign for you to call right now. Check back later, or ask an "
                "organiser to add you to one.")
        st.stop()
    names = {c.id: c.name for c in choices}
    picked = st.selectbox("Campaign", list(names), format_func=names.__getitem__,
                          key="calling_campaign_pick")
    chosen = next(c for c in choices if c.id == picked)
    if chosen.description:
        st.caption(escape_markdown(chosen.description))
    if st.button("Start calling", key="calling_start", type="primary"):
        st.session_state[CAMPAIGN] = picked
        st.session_state[SESSION_START] = now()
        st.session_state[SKIPPED] = []
        st.rerun()
    st.stop()

campaign_id = int(st.session_state[CAMPAIGN])
with _ui.read_session() as session:
    try:
        campaign = get_campaign(session=session, campaign_id=campaign_id)
    except CampaignNotFound:
        st.session_state.pop(CAMPAIGN, None)
        st.rerun()
    outcomes = list_outcomes(session=session, campaign_id=campaign_id)
    questions = list_questions(session=session, campaign_id=campaign_id)
    tally = volunteer_tally(session=session, volunteer_id=user.id, now=now(),
                            session_started_at=st.session_state.get(SESSION_START, now()),
                            timezone=campaign.timezone)

st.subheader(campaign.name)
with st.sidebar:
    st.markdown("**Your calls**")
    for label, counts in (("This session", tally.session), ("Today", tally.day)):
        st.caption(f"{label}: {counts.dials} dials · {counts.conversations} conversations · "
                   f"{counts.completions} surveys")

if CONFIRMED in st.session_state:
    # Kept (not popped) until the next save replaces it: a run interrupted by another rerun
    # would otherwise swallow the only confirmation the volunteer gets.
    st.success(st.session_state[CONFIRMED], icon="✅")
if NOTICE in st.session_state:
    st.warning(st.session_state.pop(NOTICE))


# --------------------------------------------------------------------------------------------
# The contact: claimed once, kept (and its lease renewed) across reruns
# --------------------------------------------------------------------------------------------


def claim() -> queue.ClaimedContact | None:
    # retrying(): a busy SQLite write lock is waited out instead of shown as an error.
    return _ui.runtime().database.retrying(lambda session: queue.claim_next_contact(
        session=session, campaign_id=campaign_id, volunteer_id=user.id, now=now(),
        exclude_entry_ids=st.session_state.get(SKIPPED, []),
    ))


def empty_state() -> None:
    with _ui.read_session() as session:
        summary = queue.queue_summary(session=session, campaign_id=campaign_id)
    if summary.waiting == 0:
        st.success("🎉 Everyone in this campaign has been called. Thank you for your calls!")
    else:
        st.info("Nobody is waiting to be called right now.")
        if summary.next_due_at is not None:
            opening = calling_hours.describe_opening(summary.next_due_at, campaign.timezone, now())
            st.caption(f"The next retry or callback falls due {opening}.")
        if st.session_state.get(SKIPPED):
            st.caption(f"You skipped {len(st.session_state[SKIPPED])} contact(s); "
                       "“Check again” offers them once more.")
    left, right = st.columns(2)
    if left.button("Check again", key="calling_refresh"):
        st.session_state[SKIPPED] = []
        st.rerun()
    if right.button("Stop calling", key="calling_stop_empty"):
        stop_calling(campaign_id)
        st.rerun()
    st.stop()


def lease_is_getting_old(expiry: datetime | None) -> bool:
    """True once the lease is 30 s old: every click is a rerun, and a write per click is what
    thirty volunteers queue on. One rule for full runs and the heartbeat, so the two never
    disagree about whether the lease was checked."""
    lease = timedelta(minutes=campaign.lease_minutes)
    return expiry is None or expiry - now() < lease - timedelta(seconds=30)


def confirm(saved: queue.RecordedOutcome, name: str) -> None:
    label = next((o.label for o in outcomes if o.code == saved.outcome_code), saved.outcome_code)
    already = " (it was already saved)" if saved.duplicate else ""
    st.session_state[CONFIRMED] = (
        f"Saved “{escape_markdown(label)}” for {escape_markdown(name)}{already}."
    )


contact: queue.ClaimedContact | None = st.session_state.get(CONTACT)
if contact is not None and lease_is_getting_old(st.session_state.get(RENEWED)):
    try:
        with _ui.write_session() as session:
            st.session_state[RENEWED] = queue.renew_lease(
                session=session, queue_entry_id=contact.queue_entry_id, volunteer_id=user.id,
                now=now())
    except queue.LeaseLost as exc:
        # A save that committed before a reconnect (or a crash) also ends the lease: say so.
        with _ui.read_session() as session:
            earlier = queue.saved_outcome(session=session,
                                          idempotency_key=st.session_state[ATTEMPT_KEY])
        if earlier is not None:
            confirm(earlier, contact.name)
        else:
            st.session_state[NOTICE] = str(exc)
        forget_contact()
        st.rerun()  # a fresh run, so no click meant for this contact lands on the next one

if contact is None:
    try:
        contact = claim()
    except queue.CallingClosed as closed:
        opening = calling_hours.describe_opening(closed.reopens_at, campaign.timezone, now())
        st.info(f"Calling hours are over for now. Calling reopens {opening} "
                f"({campaign.timezone} time).", icon="🌙")
        if st.button("Stop calling", key="calling_stop_closed"):
            stop_calling(campaign_id)
            st.rerun()
        st.stop()
    except (queue.CampaignNotActive, queue.NotAllowedToCall) as exc:
        st.warning(str(exc))
        if st.button("Choose another campaign", key="calling_choose_other"):
            stop_calling(campaign_id)
            st.rerun()
        st.stop()
    if contact is None:
        empty_state()
    assert contact is not None
    forget_contact()
    st.session_state[CONTACT] = contact
    st.session_state[ATTEMPT_KEY] = uuid.uuid4().hex
    st.session_state[SHOWN_AT] = now()
    st.session_state[RENEWED] = contact.lease_expires_at


@st.fragment(run_every=60)
def heartbeat() -> None:
    """Keep the lease while the page is open (a closed tab lets it lapse back to the queue)."""
    held: queue.ClaimedContact | None = st.session_state.get(CONTACT)
    if held is None:
        return
    expiry: datetime = st.session_state.get(RENEWED) or held.lease_expires_at
    # The full run above applies the same rule, so only the timer's own runs write here.
    if lease_is_getting_old(expiry):
        try:
            with _ui.write_session() as session:
                expiry = queue.renew_lease(session=session, queue_entry_id=held.queue_entry_id,
                                           volunteer_id=user.id, now=now())
        except queue.LeaseLost:
            # Forget when it was renewed, so the full run re-checks the lease and drops the
            # contact with a notice (without this, each run's heartbeat reran the app again).
            st.session_state.pop(RENEWED, None)
            st.rerun(scope="app")
        st.session_state[RENEWED] = expiry
    st.caption(f"This contact is held for you until {local(expiry, campaign)[-5:]}.")


# --------------------------------------------------------------------------------------------
# The card: name, the fields the script uses, earlier outcomes here, and nothing else
# --------------------------------------------------------------------------------------------

card, script_column = st.columns([2, 3], gap="large")
with card, st.container(border=True):
    st.markdown(f"### {escape_markdown(contact.name)}")
    if contact.tier == "callback" and contact.callback_at:
        st.caption(f"You arranged to call back at {local(contact.callback_at, campaign)}.")
    for name, value in contact.fields.items():
        if name in ("first_name", "last_name"):
            continue
        label = name.replace("_", " ").capitalize()
        st.markdown(f"**{escape_markdown(label)}:** {escape_markdown(value) or '—'}")
    if contact.history:
        st.markdown("**Earlier calls in this campaign**")
        for earlier in contact.history:
            st.caption(f"{local(earlier.at, campaign)}: {escape_markdown(earlier.label)}")
    heartbeat()

    call_result: Any = None
    if campaign.dialer in ("twilio", "fake"):
        call_result = twilio_call_controls(
            campaign_id=campaign_id, contact_id=contact.contact_id, volunteer_id=user.id,
            attempt_key=st.session_state[ATTEMPT_KEY],
        )
    else:
        revealed: queue.RevealedNumber | None = st.session_state.get(REVEALED)
        if revealed is None:
            if st.button("📞 Call", key="calling_reveal", type="primary"):
                try:
                    with _ui.write_session() as session:
                        revealed = queue.reveal_number(
                            session=session, queue_entry_id=contact.queue_entry_id,
                            volunteer_id=user.id, now=now())
                except queue.LeaseLost as exc:
                    st.warning(str(exc))
                    forget_contact()
                    st.rerun()
                st.session_state[REVEALED] = revealed
        if revealed is not None:
            st.link_button(f"📞 {revealed.display}", revealed.tel_uri, type="primary",
                           key="calling_dial")
            st.caption("Tap to dial from your phone, or dial the number shown.")

suggested = getattr(call_result, "suggested_outcome", None)
codes = [o.code for o in outcomes]
if suggested in codes and not st.session_state.get(SUGGESTED):
    st.session_state[form_key("calling_outcome", contact)] = suggested
    st.session_state[SUGGESTED] = True

with script_column:
    volunteer_fields = {"volunteer_name": user.name,
                        "volunteer_first_name": user.name.split()[0] if user.name else ""}
    with st.container(border=True):
        st.markdown(render_script(campaign.script, {**contact.fields, **volunteer_fields})
                    or "_No script for this campaign._")


# --------------------------------------------------------------------------------------------
# Survey, outcome, notes, and the one-click save
# --------------------------------------------------------------------------------------------


def ask(question: QuestionView) -> Any:
    label = question.text + (" *" if question.required else "")
    key = form_key(f"calling_q_{question.id}", contact)
    if question.kind == "multi":
        return st.multiselect(label, list(question.choices), key=key)
    if question.kind == "text":
        return st.text_input(label, key=key)
    return st.radio(label, list(question.choices), index=None, key=key,
                    horizontal=question.kind in ("yes_no", "scale"))


if questions:
    st.markdown("#### Survey")
    for question in questions:
        ask(question)

labels = {o.code: o.label for o in outcomes}
behaviours = {o.code: o.behaviour for o in outcomes}
outcome_code = st.radio("Outcome", codes, format_func=labels.__getitem__, index=None,
                        key=form_key("calling_outcome", contact), horizontal=True)
if outcome_code and behaviours.get(outcome_code) == "callback":
    # Read back by save_and_next from session_state, in the campaign's zone.
    soon = (now() + timedelta(hours=1)).astimezone(calling_hours.zone(campaign.timezone))
    day_col, time_col = st.columns(2)
    day_col.date_input("Call back on", value=soon.date(), min_value=soon.date(),
                       key=form_key("calling_callback_date", contact))
    time_col.time_input("at", value=soon.time().replace(second=0, microsecond=0),
                        key=form_key("calling_callback_time", contact),
                        step=timedelta(minutes=15))
    st.caption(f"They stay yours until {campaign.callback_grace_minutes} minutes after that time.")
st.text_area("Notes", key=form_key("calling_notes", contact), height=80,
                     placeholder="Anything the next caller should know (no sensitive details)")

if outcome_code and next((o.is_conversation for o in outcomes if o.code == outcome_code), False):
    # Before Save: saving moves on to the next contact.
    render_sms_followup(campaign_id=campaign_id, contact_id=contact.contact_id,
                        volunteer_id=user.id)


def save_and_next(contact: queue.ClaimedContact, question_ids: list[int], zone_name: str) -> None:
    """on_click of "Save and next": runs before the page does, so the same run that saves also
    claims and draws the next contact (one run per save, not two), and no rerun request can
    interrupt it between the commit and the confirmation."""
    state = st.session_state
    outcome_code = state.get(form_key("calling_outcome", contact))
    if outcome_code is None:
        state[PROBLEMS] = ("warning", ["Pick an outcome first."])
        return
    callback_at: datetime | None = None
    day: date | None = state.get(form_key("calling_callback_date", contact))
    at: time | None = state.get(form_key("calling_callback_time", contact))
    if behaviours.get(outcome_code) == "callback" and day is not None and at is not None:
        callback_at = datetime.combine(day, at, tzinfo=calling_hours.zone(zone_name)
                                       ).astimezone(UTC)
    answers = {qid: state.get(form_key(f"calling_q_{qid}", contact)) for qid in question_ids}
    call_result = state.get(CALL_RESULT)
    try:
        # Retried with the same idempotency key, so a retry can never record twice.
        saved = _ui.runtime().database.retrying(
            lambda session: queue.record_outcome(
                session=session, queue_entry_id=contact.queue_entry_id, volunteer_id=user.id,
                outcome_code=outcome_code, idempotency_key=state[ATTEMPT_KEY],
                answers={qid: value for qid, value in answers.items()
                         if value not in (None, "", [])},
                notes=state.get(form_key("calling_notes", contact)) or "",
                started_at=state.get(SHOWN_AT, now()), now=now(),
                callback_at=callback_at,
                provider=getattr(call_result, "provider", None) or campaign.dialer,
                provider_call_id=getattr(call_result, "provider_call_id", None),
                provider_status=getattr(call_result, "provider_status", None),
                duration_seconds=getattr(call_result, "duration_seconds", None),
            )
        )
    except AnswerError as exc:
        state[PROBLEMS] = ("error", list(exc.problems.values()))
        return
    except (queue.CallbackTimeNeeded, queue.UnknownOutcome) as exc:
        state[PROBLEMS] = ("error", [str(exc)])
        return
    except queue.LeaseLost as exc:
        state[NOTICE] = str(exc)
        forget_contact()
        return
    except DBAPIError as exc:
        if not is_retryable(exc):
            raise
        state[PROBLEMS] = ("error", [
            "The database did not answer, so this call is not confirmed yet. Press "
            "“Save and next” again: it can never be recorded twice."])
        return
    # Only now, with the transaction committed, does the volunteer see it confirmed.
    confirm(saved, contact.name)
    forget_contact()


def skip(contact: queue.ClaimedContact) -> None:
    """on_click of Skip: hand the contact back untouched; the same run shows the next one."""
    with _ui.write_session() as session:
        queue.release(session=session, queue_entry_id=contact.queue_entry_id,
                      volunteer_id=user.id, now=now())
    st.session_state[SKIPPED] = [*st.session_state.get(SKIPPED, []), contact.queue_entry_id]
    forget_contact()


st.session_state[CALL_RESULT] = call_result
if PROBLEMS in st.session_state:
    level, problems = st.session_state.pop(PROBLEMS)
    for problem in problems:
        (st.warning if level == "warning" else st.error)(problem)

save_col, skip_col, stop_col = st.columns([2, 1, 1])
save_col.button("Save and next", key=form_key("calling_save", contact), type="primary",
                width="stretch", on_click=save_and_next,
                args=(contact, [q.id for q in questions], campaign.timezone))
skip_col.button("Skip", key=form_key("calling_skip", contact), width="stretch",
                on_click=skip, args=(contact,))

if stop_col.button("Stop", key="calling_stop", width="stretch"):
    stop_calling(campaign_id)
    st.rerun()
