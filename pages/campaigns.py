"""Campaigns (organisers): create, edit, pause, resume, close; script, survey, outcomes, hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from core import calling_hours
from core import campaigns as core
from core.callbacks import campaign_end
from core.calling_hours import DAY_NAMES
from core.dialing import DialerKind, caller_id_choices, dialer_kind, spec_for
from core.outcomes import Behaviour
from core.phones import display_phone
from core.queue import queue_summary
from core.script import (
    STANDARD_FIELDS,
    VOLUNTEER_FIELDS,
    escape_markdown,
    render_script,
    script_fields,
    volunteer_fields,
)
from core.survey import QUESTION_KINDS
from pages import _ui
from pages._callbacks import render_callbacks_by_volunteer
from pages._sms import render_sms_template_editor

organiser = _ui.require_organiser()
st.title("Campaigns")

FLASH_WARNING = "campaigns_flash_warning"
_ui.show_flash()
if FLASH_WARNING in st.session_state:
    st.warning(st.session_state.pop(FLASH_WARNING), icon="🌙")


def done(message: str, select: int | None = None) -> None:
    """Flash a message and rerun; `select` a new campaign (only before the picker is drawn)."""
    _ui.flash(message)
    if select is not None:
        st.session_state["campaigns_pick"] = select
    st.rerun()


with st.expander("New campaign", expanded=False):
    with st.form("campaigns_new", clear_on_submit=True):
        new_name = st.text_input("Name", key="campaigns_new_name")
        new_description = st.text_area("What it is for", key="campaigns_new_description")
        created = st.form_submit_button("Create campaign", type="primary")
    if created:
        created_view = _ui.run_action(
            lambda s: core.create_campaign(session=s, name=new_name, description=new_description,
                                           created_by_id=organiser.id),
            errors=(core.CampaignError,)).value
        if created_view is not None:
            done(f"Created “{created_view.name}” as a draft: add a script, then start it.",
                 created_view.id)

with _ui.read_session() as session:
    campaigns = core.list_campaigns(session=session)
if not campaigns:
    st.info("No campaigns yet. Create one above.")
    st.stop()

names = {c.id: f"{c.name} ({c.status})" for c in campaigns}
if st.session_state.get("campaigns_pick") not in names:
    st.session_state.pop("campaigns_pick", None)
picked = st.selectbox("Campaign", list(names), format_func=names.__getitem__,
                      key="campaigns_pick")
with _ui.read_session() as session:
    campaign = core.get_campaign(session=session, campaign_id=picked)
    summary = queue_summary(session=session, campaign_id=picked)
    outcomes = core.list_outcomes(session=session, campaign_id=picked, include_inactive=True)
    questions = core.list_questions(session=session, campaign_id=picked)
    members = core.list_members(session=session, campaign_id=picked)
    callers = core.list_callers(session=session)

# --------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------

cols = st.columns(5)
for column, (label, value) in zip(
    cols,
    (("Status", campaign.status.capitalize()), ("To call", summary.fresh),
     ("Retries / callbacks", summary.retry + summary.callback), ("On a call", summary.leased),
     ("Finished", summary.done)),
    strict=True,
):
    column.metric(label, value)

ACTIONS = {
    "draft": [("activate", "Start calling")],
    "active": [("pause", "Pause"), ("close", "Close")],
    "paused": [("resume", "Resume"), ("close", "Close")],
    "closed": [("reopen", "Reopen (paused)")],
}
if campaign.status == "draft":
    ACTIONS["draft"].append(("close", "Close"))
buttons = st.columns(len(ACTIONS[campaign.status]) + 3)
for column, (action, label) in zip(buttons, ACTIONS[campaign.status], strict=False):
    if column.button(label, key=f"campaigns_{action}",
                     type="primary" if action in ("activate", "resume") else "secondary"):
        changed = _ui.run_action(
            lambda s, a=action: core.change_status(session=s, campaign_id=picked, action=a),
            errors=(core.CampaignError,))
        if (view := changed.value) is not None:
            at = datetime.now(UTC)
            if view.status == "active" and not calling_hours.is_open(
                    view.calling_window, view.timezone, at):
                # Started outside its hours: say when volunteers will actually get contacts.
                closed = calling_hours.closed_message(view.calling_window, view.timezone, at)
                st.session_state[FLASH_WARNING] = f"Volunteers cannot call yet. {closed}"
            done(f"“{view.name}” is now {view.status}.")

# Keyed and tracked, so that saving (which reruns with a message above) keeps the tab open.
(details, script_tab, survey_tab, outcomes_tab, hours_tab, sms_tab, team_tab,
 callbacks_tab) = st.tabs(
    ["Details", "Script", "Survey", "Outcomes", "Calling hours", "Follow-up text", "Team",
     "Callbacks"],
    key="campaigns_tab", on_change="rerun",
)


def save(message: str, **changes: Any) -> None:
    if _ui.run_action(lambda s: core.update_campaign(session=s, campaign_id=picked, **changes),
                      errors=(core.CampaignError,)).ok:
        done(message)


# --------------------------------------------------------------------------------------------
# Details
# --------------------------------------------------------------------------------------------

with details:
    name = st.text_input("Name", value=campaign.name, key=f"campaigns_name_{picked}")
    description = st.text_area("Description", value=campaign.description,
                               key=f"campaigns_description_{picked}")
    left, middle, right = st.columns(3)
    max_attempts = left.number_input(
        "Max attempts per contact", min_value=1, max_value=20, value=campaign.max_attempts,
        key=f"campaigns_max_attempts_{picked}",
        help="Retry outcomes stop after this many calls to one person.")
    lease_minutes = middle.number_input(
        "Hold a contact for (minutes)", min_value=2, max_value=120,
        value=campaign.lease_minutes, key=f"campaigns_lease_{picked}",
        help="Renewed while the volunteer's page is open; a closed tab lets the contact go.")
    grace = right.number_input(
        "Callback stays with its volunteer for (minutes)", min_value=0, max_value=10080,
        value=campaign.callback_grace_minutes, key=f"campaigns_grace_{picked}")
    left, right = st.columns(2)
    dialer = left.selectbox(
        "How volunteers call", list(DialerKind),
        index=list(DialerKind).index(dialer_kind(campaign.dialer)),
        key=f"campaigns_dialer_{picked}",
        format_func=lambda kind: spec_for(kind).label)
    timezone = right.text_input("Time zone", value=campaign.timezone,
                                key=f"campaigns_timezone_{picked}")
    settings = _ui.runtime().settings
    caller_ids = list(caller_id_choices(settings, dialer))
    caller_id = campaign.caller_id
    if caller_ids:
        options = ["", *caller_ids]
        caller_id = left.selectbox(
            "Caller ID (calls and texts come from this number)", options,
            index=options.index(campaign.caller_id) if campaign.caller_id in options else 0,
            key=f"campaigns_caller_id_{picked}",
            format_func=lambda n: display_phone(n) if n else "Default (the first number)")
    if spec_for(dialer).unavailable(settings):
        st.warning(spec_for(dialer).unavailable(settings))
    voicemail_message = campaign.voicemail_message
    machine_detection = campaign.machine_detection
    if spec_for(dialer).rooms is not None:
        st.markdown("**Continuous calling** (Ringround dials for volunteers, one person each)")
        machine_detection = st.checkbox(
            "Listen for answering machines", value=campaign.machine_detection,
            key=f"campaigns_amd_{picked}",
            help="Machines are then dealt with by Ringround. Ofcom counts a person taken for "
                 "a machine as an abandoned call; off puts every answer through.")
        voicemail_message = st.text_area(
            "Message for answering machines (read out, then hang up; empty: just hang up)",
            value=campaign.voicemail_message, max_chars=500,
            key=f"campaigns_voicemail_{picked}",
            placeholder="Hello, this is the NHS campaign calling for a quick chat. We will try "
                        "you again; to opt out, call us back on this number.")
    if st.button("Save details", key="campaigns_save_details", type="primary"):
        save("Details saved.", name=name, description=description,
             max_attempts=int(max_attempts), lease_minutes=int(lease_minutes),
             callback_grace_minutes=int(grace), dialer=dialer, timezone=timezone,
             caller_id=caller_id, voicemail_message=voicemail_message,
             machine_detection=machine_detection)

# --------------------------------------------------------------------------------------------
# Script, with a live preview on a made-up contact
# --------------------------------------------------------------------------------------------

with script_tab:
    st.caption(
        "Markdown. Merge fields: " + ", ".join(f"`{{{f}}}`" for f in
                                                (*STANDARD_FIELDS, *VOLUNTEER_FIELDS))
        + ", or any imported column by its name. Add a fallback for a missing value: "
        "`{first_name|friend}`. Contact data is always shown as plain text."
    )
    editor, preview = st.columns(2)
    script = editor.text_area("Script", value=campaign.script, height=320,
                              key=f"campaigns_script_{picked}")
    custom = [f for f in script_fields(script) if f not in (*STANDARD_FIELDS, *VOLUNTEER_FIELDS)]
    sample = {**core.SAMPLE_CONTACT, **volunteer_fields(organiser.name),
              **{f: f"({f})" for f in custom}}
    with preview:
        st.markdown("**Preview** (sample contact Sam Sample)")
        with st.container(border=True):
            st.markdown(render_script(script, sample) or "_Empty script._")
        if custom:
            st.caption("From imported columns: " + ", ".join(custom)
                       + ". Blank for contacts without them unless you give a fallback.")
    if st.button("Save script", key="campaigns_save_script", type="primary"):
        save("Script saved.", script=script)

# --------------------------------------------------------------------------------------------
# Survey
# --------------------------------------------------------------------------------------------

with survey_tab:
    # Kinds are shown and picked by name ("Yes / no"), stored by their code.
    kind_label = {kind.value: spec.label for kind, spec in QUESTION_KINDS.items()}
    kind_of = {label: kind for kind, label in kind_label.items()}
    if questions:
        st.caption("The questions, in the order volunteers ask them: edit them here and press "
                   "Save survey. Options (for single and multiple choice) are separated by "
                   "semicolons. Removing a question keeps answers already given.")
        edited = st.data_editor(
            [{"id": q.id, "text": q.text, "kind": kind_label.get(q.kind, q.kind),
              "options": "; ".join(q.options) if q.spec.has_options else "",
              "required": q.required}
             for q in questions],
            # New questions come from the form below, where the kind must be picked: a new
            # grid row left its kind empty unnoticed.
            num_rows="delete", key=f"campaigns_survey_{picked}", width="stretch",
            column_config={
                "id": None,
                # Not required=True: the editor silently drops a row missing a required cell.
                # A kind cleared here is refused by save_questions with a message instead.
                "text": st.column_config.TextColumn("Question", width="large"),
                "kind": st.column_config.SelectboxColumn(
                    "Kind", options=list(kind_of),
                    help="What the volunteer records: " + "; ".join(kind_of) + "."),
                "options": st.column_config.TextColumn("Options (a; b; c)"),
                "required": st.column_config.CheckboxColumn("Required"),
            },
        )
        if st.button("Save survey", key="campaigns_save_survey", type="primary"):
            # Every row is a question that exists: one whose text was cleared is refused by
            # name, not dropped (removing is the row's own delete).
            wanted = [{**row, "kind": kind_of.get(str(row.get("kind") or ""), row.get("kind"))}
                      for row in edited]
            if _ui.run_action(
                    lambda s: core.save_questions(session=s, campaign_id=picked,
                                                  questions=wanted),
                    errors=(core.CampaignError,)).ok:
                done("Survey saved.")
    else:
        st.caption("No questions yet: add the first one below.")

    st.subheader("Add a question")
    new_question = {field: f"campaigns_new_question_{field}_{picked}"
                    for field in ("text", "kind", "options", "required")}
    if st.session_state.pop("campaigns_question_added", False):
        # An empty form for the next question. Set before the widgets are drawn, so that the
        # browser's copies are reset too.
        st.session_state.update({new_question["text"]: "", new_question["kind"]: None,
                                 new_question["options"]: "", new_question["required"]: False})
    with st.form(f"campaigns_new_question_{picked}"):
        question_text = st.text_input("Question", max_chars=500, key=new_question["text"])
        left, right = st.columns([1, 2])
        # No default: a kind is a choice the organiser makes, never one made for them.
        question_kind = left.selectbox(
            "Kind", list(kind_label), index=None, format_func=kind_label.__getitem__,
            placeholder="Pick what the volunteer records", key=new_question["kind"])
        question_options = right.text_input(
            "Options, for single and multiple choice (a; b; c)", key=new_question["options"])
        question_required = st.checkbox("Required", key=new_question["required"])
        add = st.form_submit_button("Add question", type="primary")
    if add:
        added = _ui.run_action(
            lambda s: core.add_question(
                session=s, campaign_id=picked, text=question_text, kind=question_kind,
                options=question_options, required=question_required),
            errors=(core.CampaignError,)).value
        if added is not None:
            st.session_state["campaigns_question_added"] = True
            done(f"Question added: “{escape_markdown(added.text)}” ({added.spec.label}).")

# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------

with outcomes_tab:
    st.caption("The buttons volunteers press after a call, in order. " + " · ".join(
        f"**{b.value}**: {b.description}" for b in Behaviour))
    outcome_rows = [
        {"code": o.code, "label": o.label, "behaviour": o.behaviour,
         "retry_after_hours": o.retry_after_hours, "is_conversation": o.is_conversation,
         "is_completion": o.is_completion, "active": o.active}
        for o in outcomes
    ]
    edited_outcomes = st.data_editor(
        outcome_rows, num_rows="dynamic", key=f"campaigns_outcomes_{picked}", width="stretch",
        column_config={
            "code": st.column_config.TextColumn("Code", required=True),
            "label": st.column_config.TextColumn("Button label", required=True),
            "behaviour": st.column_config.SelectboxColumn(
                "Behaviour", options=[b.value for b in Behaviour], required=True),
            "retry_after_hours": st.column_config.NumberColumn("Retry after (hours)", min_value=0),
            "is_conversation": st.column_config.CheckboxColumn("Conversation"),
            "is_completion": st.column_config.CheckboxColumn("Survey completed"),
            "active": st.column_config.CheckboxColumn("In use"),
        },
    )
    if st.button("Save outcomes", key="campaigns_save_outcomes", type="primary"):
        if _ui.run_action(
                lambda s: core.save_outcomes(
                    session=s, campaign_id=picked,
                    outcomes=[r for r in edited_outcomes if r.get("code")]),
                errors=(core.CampaignError,)).ok:
            done("Outcomes saved.")

# --------------------------------------------------------------------------------------------
# Calling hours
# --------------------------------------------------------------------------------------------


def parse(text: str, default: time) -> time:
    if not text or text == "24:00":
        return default
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


with hours_tab:
    st.caption(f"Wall-clock times in {campaign.timezone}; the same on both sides of a clock "
               "change. Outside these hours no contact is handed out.")
    window: dict[str, list[str]] = {}
    for day, day_name in enumerate(DAY_NAMES):
        span = campaign.calling_window.get(str(day)) or []
        open_col, from_col, to_col = st.columns([1, 1, 1])
        is_open = open_col.checkbox(day_name, value=bool(span), key=f"campaigns_day{day}_{picked}")
        opens = from_col.time_input("Opens", value=parse(span[0] if span else "", time(9)),
                                    key=f"campaigns_open{day}_{picked}", disabled=not is_open,
                                    label_visibility="collapsed")
        closes = to_col.time_input("Closes", value=parse(span[1] if span else "", time(21)),
                                   key=f"campaigns_close{day}_{picked}", disabled=not is_open,
                                   label_visibility="collapsed")
        window[str(day)] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")] if is_open else []
    if st.button("Save calling hours", key="campaigns_save_hours", type="primary"):
        if _ui.run_action(
                lambda s: core.set_calling_window(session=s, campaign_id=picked, window=window),
                errors=(core.CampaignError,)).ok:
            done("Calling hours saved.")

# --------------------------------------------------------------------------------------------
# Who may call
# --------------------------------------------------------------------------------------------

with sms_tab:
    render_sms_template_editor(campaign_id=picked, actor_id=organiser.id)

with team_tab:
    open_to_all = st.toggle("Any volunteer may call this campaign", value=campaign.open_to_all,
                            key=f"campaigns_open_to_all_{picked}")
    caller_names = dict(callers)
    chosen = st.multiselect(
        "Members (when not open to all)", list(caller_names),
        default=[m for m in members if m in caller_names], format_func=caller_names.__getitem__,
        key=f"campaigns_members_{picked}", disabled=open_to_all)
    def save_team(session: Any) -> None:
        core.update_campaign(session=session, campaign_id=picked, open_to_all=open_to_all)
        core.set_members(session=session, campaign_id=picked, user_ids=chosen)

    if st.button("Save team", key="campaigns_save_team", type="primary"):
        _ui.run_action(save_team)
        done("Team saved.")

with callbacks_tab:
    st.caption("“Call back later” keeps a contact with the volunteer who promised the call. "
               "These bounds stop anyone parking the queue.")
    left, middle, right = st.columns(3)
    max_days = left.number_input(
        "Callbacks at most this many days ahead", min_value=1, max_value=365,
        value=campaign.callback_max_days, key=f"campaigns_callback_days_{picked}")
    max_held = middle.number_input(
        "Callbacks one volunteer may hold", min_value=1, max_value=1000,
        value=campaign.max_callbacks_per_volunteer, key=f"campaigns_callback_cap_{picked}")
    zone = campaign.timezone
    ends_on = right.date_input(
        "Campaign ends on (optional)", format="DD/MM/YYYY", key=f"campaigns_ends_on_{picked}",
        value=(campaign.ends_at.astimezone(ZoneInfo(zone)) - timedelta(days=1)).date()
        if campaign.ends_at else None,
        help="No callback is booked after the end of this day.")
    if st.button("Save callback rules", key="campaigns_save_callbacks", type="primary"):
        save("Callback rules saved.", callback_max_days=int(max_days),
             max_callbacks_per_volunteer=int(max_held),
             ends_at=campaign_end(ends_on if isinstance(ends_on, date) else None, zone))
    st.subheader("Who holds callbacks")
    render_callbacks_by_volunteer(campaign_id=picked, organiser_id=organiser.id, zone=zone)
