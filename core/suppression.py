"""The do-not-call list. A number on it is never queued or called, in any campaign, ever again,
whatever is re-imported: the right to object (UK GDPR art. 21, PECR) outlives the contact row."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.audit import record_event
from core.outcomes import OPEN_QUEUE_STATUSES, QueueStatus
from core.phones import InvalidPhone, normalise_phone
from db.models import Contact, QueueEntry, Suppression


def is_suppressed(*, session: Session, phone: str) -> bool:
    return (
        session.exec(select(Suppression.id).where(Suppression.phone == phone)).first() is not None
    )


def add_suppression(
    *,
    session: Session,
    phone: str,
    reason: str = "",
    source: str = "organiser",
    actor_id: int | None = None,
) -> bool:
    """Put a number on the do-not-call list and pull it from every campaign's queue at once.

    Returns True if the number was newly added, False if it was already there.
    """
    already = is_suppressed(session=session, phone=phone)
    if not already:
        session.add(
            Suppression(phone=phone, reason=reason[:500], source=source, created_by_id=actor_id)
        )
        record_event(
            session=session,
            action="suppression_added",
            actor_id=actor_id,
            target=f"source:{source}",
            details={"reason": reason[:200]},
        )
    contact_ids = select(Contact.id).where(
        sa.or_(
            col(Contact.phone) == phone,
            sa.cast(col(Contact.other_phones), sa.String).contains(phone),
        )
    )
    session.execute(
        sa.update(QueueEntry)
        .where(col(QueueEntry.contact_id).in_(contact_ids))
        .where(col(QueueEntry.status).in_(OPEN_QUEUE_STATUSES))
        .values(status=QueueStatus.EXCLUDED, claimed_by_id=None, due_at=None, release_at=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return not already


def remove_suppression(*, session: Session, phone: str, actor_id: int | None = None) -> bool:
    """Take a number off the list (only when the person asks to be called again)."""
    row = session.exec(select(Suppression).where(Suppression.phone == phone)).first()
    if row is None:
        return False
    session.delete(row)
    record_event(session=session, action="suppression_removed", actor_id=actor_id)
    return True


def list_suppressions(*, session: Session, limit: int | None = None) -> list[dict[str, object]]:
    query = select(Suppression).order_by(col(Suppression.created_at).desc())
    if limit:
        query = query.limit(limit)
    return [
        {"phone": s.phone, "reason": s.reason, "source": s.source, "created_at": s.created_at}
        for s in session.exec(query)
    ]


@dataclass(frozen=True)
class PasteResult:
    added: int
    already: int
    rejected: list[tuple[int, str]]  # (line number, reason)


def add_pasted_numbers(
    *,
    session: Session,
    text: str,
    reason: str,
    actor_id: int | None,
    region: str = "GB",
) -> PasteResult:
    """Add numbers pasted one per line: each non-blank line is added, already there or rejected."""
    added = already = 0
    rejected: list[tuple[int, str]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            phone = normalise_phone(line, region=region).e164
        except InvalidPhone as exc:
            rejected.append((line_number, str(exc)))
            continue
        if add_suppression(
            session=session, phone=phone, reason=reason, source="organiser", actor_id=actor_id
        ):
            added += 1
        else:
            already += 1
    return PasteResult(added=added, already=already, rejected=rejected)
