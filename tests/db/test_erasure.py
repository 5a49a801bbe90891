"""Erasure on request finds every place a person's name or numbers are stored (issue #13).

The first test holds the models' metadata to core.contacts.ERASURE_COVERAGE: a new table fails
it until someone has decided what erasing a contact does to it. The second fills every place
that can hold a contact's details, erases them, and reads every column of every table back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

import db.models  # noqa: F401  (every table registered on the metadata)
from core.contacts import ERASURE_COVERAGE, erase_contact
from core.importing import rejections_csv
from core.sms import record_inbound_sms
from db.engine import Database
from db.models import CallAttempt, ImportBatch, ImportRejection, SmsMessage, SurveyAnswer
from tests.factories import make_campaign, make_contact, make_question, queue_contacts

MAIN = "+447400123456"
OTHER = "+447400123457"
NOON = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
TRACES = ("Zebedee", "Quartermaine", "zeb.q@example.org", MAIN, OTHER, "7400 123457",
          "07400123456", "M-99821")


def test_every_table_says_what_erasing_a_contact_does_to_it() -> None:
    assert sorted(SQLModel.metadata.tables) == sorted(ERASURE_COVERAGE)
    assert all(how.split(":")[0].split(" ")[0] in {"erased", "kept", "none"}
               for how in ERASURE_COVERAGE.values())


def every_row_as_text(database: Database) -> dict[str, str]:
    with database.session() as session:
        return {name: "\n".join(str(tuple(row)) for row in session.execute(sa.select(table)))
                for name, table in SQLModel.metadata.tables.items()}


def test_after_erasure_no_table_holds_the_persons_name_numbers_or_email(
    database: Database,
) -> None:
    with database.write() as session:
        campaign = make_campaign(session)
        question = make_question(session, campaign, kind="text", text="Anything else?")
        person = make_contact(session, phone=MAIN, other_phones=[OTHER], first_name="Zebedee",
                              last_name="Quartermaine", email="zeb.q@example.org",
                              membership_number="M-99821")
        queue_contacts(session, campaign, [person])
        attempt = CallAttempt(idempotency_key="k1", campaign_id=campaign.id,
                              contact_id=person.id, outcome_code="completed",
                              notes="Zebedee wants a lift", started_at=NOON)
        session.add(attempt)
        session.flush()
        session.add(SurveyAnswer(attempt_id=attempt.id, campaign_id=campaign.id,
                                 question_id=question.id, contact_id=person.id,
                                 value="Call Zebedee on 07400123456"))
        session.add(SmsMessage(campaign_id=campaign.id, contact_id=person.id, direction="out",
                               phone=MAIN, body="Thanks Zebedee!", status="delivered"))
        batch = ImportBatch(filename="members.csv")
        session.add(batch)
        session.flush()
        session.add_all([
            # Rejected for another reason, but the row is theirs: by number, and by name.
            ImportRejection(batch_id=batch.id, row_number=7, reason="Duplicate membership",
                            raw={"First": "Zebedee", "Last": "Quartermaine",
                                 "Mobile": "07400 123457"}),
            ImportRejection(batch_id=batch.id, row_number=9, reason="No number",
                            raw={"Name": "zebedee quartermaine", "Mobile": ""}),
            ImportRejection(batch_id=batch.id, row_number=11, reason="No number",
                            raw={"Name": "Someone Else", "Mobile": ""}),
        ])
        person_id, batch_id = person.id, batch.id
    with database.write() as session:
        # A reply from the number that is not their main one links to no contact.
        record_inbound_sms(session=session, from_phone="07400 123457",
                           body="This is Zebedee, yes please", provider_id="SM" + "4" * 32)
    assert any(trace in text for text in every_row_as_text(database).values()
               for trace in TRACES)

    with database.write() as session:
        summary = erase_contact(session=session, contact_id=person_id)

    assert summary["rejected_rows"] == 2 and summary["messages"] == 2
    left = {name: [trace for trace in TRACES if trace.casefold() in text.casefold()]
            for name, text in every_row_as_text(database).items()}
    assert {name: found for name, found in left.items() if found} == {}
    with database.session() as session:
        download = rejections_csv(session=session, batch_id=batch_id).decode("utf-8-sig")
    assert "Someone Else" in download and "zebedee" not in download.casefold()
