"""Saved, named segments on Targeting: built before any campaign exists, loaded back later."""

from __future__ import annotations

from sqlmodel import select

from db.models import SavedSegment
from tests.factories import make_contact, make_user


def test_a_segment_is_saved_by_name_before_any_campaign_and_loaded_back(make_app, app_db) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        make_contact(s, constituency="Crewe and Nantwich")
        make_contact(s, constituency="Hastings and Rye")
    at = make_app(user=organiser, page="pages/targeting.py")
    assert not at.exception
    at.multiselect(key="seg_constituencies").select("Crewe and Nantwich")
    at.radio(key="seg_phone_type").set_value("mobile")
    at.run()
    assert at.metric[0].value == "1"
    at.text_input(key="seg_save_name").input("Crewe mobiles")
    at.button(key="seg_save").click()
    at.run()
    assert not at.exception
    assert any("Saved the segment “Crewe mobiles”" in s.value for s in at.success)
    with app_db.session() as s:
        [row] = s.exec(select(SavedSegment)).all()
    assert (row.name, row.filters["constituencies"], row.filters["phone_type"]) == (
        "Crewe mobiles", ["Crewe and Nantwich"], "mobile")

    # Another day: a fresh page, the filters empty, then the saved segment loaded back.
    again = make_app(user=organiser, page="pages/targeting.py")
    assert again.metric[0].value == "2"
    assert again.selectbox(key="seg_saved_pick").value == row.id
    again.button(key="seg_saved_load").click()
    again.run()
    assert not again.exception
    assert again.multiselect(key="seg_constituencies").value == ["Crewe and Nantwich"]
    assert again.radio(key="seg_phone_type").value == "mobile"
    assert again.metric[0].value == "1"


def test_a_segment_needs_a_name_to_be_saved(make_app, app_db) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
    at = make_app(user=organiser, page="pages/targeting.py")
    at.button(key="seg_save").click()
    at.run()
    assert [e.value for e in at.error] == ["Give the segment a name to save it under."]
    with app_db.session() as s:
        assert s.exec(select(SavedSegment)).all() == []
