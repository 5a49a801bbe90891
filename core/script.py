"""Call scripts: Markdown written by organisers, with {merge_fields} filled from the contact.

Contact data comes from spreadsheets anyone could have typed into, so every merged value is
made inert before it meets the Markdown renderer: HTML's special characters become entities
and every other ASCII punctuation mark is backslash-escaped, so a name can be neither a tag,
a link, emphasis, a heading, LaTeX nor a Streamlit colour directive. Pages render the result
with st.markdown and never with unsafe_allow_html.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

# Contact columns a script may merge. The phone and email are deliberately absent: the number
# is shown only when the volunteer presses Call (and that is audited).
STANDARD_FIELDS = (
    "first_name",
    "last_name",
    "constituency",
    "ward",
    "postcode",
    "membership_number",
)
# Filled from the signed-in volunteer, not the contact.
VOLUNTEER_FIELDS = ("volunteer_name", "volunteer_first_name")


def volunteer_fields(name: str) -> dict[str, str]:
    """The merge fields that speak for the volunteer calling or texting (VOLUNTEER_FIELDS)."""
    name = (name or "").strip()
    return {"volunteer_name": name, "volunteer_first_name": name.split()[0] if name else ""}

# {name} or {name|fallback}; {{ and }} are literal braces.
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_ ]*?)(?:\|([^{}]*))?\}")
_HTML_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#x27;"}
_MARKDOWN_PUNCTUATION = set(string.punctuation) - set(_HTML_ENTITIES)


def escape_markdown(value: str) -> str:
    """Make untrusted text render as exactly itself in Markdown (and never as HTML)."""
    out: list[str] = []
    for char in " ".join(str(value).split()):  # newlines could start a heading or list
        if char in _HTML_ENTITIES:
            out.append(_HTML_ENTITIES[char])
        elif char in _MARKDOWN_PUNCTUATION:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _key(name: str) -> str:
    return name.strip()


def script_fields(template: str) -> list[str]:
    """The merge fields a script uses, in order of first use."""
    seen: list[str] = []
    for match in _FIELD.finditer(template or ""):
        name = match.group(1)
        if name is not None and _key(name) not in seen:
            seen.append(_key(name))
    return seen


def contact_fields_used(template: str) -> list[str]:
    """The contact's own fields the script needs (what the contact card may show)."""
    return [name for name in script_fields(template) if name not in VOLUNTEER_FIELDS]


def unknown_fields(template: str, custom_keys: set[str] | frozenset[str]) -> list[str]:
    """Merge fields that no contact column, custom field or volunteer field supplies."""
    known = set(STANDARD_FIELDS) | set(VOLUNTEER_FIELDS) | set(custom_keys)
    return [name for name in script_fields(template) if name not in known]


def merge_values(
    fields: list[str], *, contact: Mapping[str, Any], custom: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Pick the values of `fields` from a contact's columns and custom fields, as text."""
    custom = custom or {}
    values: dict[str, str] = {}
    for name in fields:
        if name in STANDARD_FIELDS:
            raw = contact.get(name)
        else:
            raw = custom.get(name)
        values[name] = "" if raw is None else str(raw).strip()
    return values


def fill_merge_fields(template: str, values: Mapping[str, str | None],
                      as_text: Callable[[str], str]) -> str:
    """Fill each {field} with its value, or its |fallback when the value is missing or empty,
    as `as_text` writes it; {{ and }} are literal braces."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        value = values.get(_key(match.group(1)))
        if value is None or not str(value).strip():
            value = match.group(2) or ""
        return as_text(str(value))

    return _FIELD.sub(replace, template or "")


def render_script(template: str, values: Mapping[str, str | None]) -> str:
    """Fill merge fields with escaped values; a missing or empty value uses its |fallback.

    The template itself is the organiser's Markdown and is left as written (st.markdown
    without unsafe_allow_html still refuses raw HTML in it); only merged data is escaped,
    fallbacks included.
    """
    return fill_merge_fields(template, values, escape_markdown)
