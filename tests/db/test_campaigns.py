"""Organisers shaping campaigns: status changes, outcomes, survey, hours, who may call."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core import campaigns as core
from db.models import Outcome, SurveyQuestion
from tests.factories import make_user


def new_campaign(db, **kwargs):
    with db.write() as s:
        organiser = make_user(s, role="organiser")
        view = core.create_campaign(session=s, name="  Save our A&E  ", created_by_id=organiser.id,
                                    **kwargs)
    return organiser, view


def test_a_new_campaign_is_a_draft_with_the_default_outcomes_and_hours(database) -> None:
    _, view = new_campaign(database)
    assert (view.name, view.status, view.timezone) == ("Save our A&E", "draft", "Europe/London")
    assert view.calling_window["0"] == ["09:00", "21:00"]
    with database.session() as s:
        outcomes = core.list_outcomes(session=s, campaign_id=view.id)
    assert [o.code for o in outcomes] == [
        "completed", "refused", "no_answer", "voicemail", "busy", "wrong_number", "call_back",
        "do_not_call", "moved_deceased"]
    assert {o.code: o.behaviour for o in outcomes}["do_not_call"] == "do_not_call"


def test_status_moves_through_start_pause_resume_close_and_refuses_the_rest(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        with pytest.raises(core.CampaignError):
            core.pause_campaign(session=s, campaign_id=view.id)
    steps = []
    for action in ("activate", "pause", "resume", "close", "reopen"):
        with database.write() as s:
            steps.append(core.change_status(session=s, campaign_id=view.id, action=action).status)
    assert steps == ["active", "paused", "active", "closed", "paused"]


def test_details_are_validated(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        updated = core.update_campaign(session=s, campaign_id=view.id, max_attempts=5,
                                       lease_minutes=15, script="Hi {first_name}")
    assert (updated.max_attempts, updated.lease_minutes) == (5, 15)
    assert updated.script == "Hi {first_name}"
    for bad in ({"max_attempts": 0}, {"lease_minutes": 500}, {"timezone": "Mars/Olympus"},
                {"dialer": "pigeon"}, {"name": "  "}, {"status": "active"}):
        with database.write() as s, pytest.raises(core.CampaignError):
            core.update_campaign(session=s, campaign_id=view.id, **bad)


def test_outcomes_are_replaced_in_order_and_dropped_ones_kept_inactive(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        saved = core.save_outcomes(session=s, campaign_id=view.id, outcomes=[
            {"code": "spoke", "label": "Spoke", "behaviour": "final", "is_conversation": True},
            {"code": "no_answer", "label": "Nobody home", "behaviour": "retry",
             "retry_after_hours": 2},
        ])
    assert [(o.code, o.label, o.retry_after_hours) for o in saved] == [
        ("spoke", "Spoke", 0), ("no_answer", "Nobody home", 2.0)]
    with database.session() as s:
        kept = s.exec(select(Outcome).where(Outcome.campaign_id == view.id,
                                            Outcome.code == "completed")).one()
    assert kept.active is False


@pytest.mark.parametrize(
    "rows",
    [
        [{"code": "Bad Code", "label": "x"}],
        [{"code": "a", "label": "A"}, {"code": "a", "label": "again"}],
        [{"code": "later", "label": "Later", "behaviour": "retry", "retry_after_hours": 0}],
        [{"code": "a", "label": "A", "behaviour": "explode"}],
        [{"code": "a", "label": "A", "active": False}],
        [{"code": "a", "label": ""}],
    ],
)
def test_broken_outcome_sets_are_refused(database, rows) -> None:
    _, view = new_campaign(database)
    with database.write() as s, pytest.raises(core.CampaignError):
        core.save_outcomes(session=s, campaign_id=view.id, outcomes=rows)


def test_survey_questions_are_saved_edited_and_retired(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        first = core.save_questions(session=s, campaign_id=view.id, questions=[
            {"text": "Will you come?", "kind": "yes_no", "required": True},
            {"text": "Which issues?", "kind": "multi", "options": "Pay; Safety;Hours"},
        ])
    assert [(q.kind, q.options, q.required) for q in first] == [
        ("yes_no", ("Yes", "No"), True), ("multi", ("Pay", "Safety", "Hours"), False)]
    with database.write() as s:
        second = core.save_questions(session=s, campaign_id=view.id, questions=[
            {"id": first[1].id, "text": "Which issues matter?", "kind": "multi",
             "options": ["Pay", "Safety"]},
        ])
    assert [(q.id, q.text) for q in second] == [(first[1].id, "Which issues matter?")]
    with database.session() as s:
        retired = s.get(SurveyQuestion, first[0].id)
    assert retired is not None and retired.active is False
    with database.write() as s, pytest.raises(core.CampaignError):
        core.save_questions(session=s, campaign_id=view.id,
                            questions=[{"text": "Pick", "kind": "single", "options": "only"}])


def test_calling_hours_are_validated_and_saved(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        saved = core.set_calling_window(session=s, campaign_id=view.id,
                                        window={"0": ["10:00", "18:00"], "6": []})
    assert saved.calling_window["0"] == ["10:00", "18:00"]
    assert saved.calling_window["6"] == [] and saved.calling_window["3"] == []
    with database.write() as s, pytest.raises(core.CampaignError):
        core.set_calling_window(session=s, campaign_id=view.id, window={"0": ["18:00", "10:00"]})


def test_only_members_may_call_a_closed_team_campaign(database) -> None:
    organiser, view = new_campaign(database)
    with database.write() as s:
        member, outsider = make_user(s), make_user(s)
        core.change_status(session=s, campaign_id=view.id, action="activate")
        core.update_campaign(session=s, campaign_id=view.id, open_to_all=False)
        core.set_members(session=s, campaign_id=view.id, user_ids=[member.id])
    with database.session() as s:
        assert [c.id for c in core.callable_campaigns(session=s, user_id=member.id)] == [view.id]
        assert core.callable_campaigns(session=s, user_id=outsider.id) == []
        assert [c.id for c in core.callable_campaigns(session=s, user_id=organiser.id)] == [view.id]
    with database.write() as s:
        core.set_members(session=s, campaign_id=view.id, user_ids=[outsider.id])
    with database.session() as s:
        assert core.list_members(session=s, campaign_id=view.id) == [outsider.id]
        assert core.callable_campaigns(session=s, user_id=member.id) == []


def test_paused_campaigns_are_not_offered_for_calling(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        volunteer = make_user(s)
        core.change_status(session=s, campaign_id=view.id, action="activate")
    with database.session() as s:
        assert len(core.callable_campaigns(session=s, user_id=volunteer.id)) == 1
    with database.write() as s:
        core.pause_campaign(session=s, campaign_id=view.id)
    with database.session() as s:
        assert core.callable_campaigns(session=s, user_id=volunteer.id) == []


def test_a_question_without_a_kind_is_refused_not_saved_as_a_guess(database) -> None:
    _, view = new_campaign(database)
    with pytest.raises(core.CampaignError) as refused, database.write() as s:
        core.save_questions(session=s, campaign_id=view.id, questions=[
            {"text": "Will you join us?", "kind": "yes_no"},
            {"text": "Which issue matters most?", "kind": None, "options": "NHS; Housing"}])
    assert str(refused.value).startswith(
        "Question 2 (“Which issue matters most?”): pick its kind (Single choice, Multiple "
        "choice, Yes / no, Scale 1–5, Free text")
    with database.session() as s:
        assert core.list_questions(session=s, campaign_id=view.id) == []


def test_an_added_question_goes_last_and_one_without_a_kind_is_refused(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        core.save_questions(session=s, campaign_id=view.id, questions=[
            {"text": "Will you join us?", "kind": "yes_no"},
            {"text": "Which issue?", "kind": "single", "options": "NHS; Housing"}])
    with pytest.raises(core.CampaignError) as refused, database.write() as s:
        core.add_question(session=s, campaign_id=view.id, text="Anything else?", kind=None)
    assert str(refused.value).startswith("Question 3 (“Anything else?”): pick its kind (")
    with database.write() as s:
        added = core.add_question(session=s, campaign_id=view.id, text=" Anything else? ",
                                  kind="text", required=True)
    assert (added.text, added.kind, added.required) == ("Anything else?", "text", True)
    with database.session() as s:
        assert [q.text for q in core.list_questions(session=s, campaign_id=view.id)
                ] == ["Will you join us?", "Which issue?", "Anything else?"]


def test_a_question_whose_text_was_cleared_is_refused_by_number_not_dropped(database) -> None:
    _, view = new_campaign(database)
    with database.write() as s:
        first, second = core.save_questions(session=s, campaign_id=view.id, questions=[
            {"text": "Will you join us?", "kind": "yes_no"},
            {"text": "Anything else?", "kind": "text"}])
    with pytest.raises(core.CampaignError) as refused, database.write() as s:
        core.save_questions(session=s, campaign_id=view.id, questions=[
            {"id": first.id, "text": "Will you join us?", "kind": "yes_no"},
            {"id": second.id, "text": "  ", "kind": "text"}])
    assert str(refused.value) == ("Question 2 has no text: write it, or remove the question. "
                                  "Nothing was saved.")
    with database.session() as s:
        assert [q.text for q in core.list_questions(session=s, campaign_id=view.id)
                ] == ["Will you join us?", "Anything else?"]
