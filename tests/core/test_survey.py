"""Survey answers are checked per kind, with required questions enforced."""

from __future__ import annotations

import pytest

from core.survey import (
    QUESTION_KINDS,
    AnswerError,
    QuestionError,
    QuestionKind,
    QuestionView,
    Widget,
    kind_spec,
    validate_answers,
    validate_question,
)

SINGLE = QuestionView(id=1, text="Which issue?", kind="single", options=("Pay", "Safety"))
MULTI = QuestionView(id=2, text="Which days?", kind="multi", options=("Mon", "Tue", "Wed"))
YES_NO = QuestionView(id=3, text="Will you come?", kind="yes_no", options=("Yes", "No"),
                      required=True)
SCALE = QuestionView(id=4, text="How likely?", kind="scale")
TEXT = QuestionView(id=5, text="Anything else?", kind="text")
ALL = [SINGLE, MULTI, YES_NO, SCALE, TEXT]


def test_valid_answers_of_every_kind_become_stored_values() -> None:
    stored = validate_answers(ALL, {1: "Pay", 2: ["Mon", "Wed", "Mon"], 3: "Yes", 4: 5,
                                    5: "  see you there  "})
    assert stored == {1: ["Pay"], 2: ["Mon", "Wed"], 3: ["Yes"], 4: ["5"],
                      5: ["see you there"]}


def test_blank_optional_answers_are_dropped() -> None:
    assert validate_answers(ALL, {2: [], 3: "No", 5: "   "}) == {3: ["No"]}


def test_a_missing_required_answer_is_refused_unless_not_enforced() -> None:
    with pytest.raises(AnswerError) as error:
        validate_answers(ALL, {1: "Pay"})
    assert list(error.value.problems) == [3]
    assert validate_answers(ALL, {1: "Pay"}, enforce_required=False) == {1: ["Pay"]}


@pytest.mark.parametrize(
    ("answers", "bad"),
    [
        ({1: "Pensions", 3: "Yes"}, 1),
        ({2: ["Mon", "Sun"], 3: "Yes"}, 2),
        ({3: "Maybe"}, 3),
        ({3: "Yes", 4: 6}, 4),
        ({3: "Yes", 4: 0}, 4),
        ({3: "Yes", 4: "lots"}, 4),
        ({3: "Yes", 5: "x" * 2001}, 5),
        ({3: "Yes", 99: "stray"}, 99),
    ],
)
def test_answers_outside_the_choices_are_refused(answers, bad) -> None:
    with pytest.raises(AnswerError) as error:
        validate_answers(ALL, answers)
    assert list(error.value.problems) == [bad]


def test_question_definitions_are_checked() -> None:
    assert validate_question(text="Q", kind="single", options=[" A ", "B", ""]) == ["A", "B"]
    assert validate_question(text="Q", kind="yes_no", options=[]) == ["Yes", "No"]
    for text, kind, options in [("", "text", []), ("Q", "single", ["A"]), ("Q", "essay", []),
                                ("Q", "multi", ["A", "A"])]:
        with pytest.raises(QuestionError):
            validate_question(text=text, kind=kind, options=options)


def test_kinds_that_bring_their_own_choices_store_them_and_free_text_stores_none() -> None:
    assert validate_question(text="Q", kind="scale", options=["x"]) == ["1", "2", "3", "4", "5"]
    assert validate_question(text="Q", kind="text", options=["x"]) == []


def test_every_question_kind_has_one_spec_row_naming_a_widget() -> None:
    assert list(QUESTION_KINDS) == list(QuestionKind)
    for kind, spec in QUESTION_KINDS.items():
        assert spec.kind is kind and spec.label and spec.widget in set(Widget)
        # A kind either takes the organiser's options or brings its own (free text neither).
        assert not (spec.has_options and spec.fixed_choices)


def test_free_text_answers_are_counted_but_never_listed_on_the_dashboard() -> None:
    assert [kind for kind, spec in QUESTION_KINDS.items() if not spec.tallied] == [
        QuestionKind.TEXT]


def test_an_unknown_stored_kind_is_named_in_the_error() -> None:
    with pytest.raises(QuestionError, match="'essay'"):
        kind_spec("essay")
