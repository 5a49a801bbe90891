"""The outcome buttons a campaign starts with, and what each does to the queue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutcomeSpec:
    code: str
    label: str
    behaviour: str  # db.models.OUTCOME_BEHAVIOUR_VALUES
    retry_after_hours: float = 0
    is_conversation: bool = False
    is_completion: bool = False


DEFAULT_OUTCOMES: tuple[OutcomeSpec, ...] = (
    OutcomeSpec("completed", "Talked – completed survey", "final",
                is_conversation=True, is_completion=True),
    OutcomeSpec("refused", "Talked – refused", "final", is_conversation=True),
    OutcomeSpec("no_answer", "No answer", "retry", retry_after_hours=4),
    OutcomeSpec("voicemail", "Left voicemail", "retry", retry_after_hours=24),
    OutcomeSpec("busy", "Busy", "retry", retry_after_hours=1),
    OutcomeSpec("wrong_number", "Wrong number", "wrong_number"),
    OutcomeSpec("call_back", "Call back later", "callback", is_conversation=True),
    OutcomeSpec("do_not_call", "Do not call again", "do_not_call", is_conversation=True),
    OutcomeSpec("moved_deceased", "Moved or deceased", "final"),
)
