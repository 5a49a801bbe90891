"""Callbacks on screen: a volunteer's own ("My callbacks") and, for organisers, who holds how many.

Names are shown as plain text (st.text, dataframes): they came from an upload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from core.callbacks import callbacks_by_volunteer, my_callbacks, release_callbacks
from pages import _ui


def when(moment: datetime | None, zone: str) -> str:
    """A UK-style local time, e.g. "Sat 6 Dec, 14:30"."""
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def render_my_callbacks(*, volunteer_id: int, campaign_id: int | None = None) -> None:
    """The callbacks this volunteer promised, soonest first, each with a Release button."""
    with _ui.read_session() as session:
        held = my_callbacks(session=session, volunteer_id=volunteer_id, campaign_id=campaign_id)
    with st.expander(f"My callbacks ({len(held)})", expanded=False):
        if not held:
            st.caption("You have no callbacks booked.")
            return
        st.caption("Release one you cannot make: someone else calls them at that time.")
        for callback in held:
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.text(f"{when(callback.due_at, callback.timezone)} · {callback.contact_name}"
                      + ("" if campaign_id else f" · {callback.campaign_name}"))
            if right.button("Release", key=f"callbacks_release_{callback.queue_entry_id}"):
                _ui.run_action(
                    lambda s, c=callback: release_callbacks(
                        session=s, campaign_id=c.campaign_id, owner_id=volunteer_id,
                        now=datetime.now(UTC), actor_id=volunteer_id,
                        queue_entry_ids=[c.queue_entry_id]),
                    done="Callback released.", shown="toast", rerun=True)


def render_callbacks_by_volunteer(*, campaign_id: int, organiser_id: int, zone: str) -> None:
    """Who holds how many of this campaign's callbacks, and releasing one volunteer's."""
    with _ui.read_session() as session:
        holders = callbacks_by_volunteer(session=session, campaign_id=campaign_id)
    if not holders:
        st.caption("No volunteer holds a callback in this campaign.")
        return
    st.dataframe(
        [{"Volunteer": h.name, "Callbacks": h.callbacks, "Next": when(h.next_due_at, zone),
          "Latest": when(h.last_due_at, zone)} for h in holders],
        hide_index=True, key=f"callbacks_table_{campaign_id}",
    )
    names = {h.volunteer_id: f"{h.name} ({h.callbacks})" for h in holders}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    owner = left.selectbox("Release the callbacks of", list(names), format_func=names.get,
                           key=f"callbacks_owner_{campaign_id}")
    if right.button("Release all", key=f"callbacks_release_all_{campaign_id}"):
        _ui.run_action(
            lambda s: release_callbacks(session=s, campaign_id=campaign_id, owner_id=int(owner),
                                        now=datetime.now(UTC), actor_id=organiser_id),
            done=lambda released: f"Released {released} callback(s): anyone may now call "
                                  "them at their time.",
            shown="toast", rerun=True)
