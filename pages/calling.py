"""Calling: pick a campaign, then one contact at a time: card, script, survey, outcome, next."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from core import calling_hours, queue
from core.callbacks import callback_deadline
from core.campaigns import (
    CampaignNotFound,
    CampaignView,
    callable_campaigns,
    get_campaign,
    list_outcomes,
)
from core.dialing import calling_mode
from core.display import uk_datetime
from core.event_texts import TextPurpose, deliver_due_texts
from core.events import offers_for_contact
from core.outcomes import Behaviour
from core.script import escape_markdown, render_script, volunteer_fields
from core.survey import QuestionView, Widget, list_questions
from core.tally import volunteer_tally
from pages import _browser, _ui
from pages._call_panel import twilio_call_controls
from pages._callbacks import render_my_callbacks
from pages._calling_flow import CallingFlow
from pages._session_panel import end_live_session, line_call, render_session
from pages._sms import render_sms_followup

user = _ui.require_user()


def confirm_bookings(saved: queue.RecordedOutcome) -> str:
    """After a save that booked places: text the confirmations now, or say who will."""
    rt = _ui.runtime()
    try:
        report = deliver_due_texts(database=rt.database, settings=rt.settings,
                                   signup_ids=saved.signup_ids,
                                   purposes=[TextPurpose.CONFIRM])
    except Exception:  # a text must never lose the saved call
        logging.getLogger(__name__).exception("event confirmation failed")
        return "Booked; the organiser will send the confirmation."
    places = len(saved.signup_ids)
    booked = f"Booked {places} event place{'s' if places != 1 else ''}"
    if report.sent:
        return f"{booked}; confirmation texted."
    return f"{booked}; the organiser will send the confirmation."


flow = CallingFlow(st.session_state, database=_ui.runtime().database, volunteer_id=user.id,
                   after_save=confirm_bookings)


def now() -> datetime:
    return datetime.now(UTC)


def stop_calling() -> None:
    if flow.campaign_id is not None:
        with _ui.read_session() as session:
            current_mode = calling_mode(session=session, campaign_id=flow.campaign_id,
                                        volunteer_id=user.id, settings=_ui.runtime().settings)
        if current_mode.continuous:
            end_live_session(current_mode, user.id)
    flow.stop()
    st.rerun()


def local(when: datetime, campaign: CampaignView) -> str:
    return uk_datetime(when, calling_hours.zone(campaign.timezone))


# --------------------------------------------------------------------------------------------
# Choosing a campaign
# --------------------------------------------------------------------------------------------

st.title("Calling")

if flow.campaign_id is None:
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
        flow.start(picked)
        st.rerun()
    st.stop()

campaign_id = flow.campaign_id
with _ui.read_session() as session:
    try:
        campaign = get_campaign(session=session, campaign_id=campaign_id)
    except CampaignNotFound:
        flow.forget_campaign()
        st.rerun()
    outcomes = list_outcomes(session=session, campaign_id=campaign_id)
    questions = list_questions(session=session, campaign_id=campaign_id)
    tally = volunteer_tally(session=session, volunteer_id=user.id, now=now(),
                            session_started_at=flow.session_started_at,
                            timezone=campaign.timezone)
    mode = calling_mode(session=session, campaign_id=campaign_id, volunteer_id=user.id,
                        settings=_ui.runtime().settings)

# Stop sits at the top, away from Save and Skip: a thumb aiming for Skip must not end the shift.
# (Not in a column: the card's name is the only heading inside one, which scripts rely on.)
st.subheader(campaign.name)
if st.button("Stop calling", key="calling_stop", icon="⏹️", type="tertiary"):
    stop_calling()
with st.sidebar:
    st.markdown("**Your calls**")
    for label, counts in (("This session", tally.session), ("Today", tally.day)):
        st.caption(f"{label}: {counts.dials} dials · {counts.conversations} conversations · "
                   f"{counts.completions} surveys")
    render_my_callbacks(volunteer_id=user.id, campaign_id=campaign_id)

if flow.confirmation:
    st.success(flow.confirmation, icon="✅")
if notice := flow.take_notice():
    st.warning(notice)


# --------------------------------------------------------------------------------------------
# The contact: claimed once, kept (and its lease renewed) across reruns
# --------------------------------------------------------------------------------------------


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
        if flow.skipped:
            st.caption(f"You skipped {len(flow.skipped)} contact(s); "
                       "“Check again” offers them once more.")
    if st.button("Check again", key="calling_refresh"):
        flow.check_again()
        st.rerun()
    st.stop()


labels = {o.code: o.label for o in outcomes}
if not flow.keep_lease(campaign.lease_minutes, labels):
    st.rerun()  # a fresh run, so no click meant for this contact lands on the next one

# Continuous calling: until a person is on the line the session panel is all there is to show.
on_the_line = render_session(mode=mode, campaign_id=campaign_id, volunteer_id=user.id)
if (on_the_line is not None and on_the_line.line is not None and flow.contact is not None
        and flow.contact.queue_entry_id != on_the_line.line.queue_entry_id):
    flow.forget_contact()

claiming = flow.contact is None
try:
    claimed = flow.next_contact()
except queue.CallingClosed:
    closed = calling_hours.closed_message(campaign.calling_window, campaign.timezone, now())
    st.info(closed, icon="🌙")
    st.stop()
except (queue.CampaignNotActive, queue.NotAllowedToCall) as exc:
    st.warning(str(exc))
    st.caption("Press “Stop calling” above to choose another campaign.")
    st.stop()
if claimed is None:
    empty_state()
assert claimed is not None
contact: queue.ClaimedContact = claimed
if claiming:
    _ui.mark_run("claim")


@st.fragment(run_every=60)
def heartbeat() -> None:
    """Keep the lease while the page is open (a closed tab lets it lapse back to the queue)."""
    if flow.contact is None:
        return
    expiry = flow.heartbeat(campaign.lease_minutes)
    if expiry is None:
        st.rerun(scope="app")
    assert expiry is not None
    st.caption(f"This contact is held for you until {local(expiry, campaign)[-5:]}.")


# --------------------------------------------------------------------------------------------
# The card: name, the fields the script uses, earlier outcomes here, and nothing else
# --------------------------------------------------------------------------------------------

card, script_column = st.columns([2, 3], gap="large")
with card, st.container(border=True, key="calling_card"):
    # The name is the card's heading (screen readers and the phone layout find it), with the
    # name as a text node: HTML-escaped into st.html, never Markdown, so "[x](http://…)" or
    # "![x](http://…)" in an imported name shows as those characters and loads nothing.
    st.html(f"<h3>{html.escape(contact.name)}</h3>")
    _ui.mark_run("card")
    if contact.tier == queue.ClaimTier.CALLBACK and contact.callback_at:
        st.caption(f"You arranged to call back at {local(contact.callback_at, campaign)}.")
    for name, value in contact.fields.items():
        if name in ("first_name", "last_name"):
            continue
        label = name.replace("_", " ").capitalize()
        # Plain text: a URL in contact data stays text, never a link the volunteer might tap.
        st.text(f"{label}: {value or '—'}")
    if contact.history:
        st.markdown("**Earlier calls in this campaign**")
        for earlier in contact.history:
            st.text(f"{local(earlier.at, campaign)}: {earlier.label}")
    heartbeat()

    call_result: Any = None
    if on_the_line is not None:
        call_result = line_call(on_the_line)
        st.caption("Put through by Ringround: save the outcome and the next person is dialled.")
    elif mode.bridged:
        call_result = twilio_call_controls(
            campaign_id=campaign_id, queue_entry_id=contact.queue_entry_id, volunteer_id=user.id,
            attempt_key=flow.attempt_key,
        )
    else:
        # One tap: the link opens the phone's dialler and its on_click audits the reveal in
        # the run the tap starts. The number itself is shown only after that tap.
        try:
            tel_uri = flow.dial_link()
        except queue.LeaseLost as exc:
            st.warning(str(exc))
            st.rerun()
        revealed = flow.revealed
        # A widget label is Markdown (images included) with no plain-text mode: escaped.
        st.link_button(f"Call {escape_markdown(contact.first_name or contact.name)}"
                       if revealed is None
                       else "Call again", tel_uri, key=flow.key("calling_dial"),
                       on_click=flow.record_dial, args=(contact,), type="primary",
                       icon="📞", width="stretch")
        if revealed is not None:
            st.caption(f"Dialling {revealed.display} from your phone.")
            if revealed.note:  # words from the uploaded file: plain text, never Markdown
                st.text(f"Note with this number: {revealed.note}")
        else:
            st.caption("Opens your phone's dialler. On a computer, the number appears here.")
    _browser.announce_contact(
        token=flow.attempt_key,
        message=" ".join(filter(None, [flow.confirmation, f"Now calling {contact.name}."])),
        # Only after a save: the first contact needs no jump, and focus must never move while
        # someone is typing.
        move_focus=flow.confirmation is not None,
    )

codes = [o.code for o in outcomes]
flow.suggest_outcome(getattr(call_result, "suggested_outcome", None), codes)

with script_column:
    with st.container(border=True):
        merged = {**contact.fields, **volunteer_fields(user.name)}
        st.markdown(render_script(campaign.script, merged) or "_No script for this campaign._")


# --------------------------------------------------------------------------------------------
# Survey, outcome, notes, and the one-click save
# --------------------------------------------------------------------------------------------


# One entry per core.survey.Widget: a new question kind reuses one of these or adds its own.
WIDGETS: dict[Widget, Callable[[str, tuple[str, ...], str], Any]] = {
    Widget.RADIO: lambda label, choices, key: st.radio(
        label, list(choices), index=None, key=key),
    Widget.RADIO_ROW: lambda label, choices, key: st.radio(
        label, list(choices), index=None, key=key, horizontal=True),
    Widget.MULTISELECT: lambda label, choices, key: st.multiselect(
        label, list(choices), key=key),
    Widget.TEXT_INPUT: lambda label, choices, key: st.text_input(label, key=key),
    Widget.EVENT_PICKER: lambda label, choices, key: pick_events(label, key),
}


def pick_events(label: str, key: str) -> list[str]:
    """Event sign-up: the campaign's upcoming events, the contact's own area first, with the
    places left. An event that filled while they talk stays listed if picked, so that Save
    says plainly it is full."""
    with _ui.read_session() as session:
        offers = offers_for_contact(session=session, campaign_id=campaign_id,
                                    contact_id=contact.contact_id)
    picked = [str(v) for v in st.session_state.get(key) or []]
    listed = {str(o.id): o for o in offers if not o.full or str(o.id) in picked}
    if not offers:
        st.caption(f"{escape_markdown(label)}: there are no upcoming events to offer.")
        return []
    chosen: list[str] = st.multiselect(
        label, list(listed), format_func=lambda i: listed[i].label(), key=key,
        placeholder="Pick the events they will come to")
    for event_id in chosen:
        event = listed[event_id].event
        if event.description:
            st.caption(escape_markdown(f"{event.title}: {event.description}"))
    full = [o.event.title for o in offers if o.full and str(o.id) not in listed]
    if full:
        st.caption(escape_markdown("Full: " + "; ".join(full)))
    return chosen


def ask(question: QuestionView) -> Any:
    label = question.text + (" *" if question.required else "")
    return WIDGETS[question.spec.widget](
        label, question.choices, flow.key(f"calling_q_{question.id}"))


if questions:
    st.markdown("#### Survey")
    for question in questions:
        ask(question)

st.text_area("Notes", key=flow.key("calling_notes"), height=80,
             placeholder="Anything the next caller should know (no sensitive details)")

sms_slot = st.container()  # filled once an outcome is picked: the text goes before Save
# The outcome and Save stay in reach on a phone: a bar stuck to the bottom of the screen
# (pages/_browser.py's CSS), so nobody scrolls past the script to finish a call.
actions = st.container(key="calling_actions")
behaviours = {o.code: o.behaviour for o in outcomes}
outcome_code = actions.radio("Outcome", codes, format_func=labels.__getitem__, index=None,
                             key=flow.key("calling_outcome"), horizontal=True)
if outcome_code and behaviours.get(outcome_code) == Behaviour.CALLBACK:
    # Read back by the flow's save from session_state, in the campaign's zone.
    soon = (now() + timedelta(hours=1)).astimezone(calling_hours.zone(campaign.timezone))
    day_col, time_col = actions.columns(2)
    latest = callback_deadline(now(), campaign.callback_max_days, campaign.ends_at)
    day_col.date_input("Call back on", value=soon.date(), min_value=soon.date(),
                       max_value=max(soon.date(), latest.astimezone(soon.tzinfo).date()),
                       format="DD/MM/YYYY", key=flow.key("calling_callback_date"))
    time_col.time_input("at", value=soon.time().replace(second=0, microsecond=0),
                        key=flow.key("calling_callback_time"),
                        step=timedelta(minutes=15))
    actions.caption(
        f"They stay yours until {campaign.callback_grace_minutes} minutes after that time.")
if outcome_code and behaviours.get(outcome_code) == "do_not_call":
    actions.checkbox("Yes, never call this number again (it leaves every campaign)",
                     key=flow.key("calling_dnc_confirm"))

if outcome_code and next((o.is_conversation for o in outcomes if o.code == outcome_code), False):
    # Before Save: saving moves on to the next contact.
    with sms_slot:
        render_sms_followup(campaign_id=campaign_id, contact_id=contact.contact_id,
                            volunteer_id=user.id)

flow.remember_call_result(call_result)
if problems := flow.take_problems():
    for problem in problems.messages:
        (actions.warning if problems.level == "warning" else actions.error)(problem)


def save_and_next(*args: Any, **kwargs: Any) -> None:
    _ui.begin_run("save")  # the server-side Save -> next figure starts here (bench/load.py)
    flow.save_and_next(*args, **kwargs)


save_col, skip_col = actions.columns([2, 1])
# on_click: the save runs before the page does, so this same run draws the next contact.
save_col.button("Save and next", key=flow.key("calling_save"), type="primary",
                width="stretch", on_click=save_and_next, args=(contact,),
                kwargs={"campaign": campaign, "outcomes": outcomes,
                        "question_ids": [q.id for q in questions]})
skip_col.button("Skip", key=flow.key("calling_skip"), width="stretch",
                on_click=flow.skip, args=(contact,))
