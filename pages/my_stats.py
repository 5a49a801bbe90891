"""My calls: a volunteer's own figures, and the leaderboard if the organisers show it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import volunteer_stats
from pages import _ui

user = _ui.require_user()
settings = _ui.runtime().settings

st.title("My calls")

with _ui.read_session() as session:
    totals = volunteer_stats.my_totals(session=session, volunteer_id=user.id,
                                       timezone=settings.timezone)
    campaigns = volunteer_stats.my_campaigns(session=session, volunteer_id=user.id)

for label, key in (("Today", "today"), ("All time", "all_time")):
    st.subheader(label)
    figures = totals[key]
    cols = st.columns(3)
    cols[0].metric("Dials", f"{figures['dials']:,}")
    cols[1].metric("Conversations", f"{figures['conversations']:,}")
    cols[2].metric("Completed surveys", f"{figures['completions']:,}")

st.subheader("Leaderboard")
if not campaigns:
    st.caption("No campaigns to compare yet.")
    st.stop()
names = {c["id"]: c["name"] for c in campaigns}
campaign_id = st.selectbox("Campaign", options=list(names), format_func=names.__getitem__,
                           key="my_stats_campaign", persist_state="session")
shown = _ui.run_action(
    lambda s: volunteer_stats.visible_leaderboard(session=s, campaign_id=campaign_id),
    errors=(volunteer_stats.LeaderboardHidden, volunteer_stats.stats.CampaignNotFound),
    transaction="read",
    on_refusal=lambda exc: st.info("The organisers have hidden this campaign's leaderboard.")
    if isinstance(exc, volunteer_stats.LeaderboardHidden)
    else st.warning("That campaign no longer exists."))
if not shown.ok:
    st.stop()
board = shown.value
if not board:
    st.caption("Nobody has called for this campaign yet.")
else:
    frame = pd.DataFrame([
        {**row, "name": "You" if row["volunteer_id"] == user.id else row["name"]}
        for row in board
    ])[["rank", "name", "completions", "conversations", "dials"]]
    st.dataframe(frame, hide_index=True, width="stretch")
