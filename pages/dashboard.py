"""Dashboard (organisers): the campaign day as it happens, refreshed every few seconds.

Filters live outside the live fragment, in keyed widgets kept for the whole session, so the
fragment's timed reruns never reset them and leaving the page does not either. Every figure
comes from core.stats through the shared cache: twenty organisers watching cost one query per
figure per cache period, not twenty.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from core import calling_hours, stats
from core.contacts import reveal_numbers
from core.display import plural, uk_date, uk_datetime
from core.event_funnel import STAGE_LABELS, STAGES
from pages import _ui

ALL = 0  # the selector's "All campaigns"
PERIODS = {"today": "Today", "week": "Last 7 days", "all": "All time"}
RECRUITS_SHOWN = 25
WHOLE = alt.Axis(format="d", tickMinStep=1)  # counts: 0, 1, 2, never 0.5

organiser = _ui.require_organiser()
rt = _ui.runtime()
settings = rt.settings
ttl = settings.dashboard_cache_seconds


def figure(name: str, **params: Any) -> Any:
    return stats.cached(name, database=rt.database, ttl=ttl, **params)


st.title("Dashboard")
campaigns = figure("campaign_choices")
if not campaigns:
    st.info("No campaigns yet. Create one on the Campaigns page; its calls will show up here.")
    st.stop()
by_id = {c["id"]: c for c in campaigns}

# --- filters (kept in session state under their keys) -----------------------------------------



def campaign_label(key: int) -> str:
    if key == ALL:
        return "All campaigns"
    campaign = by_id[key]
    return campaign["name"] + ("" if campaign["status"] == "active" else f" ({campaign['status']})")


top = st.columns([3, 2, 3, 1])
campaign_key = top[0].selectbox(
    "Campaign", options=[c["id"] for c in campaigns] + [ALL], key="dashboard_campaign",
    format_func=campaign_label, persist_state="session",
)
campaign_id = None if campaign_key in (ALL, None) else int(campaign_key)
if campaign_id is not None and campaign_id not in by_id:  # deleted since it was chosen
    campaign_id = None
tz = by_id[campaign_id]["timezone"] if campaign_id else settings.timezone
zone = ZoneInfo(tz)
today = stats.local_today(tz)
day = top[1].date_input("Day", value=today, max_value=today, key="dashboard_day",
                        format="DD/MM/YYYY", persist_state="session")
day = day if isinstance(day, date) else today
period = top[2].segmented_control(
    "Outcomes, leaderboard and compliance over", options=list(PERIODS), default="today",
    format_func=PERIODS.__getitem__, key="dashboard_period", persist_state="session",
) or "today"
paused = top[3].toggle("Pause", key="dashboard_paused", persist_state="session",
                       help="Stop refreshing, e.g. while reading a table.")



def period_start() -> datetime | None:
    """Recomputed at every refresh, so a screen left on overnight rolls over to the new day."""
    if period == "all":
        return None
    now_day = stats.local_today(tz)
    return stats.local_day_bounds(now_day if period == "today" else now_day - timedelta(days=6),
                                  tz)[0]


def set_leaderboard(campaign: int, key: str) -> None:
    _ui.run_action(lambda s: stats.set_leaderboard_visible(
        session=s, campaign_id=campaign, visible=bool(st.session_state[key])))


if campaign_id is not None:
    toggle_key = f"dashboard_leaderboard_visible_{campaign_id}"
    st.toggle("Volunteers can see this campaign's leaderboard", key=toggle_key,
              value=by_id[campaign_id]["leaderboard_visible"],
              on_change=set_leaderboard, args=(campaign_id, toggle_key))


# --- rendering helpers -------------------------------------------------------------------------

# Column headings in words, for every table on the page (a column not named keeps its own).
HEADERS: dict[str, Any] = {
    name: st.column_config.Column(label) for name, label in {
        "constituency": "Constituency", "ward": "Ward", "contacts": "Contacts",
        "called": "Called", "reached": "Reached", "completed": "Surveys completed",
        "remaining": "Still to call", "rank": "Rank", "name": "Volunteer",
        "completions": "Surveys completed", "conversations": "Conversations",
        "dials": "Dials", "sign-ups": "Event sign-ups", "source": "Added by",
        "numbers": "Numbers", "event": "Event", "title": "Event", "starts_at": "Starts",
        "booked": "Booked", "told": "Told time and place", "attended": "Came",
        "no_show": "Did not come", "capacity": "Places", "when": "When", "places": "Places",
        "signed_up": "Signed up", "confirmed": "Confirmed", "came": "Came",
        "walk_ins": "Walk-ins", "gave_back": "Gave their place back",
    }.items()
}


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def headline_metrics(numbers: dict[str, Any]) -> None:
    first = st.columns(5)
    first[0].metric("Contacts", f"{numbers['contacts']:,}")
    first[1].metric("Reached", f"{numbers['reached']:,}")
    first[2].metric("Completed", f"{numbers['completed']:,}")
    first[3].metric("Remaining", f"{numbers['remaining']:,}")
    first[4].metric("Calling now", f"{numbers['calling_now']:,}",
                    help="Volunteers holding a contact right now (a live lease).")
    second = st.columns(5)
    second[0].metric("Dials today", f"{numbers['dials_today']:,}")
    second[1].metric("Conversations today", f"{numbers['conversations_today']:,}")
    second[2].metric("Dials (all time)", f"{numbers['dials']:,}")
    second[3].metric("Contact rate", f"{numbers['contact_rate']:.0%}",
                     help="Conversations per dial, all time.")
    second[4].metric("Average call", seconds_text(numbers["avg_call_seconds"]),
                     help="Average length of a conversation (minutes:seconds).")


def calling_span(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The quarter-hours of the day's calling window (the campaign's, else 09:00-21:00),
    widened to take in any call made outside it."""
    window = (by_id[campaign_id]["calling_window"] if campaign_id else None) or \
        calling_hours.default_window()
    span = window.get(str(day.weekday())) or []
    opens = datetime.combine(day, datetime.strptime(span[0], "%H:%M").time(), tzinfo=zone) \
        if span else None
    closes = (datetime.combine(day, datetime.strptime(span[1], "%H:%M").time(), tzinfo=zone)
              if span and span[1] != "24:00" else None)
    busy = [b["start"] for b in buckets if b["dials"] or b["conversations"]]
    first = min([t for t in (opens, *busy[:1]) if t is not None], default=None)
    last = max([t for t in (closes, *busy[-1:]) if t is not None], default=None)
    return [b for b in buckets
            if (first is None or b["start"] >= first) and (last is None or b["start"] <= last)]


def section(title: str, rows: Sequence[Any], empty: str) -> bool:
    """The section's heading; with no rows, `empty` under it instead, and False."""
    st.subheader(title)
    if not rows:
        st.caption(empty)
    return bool(rows)


def through_the_day(buckets: list[dict[str, Any]]) -> None:
    st.subheader(f"Calls per 15 minutes, {uk_date(day)}")
    if not any(b["dials"] for b in buckets):
        st.caption("No calls on this day yet.")
    frame = pd.DataFrame([
        {"time": b["start"].astimezone(zone).replace(tzinfo=None), "series": series,
         "calls": b[column]}
        for b in calling_span(buckets)
        for series, column in (("Dials", "dials"), ("Conversations", "conversations"))
    ])
    chart = alt.Chart(frame).mark_line(point=False, interpolate="step-after").encode(
        x=alt.X("time:T", title=f"Time ({tz})", axis=alt.Axis(format="%H:%M")),
        y=alt.Y("calls:Q", title="Calls", axis=WHOLE),
        color=alt.Color("series:N", title=None),
        tooltip=[alt.Tooltip("time:T", format="%H:%M"), "series:N", "calls:Q"],
    )
    st.altair_chart(chart, width="stretch")


def outcomes_chart(rows: list[dict[str, Any]]) -> None:
    if not section("Outcomes", rows, "No calls in this period."):
        return
    frame = pd.DataFrame(rows)
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("count:Q", title="Calls", axis=WHOLE),
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["label:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    st.altair_chart(chart, width="stretch")


def survey_charts(results: list[dict[str, Any]]) -> None:
    if not section("Survey results", results, "This campaign has no survey questions."):
        return
    for question in results:
        st.markdown(f"**{question['text']}** · "
                    f"{plural(question['respondents'], 'person', 'people')} answered")
        if not question["answers"]:
            st.caption(f"{plural(question['total'], 'written answer')} (in the survey export).")
            continue
        frame = pd.DataFrame(question["answers"])
        chart = alt.Chart(frame).mark_bar().encode(
            x=alt.X("count:Q", title="Answers", axis=WHOLE),
            y=alt.Y("value:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
            tooltip=["value:N", "count:Q"],
        ).properties(height=70 + 34 * len(frame))
        st.altair_chart(chart, width="stretch")


def progress_section(wards: list[dict[str, Any]]) -> None:
    if not section("Progress per constituency", wards, "No contacts queued yet."):
        return
    seats = pd.DataFrame(stats.progress_by_constituency(wards))
    # Overlaid bars are drawn in data order: all contacts first, completed last, on top.
    long = seats.melt(id_vars=["constituency"], value_vars=["contacts", "reached", "completed"],
                      var_name="measure", value_name="people")
    chart = alt.Chart(long).mark_bar().encode(
        x=alt.X("people:Q", title="People", stack=None, axis=WHOLE),
        y=alt.Y("constituency:N", title=None, axis=alt.Axis(labelLimit=260)),
        color=alt.Color("measure:N", title=None,
                        sort=["contacts", "reached", "completed"]),
        opacity=alt.value(0.85),
        tooltip=["constituency:N", "measure:N", "people:Q"],
    )
    st.altair_chart(chart, width="stretch")
    st.dataframe(
        seats[["constituency", "contacts", "called", "reached", "completed", "remaining",
               "reached_share"]],
        hide_index=True, width="stretch",
        column_config={**HEADERS, "reached_share": st.column_config.ProgressColumn(
            "Reached (share)", format="percent", min_value=0.0, max_value=1.0)},
    )
    with st.expander("Per ward"):
        st.dataframe(pd.DataFrame(wards), hide_index=True, width="stretch",
                     column_config=HEADERS)


def leaderboard_section(board: list[dict[str, Any]], signups: dict[int, int]) -> None:
    if not section("Volunteer leaderboard", board, "No calls in this period."):
        return
    frame = pd.DataFrame(board)
    frame["sign-ups"] = [signups.get(int(v), 0) for v in frame["volunteer_id"]]
    st.dataframe(
        frame[["rank", "name", "completions", "conversations", "dials", "sign-ups"]],
        hide_index=True, width="stretch", column_config=HEADERS,
    )
    st.caption("Sign-ups: event places the volunteer booked on their calls (all time).")


def funnel_section(funnel: Any, per_event: list[dict[str, Any]],
                   recruited: dict[str, int]) -> None:
    st.subheader("From a yes to the door")
    cols = st.columns(len(STAGES))
    for col_, stage in zip(cols, STAGES, strict=True):
        col_.metric(STAGE_LABELS[stage], f"{getattr(funnel, stage):,}")
    st.caption("People: reached on a call → gave the recruit answer → booked on an event → "
               "told their time and place → ticked at check-in; did not come = booked for an "
               "event that has ended, not ticked.")
    if recruited["callers"]:
        st.caption(f"Recruited {recruited['callers']:,} caller"
                   f"{'s' if recruited['callers'] != 1 else ''} who made "
                   f"{recruited['calls']:,} calls.")
    if per_event:
        st.dataframe(pd.DataFrame(per_event), hide_index=True, width="stretch",
                     key="dashboard_event_funnel", column_config=HEADERS)


def recruits_section(count: int, rows: list[dict[str, Any]]) -> None:
    st.subheader(f"Recruits: {count:,}")
    if campaign_id is not None and not by_id[campaign_id]["recruit_rule"]:
        st.caption("Choose the answer that makes a recruit in the campaign's settings.")
        return
    if not rows:
        st.caption("Nobody yet.")
        return
    booked = figure("events_by_contact",
                    contact_ids=tuple(sorted({int(r["contact_id"]) for r in rows})))
    # Numbers only on request, each reveal audited (as on the calling card); only the people
    # on screen when the button was pressed, so a recruit arriving on a refresh stays masked.
    revealed: dict[int, str] = st.session_state.get("dashboard_recruits_revealed", {})
    if st.button("Show their numbers", key="dashboard_recruits_reveal"):
        shown = _ui.run_action(lambda s: reveal_numbers(
            session=s, contact_ids=[r["contact_id"] for r in rows], actor_id=organiser.id,
            where="dashboard_recruits")).value or {}
        revealed = {**revealed, **shown}
        st.session_state["dashboard_recruits_revealed"] = revealed
    frame = pd.DataFrame([
        {"name": f"{r['first_name']} {r['last_name']}".strip(), "constituency": r["constituency"],
         "events": "; ".join(booked.get(int(r["contact_id"]), [])),
         "phone": revealed.get(r["contact_id"], "(hidden)"),
         "answered": uk_datetime(r["answered_at"], zone) if r["answered_at"] else "",
         "do not call": r["do_not_call"], "campaign": r["campaign"]}
        for r in rows
    ])
    # st.table, not st.dataframe: a dataframe's toolbar would let anyone on this screen
    # download names and numbers without the audit trail that exports leave.
    st.table(frame.set_index("name"))
    st.caption(f"The newest {RECRUITS_SHOWN} shown; the full list is on the Exports page "
               "(audited).")


def compliance_section(panel: dict[str, Any]) -> None:
    st.subheader("Compliance")
    cols = st.columns(3)
    cols[0].metric("Calls outside the calling window", panel["outside_window"],
                   help="Should be 0.")
    cols[1].metric("Numbers added to do-not-call", panel["suppressed_total"])
    cols[2].metric("TPS-registered, kept out of the queue", panel["tps_excluded"])
    rate = panel["abandoned_rate_24h"]
    st.metric("Abandoned calls, last 24 h (Ofcom: at most 3 %)", f"{100 * rate:.1f} %",
              help="Continuous calling dials one person per ready volunteer, so none is left "
                   "without someone to speak to; Ofcom also counts people answering-machine "
                   "detection takes for a machine, estimated here.")
    st.caption(f"{panel['abandoned_24h']} abandoned of {panel['live_answered_24h']} live "
               f"answers, plus an estimated {panel['abandoned_amd_estimate_24h']:g} missed by "
               "answering-machine detection.")
    if rate > 0.03:
        st.error("Abandoned calls are above Ofcom's 3 % for this campaign in the last 24 h.")
    if panel["outside_window"]:
        st.error(f"{plural(panel['outside_window'], 'call')} saved outside the calling "
                 "window.")
    if panel["tps_queued"]:
        st.error(f"{plural(panel['tps_queued'], 'TPS-registered non-member')} queued to be "
                 "called.")
    if panel["suppressed_by_source"]:
        st.dataframe(
            pd.DataFrame([{"source": s, "numbers": n}
                          for s, n in sorted(panel["suppressed_by_source"].items())]),
            hide_index=True, column_config=HEADERS,
        )


# --- the live part -----------------------------------------------------------------------------


@st.fragment(run_every=None if paused else settings.dashboard_refresh_seconds)
def live() -> None:
    try:
        numbers = figure("headline", campaign_id=campaign_id,
                         default_timezone=settings.timezone)
    except stats.CampaignNotFound:
        st.warning("That campaign no longer exists.")
        return
    since = period_start()
    state = "paused" if paused else f"refreshes every {settings.dashboard_refresh_seconds:g} s"
    st.caption(f"Updated {datetime.now(zone):%H:%M:%S} ({tz} time) · {state}")
    headline_metrics(numbers)
    through_the_day(figure("calls_by_quarter_hour", campaign_id=campaign_id, day=day,
                           default_timezone=settings.timezone))
    left, right = st.columns(2)
    with left:
        outcomes_chart(figure("outcome_breakdown", campaign_id=campaign_id, since=since))
    with right:
        leaderboard_section(figure("leaderboard", campaign_id=campaign_id, since=since,
                                   limit=25),
                            figure("signups_by_volunteer", campaign_id=campaign_id))
    if campaign_id is not None:
        survey_charts(figure("survey_results", campaign_id=campaign_id))
    progress_section(figure("progress_by_ward", campaign_id=campaign_id))
    funnel_section(figure("campaign_funnel", campaign_id=campaign_id),
                   figure("event_funnels", campaign_id=campaign_id),
                   figure("recruited_callers", campaign_id=campaign_id))
    recruits_section(figure("recruit_count", campaign_id=campaign_id),
                     figure("recruits", campaign_id=campaign_id, limit=RECRUITS_SHOWN))
    compliance_section(figure("compliance", campaign_id=campaign_id, since=since))


live()
