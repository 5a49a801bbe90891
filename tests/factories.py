"""Factories for tests: each makes one valid thing with sensible defaults, overridable."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from sqlmodel import Session

from core.accounts import create_user
from core.config import Settings, load_settings
from core.outcomes import default_outcome_rows
from core.users import UserView, get_user
from db.models import Campaign, Contact, QueueEntry, SurveyQuestion, User

_counter = itertools.count(1)
TEST_PASSWORD = "correct horse battery"
# A campaign's calling window open every hour of every day, for tests that are not about hours.
ALL_DAY = {str(day): ["00:00", "24:00"] for day in range(7)}


def demo_settings(tmp_path: Path, **env: str) -> Settings:
    """Demo-mode settings (fake dialers, a throwaway cookie key) with files under tmp_path,
    plus `env`; the secrets file is one that does not exist."""
    return load_settings(env={"RINGROUND_DEMO": "1", "RINGROUND_DATA_DIR": str(tmp_path), **env},
                         secrets_path=tmp_path / "none.toml")


def phone_number(n: int) -> str:
    """A valid UK mobile number, distinct for each n (07400 100000 + n)."""
    return f"+447400{100000 + n:06d}"


def make_user(session: Session, *, role: str = "volunteer", confirmed_phone: str | None = None,
              **overrides: Any) -> UserView:
    """A user; `confirmed_phone` is one they confirmed by code (the phone Twilio rings first)."""
    n = next(_counter)
    fields: dict[str, Any] = {
        "username": f"user{n}",
        "name": f"Test User {n}",
        "email": f"user{n}@example.org",
        "password": TEST_PASSWORD,
        "role": role,
    }
    fields.update(overrides)
    user = create_user(session=session, **fields)
    if confirmed_phone is None:
        return user
    row = session.get(User, user.id)
    assert row is not None
    row.phone, row.phone_verified = confirmed_phone, True
    session.add(row)
    session.flush()
    found = get_user(session=session, user_id=user.id)
    assert found is not None
    return found


def make_contact(session: Session, **overrides: Any) -> Contact:
    n = next(_counter)
    fields: dict[str, Any] = {
        "phone": phone_number(n),
        "phone_type": "mobile",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "constituency": "Crewe and Nantwich",
        "ward": "Crewe Central",
    }
    fields.update(overrides)
    contact = Contact(**fields)
    session.add(contact)
    session.flush()
    return contact


def make_campaign(session: Session, *, with_outcomes: bool = True, **overrides: Any) -> Campaign:
    fields: dict[str, Any] = {
        "name": f"Campaign {next(_counter)}",
        "status": "active",
        "script": "Hello {first_name}, I'm calling from the NHS campaign in {constituency}.",
    }
    fields.update(overrides)
    campaign = Campaign(**fields)
    session.add(campaign)
    session.flush()
    if with_outcomes:
        assert campaign.id is not None
        session.add_all(default_outcome_rows(campaign.id))
    session.flush()
    return campaign


def make_question(session: Session, campaign: Campaign, **overrides: Any) -> SurveyQuestion:
    fields: dict[str, Any] = {
        "campaign_id": campaign.id,
        "text": "Will you join Saturday's action?",
        "kind": "yes_no",
        "options": ["Yes", "No"],
    }
    fields.update(overrides)
    question = SurveyQuestion(**fields)
    session.add(question)
    session.flush()
    return question


def queue_contacts(
    session: Session, campaign: Campaign, contacts: list[Contact], **overrides: Any
) -> list[QueueEntry]:
    entries = [
        QueueEntry(campaign_id=campaign.id, contact_id=c.id,
                   **{"constituency": c.constituency, "ward": c.ward, **overrides})
        for c in contacts
    ]
    session.add_all(entries)
    session.flush()
    return entries


def make_event(session: Session, *, campaigns: list[Campaign], **overrides: Any) -> int:
    """An event next Saturday-ish (a week after 2026-12-05 10:00 London), offered by
    `campaigns`; returns its id."""
    from datetime import date, time

    from core.events import EventDraft, create_event

    fields: dict[str, Any] = {
        "title": f"Canvass {next(_counter)}",
        "day": date(2026, 12, 12),
        "start": time(10, 0),
        "end": time(13, 0),
        "place": "Crewe Library, Prince Albert St",
        "constituency": "Crewe and Nantwich",
        "capacity": 20,
        "campaign_ids": tuple(c.id for c in campaigns if c.id is not None),
    }
    fields.update(overrides)
    return create_event(session=session, draft=EventDraft(**fields), actor_id=None)
