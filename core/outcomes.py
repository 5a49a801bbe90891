"""The outcome buttons a campaign starts with, and what each does to the queue."""

from __future__ import annotations

from dataclasses import dataclass

from db.models import Outcome


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


def default_outcome_rows(campaign_id: int) -> list[Outcome]:
    """The default outcome set as rows for one campaign, in button order."""
    return [
        Outcome(
            campaign_id=campaign_id, position=position, code=spec.code, label=spec.label,
            behaviour=spec.behaviour, retry_after_hours=spec.retry_after_hours,
            is_conversation=spec.is_conversation, is_completion=spec.is_completion,
        )
        for position, spec in enumerate(DEFAULT_OUTCOMES)
    ]
