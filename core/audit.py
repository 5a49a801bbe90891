"""The audit trail: who did what, when. Never store a password, hash or raw phone number here."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from db.models import AuditEvent

AUDITED_ACTIONS = (
    "login",
    "login_failed",
    "lockout",
    "unlock",
    "logout",
    "role_change",
    "user_deactivated",
    "user_reactivated",
    "password_reset_created",
    "password_reset_used",
    "invite_created",
    "invite_used",
    "invite_revoked",
    "organiser_created",
    "export",
    "number_revealed",
    "bridge_started",
    "contact_erased",
    "import_undone",
    "suppression_added",
    "suppression_removed",
    "notes_purged",
    "phone_verified",
    "phone_removed",
    "sms_template_saved",
)


def record_event(
    *,
    session: Session,
    action: str,
    actor_id: int | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session's transaction (committed with the caller's work)."""
    event = AuditEvent(actor_id=actor_id, action=action, target=target[:200], details=details or {})
    session.add(event)
    return event


def recent_events(
    *, session: Session, action: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    query = select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    if action:
        query = query.where(AuditEvent.action == action)
    return [
        {
            "at": event.at,
            "actor_id": event.actor_id,
            "action": event.action,
            "target": event.target,
            "details": event.details,
        }
        for event in session.exec(query.limit(limit))
    ]
