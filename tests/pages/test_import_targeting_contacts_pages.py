"""AppTest of the targeting and contacts pages: live count and sample, attach; search, edit,
erase."""

from __future__ import annotations

from sqlmodel import select

from core.suppression import is_suppressed
from db.models import AuditEvent, Contact, ImportBatch, QueueEntry
from tests.factories import make_campaign, make_contact, make_user, phone_number


def arrange(app_db):
    with app_db.write() as session:
        organiser = make_user(session, role="organiser")
        campaign = make_campaign(session, name="NHS day")
        make_contact(session, first_name="Asha", last_name="Patel", constituency="Bedford",
                     ward="Castle", tags=",nhs,", custom={"Branch": "North"},
                     phone=phone_number(1))
        make_contact(session, first_name="Ben", last_name="Jones", constituency="Bedford",
                     ward="Harpur", custom={"Branch": "South"}, phone=phone_number(2))
        make_contact(session, first_name="Cat", last_name="Hill", constituency="Stroud",
                     ward="Dursley", phone=phone_number(3))
        session.add(ImportBatch(filename="m.csv", status="done", mapping={"Branch": "custom"}))
        return organiser, campaign.id


def test_the_segment_count_and_sample_follow_the_filters_and_attach_queues_them(
    make_app, app_db
) -> None:
    organiser, campaign_id = arrange(app_db)
    at = make_app(user=organiser, page="pages/targeting.py")
    assert not at.exception
    assert at.metric[0].value == "3"
    at.multiselect(key="seg_constituencies").set_value(["Bedford"])
    at.run()
    assert at.metric[0].value == "2"
    sample = at.dataframe[0].value
    assert list(sample.columns) == ["Name", "Constituency"]  # no numbers on screen
    assert sorted(sample["Name"]) == ["Asha Patel", "Ben Jones"]
    at.selectbox(key="seg_custom_field").set_value("Branch")
    at.selectbox(key="seg_custom_op").set_value("equals")
    at.text_input(key="seg_custom_value").input("north")
    at.button(key="seg_custom_add").click()
    at.run()
    assert at.metric[0].value == "1"
    at.button(key="seg_attach").click()
    at.run()
    assert not at.exception
    assert "1 contacts added" in at.success[0].value
    with app_db.session() as session:
        queued = session.exec(select(QueueEntry).where(QueueEntry.campaign_id == campaign_id))
        assert len(queued.all()) == 1


def test_an_organiser_finds_edits_and_erases_a_contact(make_app, app_db) -> None:
    organiser, _campaign_id = arrange(app_db)
    at = make_app(user=organiser, page="pages/contacts.py")
    at.text_input(key="contact_search").input("07400 100001")
    at.run()
    assert not at.exception
    contact_id = at.selectbox(key="contact_pick").value
    assert at.text[0].value == "Asha Patel"
    at.text_input(key=f"contact_ward_{contact_id}").input("Kingsbrook")
    at.text_input(key=f"contact_tags_{contact_id}").input("NHS, Nurse")
    at.button(key=f"contact_save_{contact_id}").click()
    at.run()
    assert not at.exception
    assert at.success[0].value == "Saved."
    with app_db.session() as session:
        contact = session.get(Contact, contact_id)
        assert (contact.ward, contact.tags) == ("Kingsbrook", ",nhs,nurse,")

    at.checkbox(key="contact_erase_dnc").check()
    at.text_input(key="contact_erase_confirm").input("ERASE")
    at.run()
    at.button(key="contact_erase").click()
    at.run()
    assert not at.exception
    assert "do-not-call entry was kept" in at.success[0].value
    with app_db.session() as session:
        assert session.get(Contact, contact_id) is None
        assert is_suppressed(session=session, phone=phone_number(1))
        assert session.exec(select(AuditEvent.action).where(
            AuditEvent.action == "contact_erased")).one() == "contact_erased"


def test_a_bad_edit_shows_the_reason_and_changes_nothing(make_app, app_db) -> None:
    organiser, _campaign_id = arrange(app_db)
    at = make_app(user=organiser, page="pages/contacts.py")
    at.text_input(key="contact_search").input("asha")
    at.run()
    contact_id = at.selectbox(key="contact_pick").value
    at.text_input(key=f"contact_phone_{contact_id}").input("07700 900123")
    at.button(key=f"contact_save_{contact_id}").click()
    at.run()
    assert "not a valid phone number" in at.error[0].value
    with app_db.session() as session:
        assert session.get(Contact, contact_id).phone == phone_number(1)


def test_a_contacts_history_reads_in_words_with_uk_dates(make_app, app_db) -> None:
    from datetime import UTC, datetime

    from db.models import CallAttempt

    organiser, campaign_id = arrange(app_db)
    with app_db.write() as session:
        asha = session.exec(select(Contact).where(Contact.first_name == "Asha")).one()
        session.add(CallAttempt(idempotency_key="h1", campaign_id=campaign_id, contact_id=asha.id,
                                outcome_code="refused", is_conversation=True,
                                started_at=datetime(2025, 12, 6, 14, 30, tzinfo=UTC)))
    at = make_app(user=organiser, page="pages/contacts.py")
    at.text_input(key="contact_search").input("asha")
    at.run()
    assert not at.exception
    calls = at.dataframe[0].value
    # London is on GMT in December: 14:30 UTC is 14:30 there. Not this year, so the year shows.
    assert list(calls["When"]) == ["Sat 6 Dec 2025, 14:30"]
    assert "Outcome" in calls.columns and "started_at" not in calls.columns
