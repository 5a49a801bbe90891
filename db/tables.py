"""The Core tables behind db/models.py, for the statements core writes in SQLAlchemy Core
(bulk inserts, upserts, UPDATE ... RETURNING, the claim query).

SQLModel does not declare `__table__` to type checkers, so reading it needs a type: ignore;
here it is read once and typed, instead of in every module that builds such a statement.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

from db.models import (
    AnswerTally,
    CallAttempt,
    Campaign,
    Contact,
    Event,
    EventSignup,
    Outcome,
    QueueEntry,
    SmsMessage,
    Suppression,
    SurveyAnswer,
    SurveyQuestion,
    User,
)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of an SQLModel table class."""
    return model.__table__  # type: ignore[attr-defined]


ANSWER = table_of(SurveyAnswer)
ATTEMPT = table_of(CallAttempt)
CAMPAIGN = table_of(Campaign)
CONTACT = table_of(Contact)
EVENT = table_of(Event)
MESSAGE = table_of(SmsMessage)
OUTCOME = table_of(Outcome)
QE = table_of(QueueEntry)
QUESTION = table_of(SurveyQuestion)
SIGNUP = table_of(EventSignup)
SUPPRESSION = table_of(Suppression)
TALLY = table_of(AnswerTally)
USER = table_of(User)
