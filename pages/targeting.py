"""Targeting: build a segment, watch its count and a sample update, attach it to a campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from core.targeting import (
    CUSTOM_OPERATORS,
    CustomFilter,
    Segment,
    SegmentError,
    attach_segment,
    count_segment,
    delete_saved_segment,
    list_saved_segments,
    preview_segment,
    save_segment,
    segment_options,
)
from pages import _ui

CUSTOM_KEY = "seg_custom"

user, rt = _ui.organiser_page(
    "Targeting", "Who a campaign calls. Numbers on the do-not-call list, wrong numbers and "
    "TPS-registered non-members are always left out.")


@st.cache_data(ttl=60, show_spinner=False)
def load_options(database_url: str) -> dict[str, Any]:
    with _ui.read_session() as session:
        return segment_options(session=session)


options = load_options(rt.settings.database_url)
_ui.show_flash()



def load_saved(saved: Segment) -> None:
    """on_click of Load: put a saved segment's filters into the widgets before they are drawn."""
    state = st.session_state
    state["seg_constituencies"] = list(saved.constituencies)
    state["seg_wards"] = list(saved.wards)
    state["seg_tags_any"] = list(saved.tags_any)
    state["seg_tags_none"] = list(saved.tags_none)
    state["seg_phone_type"] = saved.phone_type
    state["seg_use_last"] = saved.last_contacted_before is not None
    if saved.last_contacted_before is not None:
        state["seg_last_before"] = saved.last_contacted_before
    state["seg_exclude_outcomes"] = list(saved.exclude_outcomes)
    state["seg_outcome_days"] = saved.outcome_days
    state["seg_not_queued"] = saved.exclude_queued_elsewhere
    state[CUSTOM_KEY] = [{"field": f.field, "op": f.op, "value": f.value} for f in saved.custom]


with _ui.read_session() as session:
    saved_segments = {s.id: s for s in list_saved_segments(session=session)}
if saved_segments:
    pick_col, load_col, delete_col = st.columns([4, 1, 1], vertical_alignment="bottom")
    saved_id = pick_col.selectbox("Saved segments", list(saved_segments),
                                  format_func=lambda i: saved_segments[i].name,
                                  key="seg_saved_pick")
    load_col.button("Load", key="seg_saved_load", on_click=load_saved,
                    args=(saved_segments[saved_id].segment,))
    if delete_col.button("Delete", key="seg_saved_delete"):
        _ui.run_action(lambda s: delete_saved_segment(session=s, segment_id=saved_id),
                       done=f"Deleted the saved segment “{saved_segments[saved_id].name}”.",
                       rerun=True)

left, right = st.columns(2)
constituencies = left.multiselect("Constituencies", options["constituencies"],
                                  key="seg_constituencies")
ward_choices = sorted({w for c in (constituencies or options["constituencies"])
                       for w in options["wards"].get(c, [])})
wards = right.multiselect("Wards", ward_choices, key="seg_wards")
tags_any = left.multiselect("Has any of these tags", options["tags"], key="seg_tags_any")
tags_none = right.multiselect("Has none of these tags", options["tags"], key="seg_tags_none")
phone_type = left.radio("Phone", ["", "mobile", "landline"], horizontal=True,
                        format_func=lambda v: {"": "Any", "mobile": "Mobiles only",
                                               "landline": "Landlines only"}[v],
                        key="seg_phone_type")
use_last = right.checkbox("Last contacted before a date (or never)", key="seg_use_last")
last_before = None
if use_last:
    last_before = right.date_input("Last contacted before",
                                   value=(datetime.now(UTC) - timedelta(days=30)).date(),
                                   format="DD/MM/YYYY", key="seg_last_before")
exclude_outcomes = left.multiselect(
    "Leave out people with these outcomes recently", list(options["outcomes"]),
    format_func=lambda code: options["outcomes"].get(code, code), key="seg_exclude_outcomes")
outcome_days = right.number_input("…in the last N days", min_value=1, max_value=3650,
                                  value=30, key="seg_outcome_days")
not_queued = st.checkbox("Leave out people queued in another active campaign", value=True,
                         key="seg_not_queued")
no_show_events = st.multiselect(
    "Signed up for … but did not come (a follow-up call)", list(options["past_events"]),
    format_func=lambda i: options["past_events"][i], key="seg_no_show_events",
    help="People booked for one of these events who were not ticked at its check-in.")

st.subheader("Custom fields")
filters: list[dict[str, Any]] = st.session_state.setdefault(CUSTOM_KEY, [])
for index, flt in enumerate(list(filters)):
    shown = flt["value"] if flt["op"] not in ("empty", "not_empty") else ""
    col_text, col_remove = st.columns([5, 1])
    # Plain text: the field is a CSV header and the value was typed.
    col_text.text(f"{flt['field']} {CUSTOM_OPERATORS[flt['op']]} {shown}")
    if col_remove.button("Remove", key=f"seg_custom_remove_{index}"):
        filters.pop(index)
        st.rerun()
if options["custom_fields"]:
    c1, c2, c3, c4 = st.columns([2, 2, 3, 1])
    field_name = c1.selectbox("Field", options["custom_fields"], key="seg_custom_field")
    operator = c2.selectbox("Test", list(CUSTOM_OPERATORS),
                            format_func=CUSTOM_OPERATORS.__getitem__, key="seg_custom_op")
    value = c3.text_input("Value (comma-separated for 'is one of')", key="seg_custom_value")
    if c4.button("Add", key="seg_custom_add"):
        filters.append({"field": field_name, "op": operator,
                        "value": [v.strip() for v in value.split(",")] if operator == "in"
                        else value})
        st.rerun()
else:
    st.caption("Columns imported as custom fields appear here.")

campaigns = options["campaigns"]
campaign_id = st.selectbox(
    "Campaign", [c["id"] for c in campaigns],
    format_func=lambda i: next(f"{c['name']} ({c['status']})" for c in campaigns if c["id"] == i),
    index=0 if campaigns else None, key="seg_campaign", placeholder="No open campaigns",
)

segment = Segment(
    constituencies=constituencies, wards=wards, tags_any=tags_any, tags_none=tags_none,
    custom=[CustomFilter(**f) for f in filters], phone_type=phone_type,
    last_contacted_before=last_before, exclude_outcomes=exclude_outcomes,
    no_show_event_ids=[int(i) for i in no_show_events],
    outcome_days=int(outcome_days), exclude_queued_elsewhere=not_queued,
)
counted = _ui.run_action(
    lambda s: (count_segment(session=s, segment=segment, campaign_id=campaign_id),
               preview_segment(session=s, segment=segment, campaign_id=campaign_id)),
    errors=(SegmentError,), transaction="read").value
if counted is None:
    st.stop()
count, sample = counted

st.metric("Contacts in this segment", f"{count:,}")
# Named segments can be built before any campaign exists, and attached to one later.
name_col, save_col = st.columns([4, 1], vertical_alignment="bottom")
segment_name = name_col.text_input("Save this segment as", key="seg_save_name",
                                   placeholder="Crewe mobiles, not refused lately")
if save_col.button("Save segment", key="seg_save"):
    _ui.run_action(lambda s: save_segment(session=s, name=segment_name, segment=segment,
                                          actor_id=user.id),
                   errors=(SegmentError,), rerun=True,
                   done=lambda saved: f"Saved the segment “{saved.name}”.")
if sample:
    st.dataframe(
        [{"Name": f"{p['first_name']} {p['last_name']}".strip(),
          "Constituency": p["constituency"]} for p in sample],
        hide_index=True,
    )

if campaign_id is not None and st.button("Attach to campaign", type="primary",
                                         key="seg_attach", disabled=count == 0):
    _ui.run_action(lambda s: attach_segment(session=s, segment=segment,
                                            campaign_id=campaign_id, actor_id=user.id),
                   errors=(SegmentError,), rerun=True,
                   done=lambda added: f"{added:,} contacts added to the campaign's queue "
                                      "(people already in it were left as they were).")
