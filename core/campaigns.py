"""Campaigns as organisers shape them: details, status, outcomes, survey, calling hours, team."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import calling_hours
from core.dialing import DialerKind
from core.outcomes import Behaviour, default_outcome_rows
from core.survey import (
    QUESTION_KINDS,
    QuestionError,
    QuestionView,
    list_questions,
    validate_question,
)
from db.models import (
    CAMPAIGN_STATUS_VALUES,
    Campaign,
    CampaignMember,
    Outcome,
    SurveyQuestion,
    User,
)

# What each action may be applied to, and the status it leads to.
TRANSITIONS = {
    "activate": ({"draft", "paused"}, "active"),
    "pause": ({"active"}, "paused"),
    "resume": ({"paused"}, "active"),
    "close": ({"draft", "active", "paused"}, "closed"),
    "reopen": ({"closed"}, "paused"),
}
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class CampaignError(ValueError):
    """An organiser's change cannot be made; str() says why."""


class CampaignNotFound(CampaignError):
    """No campaign has this id (any more); the one class for it, raised by core.stats too."""

    def __init__(self, campaign_id: int | None = None) -> None:
        self.campaign_id = campaign_id
        super().__init__("That campaign no longer exists.")


@dataclass(frozen=True)
class CampaignView:
    id: int
    name: str
    description: str
    script: str
    status: str
    timezone: str
    calling_window: dict[str, list[str]]
    dialer: str
    caller_id: str
    max_attempts: int
    lease_minutes: int
    callback_grace_minutes: int
    open_to_all: bool
    created_at: datetime
    updated_at: datetime
    # Continuous calling: what a machine hears ("" hangs up), and whether to listen for one.
    voicemail_message: str = ""
    machine_detection: bool = True
    callback_max_days: int = 14
    max_callbacks_per_volunteer: int = 30
    ends_at: datetime | None = None


@dataclass(frozen=True)
class OutcomeView:
    id: int
    code: str
    label: str
    behaviour: str
    retry_after_hours: float
    is_conversation: bool
    is_completion: bool
    position: int
    active: bool


def _view(campaign: Campaign) -> CampaignView:
    assert campaign.id is not None
    return CampaignView(
        id=campaign.id, name=campaign.name, description=campaign.description,
        script=campaign.script, status=campaign.status, timezone=campaign.timezone,
        calling_window=dict(campaign.calling_window), dialer=campaign.dialer,
        caller_id=campaign.caller_id, max_attempts=campaign.max_attempts,
        lease_minutes=campaign.lease_minutes,
        callback_grace_minutes=campaign.callback_grace_minutes,
        open_to_all=campaign.open_to_all, created_at=campaign.created_at,
        updated_at=campaign.updated_at, voicemail_message=campaign.voicemail_message,
        machine_detection=campaign.machine_detection,
        callback_max_days=campaign.callback_max_days,
        max_callbacks_per_volunteer=campaign.max_callbacks_per_volunteer,
        ends_at=campaign.ends_at,
    )


def _load(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    return campaign


def get_campaign(*, session: Session, campaign_id: int) -> CampaignView:
    """Raises: CampaignNotFound."""
    return _view(_load(session, campaign_id))


def list_campaigns(
    *, session: Session, statuses: Iterable[str] | None = None
) -> list[CampaignView]:
    # The campaign being called comes first (it is what an organiser opens on the day), then
    # paused, drafts and closed, newest first within each.
    status_order = sa.case({"active": 0, "paused": 1, "draft": 2}, value=col(Campaign.status),
                           else_=3)
    query = select(Campaign).order_by(status_order, col(Campaign.created_at).desc(),
                                      col(Campaign.id).desc())
    if statuses is not None:
        query = query.where(col(Campaign.status).in_(list(statuses)))
    return [_view(c) for c in session.exec(query)]


def callable_campaigns(*, session: Session, user_id: int) -> list[CampaignView]:
    """Active campaigns this user may call: open to all, a member, or any if an organiser."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return []
    query = select(Campaign).where(Campaign.status == "active").order_by(col(Campaign.name))
    if user.role != "organiser":
        member_of = select(CampaignMember.campaign_id).where(CampaignMember.user_id == user_id)
        query = query.where(
            col(Campaign.open_to_all).is_(True) | col(Campaign.id).in_(member_of)
        )
    return [_view(c) for c in session.exec(query)]


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise CampaignError("Give the campaign a name.")
    if len(name) > 200:
        raise CampaignError("Keep the name under 200 characters.")
    return name


def create_campaign(
    *,
    session: Session,
    name: str,
    created_by_id: int | None,
    description: str = "",
    script: str = "",
    timezone: str = calling_hours.DEFAULT_TIMEZONE,
    now: datetime | None = None,
) -> CampaignView:
    """Create a draft campaign with the default outcomes and 09:00–21:00 calling hours."""
    now = now or datetime.now(UTC)
    calling_hours.zone(timezone)  # raises for an unknown zone
    campaign = Campaign(
        name=_clean_name(name), description=description.strip()[:2000], script=script,
        timezone=timezone, calling_window=calling_hours.default_window(), status="draft",
        created_by_id=created_by_id, created_at=now, updated_at=now,
    )
    session.add(campaign)
    session.flush()
    assert campaign.id is not None
    session.add_all(default_outcome_rows(campaign.id))
    session.flush()
    return _view(campaign)


_EDITABLE = {
    "name", "description", "script", "timezone", "dialer", "caller_id", "max_attempts",
    "lease_minutes", "callback_grace_minutes", "open_to_all", "voicemail_message",
    "machine_detection", "callback_max_days", "max_callbacks_per_volunteer", "ends_at",
}
MAX_VOICEMAIL_MESSAGE = 500


def update_campaign(
    *, session: Session, campaign_id: int, now: datetime | None = None, **changes: Any
) -> CampaignView:
    """Change a campaign's details.

    Raises:
        CampaignError: an unknown field or a value out of range.
    """
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise CampaignError(f"cannot edit {', '.join(sorted(unknown))}")
    campaign = _load(session, campaign_id)
    if "name" in changes:
        changes["name"] = _clean_name(changes["name"])
    if "description" in changes:
        changes["description"] = str(changes["description"]).strip()[:2000]
    if "timezone" in changes:
        try:
            calling_hours.zone(changes["timezone"])
        except calling_hours.CallingWindowError as exc:
            raise CampaignError(str(exc)) from None
    if "voicemail_message" in changes:
        message = " ".join(str(changes["voicemail_message"]).split())
        if len(message) > MAX_VOICEMAIL_MESSAGE:
            raise CampaignError(f"the voicemail message must be at most {MAX_VOICEMAIL_MESSAGE} "
                                f"characters (it has {len(message)})")
        changes["voicemail_message"] = message
    if "machine_detection" in changes:
        changes["machine_detection"] = bool(changes["machine_detection"])
    if "dialer" in changes and changes["dialer"] not in set(DialerKind):
        raise CampaignError(f"unknown dialer {changes['dialer']!r}")
    for key, low, high in (("max_attempts", 1, 20), ("lease_minutes", 2, 120),
                           ("callback_grace_minutes", 0, 7 * 24 * 60),
                           ("callback_max_days", 1, 365),
                           ("max_callbacks_per_volunteer", 1, 1000)):
        if key in changes:
            value = int(changes[key])
            if not low <= value <= high:
                raise CampaignError(f"{key.replace('_', ' ')} must be from {low} to {high}")
            changes[key] = value
    if changes.get("ends_at") is not None and changes["ends_at"].tzinfo is None:
        raise CampaignError("the end time needs a time zone")
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.updated_at = now or datetime.now(UTC)
    session.add(campaign)
    session.flush()
    return _view(campaign)


def change_status(
    *, session: Session, campaign_id: int, action: str, now: datetime | None = None
) -> CampaignView:
    """activate, pause, resume, close or reopen a campaign.

    Raises:
        CampaignError: the action does not apply to the campaign's current status.
    """
    if action not in TRANSITIONS:
        raise CampaignError(f"unknown action {action!r}")
    campaign = _load(session, campaign_id)
    allowed_from, target = TRANSITIONS[action]
    if campaign.status not in allowed_from:
        raise CampaignError(f"A {campaign.status} campaign cannot be told to {action}.")
    if target == "active":
        active_outcomes = session.exec(
            select(Outcome.id).where(Outcome.campaign_id == campaign_id,
                                     col(Outcome.active).is_(True))
        ).first()
        if active_outcomes is None:
            raise CampaignError("Add at least one outcome before calling starts.")
    assert target in CAMPAIGN_STATUS_VALUES
    campaign.status = target
    campaign.updated_at = now or datetime.now(UTC)
    session.add(campaign)
    session.flush()
    return _view(campaign)


def pause_campaign(*, session: Session, campaign_id: int) -> CampaignView:
    return change_status(session=session, campaign_id=campaign_id, action="pause")


def set_calling_window(
    *, session: Session, campaign_id: int, window: Mapping[str, list[str]]
) -> CampaignView:
    """Raises: CampaignError for a malformed window (e.g. closing before opening)."""
    try:
        clean = calling_hours.validate_window(dict(window))
    except calling_hours.CallingWindowError as exc:
        raise CampaignError(str(exc)) from None
    campaign = _load(session, campaign_id)
    campaign.calling_window = {str(day): clean.get(str(day), []) for day in range(7)}
    campaign.updated_at = datetime.now(UTC)
    session.add(campaign)
    session.flush()
    return _view(campaign)


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


def list_outcomes(
    *, session: Session, campaign_id: int, include_inactive: bool = False
) -> list[OutcomeView]:
    query = select(Outcome).where(Outcome.campaign_id == campaign_id)
    if not include_inactive:
        query = query.where(col(Outcome.active).is_(True))
    rows = session.exec(query.order_by(col(Outcome.position), col(Outcome.id)))
    return [
        OutcomeView(id=o.id or 0, code=o.code, label=o.label, behaviour=o.behaviour,
                    retry_after_hours=o.retry_after_hours, is_conversation=o.is_conversation,
                    is_completion=o.is_completion, position=o.position, active=o.active)
        for o in rows
    ]


def save_outcomes(
    *, session: Session, campaign_id: int, outcomes: list[Mapping[str, Any]]
) -> list[OutcomeView]:
    """Replace the campaign's outcome set, in the given order.

    Outcomes left out are deactivated rather than deleted, so that earlier calls keep their
    labels. Each row: code, label, behaviour, retry_after_hours, is_conversation,
    is_completion, and optionally active.

    Raises:
        CampaignError: a bad code or behaviour, a duplicate code, a retry without hours, or
            no active outcome at all.
    """
    _load(session, campaign_id)
    existing = {o.code: o for o in session.exec(
        select(Outcome).where(Outcome.campaign_id == campaign_id))}
    seen: set[str] = set()
    for position, row in enumerate(outcomes):
        code = str(row.get("code") or "").strip().lower()
        label = str(row.get("label") or "").strip()
        behaviour = str(row.get("behaviour") or "final")
        hours = float(row.get("retry_after_hours") or 0)
        if not _CODE.match(code):
            raise CampaignError(
                f"Outcome code {code!r}: use lower-case letters, digits and _ "
                "(start with a letter)."
            )
        if code in seen:
            raise CampaignError(f"Outcome code {code!r} is used twice.")
        seen.add(code)
        if not label:
            raise CampaignError(f"Outcome {code!r} needs a label.")
        if behaviour not in set(Behaviour):
            raise CampaignError(f"Outcome {code!r}: unknown behaviour {behaviour!r}.")
        if behaviour == Behaviour.RETRY and hours <= 0:
            raise CampaignError(f"Outcome {code!r}: say after how many hours to retry.")
        outcome = existing.get(code) or Outcome(campaign_id=campaign_id, code=code, label=label)
        outcome.label = label[:100]
        outcome.behaviour = behaviour
        outcome.retry_after_hours = hours if behaviour == Behaviour.RETRY else 0
        outcome.is_conversation = bool(row.get("is_conversation"))
        outcome.is_completion = bool(row.get("is_completion"))
        outcome.position = position
        outcome.active = bool(row.get("active", True))
        session.add(outcome)
    for code, outcome in existing.items():
        if code not in seen:
            outcome.active = False
            session.add(outcome)
    if not any(bool(row.get("active", True)) for row in outcomes):
        raise CampaignError("Keep at least one active outcome.")
    session.flush()
    return list_outcomes(session=session, campaign_id=campaign_id)


# --------------------------------------------------------------------------------------------
# Survey questions
# --------------------------------------------------------------------------------------------


def _checked_question(row: Mapping[str, Any], number: int) -> tuple[str, str, list[str]]:
    """The text, kind and options to store for question `number` (1-based) as written.

    Raises:
        CampaignError: no kind or no text, or the question cannot be asked as written.
    """
    text = str(row.get("text") or "").strip()
    kind = str(row.get("kind") or "").strip()
    if not text:
        raise CampaignError(f"Question {number} has no text: write it, or remove the question. "
                            "Nothing was saved.")
    if not kind:
        # Never guess: a question saved as the wrong kind asks volunteers the wrong thing.
        raise CampaignError(
            f"Question {number} (“{text[:60]}”): pick its kind ("
            + ", ".join(spec.label for spec in QUESTION_KINDS.values())
            + "). Nothing was saved.")
    options = row.get("options") or []
    if isinstance(options, str):
        options = [part for part in re.split(r"[\n;]", options)]
    try:
        cleaned = validate_question(text=text, kind=kind, options=list(options))
    except QuestionError as exc:
        raise CampaignError(str(exc)) from None
    return text[:500], kind, cleaned


def save_questions(
    *, session: Session, campaign_id: int, questions: list[Mapping[str, Any]]
) -> list[QuestionView]:
    """Replace the survey, in the given order; rows with an `id` edit that question.

    Questions left out are deactivated, not deleted, so that answers already given stay.

    Raises:
        CampaignError: a question cannot be asked as written.
    """
    _load(session, campaign_id)
    existing = {q.id: q for q in session.exec(
        select(SurveyQuestion).where(SurveyQuestion.campaign_id == campaign_id))}
    kept: set[int] = set()
    for position, row in enumerate(questions):
        text, kind, cleaned = _checked_question(row, position + 1)
        question_id = row.get("id")
        question = existing.get(int(question_id)) if question_id else None
        if question is None:
            question = SurveyQuestion(campaign_id=campaign_id, text=text)
        question.text = text
        question.kind = kind
        question.options = cleaned
        question.required = bool(row.get("required"))
        question.position = position
        question.active = True
        session.add(question)
        session.flush()
        assert question.id is not None
        kept.add(question.id)
    for question_id, question in existing.items():
        if question_id not in kept:
            question.active = False
            session.add(question)
    session.flush()
    return list_questions(session=session, campaign_id=campaign_id)


def add_question(
    *, session: Session, campaign_id: int, text: str, kind: str | None,
    options: str | list[str] = "", required: bool = False,
) -> QuestionView:
    """Add one question after the survey's last.

    Raises:
        CampaignError: no kind picked, or the question cannot be asked as written.
    """
    _load(session, campaign_id)
    asked = list_questions(session=session, campaign_id=campaign_id)
    text, kind, cleaned = _checked_question(
        {"text": text, "kind": kind, "options": options}, len(asked) + 1)
    question = SurveyQuestion(
        campaign_id=campaign_id, text=text, kind=kind, options=cleaned, required=required,
        position=max((q.position for q in asked), default=-1) + 1, active=True)
    session.add(question)
    session.flush()
    return next(q for q in list_questions(session=session, campaign_id=campaign_id)
                if q.id == question.id)


# --------------------------------------------------------------------------------------------
# Who may call
# --------------------------------------------------------------------------------------------


def list_members(*, session: Session, campaign_id: int) -> list[int]:
    return list(session.exec(
        select(CampaignMember.user_id).where(CampaignMember.campaign_id == campaign_id)))


def set_members(*, session: Session, campaign_id: int, user_ids: Iterable[int]) -> list[int]:
    """Make exactly these users the campaign's members."""
    _load(session, campaign_id)
    wanted = {int(u) for u in user_ids}
    session.execute(
        sa.delete(CampaignMember)
        .where(col(CampaignMember.campaign_id) == campaign_id)
        .where(col(CampaignMember.user_id).not_in(wanted) if wanted else sa.true())
    )
    present = set(list_members(session=session, campaign_id=campaign_id))
    for user_id in sorted(wanted - present):
        session.add(CampaignMember(campaign_id=campaign_id, user_id=user_id))
    session.flush()
    return sorted(wanted)


# A made-up contact for the script preview: organisers see how merging looks without anyone's
# real data on screen.
SAMPLE_CONTACT: dict[str, str] = {
    "first_name": "Sam",
    "last_name": "Sample",
    "constituency": "Crewe and Nantwich",
    "ward": "Crewe Central",
    "postcode": "CW1 2AB",
    "membership_number": "A123456",
}


def list_callers(*, session: Session) -> list[tuple[int, str]]:
    """Active volunteers (id, name), for choosing a members-only campaign's team."""
    rows = session.exec(
        select(User.id, User.name).where(col(User.active).is_(True), User.role == "volunteer")
        .order_by(col(User.name))
    )
    return [(int(user_id), name) for user_id, name in rows if user_id is not None]
