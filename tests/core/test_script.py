"""Scripts: merge fields, fallbacks, and contact data that can never become markup."""

from __future__ import annotations

import html as html_module
import re

import pytest
from markdown_it import MarkdownIt

from core.script import (
    contact_fields_used,
    escape_markdown,
    merge_values,
    render_script,
    script_fields,
    unknown_fields,
)

TEMPLATE = "Hi **{first_name|friend}**, I'm {volunteer_first_name} about {union_branch}."


def html(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def test_merge_fields_are_filled_and_listed_in_order() -> None:
    out = render_script(TEMPLATE, {"first_name": "Asha", "volunteer_first_name": "Jo",
                                   "union_branch": "Crewe"})
    assert out == "Hi **Asha**, I'm Jo about Crewe."
    assert script_fields(TEMPLATE) == ["first_name", "volunteer_first_name", "union_branch"]
    assert contact_fields_used(TEMPLATE) == ["first_name", "union_branch"]


def test_a_missing_or_blank_value_uses_its_fallback() -> None:
    assert render_script("Hi {first_name|friend}!", {"first_name": ""}) == "Hi friend!"
    assert render_script("Hi {first_name|friend}!", {}) == "Hi friend!"
    assert render_script("Hi {first_name}!", {}) == "Hi !"
    assert render_script("Hi {first_name | there}", {}) == "Hi there"


def test_double_braces_are_literal_braces() -> None:
    assert render_script("{{first_name}}", {"first_name": "Asha"}) == "{first_name}"


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "**bold**",
        "[x](javascript:alert(1))",
        "# Heading",
        "`code`",
        "![i](http://evil.example/x.png)",
        ":red[shout]",
        "$x^2$",
        "line\n\n- list",
        "&lt;b&gt;",
    ],
)
def test_contact_data_renders_as_plain_text_never_markup(name: str) -> None:
    rendered = html(render_script("Hello {first_name}, welcome.", {"first_name": name}))
    for tag in ("<script", "<img", "<strong", "<a ", "<h1", "<code", "<ul", "<b>"):
        assert tag not in rendered
    assert "href=" not in rendered
    text = re.sub(r"<[^>]+>", "", rendered)
    # What the volunteer reads is the name exactly as typed (whitespace folded).
    assert " ".join(name.split()) in html_module.unescape(text)


def test_escaping_covers_every_markdown_and_html_special_character() -> None:
    escaped = escape_markdown("<>&\"'*_[]()#`!|~$:\\")
    assert "<" not in escaped and ">" not in escaped
    assert escaped.startswith("&lt;&gt;&amp;")
    assert "\\*\\_\\[\\]\\(\\)\\#\\`\\!\\|\\~\\$\\:\\\\" in escaped


def test_fallback_text_is_escaped_too() -> None:
    assert "<" not in render_script("{first_name|<b>you</b>}", {})


def test_the_organisers_own_markdown_is_kept() -> None:
    rendered = html(render_script("**{first_name}**", {"first_name": "Asha"}))
    assert "<strong>Asha</strong>" in rendered


def test_values_come_from_columns_and_custom_fields_only_when_used() -> None:
    contact = {"first_name": "Asha", "last_name": "Khan", "phone": "+447400123456"}
    values = merge_values(["first_name", "branch", "phone"], contact=contact,
                          custom={"branch": "Crewe", "phone": "x"})
    assert values == {"first_name": "Asha", "branch": "Crewe", "phone": "x"}
    assert merge_values(["phone"], contact=contact, custom={}) == {"phone": ""}


def test_unknown_fields_are_reported_for_the_organiser() -> None:
    assert unknown_fields("{first_name} {branch} {typo}", {"branch"}) == ["typo"]


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("Jo Volunteer", {"volunteer_name": "Jo Volunteer", "volunteer_first_name": "Jo"}),
        ("  Asha   Patel ", {"volunteer_name": "Asha   Patel", "volunteer_first_name": "Asha"}),
        ("", {"volunteer_name": "", "volunteer_first_name": ""}),
    ],
)
def test_the_volunteer_merge_fields_are_built_in_one_place(name, fields) -> None:
    from core.script import VOLUNTEER_FIELDS, volunteer_fields

    assert volunteer_fields(name) == fields
    assert tuple(fields) == VOLUNTEER_FIELDS
