"""Contact fields, and guessing which column of a file means which."""

from __future__ import annotations

import re

PHONE_FIELDS = ("phone", "mobile", "landline")
TEXT_FIELDS = (
    "first_name", "last_name", "email", "postcode", "constituency", "ward", "membership_number",
)
FLAG_FIELDS = ("tps", "consenting_member")
CUSTOM = "custom"
IGNORE = "ignore"

FIELD_LABELS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split into first and last)",
    "phone": "Phone",
    "mobile": "Mobile phone",
    "landline": "Landline",
    "email": "Email",
    "postcode": "Postcode",
    "constituency": "Constituency",
    "ward": "Ward",
    "tags": "Tags",
    "membership_number": "Membership number",
    "tps": "TPS registered (yes/no)",
    "consenting_member": "Consenting member (yes/no)",
    CUSTOM: "Keep as custom field",
    IGNORE: "Do not import",
}
FIELDS = tuple(FIELD_LABELS)
# Fields a file may map more than one column to (several numbers for one person).
REPEATABLE_FIELDS = {*PHONE_FIELDS, CUSTOM, IGNORE}

_HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "forename", "forenames", "given name", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "full_name": ("name", "full name", "fullname", "contact name", "member name"),
    "phone": ("phone", "phone number", "telephone", "telephone number", "tel", "tel no",
              "number", "contact number", "primary phone", "other phone", "alt phone",
              "alternative phone", "work phone", "phone no"),
    "mobile": ("mobile", "mobile phone", "mobile number", "mobile no", "mob", "cell",
               "cell phone", "cellphone", "mobile telephone"),
    "landline": ("landline", "land line", "home phone", "home telephone", "home tel",
                 "home number", "landline number"),
    "email": ("email", "e mail", "email address", "e mail address"),
    "postcode": ("postcode", "post code", "postal code", "zip", "zip code", "postcode zip"),
    "constituency": ("constituency", "parliamentary constituency", "westminster constituency",
                     "constituency name"),
    "ward": ("ward", "electoral ward", "council ward", "ward name"),
    "tags": ("tags", "tag", "labels", "groups"),
    "membership_number": ("membership number", "member number", "membership no", "member no",
                          "membership id", "member id", "membership", "member ref"),
    "tps": ("tps", "tps registered", "on tps", "tps status"),
    "consenting_member": ("consenting member", "consent", "consented", "consenting",
                          "consent to call"),
}
_GUESS_LOOKUP = {alias: name for name, aliases in _HEADER_GUESSES.items() for alias in aliases}
_NUMBERED = re.compile(r"^(.*?)\s*\d+$")


def _header_key(header: str) -> str:
    text = re.sub(r"[_\-./#:]+", " ", header.strip().lower())
    return re.sub(r"\s+", " ", text).strip()


def guess_field(header: str) -> str:
    """The contact field a column header most likely means, or "custom"."""
    key = _header_key(header)
    if key in _GUESS_LOOKUP:
        return _GUESS_LOOKUP[key]
    numbered = _NUMBERED.match(key)  # "Phone 2", "mobile2"
    if numbered and _GUESS_LOOKUP.get(numbered.group(1)) in PHONE_FIELDS:
        return _GUESS_LOOKUP[numbered.group(1)]
    return CUSTOM


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Guess a field for every column; a field already taken leaves later columns custom."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field_name = guess_field(header)
        if field_name in taken and field_name not in REPEATABLE_FIELDS:
            field_name = CUSTOM
        taken.add(field_name)
        mapping[header] = field_name
    return mapping


class ImportFileError(Exception):
    """The file cannot be read or the mapping cannot be used; str() is one line for the user."""


def check_mapping(headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Complete a mapping (unmapped columns become custom fields) and check it.

    Raises:
        ImportFileError: unknown column or field, a field mapped twice, or no phone column.
    """
    complete = {header: CUSTOM for header in headers}
    for column, field_name in mapping.items():
        if column not in complete:
            raise ImportFileError(f"the file has no column {column!r}")
        if field_name not in FIELD_LABELS:
            raise ImportFileError(
                f"unknown field {field_name!r} for column {column!r}; "
                f"choose one of {', '.join(FIELDS)}"
            )
        complete[column] = field_name
    seen: set[str] = set()
    for column, field_name in complete.items():
        if field_name in seen and field_name not in REPEATABLE_FIELDS:
            raise ImportFileError(f"{field_name} is mapped to more than one column ({column!r})")
        seen.add(field_name)
    if not seen & set(PHONE_FIELDS):
        raise ImportFileError("no column is mapped to a phone number (phone, mobile or landline)")
    return complete
