"""Contact fields, and guessing which column of a file means which."""

from __future__ import annotations

import re

PHONE_FIELDS = ("phone", "mobile", "landline")
TEXT_FIELDS = (
    "first_name", "last_name", "email", "postcode", "constituency", "ward", "membership_number",
)
FLAG_FIELDS = ("tps", "consenting_member")
# A column in which the source records that the person must not be phoned (NationBuilder's
# do_not_call, a form's "May we phone you?"): rows whose value is one of the column's
# do-not-call values go onto the do-not-call list (PECR), whatever else the row says.
DO_NOT_CALL = "do_not_call"
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
    DO_NOT_CALL: "Do-not-call flag",
    CUSTOM: "Keep as custom field",
    IGNORE: "Do not import",
}
FIELDS = tuple(FIELD_LABELS)
# Fields a file may map more than one column to (several numbers for one person).
REPEATABLE_FIELDS = {*PHONE_FIELDS, DO_NOT_CALL, CUSTOM, IGNORE}

# Exact headers, after _header_key; the export tools' own names are here (NationBuilder's
# people export, Action Network's can2_* report, Mailchimp's audience export).
_HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "forename", "forenames", "given name", "first",
                   "first names"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "full_name": ("name", "full name", "fullname", "contact name", "member name", "your name",
                  "your full name", "names", "household name"),
    "phone": ("phone", "phone number", "telephone", "telephone number", "tel", "tel no",
              "number", "contact number", "primary phone", "other phone", "alt phone",
              "alternative phone", "work phone", "phone no", "work phone number", "can2 phone",
              "primary phone number", "telephone no", "contact phone", "daytime phone"),
    "mobile": ("mobile", "mobile phone", "mobile number", "mobile no", "mob", "cell",
               "cell phone", "cellphone", "mobile telephone", "mobile phone number",
               "cell phone number"),
    "landline": ("landline", "land line", "home phone", "home telephone", "home tel",
                 "home number", "landline number", "home phone number", "evening phone"),
    "email": ("email", "e mail", "email address", "e mail address", "primary email",
              "email1", "your email", "your email address"),
    "postcode": ("postcode", "post code", "postal code", "zip", "zip code", "postcode zip",
                 "primary zip", "address zip", "primary postcode", "your postcode"),
    "constituency": ("constituency", "parliamentary constituency", "westminster constituency",
                     "constituency name", "federal district"),
    "ward": ("ward", "electoral ward", "council ward", "ward name"),
    "tags": ("tags", "tag", "labels", "groups", "tag list", "can2 user tags", "user tags"),
    "membership_number": ("membership number", "member number", "membership no", "member no",
                          "membership id", "member id", "membership", "member ref"),
    "tps": ("tps", "tps registered", "on tps", "tps status"),
    "consenting_member": ("consenting member", "consent", "consented", "consenting",
                          "consent to call"),
    DO_NOT_CALL: ("do not call", "dnc", "do not phone", "do not contact", "is mobile bad",
                  "is phone bad", "phone opt out", "opted out of calls", "no calls",
                  "contact by phone", "may we phone you", "may we call you", "ok to call",
                  "ok to phone", "phone ok", "happy to be called", "can we call you",
                  "can we phone you", "phone consent", "call consent", "telephone consent",
                  "do not call flag"),
    # The tools' other columns that name a phone or a person but are neither.
    CUSTOM: ("mobile opt in", "email opt in", "sms opt in", "can2 sms status", "phone type",
             "mobile opt in at", "parent name", "point person name", "recruiter name",
             "employer name", "user name", "username", "branch name", "ward name id"),
}
_GUESS_LOOKUP = {alias: name for name, aliases in _HEADER_GUESSES.items() for alias in aliases}
_NUMBERED = re.compile(r"^(.*?)\s*\d+$")

# A do-not-call column either says "do not call" (true means no calls) or asks "may we call?"
# (no means no calls): the values that mean "do not call" depend on which.
_NEGATIVE_SENSE = re.compile(r"\b(do not|don t|dont|dnc|is \w+ bad|opted out|opt out|"
                             r"no calls|unsubscribed)\b")
DO_NOT_CALL_WHEN_TRUE = ("yes", "y", "true", "1", "x", "t", "do not call", "dnc")
DO_NOT_CALL_WHEN_NO = ("no", "n", "false", "0", "f", "do not call", "do not phone",
                       "unsubscribed", "opted out", "opt out", "never", "no thanks",
                       "no please", "please don't", "please do not")

# Questions as Google Forms and Typeform headers ask them: matched by the words they use.
_QUESTION_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(may|can|could) we (phone|call|ring|telephone)\b|\bhappy (for us )?to "
                r"(be )?(phoned|called|rung)\b|\bcontact(ed)? (you )?by (phone|telephone)\b"
                r"|\bok to (phone|call|ring)\b"), DO_NOT_CALL),
    (re.compile(r"\bdo not (call|phone|ring|contact)\b|\bdon t (call|phone|ring)\b"),
     DO_NOT_CALL),
    (re.compile(r"\bmobile\b"), "mobile"),
    (re.compile(r"\blandline\b|\bhome (phone|telephone|number)\b"), "landline"),
    (re.compile(r"\b(phone|telephone)\b|\bnumber\b.*\b(call|phone|ring|reach|contact)|"
                r"\b(call|phone|ring|reach|contact)\b.*\bnumber\b"), "phone"),
    (re.compile(r"\be ?mail\b"), "email"),
    (re.compile(r"\bpost ?code\b"), "postcode"),
    (re.compile(r"\bfirst name\b|\bforename"), "first_name"),
    (re.compile(r"\bsurname\b|\blast name\b|\bfamily name\b"), "last_name"),
    (re.compile(r"\b(your|full) name\b"), "full_name"),
)


def _header_key(header: str) -> str:
    text = re.sub(r"[_\-./#:?!'\u2019()\[\]\"*]+", " ", header.strip().lower())
    return re.sub(r"\s+", " ", text).strip()


def guess_field(header: str) -> str:
    """The contact field a column header most likely means, or "custom"."""
    key = _header_key(header)
    if key in _GUESS_LOOKUP:
        return _GUESS_LOOKUP[key]
    numbered = _NUMBERED.match(key)  # "Phone 2", "mobile2"
    if numbered and _GUESS_LOOKUP.get(numbered.group(1)) in PHONE_FIELDS:
        return _GUESS_LOOKUP[numbered.group(1)]
    # A question, not a column name: "What's your mobile number?"
    if header.strip().endswith("?") or len(key.split()) >= 4:
        for pattern, field_name in _QUESTION_RULES:
            if pattern.search(key):
                return field_name
    return CUSTOM


def guess_do_not_call_values(header: str) -> list[str]:
    """The cell values that mean "do not call" in a do-not-call column with this header."""
    if _NEGATIVE_SENSE.search(_header_key(header)):
        return list(DO_NOT_CALL_WHEN_TRUE)
    return list(DO_NOT_CALL_WHEN_NO)


def flag_key(value: str) -> str:
    """A flag cell as compared with do-not-call values: lower case, tidy spaces, no quotes."""
    return re.sub(r"\s+", " ", value.strip().strip("\"'").lower().replace("\u2019", "'"))


_FIRST_ANSWER = re.compile(r"[,.;:!(\u2013\u2014]| - ")


def means_do_not_call(cell: str, values: frozenset[str]) -> bool:
    """Whether a do-not-call column's cell is one of its "do not call" values; a form's answer
    counts by its first words too ("No, please don't" is "no")."""
    key = flag_key(cell)
    if not key:
        return False
    return key in values or _FIRST_ANSWER.split(key, 1)[0].strip() in values


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
    if "first_name" in taken or "last_name" in taken:  # "Name" beside First/Last is something else
        mapping = {h: CUSTOM if f == "full_name" else f for h, f in mapping.items()}
    return mapping


def known_fields(headers: list[str]) -> int:
    """How many of these cells read as contact-field headers (to find the header row)."""
    return sum(1 for header in headers if header.strip() and guess_field(header) != CUSTOM)


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


def check_do_not_call_values(
    mapping: dict[str, str], values: dict[str, list[str]] | None
) -> dict[str, list[str]]:
    """The do-not-call values for every do-not-call column: given ones (tidied), else guessed.

    Raises:
        ImportFileError: values for a column that is not mapped to the do-not-call flag.
    """
    given = values or {}
    for column in given:
        if mapping.get(column) != DO_NOT_CALL:
            raise ImportFileError(f"column {column!r} is not mapped to the do-not-call flag")
    return {
        column: sorted({flag_key(v) for v in given.get(column, guess_do_not_call_values(column))
                        if flag_key(v)})
        for column, field_name in mapping.items() if field_name == DO_NOT_CALL
    }
