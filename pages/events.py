"""Events (organisers): what callers sign people up for: create, edit, cancel, duplicate,
choose who runs the check-in, and see each event's bookings."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from core import events, stats
from core.campaigns import list_callers, list_campaigns
from core.display import plural, uk_datetime
from core.event_exports import run_event_export
from core.event_funnel import event_counts
from core.event_texts import (
    PURPOSE_LABELS,
    TextPurpose,
    deliver_due_texts,
    mark_sent_by_hand,
    recent_declines,
    texts_to_send_by_hand,
)
from core.events import EVENT_KIND_LABELS, EventDraft, EventError, EventKind, EventView
from core.recruits import InviteNotSent, send_recruit_invite
from core.script import escape_markdown
from pages import _ui

organiser, rt = _ui.organiser_page(
    "Events", "Canvassing sessions, stalls, phone banks and meetings that callers offer on the "
    "phone (an *Event sign-up* question in a campaign's survey). Places are held the moment "
    "the call is saved; a full event cannot be overbooked.")

with _ui.read_session() as session:
    campaigns = {c.id: c.name for c in list_campaigns(session=session)
                 if c.status != "closed"}
    callers = dict(list_callers(session=session))
    upcoming = events.list_events(session=session)
    past = events.list_events(session=session, past=True)
    counts = event_counts(session=session, event_ids=[e.id for e in upcoming + past])


def event_form(prefix: str, initial: EventDraft | None) -> EventDraft | None:
    """The event editor; returns the draft when its button is pressed."""
    # Tomorrow where the events happen, not in UTC (just after midnight in summer they differ).
    tomorrow = stats.local_today(rt.settings.timezone) + timedelta(days=1)
    start = initial or EventDraft(title="", day=tomorrow, start=time(10, 0), end=time(13, 0),
                                  timezone=rt.settings.timezone)
    with st.form(f"{prefix}_form"):
        title = st.text_input("Title", value=start.title, key=f"{prefix}_title",
                              max_chars=events.MAX_TITLE)
        kinds = list(EventKind)
        kind = st.selectbox("Kind", kinds, index=kinds.index(EventKind(start.kind)),
                            format_func=lambda k: EVENT_KIND_LABELS[EventKind(k)],
                            key=f"{prefix}_kind")
        day_col, start_col, end_col = st.columns(3)
        day: date = day_col.date_input("Date", value=start.day, format="DD/MM/YYYY",
                                        key=f"{prefix}_day")
        start_at: time = start_col.time_input("Starts", value=start.start, key=f"{prefix}_start",
                                              step=timedelta(minutes=15))
        end_at: time = end_col.time_input("Ends", value=start.end, key=f"{prefix}_end",
                                          step=timedelta(minutes=15))
        st.caption(f"Times are {start.timezone} time.")
        place = st.text_input("Place (address)", value=start.place, key=f"{prefix}_place",
                              placeholder="Crewe Library, Prince Albert St, CW1 2DH")
        online_url = st.text_input("Online link (for online events)", value=start.online_url,
                                   key=f"{prefix}_online", placeholder="https://…")
        seat_col, ward_col, capacity_col = st.columns(3)
        constituency = seat_col.text_input("Constituency it serves", value=start.constituency,
                                           key=f"{prefix}_constituency")
        ward = ward_col.text_input("Ward", value=start.ward, key=f"{prefix}_ward")
        capacity = capacity_col.number_input(
            "Places (0 = no limit)", min_value=0, max_value=events.MAX_CAPACITY, step=1,
            value=start.capacity or 0, key=f"{prefix}_capacity")
        offered_by = st.multiselect(
            "Campaigns whose callers may offer it", list(campaigns),
            default=[c for c in start.campaign_ids if c in campaigns],
            format_func=lambda c: campaigns[c], key=f"{prefix}_campaigns")
        description = st.text_area("Description (read to the person on the phone)",
                                   value=start.description, key=f"{prefix}_description",
                                   max_chars=events.MAX_DESCRIPTION, height=80)
        submitted = st.form_submit_button("Save event", type="primary")
    if not submitted:
        return None
    return EventDraft(
        title=title, day=day, start=start_at, end=end_at, timezone=start.timezone,
        kind=str(kind), description=description, place=place, online_url=online_url,
        constituency=constituency, ward=ward, capacity=int(capacity) or None,
        campaign_ids=tuple(int(c) for c in offered_by),
    )


def show_error(exc: Exception) -> None:
    label = {"title": "Title", "place": "Place", "online_url": "Online link",
             "capacity": "Places", "end": "Ends", "campaign_ids": "Campaigns",
             "timezone": "Time zone", "description": "Description", "kind": "Kind"}
    field_name = getattr(exc, "field", "")
    st.error(f"{label.get(field_name, 'Event')}: {exc}" if field_name else str(exc))


def event_summary(event: EventView) -> None:
    figures = counts.get(event.id)
    left = event.places_left
    places = ("no limit" if left is None else f"{event.places_taken} of {event.capacity} "
              f"places taken")
    st.markdown(f"**{escape_markdown(event.title)}**"
                + (" · ❌ cancelled" if event.cancelled else ""))
    area = ", ".join(part for part in (event.constituency, event.ward) if part)
    st.caption(escape_markdown(" · ".join(
        part for part in (event.when(), event.where, places, area) if part)))
    if figures is not None:
        st.caption(f"Booked {figures.booked} · confirmed {figures.confirmed} · came "
                   f"{figures.attended} (+{figures.walk_ins} walk-ins) · did not come "
                   f"{figures.no_show} · gave their place back {figures.given_back}")


with _ui.read_session() as session:
    owed = texts_to_send_by_hand(session=session, now=datetime.now(UTC),
                                 public_url=rt.settings.public_url)
    declines = recent_declines(session=session, limit=10)
    declined_this_week = len(recent_declines(
        session=session, limit=1000, since=datetime.now(UTC) - timedelta(days=7)))

if declined_this_week:
    # A reply of NO frees the place by itself; the organiser hears of it here, on arrival,
    # not only inside the texts tab (who and which event: plain text in the table there).
    st.info(f"{plural(declined_this_week, 'place')} given back by a reply of NO in the last "
            "7 days: see *Texts to send* for who, and which event.",
            icon="↩️")

FILE_KEY = "events_export_file"


def prepare_export(kind: str, event_id: int | None, button_key: str) -> None:
    """Build an event file when asked (audited then) and offer it for download."""
    if st.button("Prepare " + ("roster" if kind == "event_roster" else "list") + " (CSV)",
                 key=button_key):
        out = io.BytesIO()
        result = run_event_export(database=rt.database, kind=kind, fmt="csv", out=out,
                                  actor=organiser, event_id=event_id,
                                  public_url=rt.settings.public_url,
                                  timezone=rt.settings.timezone)
        st.session_state[FILE_KEY] = {"key": button_key, "data": out.getvalue(),
                                      "filename": result.filename, "rows": result.rows}
    prepared = st.session_state.get(FILE_KEY)
    if prepared and prepared["key"] == button_key:
        st.download_button(f"Download {prepared['filename']} ({prepared['rows']} rows)",
                           data=prepared["data"], file_name=prepared["filename"],
                           mime="text/csv", key=f"{button_key}_download", on_click="ignore")


new_tab, upcoming_tab, past_tab, texts_tab, recruits_tab = st.tabs(
    ["New event", f"Upcoming ({len(upcoming)})", "Past", f"Texts to send ({len(owed)})",
     "Recruits who will call"])

with new_tab:
    if not campaigns:
        st.info("Create a campaign first: events are offered by a campaign's callers.")
    if created := st.session_state.pop("events_created", None):
        st.success(f"Created “{escape_markdown(created)}”. Callers offer it through an "
                   "*Event sign-up* question in the campaign's survey.")
    draft = event_form("event_new", None)
    if draft is not None:

        def remember_created(_: object, title: str = draft.title.strip()) -> None:
            # Said on the next run: the rerun that lists the new event would wipe it now.
            st.session_state["events_created"] = title
            # An empty editor for the next one, so a second press cannot make a twin.
            for widget in [k for k in st.session_state if str(k).startswith("event_new_")]:
                del st.session_state[widget]

        _ui.run_action(
            lambda s: events.create_event(session=s, draft=draft, actor_id=organiser.id),
            errors=(EventError,), on_refusal=show_error, then=remember_created, rerun=True)

with upcoming_tab:
    if not upcoming:
        st.info("No upcoming events. Create one in *New event*.")
    for event in upcoming:
        with st.container(border=True):
            event_summary(event)
            if event.cancelled:
                continue
            with st.expander("Edit"):
                draft = event_form(f"event_edit_{event.id}", event.draft())
                if draft is not None:
                    _ui.run_action(
                        lambda s, e=event, d=draft: events.update_event(
                            session=s, event_id=e.id, draft=d, actor_id=organiser.id),
                        errors=(EventError, events.EventNotFound), on_refusal=show_error,
                        rerun=True)
            helpers = st.multiselect(
                "Volunteers who may run the check-in", list(callers),
                default=[h for h in event.helper_ids if h in callers],
                format_func=lambda u: callers[u], key=f"event_helpers_{event.id}")
            dup_col, helper_col, cancel_col = st.columns(3)
            if dup_col.button("Duplicate for next week", key=f"event_duplicate_{event.id}"):
                _ui.run_action(lambda s, e=event: events.duplicate_event(
                    session=s, event_id=e.id, actor_id=organiser.id), rerun=True)
            if helper_col.button("Save check-in helpers", key=f"event_helpers_save_{event.id}"):
                _ui.run_action(lambda s, e=event, h=helpers: events.set_helpers(
                    session=s, event_id=e.id, user_ids=h, actor_id=organiser.id), done="Saved.")
            with st.expander("Roster (names and numbers; the export is audited)"):
                prepare_export("event_roster", event.id, f"event_roster_{event.id}")
            sure = cancel_col.checkbox("Yes, cancel it", key=f"event_cancel_sure_{event.id}")
            if cancel_col.button("Cancel event", key=f"event_cancel_{event.id}",
                                 disabled=not sure):
                told = _ui.run_action(lambda s, e=event: events.cancel_event(
                    session=s, event_id=e.id, actor_id=organiser.id)).value or []

                def cancelled(report: Any, title: str = event.title, told: list = told) -> str:
                    return (f"{report.sent} told by text. Cancelled “{title}”; {len(told)} "
                            f"booked {'person' if len(told) == 1 else 'people'} to tell (by "
                            "text, or see *Texts to send*).")

                # The texts go after the commit, each in a transaction of its own.
                _ui.run_action(
                    lambda database, t=told: deliver_due_texts(
                        database=database, settings=rt.settings, signup_ids=t,
                        purposes=[TextPurpose.CANCEL]),
                    transaction="own", done=cancelled, shown="toast", rerun=True)

with past_tab:
    if not past:
        st.caption("No past events yet.")
    for event in past[:50]:
        with st.container(border=True):
            event_summary(event)
            if st.button("Run again next week", key=f"event_again_{event.id}"):
                weeks = max(1, (datetime.now(UTC) - event.starts_at).days // 7 + 1)
                _ui.run_action(lambda s, e=event, w=weeks: events.duplicate_event(
                    session=s, event_id=e.id, actor_id=organiser.id, weeks=w), rerun=True)

with texts_tab:
    st.caption("Confirmations, reminders due now and cancellation notices that have not gone "
               "by text. With texting set up they go by themselves (each within its campaign's "
               "calling hours); otherwise download the list, text or email them yourself, "
               "then mark them sent.")
    if owed:
        st.dataframe([{"kind": PURPOSE_LABELS[t.purpose], "name": f"{t.first_name} "
                       f"{t.last_name}".strip(), "event": t.event_title, "message": t.body}
                      for t in owed], hide_index=True, key="events_owed_table")
        prepare_export("event_texts", None, "event_texts_export")
        if st.button(f"Mark these {len(owed)} as sent", key="events_mark_sent"):
            _ui.run_action(lambda s: mark_sent_by_hand(session=s, texts=owed,
                                                       actor_id=organiser.id,
                                                       now=datetime.now(UTC)),
                           done=lambda marked: f"Marked {marked} as sent.", shown="toast",
                           rerun=True)
    else:
        st.success("Nothing to send: everyone booked has been told.")
    st.markdown("**Places given back by a reply**")
    if declines:
        st.dataframe([{"when": uk_datetime(d["at"], rt.settings.timezone), "name": d["name"],
                       "event": d["event"]}
                      for d in declines], hide_index=True, key="events_declines")
    else:
        st.caption("Nobody has replied NO yet.")

with recruits_tab:
    st.caption("A recruit who would rather phone than knock on doors: text them a volunteer "
               "invite (one person, seven days). Their calls then count for the campaign that "
               "recruited them on the dashboard.")
    if campaigns:
        recruit_campaign = st.selectbox("Campaign", list(campaigns),
                                        format_func=campaigns.__getitem__,
                                        key="events_recruit_campaign")
        with _ui.read_session() as session:
            found = [r for r in stats.recruits(session=session, campaign_id=recruit_campaign,
                                               limit=200) if not r["do_not_call"]]
        people = {int(r["contact_id"]): f"{r['first_name']} {r['last_name']} "
                  f"({r['constituency'] or 'no seat'})" for r in found}
        if people:
            who = st.selectbox("Recruit", list(people), format_func=people.__getitem__,
                               key="events_recruit_contact")
            if st.button("Text them a volunteer invite", key="events_recruit_invite"):
                _ui.run_action(
                    lambda database: send_recruit_invite(
                        database=database, settings=rt.settings,
                        campaign_id=int(recruit_campaign), contact_id=int(who),
                        actor_id=organiser.id),
                    transaction="own", errors=(InviteNotSent,), done="Invite texted.")
        else:
            st.caption("No recruits in this campaign yet.")
