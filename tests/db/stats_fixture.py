"""A small campaign day, every figure of which is worked out by hand in the docstring below.

"now" is 2026-07-15 14:00 UTC (15:00 in London, BST); "today" in London began at
2026-07-14 23:00 UTC.

Campaign A (Europe/London), queue:
  c1 Crewe and Nantwich / Crewe Central   done,   attempts 2
  c2 Crewe and Nantwich / Crewe Central   retry,  attempts 2
  c3 Crewe and Nantwich / Nantwich North  leased by v1 until now+5m (live), attempts 2
  c4 Bedford / Castle (TPS, consenting)   leased by v2 until now-1m (lapsed), attempts 0
  c5 Bedford / Castle                     fresh,  attempts 0
Attempts in A:
  a1 c1 v1 08:05 UTC 15th  no_answer  10 s
  a2 c1 v1 09:20 UTC 15th  completed 300 s
  a3 c2 v2 09:25 UTC 15th  refused    60 s
  a4 c2 v2 12:00 UTC 14th  no_answer  (no duration)
  a5 c3 v1 22:50 UTC 14th  call_back 120 s  outside the window (23:50 London, yesterday)
  a6 c3 v3 23:05 UTC 14th  completed 240 s  outside the window (00:05 London, today)
Campaign B: c7 (TPS, not consenting: wrongly queued) leased by v3 until now+5m;
  b1 c7 v3 10:00 UTC 15th no_answer 15 s.
c6 (TPS, not consenting) is in no queue.
Survey (A): q1 yes/no, q2 multi (NHS, Housing, Transport), q3 text.
  a6: q1 Yes, q2 NHS; a2: q1 Yes, q2 NHS, q2 Housing, q3 "more buses"; a3: q1 No (in that order).
A's recruit rule is q1 = Yes: c1 and c3; c3's number is on the do-not-call list.
Suppressions: c3's phone (outcome, 13:00 UTC 15th), another (organiser, 10th),
  another (import, 10:00 UTC 15th).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core import rollups
from core.outcomes import DEFAULT_OUTCOMES
from core.survey import kind_spec
from db.engine import Database
from db.models import (
    CallAttempt,
    Campaign,
    Contact,
    QueueEntry,
    Suppression,
    SurveyAnswer,
    User,
    progress_bits,
)
from tests.factories import make_campaign, make_contact, make_question, phone_number

NOW = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
TODAY_START = datetime(2026, 7, 14, 23, 0, tzinfo=UTC)
FLAGS = {o.code: (o.is_conversation, o.is_completion) for o in DEFAULT_OUTCOMES}
_numbers = itertools.count(5000)


def make_volunteer(session: Session, name: str, role: str = "volunteer") -> User:
    """A user row without bcrypt (hashing is slow and irrelevant to aggregates)."""
    n = next(_numbers)
    user = User(username=f"stats{n}", name=name, email=f"stats{n}@example.org",
                password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


def add_attempt(
    session: Session, *, campaign: Campaign, contact: Contact, volunteer: User | None,
    at: datetime, code: str, duration: int | None = None, outside_window: bool = False,
) -> int:
    """Insert a CallAttempt as record_outcome would leave it (flags copied from the outcome,
    the contact's queue entry in the campaign, if any, marked with its progress bits)."""
    conversation, completion = FLAGS[code]
    session.execute(
        sa.update(QueueEntry)
        .where(col(QueueEntry.campaign_id) == campaign.id,
               col(QueueEntry.contact_id) == contact.id)
        .values(progress=col(QueueEntry.progress).bitwise_or(
            progress_bits(is_conversation=conversation, is_completion=completion)))
    )
    result = session.execute(sa.insert(CallAttempt).values(
        idempotency_key=uuid.uuid4().hex, campaign_id=campaign.id, contact_id=contact.id,
        volunteer_id=volunteer.id if volunteer else None, outcome_code=code,
        is_conversation=conversation, is_completion=completion, started_at=at,
        ended_at=at + timedelta(seconds=duration or 0), duration_seconds=duration,
        outside_window=outside_window, created_at=at,
    ).returning(CallAttempt.id))
    rollups.count_attempt(
        session=session, campaign_id=campaign.id, volunteer_id=volunteer.id if volunteer else None,
        outcome_code=code, is_conversation=conversation, is_completion=completion,
        outside_window=outside_window, started_at=at, duration_seconds=duration)
    return int(result.scalar_one())


def add_answer(session: Session, *, attempt_id: int, campaign: Campaign, question_id: int,
               contact: Contact, value: str, counted_only: bool = False) -> None:
    """Insert an answer as record_outcome would, counted in the survey tallies first."""
    rollups.count_answers(session=session, campaign_id=campaign.id, contact_id=contact.id,
                          answers={question_id: [value]},
                          counted_only={question_id} if counted_only else ())
    session.execute(sa.insert(SurveyAnswer).values(
        attempt_id=attempt_id, campaign_id=campaign.id, question_id=question_id,
        contact_id=contact.id, value=value,
    ))


@dataclass
class Day:
    a: int
    b: int
    v1: int
    v2: int
    v3: int
    q1: int
    q2: int
    q3: int
    contacts: dict[str, int]


def queue(session: Session, campaign: Campaign, contact: Contact, **fields: Any) -> None:
    """Queue a contact as attaching would (its area copied); add_attempt sets the progress."""
    session.add(QueueEntry(campaign_id=campaign.id, contact_id=contact.id,
                           constituency=contact.constituency, ward=contact.ward, **fields))


def build_day(database: Database) -> Day:
    with database.write() as s:
        v1, v2, v3 = (make_volunteer(s, n) for n in ("Asha", "Ben", "Cara"))
        a = make_campaign(s, name="NHS day")
        b = make_campaign(s, name="Bedford survey")
        crewe, bedford = "Crewe and Nantwich", "Bedford"
        c1 = make_contact(s, constituency=crewe, ward="Crewe Central", first_name="Ann")
        c2 = make_contact(s, constituency=crewe, ward="Crewe Central", first_name="Bob")
        c3 = make_contact(s, constituency=crewe, ward="Nantwich North", first_name="Cat")
        c4 = make_contact(s, constituency=bedford, ward="Castle", tps=True,
                          consenting_member=True)
        c5 = make_contact(s, constituency=bedford, ward="Castle")
        c6 = make_contact(s, constituency=bedford, ward="Kingsbrook", tps=True)
        c7 = make_contact(s, constituency=bedford, ward="Kingsbrook", tps=True)
        queue(s, a, c1, status="done", attempts=2)
        queue(s, a, c2, status="retry", attempts=2, due_at=NOW + timedelta(hours=2))
        queue(s, a, c3, status="leased", attempts=2, claimed_by_id=v1.id,
              due_at=NOW + timedelta(minutes=5))
        queue(s, a, c4, status="leased", attempts=0, claimed_by_id=v2.id,
              due_at=NOW - timedelta(minutes=1))
        queue(s, a, c5, status="fresh")
        queue(s, b, c7, status="leased", attempts=1, claimed_by_id=v3.id,
              due_at=NOW + timedelta(minutes=5))
        s.flush()

        def at(day: int, hour: int, minute: int) -> datetime:
            return datetime(2026, 7, day, hour, minute, tzinfo=UTC)

        add_attempt(s, campaign=a, contact=c1, volunteer=v1, at=at(15, 8, 5), code="no_answer",
                    duration=10)
        a2 = add_attempt(s, campaign=a, contact=c1, volunteer=v1, at=at(15, 9, 20),
                         code="completed", duration=300)
        a3 = add_attempt(s, campaign=a, contact=c2, volunteer=v2, at=at(15, 9, 25),
                         code="refused", duration=60)
        add_attempt(s, campaign=a, contact=c2, volunteer=v2, at=at(14, 12, 0), code="no_answer")
        add_attempt(s, campaign=a, contact=c3, volunteer=v1, at=at(14, 22, 50), code="call_back",
                    duration=120, outside_window=True)
        a6 = add_attempt(s, campaign=a, contact=c3, volunteer=v3, at=at(14, 23, 5),
                         code="completed", duration=240, outside_window=True)
        add_attempt(s, campaign=b, contact=c7, volunteer=v3, at=at(15, 10, 0), code="no_answer",
                    duration=15)

        q1 = make_question(s, a, text="Will you join Saturday's action?", position=0)
        q2 = make_question(s, a, text="Which issues matter most?", kind="multi", position=1,
                           options=["NHS", "Housing", "Transport"])
        q3 = make_question(s, a, text="Anything else?", kind="text", options=[], position=2)
        for attempt_id, contact, question, value in (  # saved in the order the calls ended
            (a6, c3, q1, "Yes"), (a6, c3, q2, "NHS"),
            (a2, c1, q1, "Yes"), (a2, c1, q2, "NHS"), (a2, c1, q2, "Housing"),
            (a2, c1, q3, "more buses"), (a3, c2, q1, "No"),
        ):
            add_answer(s, attempt_id=attempt_id, campaign=a, question_id=question.id,
                       contact=contact, value=value,
                       counted_only=not kind_spec(question.kind).tallied)
        a.recruit_rule = {"question_id": q1.id, "value": "Yes"}
        s.add(a)
        s.add_all([
            Suppression(phone=c3.phone, source="outcome", created_at=at(15, 13, 0)),
            Suppression(phone=phone_number(990001), source="organiser", created_at=at(10, 12, 0)),
            Suppression(phone=phone_number(990002), source="import", created_at=at(15, 10, 0)),
        ])
        s.flush()
        return Day(
            a=a.id, b=b.id, v1=v1.id, v2=v2.id, v3=v3.id, q1=q1.id, q2=q2.id, q3=q3.id,
            contacts={name: c.id for name, c in
                      zip(("c1", "c2", "c3", "c4", "c5", "c6", "c7"),
                          (c1, c2, c3, c4, c5, c6, c7), strict=True)},
        )
