"""The survey editor refuses a question whose kind was not picked (issue #15).

Streamlit's data editor used to drop a new row missing a required cell, and the page said
"Survey saved" with the question gone. Now the kind is optional in the grid and the save is
refused with a message naming the question.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.models import SurveyQuestion
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import PASSWORD, seed_campaign, seed_people

pytestmark = pytest.mark.e2e


def test_a_question_without_a_kind_is_refused_in_the_browser(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=0)
    seed_campaign(db, contacts=1)
    server = start_server(sqlite_app_url)
    page = new_context(viewport={"width": 1400, "height": 1000}).new_page()
    ui.open_app(page, server.url)
    ui.fill(page, "Username", "org1")
    ui.fill(page, "Password", PASSWORD)
    ui.click_button(page, "Sign in")
    ui.wait_for_text(page, "Signed in as")
    ui.go_to(page, "Campaigns")
    page.get_by_role("tab", name="Survey").click()
    ui.wait_idle(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.hover()
    page.get_by_role("button", name="Add row").first.click()
    ui.wait_idle(page)
    # The new row is the second data row (under the header and the existing question); type
    # its question into the first column, leave its kind unpicked.
    # Measured from the grid's own canvas: the element around it also holds its toolbar.
    box = grid.locator("canvas").first.bounding_box()
    row_height = 35
    page.mouse.dblclick(box["x"] + 150, box["y"] + row_height * 2 + row_height / 2)
    page.keyboard.type("Which issue matters most?")
    page.keyboard.press("Enter")
    ui.wait_idle(page)
    screenshots.take(page, "a new question with no kind")
    ui.click_button(page, "Save survey")
    ui.wait_for_text(page, "pick its kind")
    screenshots.take(page, "refused")
    assert "Survey saved" not in ui.main_text(page)
    assert "Which issue matters most?" in " ".join(ui.errors(page))
    with db.session() as session:
        texts = [q.text for q in session.exec(select(SurveyQuestion))]
    assert "Which issue matters most?" not in texts
