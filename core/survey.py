"""Survey questions and the checking of a volunteer's answers before they are saved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from db.tables import QUESTION

YES_NO = ("Yes", "No")
SCALE = (1, 2, 3, 4, 5)
MAX_TEXT = 2000


class QuestionKind(StrEnum):
    """What sort of answer a survey question takes (SurveyQuestion.kind)."""

    SINGLE = "single"
    MULTI = "multi"
    YES_NO = "yes_no"
    SCALE = "scale"
    TEXT = "text"
    # Its choices are the campaign's upcoming events, offered at call time (core/events.py);
    # answers are event ids, kept as bookings (EventSignup), not as survey answers.
    EVENT_SIGNUP = "event_signup"


EVENT_SIGNUP = QuestionKind.EVENT_SIGNUP


class Widget(StrEnum):
    """How the calling page asks a question (pages/calling.py maps each to a Streamlit widget)."""

    RADIO = "radio"  # one of the choices, listed down the page
    RADIO_ROW = "radio_row"  # one of a few short choices, side by side
    MULTISELECT = "multiselect"  # any number of the choices
    TEXT_INPUT = "text_input"  # a line of free text
    EVENT_PICKER = "event_picker"  # any of the campaign's upcoming events


Answer = str | list[str] | int


class AnswerError(ValueError):
    """One or more answers are missing or not allowed; `problems` maps question id to why."""

    def __init__(self, problems: dict[int, str]):
        self.problems = problems
        super().__init__("; ".join(problems.values()))


class QuestionError(ValueError):
    """A question as an organiser wrote it cannot be asked (e.g. a choice with no options)."""


@dataclass(frozen=True)
class QuestionView:
    id: int
    text: str
    kind: str
    options: tuple[str, ...] = field(default_factory=tuple)
    required: bool = False
    position: int = 0

    @property
    def spec(self) -> KindSpec:
        return kind_spec(self.kind)

    @property
    def choices(self) -> tuple[str, ...]:
        """The answers a volunteer may pick: the kind's own, else the organiser's options."""
        return self.spec.fixed_choices or self.options


def list_questions(
    *, session: Session, campaign_id: int, include_inactive: bool = False
) -> list[QuestionView]:
    """The campaign's survey questions in script order (active ones unless told otherwise)."""
    q = QUESTION.c
    query = (
        sa.select(q.id, q.text, q.kind, q.options, q.required, q.position)
        .where(q.campaign_id == campaign_id)
        .order_by(q.position, q.id)
    )
    if not include_inactive:
        query = query.where(q.active.is_(True))
    return [
        QuestionView(id=r.id, text=r.text, kind=r.kind, options=tuple(r.options or ()),
                     required=r.required, position=r.position)
        for r in session.execute(query)
    ]


def validate_question(*, text: str, kind: str, options: list[str]) -> list[str]:
    """Check a question's definition; returns the options to store with it.

    Raises:
        QuestionError: empty text, unknown kind, or a choice question with under two options.
    """
    if not text.strip():
        raise QuestionError("a question needs some text")
    if kind not in QUESTION_KINDS:
        raise QuestionError(f"unknown question kind {kind!r}")
    cleaned = [option.strip() for option in options if option and option.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise QuestionError(f"{text.strip()!r}: options must differ")
    spec = QUESTION_KINDS[QuestionKind(kind)]
    if spec.has_options:
        if len(cleaned) < 2:
            raise QuestionError(f"{text.strip()!r}: give at least two options")
        return cleaned
    return list(spec.fixed_choices)


def _is_blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == []


def validate_answers(
    questions: list[QuestionView], answers: dict[int, Any], *, enforce_required: bool = True
) -> dict[int, list[str]]:
    """Check answers against their questions; return the values to store per question id.

    Multiple choice gives one value per chosen option; blank optional answers are dropped.

    Raises:
        AnswerError: a required answer is missing, or a value is not one of the choices.
    """
    problems: dict[int, str] = {}
    stored: dict[int, list[str]] = {}
    by_id = {question.id: question for question in questions}
    for question_id in answers:
        if question_id not in by_id:
            problems[question_id] = f"question {question_id} is not part of this survey"
    for question in questions:
        value = answers.get(question.id)
        if _is_blank(value):
            if question.required and enforce_required:
                problems[question.id] = f"“{question.text}” needs an answer"
            continue
        try:
            stored[question.id] = _clean(question, value)
        except ValueError as exc:
            problems[question.id] = f"“{question.text}”: {exc}"
    if problems:
        raise AnswerError(problems)
    return stored


def _clean(question: QuestionView, value: Any) -> list[str]:
    return question.spec.clean(question, value)


# --------------------------------------------------------------------------------------------
# Each kind's answer check, and the table of kinds
# --------------------------------------------------------------------------------------------


def _clean_one_of(question: QuestionView, value: Any) -> list[str]:
    if isinstance(value, list) or str(value) not in question.choices:
        raise ValueError("that is not one of the options")
    return [str(value)]


def _clean_yes_no(question: QuestionView, value: Any) -> list[str]:
    if isinstance(value, bool):
        value = "Yes" if value else "No"
    return _clean_one_of(question, value)


def _clean_any_of(question: QuestionView, value: Any) -> list[str]:
    chosen = [value] if isinstance(value, str) else list(value)
    unknown = [v for v in chosen if v not in question.choices]
    if unknown:
        raise ValueError("that is not one of the options")
    return list(dict.fromkeys(chosen))  # one row per option, each once


def _clean_scale(question: QuestionView, value: Any) -> list[str]:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("choose a number from 1 to 5") from None
    if number not in SCALE or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("choose a number from 1 to 5")
    return [str(number)]


def _clean_event_ids(question: QuestionView, value: Any) -> list[str]:
    chosen: list[Any] = [value] if isinstance(value, (str, int)) else list(value)
    ids: list[str] = [str(v).strip() for v in chosen]
    if not all(v.isdigit() for v in ids):
        raise ValueError("that is not one of the events on offer")
    return list(dict.fromkeys(ids))


def _clean_text(question: QuestionView, value: Any) -> list[str]:
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"keep it under {MAX_TEXT} characters")
    return [text]


@dataclass(frozen=True)
class KindSpec:
    """Everything Ringround knows about one question kind, read by the survey editor, the
    calling page, the answer check and the dashboard."""

    kind: QuestionKind
    label: str
    # The organiser writes the options (at least two); otherwise the kind brings its own.
    has_options: bool
    # The choices the kind itself offers (yes/no, 1–5); empty when options or free text.
    fixed_choices: tuple[str, ...]
    widget: Widget
    # Checks one non-blank answer; returns the values to store (one row each), or raises
    # ValueError with a reason fit to show the volunteer.
    clean: Callable[[QuestionView, Any], list[str]]
    # The dashboard counts each value. Free text is personal and unbounded: it is counted,
    # never listed.
    tallied: bool = True


QUESTION_KINDS: dict[QuestionKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(QuestionKind.SINGLE, "Single choice", has_options=True, fixed_choices=(),
                 widget=Widget.RADIO, clean=_clean_one_of),
        KindSpec(QuestionKind.MULTI, "Multiple choice", has_options=True, fixed_choices=(),
                 widget=Widget.MULTISELECT, clean=_clean_any_of),
        KindSpec(QuestionKind.YES_NO, "Yes / no", has_options=False, fixed_choices=YES_NO,
                 widget=Widget.RADIO_ROW, clean=_clean_yes_no),
        KindSpec(QuestionKind.SCALE, "Scale 1–5", has_options=False,
                 fixed_choices=tuple(str(n) for n in SCALE), widget=Widget.RADIO_ROW,
                 clean=_clean_scale),
        KindSpec(QuestionKind.TEXT, "Free text", has_options=False, fixed_choices=(),
                 widget=Widget.TEXT_INPUT, clean=_clean_text, tallied=False),
        KindSpec(QuestionKind.EVENT_SIGNUP, "Event sign-up", has_options=False,
                 fixed_choices=(), widget=Widget.EVENT_PICKER, clean=_clean_event_ids),
    )
}


def kind_spec(kind: str) -> KindSpec:
    """The spec of a stored kind.

    Raises:
        QuestionError: no such kind.
    """
    try:
        return QUESTION_KINDS[QuestionKind(kind)]
    except ValueError:
        raise QuestionError(f"unknown question kind {kind!r}") from None
