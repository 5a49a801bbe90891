"""A volunteer's own figures, and the leaderboard when the organisers let volunteers see it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core import stats
from db.models import ROLLUP_ALL_TIME, CallRollup, Campaign


class LeaderboardHidden(Exception):
    """The organisers have hidden this campaign's leaderboard from volunteers."""


def my_totals(
    *, session: Session, volunteer_id: int, now: datetime | None = None,
    timezone: str = stats.DEFAULT_TIMEZONE,
) -> dict[str, dict[str, int]]:
    """Dials, conversations and completions today (in `timezone`) and all time, every campaign.

    Read from the rollups the saves keep (core/rollups.py), not from the attempts, so the page
    costs the same on a volunteer's thousandth call as on their first.
    """
    today = stats.local_day_bounds(stats.local_today(timezone, now), timezone)
    day, all_time = stats.volunteer_counts(session=session, volunteer_id=volunteer_id,
                                           periods=[today, (None, None)])
    return {"today": asdict(day), "all_time": asdict(all_time)}


def my_campaigns(*, session: Session, volunteer_id: int) -> list[dict[str, Any]]:
    """Active campaigns and any the volunteer has called for, active first."""
    called = sa.select(col(CallRollup.campaign_id)).where(
        col(CallRollup.volunteer_id) == volunteer_id,
        col(CallRollup.bucket) == ROLLUP_ALL_TIME, col(CallRollup.calls) > 0,
    )
    rows = session.execute(
        sa.select(
            col(Campaign.id),
            col(Campaign.name),
            col(Campaign.status),
            col(Campaign.leaderboard_visible),
        )
        .where((col(Campaign.status) == "active") | col(Campaign.id).in_(called))
        .order_by(sa.case((col(Campaign.status) == "active", 0), else_=1), col(Campaign.name))
    ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "status": r.status,
            "leaderboard_visible": bool(r.leaderboard_visible),
        }
        for r in rows
    ]


def short_name(name: str) -> str:
    """ "Asha Patel" -> "Asha P.": enough for a friendly leaderboard, no more."""
    parts = name.split()
    if len(parts) < 2:
        return name.strip()
    return f"{parts[0]} {parts[-1][0]}."


def visible_leaderboard(
    *,
    session: Session,
    campaign_id: int,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """The campaign's leaderboard as volunteers may see it: short names and counts only.

    Raises:
        stats.CampaignNotFound: there is no campaign with this id.
        LeaderboardHidden: the organisers have hidden it.
    """
    visible = session.execute(
        sa.select(col(Campaign.leaderboard_visible)).where(col(Campaign.id) == campaign_id)
    ).scalar()
    if visible is None:
        raise stats.CampaignNotFound(campaign_id)
    if not visible:
        raise LeaderboardHidden(campaign_id)
    return [
        {
            "rank": row["rank"],
            "volunteer_id": row["volunteer_id"],
            "name": short_name(row["name"]),
            "dials": row["dials"],
            "conversations": row["conversations"],
            "completions": row["completions"],
        }
        for row in stats.leaderboard(session=session, campaign_id=campaign_id, since=since)
    ]
