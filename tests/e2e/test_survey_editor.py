"""The survey editor refuses a question whose kind was not picked (issue #15).

Streamlit's data editor used to drop a new row missing a required cell, and the page said
"Survey saved" with the question gone. New questions now come from an "Add a question" form
whose kind has no default: left unpicked, the question is refused with a message naming it,
nothing is stored, and the Survey tab stays open. The form is ordinary DOM widgets, so this
test drives it by label (the grid beside it is a canvas).
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.models import SurveyQuestion
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import PASSWORD, seed_campaign, seed_people

pytestmark = pytest.mark.e2e

NEW = "Which issue matters most?"


def stored_questions(db, campaign_id: int) -> list[tuple[str, str, list[str]]]:
    with db.session() as session:
        return [(q.text, q.kind, q.options) for q in session.exec(
            select(SurveyQuestion).where(SurveyQuestion.campaign_id == campaign_id,
                                         SurveyQuestion.active)
            .order_by(SurveyQuestion.position, SurveyQuestion.id))]


def test_a_question_without_a_kind_is_refused_in_the_browser_and_the_tab_stays_open(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=0)
    campaign = seed_campaign(db, contacts=1)
    before = stored_questions(db, campaign["id"])
    assert before == [("Will you join Saturday's action?", "yes_no", ["Yes", "No"])]
    server = start_server(sqlite_app_url)
    page = new_context(viewport={"width": 1400, "height": 1000}).new_page()
    ui.open_app(page, server.url)
    ui.sign_in(page, "org1", PASSWORD)
    ui.go_to(page, "Campaigns")
    ui.open_tab(page, "Survey")

    # A question typed, with options, but no kind picked.
    ui.fill(page, "Question", NEW)
    ui.fill(page, "Options, for single and multiple choice (a; b; c)", "NHS; Housing; Schools")
    screenshots.take(page, "a new question with no kind")
    ui.click_button(page, "Add question")
    ui.wait_for_text(page, "pick its kind")
    screenshots.take(page, "refused")
    assert ui.errors(page) == [
        f"Question 2 (“{NEW}”): pick its kind (Single choice, Multiple choice, Yes / no, "
        "Scale 1–5, Free text, Event sign-up). Nothing was saved."]
    assert "Question added" not in ui.main_text(page)
    assert stored_questions(db, campaign["id"]) == before
    assert ui.tab_is_open(page, "Survey")

    # The kind picked, the same question goes in, after the existing one.
    ui.choose(page, "Kind", "Single choice")
    ui.click_button(page, "Add question")
    ui.wait_for_text(page, "Question added")
    screenshots.take(page, "added")
    assert ui.errors(page) == []
    assert stored_questions(db, campaign["id"]) == [
        *before, (NEW, "single", ["NHS", "Housing", "Schools"])]
    assert ui.tab_is_open(page, "Survey")
    assert page.get_by_role("textbox", name="Question", exact=True).input_value() == ""

    # Saving the grid of existing questions keeps the tab too, and keeps both questions.
    ui.click_button(page, "Save survey")
    ui.wait_for_text(page, "Survey saved.")
    assert ui.tab_is_open(page, "Survey")
    assert stored_questions(db, campaign["id"]) == [
        *before, (NEW, "single", ["NHS", "Housing", "Schools"])]
