"""Survey questions and the checking of a volunteer's answers before they are saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QUESTION_KINDS = ("single", "multi", "yes_no", "scale", "text", "event_signup")
# Its choices are the campaign's upcoming events, offered at call time (core/events.py);
# answers are event ids, kept as bookings (EventSignup), not as survey answers.
EVENT_SIGNUP = "event_signup"
KIND_LABELS = {
    "single": "Single choice",
    "multi": "Multiple choice",
    "yes_no": "Yes / no",
    "scale": "Scale 1–5",
    "text": "Free text",
    "event_signup": "Event sign-up",
}
YES_NO = ("Yes", "No")
SCALE = (1, 2, 3, 4, 5)
MAX_TEXT = 2000

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
    def choices(self) -> tuple[str, ...]:
        if self.kind == "yes_no":
            return YES_NO
        if self.kind == "scale":
            return tuple(str(n) for n in SCALE)
        return self.options


def validate_question(*, text: str, kind: str, options: list[str]) -> list[str]:
    """Check a question's definition; returns its cleaned options.

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
    if kind in ("single", "multi"):
        if len(cleaned) < 2:
            raise QuestionError(f"{text.strip()!r}: give at least two options")
        return cleaned
    if kind == "yes_no":
        return list(YES_NO)
    return []


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
    kind = question.kind
    if kind == EVENT_SIGNUP:
        chosen: list[Any] = [value] if isinstance(value, (str, int)) else list(value)
        ids: list[str] = [str(v).strip() for v in chosen]
        if not all(v.isdigit() for v in ids):
            raise ValueError("that is not one of the events on offer")
        return list(dict.fromkeys(ids))
    if kind == "text":
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise ValueError(f"keep it under {MAX_TEXT} characters")
        return [text]
    if kind == "scale":
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError("choose a number from 1 to 5") from None
        if number not in SCALE or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("choose a number from 1 to 5")
        return [str(number)]
    if kind == "multi":
        chosen = [value] if isinstance(value, str) else list(value)
        unknown = [v for v in chosen if v not in question.choices]
        if unknown:
            raise ValueError("that is not one of the options")
        return list(dict.fromkeys(chosen))  # one row per option, each once
    if isinstance(value, bool) and kind == "yes_no":
        value = "Yes" if value else "No"
    if isinstance(value, list) or str(value) not in question.choices:
        raise ValueError("that is not one of the options")
    return [str(value)]
