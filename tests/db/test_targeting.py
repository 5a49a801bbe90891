"""Segments on both backends: each filter, the protections that cannot be switched off,
the preview, and attaching (and re-attaching) to a campaign in bulk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from core.suppression import add_suppression
from core.targeting import (
    CustomFilter,
    Segment,
    SegmentError,
    attach_segment,
    count_segment,
    preview_segment,
    segment_options,
)
from db.engine import Database
from db.models import CallAttempt, Contact, ImportBatch, QueueEntry
from tests.factories import make_campaign, make_contact, phone_number, queue_contacts

NOW = datetime.now(UTC)

PEOPLE: list[dict[str, Any]] = [
    dict(first_name="Ann", constituency="Bedford", ward="Castle", tags=",nhs,member,",
         custom={"Branch": "North", "Shift": "Sat am"}, phone_type="mobile"),
    dict(first_name="Bob", constituency="Bedford", ward="Harpur", tags=",member,",
         custom={"Branch": "South"}, phone_type="landline",
         last_contacted_at=NOW - timedelta(days=90)),
    dict(first_name="Cat", constituency="Stroud", ward="Nailsworth", tags="",
         custom={"Branch": ""}, phone_type="mobile", last_contacted_at=NOW - timedelta(days=2)),
    dict(first_name="Dan", constituency="Stroud", ward="Dursley", tags=",nhs,",
         custom={}, phone_type="landline"),
]


@pytest.fixture
def people(database: Database) -> dict[str, int]:
    with database.write() as session:
        ids = {}
        for n, person in enumerate(PEOPLE, start=1):
            contact = make_contact(session, phone=phone_number(900 + n), **person)
            ids[person["first_name"]] = contact.id
        return ids


def names(database: Database, segment: Segment, **kwargs: Any) -> list[str]:
    with database.session() as session:
        preview = preview_segment(session=session, segment=segment, **kwargs)
        count = count_segment(session=session, segment=segment,
                              campaign_id=kwargs.get("campaign_id"))
    assert count == len(preview)  # the count and the sample agree on who is in
    return sorted(p["first_name"] for p in preview)


FILTERS = [
    pytest.param(Segment(), ["Ann", "Bob", "Cat", "Dan"], id="everyone"),
    pytest.param(Segment(constituencies=["Bedford"]), ["Ann", "Bob"], id="constituency"),
    pytest.param(Segment(wards=["Castle", "Dursley"]), ["Ann", "Dan"], id="ward"),
    pytest.param(Segment(tags_any=["NHS"]), ["Ann", "Dan"], id="any tag"),
    pytest.param(Segment(tags_none=["member"]), ["Cat", "Dan"], id="without a tag"),
    pytest.param(Segment(custom=[CustomFilter("Branch", "equals", "north")]), ["Ann"],
                 id="custom equals"),
    pytest.param(Segment(custom=[CustomFilter("Branch", "in", ["North", "South"])]),
                 ["Ann", "Bob"], id="custom in"),
    pytest.param(Segment(custom=[CustomFilter("Shift", "contains", "sat")]), ["Ann"],
                 id="custom contains"),
    pytest.param(Segment(custom=[CustomFilter("Branch", "empty")]), ["Cat", "Dan"],
                 id="custom empty"),
    pytest.param(Segment(custom=[CustomFilter("Branch", "not_empty")]), ["Ann", "Bob"],
                 id="custom not empty"),
    pytest.param(Segment(phone_type="landline"), ["Bob", "Dan"], id="landlines"),
    pytest.param(Segment(last_contacted_before=(NOW - timedelta(days=30)).date()),
                 ["Ann", "Bob", "Dan"], id="last contacted before"),
    pytest.param(Segment(constituencies=["Stroud"], phone_type="mobile"), ["Cat"],
                 id="filters combine"),
]


@pytest.mark.parametrize(("segment", "expected"), FILTERS)
def test_each_filter_selects_the_right_people(
    database: Database, people: dict[str, int], segment: Segment, expected: list[str]
) -> None:
    assert names(database, segment) == expected


def test_suppressed_bad_and_tps_numbers_are_never_in_a_segment(
    database: Database, people: dict[str, int]
) -> None:
    with database.write() as session:
        add_suppression(session=session, phone=phone_number(901), reason="asked")  # Ann
        make_contact(session, first_name="Eve", bad_number=True)
        make_contact(session, first_name="Fay", tps=True)
        make_contact(session, first_name="Gus", tps=True, consenting_member=True)
        make_contact(session, first_name="Hal", other_phones=[phone_number(77)])
        add_suppression(session=session, phone=phone_number(77), reason="landline asked")
    assert names(database, Segment()) == ["Bob", "Cat", "Dan", "Gus"]


def test_recent_outcomes_exclude_people_for_the_window_only(
    database: Database, people: dict[str, int]
) -> None:
    with database.write() as session:
        campaign = make_campaign(session)
        for who, outcome, days in [("Ann", "refused", 3), ("Bob", "refused", 45),
                                   ("Cat", "no_answer", 1)]:
            session.add(CallAttempt(
                idempotency_key=f"k-{who}", campaign_id=campaign.id, contact_id=people[who],
                outcome_code=outcome, started_at=NOW - timedelta(days=days)))
        # An attempt whose contact was erased must not empty the segment (NOT IN and NULL).
        session.add(CallAttempt(idempotency_key="k-gone", campaign_id=campaign.id,
                                contact_id=None, outcome_code="refused", started_at=NOW))
    assert names(database, Segment(exclude_outcomes=["refused"], outcome_days=30)) == [
        "Bob", "Cat", "Dan"]
    assert names(database, Segment(exclude_outcomes=["refused", "no_answer"],
                                   outcome_days=60)) == ["Dan"]


def test_people_queued_in_another_active_campaign_can_be_left_out(
    database: Database, people: dict[str, int]
) -> None:
    with database.write() as session:
        busy = make_campaign(session, status="active")
        paused = make_campaign(session, status="paused")
        target = make_campaign(session, status="active")
        ann, bob, cat = (session.get(Contact, people[n]) for n in ("Ann", "Bob", "Cat"))
        queue_contacts(session, busy, [ann])
        queue_contacts(session, busy, [bob], status="done")
        queue_contacts(session, paused, [cat])
        target_id = target.id
    assert names(database, Segment(), campaign_id=target_id) == ["Bob", "Cat", "Dan"]
    assert names(database, Segment(exclude_queued_elsewhere=False)) == [
        "Ann", "Bob", "Cat", "Dan"]


def test_attaching_queues_the_segment_and_reattaching_adds_only_new_matches(
    database: Database, people: dict[str, int]
) -> None:
    with database.write() as session:
        campaign_id = make_campaign(session).id
    segment = Segment(constituencies=["Bedford"])
    with database.write() as session:
        assert attach_segment(session=session, segment=segment, campaign_id=campaign_id) == 2
    with database.write() as session:
        assert attach_segment(session=session, segment=segment, campaign_id=campaign_id) == 0
        make_contact(session, first_name="New", constituency="Bedford")
    with database.write() as session:
        assert attach_segment(session=session, segment=segment, campaign_id=campaign_id) == 1
    with database.session() as session:
        rows = session.exec(select(QueueEntry).where(QueueEntry.campaign_id == campaign_id)).all()
        assert len(rows) == 3 and {r.status for r in rows} == {"fresh"}
        assert all(r.created_at.tzinfo is not None for r in rows)
        # Once attached, the campaign's own queue does not hide its contacts from its count.
        assert count_segment(session=session, segment=segment, campaign_id=campaign_id) == 3


def test_attaching_to_a_closed_or_missing_campaign_is_refused(database: Database) -> None:
    with database.write() as session:
        closed = make_campaign(session, status="closed").id
    with database.write() as session, pytest.raises(SegmentError, match="closed"):
        attach_segment(session=session, segment=Segment(), campaign_id=closed)
    with database.write() as session, pytest.raises(SegmentError, match="no such"):
        attach_segment(session=session, segment=Segment(), campaign_id=9999)


@pytest.mark.parametrize(
    "flt",
    [CustomFilter('bad"name'), CustomFilter("Branch", "regex", "x"),
     CustomFilter("Branch", "in", []), CustomFilter("Branch", "contains", " ")],
)
def test_unusable_custom_filters_raise_segment_error(database: Database, flt: CustomFilter
                                                     ) -> None:
    with database.session() as session, pytest.raises(SegmentError):
        count_segment(session=session, segment=Segment(custom=[flt]))


def test_a_segment_round_trips_through_a_plain_dict() -> None:
    segment = Segment(constituencies=["Bedford"], custom=[CustomFilter("Branch", "in", ["N"])],
                      last_contacted_before=date(2026, 1, 31), exclude_outcomes=["refused"])
    assert Segment.from_dict(segment.to_dict()) == segment


def test_the_builder_offers_places_tags_custom_fields_and_open_campaigns(
    database: Database, people: dict[str, int]
) -> None:
    with database.write() as session:
        session.add(ImportBatch(filename="a.csv", status="done",
                                mapping={"Tel": "phone", "Branch": "custom", "Shift": "custom"}))
        session.add(ImportBatch(filename="b.csv", status="undone", mapping={"Old": "custom"}))
        make_campaign(session, name="Open one")
        make_campaign(session, name="Done one", status="closed")
    with database.session() as session:
        options = segment_options(session=session)
    assert options["constituencies"] == ["Bedford", "Stroud"]
    assert options["wards"]["Bedford"] == ["Castle", "Harpur"]
    assert options["tags"] == ["member", "nhs"]
    assert options["custom_fields"] == ["Branch", "Shift"]
    assert [c["name"] for c in options["campaigns"]] == ["Open one"]
    assert options["outcomes"]["refused"] == "Talked – refused"
