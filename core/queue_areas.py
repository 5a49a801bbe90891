"""Keep each queue entry's copy of its contact's area (constituency, ward) true.

The dashboard counts progress per ward from queue entries alone (core/stats.py), so every
writer of Contact.constituency or Contact.ward calls refresh_queue_areas in the same
transaction. Attaching copies the area itself (core/targeting.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session

from db.tables import CONTACT, QE

_CHUNK = 900  # bound parameters per statement: within the oldest SQLite's limit of 999


def refresh_queue_areas(*, session: Session, contact_ids: Iterable[int]) -> int:
    """Copy these contacts' constituency and ward onto their queue entries; return how many."""
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    session.flush()  # an edited Contact object must reach the table before it is copied
    area = {
        name: sa.select(CONTACT.c[name])
        .where(CONTACT.c.id == QE.c.contact_id)
        .scalar_subquery()
        for name in ("constituency", "ward")
    }
    changed = 0
    for start in range(0, len(ids), _CHUNK):
        result = session.execute(
            sa.update(QE).where(QE.c.contact_id.in_(ids[start : start + _CHUNK]))
            .values(**area)
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return changed
