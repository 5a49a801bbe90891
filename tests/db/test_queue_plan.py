"""The claim never scans the queue: every tier is an index seek that yields rows in order."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from core.queue import claim_next_contact
from tests.factories import make_campaign, make_contact, make_user, queue_contacts

NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)


def claim_plan(db, campaign_id: int, volunteer_id: int) -> list[str]:
    """EXPLAIN the claim UPDATE exactly as sent, then roll the claim back."""
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if "UPDATE QUEUEENTRY SET" in statement.upper() and not captured:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session() as session:
            if not db.is_sqlite:
                # Tiny test tables make a sequential scan cheapest; take that option away so
                # the plan shows whether an index can serve each tier's WHERE and ORDER BY.
                session.execute(sa.text("SET LOCAL enable_seqscan = off"))
                session.execute(sa.text("SET LOCAL enable_sort = off"))
            claim_next_contact(session=session, campaign_id=campaign_id,
                               volunteer_id=volunteer_id, now=NOON)
            statement, parameters = captured[0]
            cursor = session.connection().connection.cursor()
            prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
            session.rollback()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    return [str(row[-1] if db.is_sqlite else row[0]).strip() for row in rows]


def test_the_claim_statement_is_index_seeks_only(database) -> None:
    with database.write() as s:
        volunteer = make_user(s)
        campaign = make_campaign(s)
        queue_contacts(s, campaign, [make_contact(s) for _ in range(5)])
        campaign_id = campaign.id
    plan = claim_plan(database, campaign_id, volunteer.id)
    text = "\n".join(plan)
    if database.is_sqlite:
        assert not [line for line in plan if line.startswith("SCAN queueentry")], text
        assert "RIGHT PART OF ORDER BY" not in text, text
        # Only the handful of candidates (one per tier) is ordered in a temporary b-tree.
        assert sum("TEMP B-TREE" in line for line in plan) == 1, text
        assert text.count("USING COVERING INDEX ix_queue_claim_fresh") == 3, text
    else:
        assert "Seq Scan on queueentry" not in text, text
        assert sum(line.startswith("->  Sort") for line in plan) <= 1, text
        # The primary key only finds the row being updated, never walks the queue.
        assert text.count("queueentry_pkey") == 1, text
        scans = [line for line in plan if " on queueentry " in line and "Scan" in line]
        assert len(scans) == 9, text  # seven tiers, the top-priority lookup, the update itself
        assert all("Index" in line for line in scans), text
        assert "Index Scan Backward using ix_queue_claim_fresh" in text, text
