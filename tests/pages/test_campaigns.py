"""The organisers' campaign page through AppTest."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core import campaigns as core_campaigns
from db.models import Campaign, SurveyQuestion
from tests.factories import make_user


def organiser_app(make_app, app_db):
    with app_db.write() as s:
        organiser = make_user(s, role="organiser", name="Asha Patel")
    at = make_app(user=organiser, page="pages/campaigns.py")
    assert not at.exception
    return at


def create(at, name: str = "Save our A&E") -> None:
    at.text_input(key="campaigns_new_name").input(name)
    next(b for b in at.button if b.label == "Create campaign").click()
    at.run()
    assert not at.exception


def only_campaign(app_db) -> Campaign:
    with app_db.session() as s:
        return s.exec(select(Campaign)).one()


def test_an_organiser_creates_starts_pauses_resumes_and_closes_a_campaign(
    make_app, app_db
) -> None:
    at = organiser_app(make_app, app_db)
    create(at)
    assert any("Created" in s.value for s in at.success)
    assert only_campaign(app_db).status == "draft"
    statuses = []
    for key in ("campaigns_activate", "campaigns_pause", "campaigns_resume", "campaigns_close"):
        at.button(key=key).click()
        at.run()
        assert not at.exception
        statuses.append(only_campaign(app_db).status)
    assert statuses == ["active", "paused", "active", "closed"]


def test_the_script_preview_merges_a_sample_contact_and_escapes_nothing_unsafe(
    make_app, app_db
) -> None:
    at = organiser_app(make_app, app_db)
    create(at)
    campaign_id = only_campaign(app_db).id
    at.text_area(key=f"campaigns_script_{campaign_id}").input(
        "Hi **{first_name|friend}**, I'm {volunteer_first_name}. Branch: {branch|unknown}")
    at.run()
    preview = "\n".join(m.value for m in at.markdown)
    assert "Hi **Sam**, I'm Asha. Branch: \\(branch\\)" in preview
    at.button(key="campaigns_save_script").click()
    at.run()
    assert only_campaign(app_db).script.startswith("Hi **{first_name|friend}**")


def test_max_attempts_and_calling_hours_are_saved_from_the_page(make_app, app_db) -> None:
    at = organiser_app(make_app, app_db)
    create(at)
    campaign_id = only_campaign(app_db).id
    at.number_input(key=f"campaigns_max_attempts_{campaign_id}").set_value(5)
    at.button(key="campaigns_save_details").click()
    at.run()
    assert only_campaign(app_db).max_attempts == 5
    at.checkbox(key=f"campaigns_day6_{campaign_id}").uncheck()
    at.run()
    at.button(key="campaigns_save_hours").click()
    at.run()
    assert not at.exception
    window = only_campaign(app_db).calling_window
    assert window["6"] == [] and window["0"] == ["09:00", "21:00"]


def test_volunteers_cannot_open_the_campaign_page(make_app, app_db) -> None:
    with app_db.write() as s:
        make_user(s, role="organiser")
        volunteer = make_user(s)
    # Navigation never registers the page for a volunteer, so it cannot be reached at all.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        make_app(user=volunteer, page="pages/campaigns.py")


def test_starting_a_campaign_outside_its_hours_warns_when_calling_opens(make_app, app_db) -> None:
    at = organiser_app(make_app, app_db)
    create(at)
    with app_db.write() as s:
        campaign = s.exec(select(Campaign)).one()
        campaign.calling_window = {str(d): [] for d in range(7)}  # closed every day
    at.run()
    at.button(key="campaigns_activate").click()
    at.run()
    assert not at.exception
    assert only_campaign(app_db).status == "active"
    assert [w.value for w in at.warning] == [
        "Volunteers cannot call yet. No calling hours are set for this campaign, so calling is "
        "closed."]


def test_starting_a_campaign_inside_its_hours_gives_no_warning(make_app, app_db) -> None:
    at = organiser_app(make_app, app_db)
    create(at)
    with app_db.write() as s:
        s.exec(select(Campaign)).one().calling_window = {
            str(d): ["00:00", "24:00"] for d in range(7)}
    at.run()
    at.button(key="campaigns_activate").click()
    at.run()
    assert only_campaign(app_db).status == "active" and not at.warning


def on_survey_tab(make_app, app_db):
    at = organiser_app(make_app, app_db)
    create(at)
    # The tabs track which one is open (without that, a save's rerun went back to Details).
    assert at.session_state["campaigns_tab"] == "Details"
    at.session_state["campaigns_tab"] = "Survey"
    at.run()
    return at, only_campaign(app_db).id


def add_question_button(at):
    return next(b for b in at.button if b.label == "Add question")


def active_questions(app_db, campaign_id: int) -> list[tuple[str, str, list[str], bool]]:
    with app_db.session() as s:
        return [(q.text, q.kind, q.options, q.required) for q in s.exec(
            select(SurveyQuestion).where(SurveyQuestion.campaign_id == campaign_id,
                                         SurveyQuestion.active).order_by(
                SurveyQuestion.position))]


def test_a_new_question_without_a_kind_is_refused_and_nothing_is_saved(
    make_app, app_db
) -> None:
    at, campaign_id = on_survey_tab(make_app, app_db)
    kind = at.selectbox(key=f"campaigns_new_question_kind_{campaign_id}")
    assert kind.value is None  # no kind is picked for the organiser
    at.text_input(key=f"campaigns_new_question_text_{campaign_id}").input(
        "Which issue matters most?")
    at.text_input(key=f"campaigns_new_question_options_{campaign_id}").input("NHS; Housing")
    add_question_button(at).click()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Question 1 (“Which issue matters most?”): pick its kind (Single choice, Multiple "
        "choice, Yes / no, Scale 1–5, Free text, Event sign-up). Nothing was saved."]
    assert not at.success
    assert active_questions(app_db, campaign_id) == []
    assert at.session_state["campaigns_tab"] == "Survey"
    # What was typed is still there to correct.
    assert at.text_input(key=f"campaigns_new_question_text_{campaign_id}").value == (
        "Which issue matters most?")

    at.selectbox(key=f"campaigns_new_question_kind_{campaign_id}").set_value("single")
    add_question_button(at).click()
    at.run()
    assert not at.exception and not at.error
    # The organiser's text, escaped as plain text inside the message's Markdown.
    assert [s.value for s in at.success] == [
        "Question added: “Which issue matters most\\?” (Single choice)."]
    assert active_questions(app_db, campaign_id) == [
        ("Which issue matters most?", "single", ["NHS", "Housing"], False)]
    assert at.session_state["campaigns_tab"] == "Survey"
    # An empty form for the next question, its kind again unpicked (and no warning about
    # widget values set through session state).
    assert not at.warning
    assert at.text_input(key=f"campaigns_new_question_text_{campaign_id}").value == ""
    assert at.selectbox(key=f"campaigns_new_question_kind_{campaign_id}").value is None


def test_added_questions_go_after_the_last_one_with_their_required_flag(
    make_app, app_db
) -> None:
    at, campaign_id = on_survey_tab(make_app, app_db)
    for text, kind, required in (("Will you vote?", "yes_no", True),
                                 ("How likely, 1 to 5?", "scale", False)):
        at.text_input(key=f"campaigns_new_question_text_{campaign_id}").input(text)
        at.selectbox(key=f"campaigns_new_question_kind_{campaign_id}").set_value(kind)
        if required:
            at.checkbox(key=f"campaigns_new_question_required_{campaign_id}").check()
        add_question_button(at).click()
        at.run()
        assert not at.exception and not at.error
    assert active_questions(app_db, campaign_id) == [
        ("Will you vote?", "yes_no", ["Yes", "No"], True),
        ("How likely, 1 to 5?", "scale", ["1", "2", "3", "4", "5"], False)]


def test_saving_the_survey_keeps_the_survey_tab_open(make_app, app_db) -> None:
    at, campaign_id = on_survey_tab(make_app, app_db)
    with app_db.write() as s:
        core_campaigns.add_question(session=s, campaign_id=campaign_id,
                                    text="Will you vote?", kind="yes_no")
    at.run()
    at.button(key="campaigns_save_survey").click()
    at.run()
    assert not at.exception
    assert any("Survey saved" in s.value for s in at.success)
    assert at.session_state["campaigns_tab"] == "Survey"
    assert active_questions(app_db, campaign_id) == [
        ("Will you vote?", "yes_no", ["Yes", "No"], False)]


def test_the_survey_editor_names_kinds_in_words(make_app, app_db) -> None:
    at, campaign_id = on_survey_tab(make_app, app_db)
    kind = at.selectbox(key=f"campaigns_new_question_kind_{campaign_id}")
    assert kind.options == ["Single choice", "Multiple choice", "Yes / no", "Scale 1–5",
                            "Free text", "Event sign-up"]
    with app_db.write() as s:
        core_campaigns.add_question(session=s, campaign_id=campaign_id,
                                    text="Will you vote?", kind="yes_no")
    at.run()
    editor = next(e for e in at.get("dataframe") if "campaigns_survey" in e.proto.id)
    config = editor.proto.columns
    assert "Yes / no" in config and "Free text" in config and "Single choice" in config
    assert '"yes_no"' not in config
    # Rows are edited or removed in the grid; new ones come only from the form.
    assert editor.proto.editing_mode == editor.proto.EditingMode.DELETE_ONLY
