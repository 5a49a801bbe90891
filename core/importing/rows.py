"""One row of a file to a contact record: phones, names, tags, flags."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from core.importing.fields import (
    CUSTOM,
    DO_NOT_CALL,
    FLAG_FIELDS,
    PHONE_FIELDS,
    TEXT_FIELDS,
    flag_key,
    guess_do_not_call_values,
    means_do_not_call,
)
from core.importing.phones import PhoneNormaliser
from core.phones import InvalidPhone, Phone
from db.models import (
    Contact,
)

FIELD_LIMITS: dict[str, int] = {
    c.name: c.type.length
    for c in Contact.__table__.columns  # type: ignore[attr-defined]
    if getattr(c.type, "length", None)
}
_TRUE = {"y", "yes", "true", "1", "x", "t", "on", "tps", "registered", "consent", "consented"}
_FALSE = {"", "n", "no", "false", "0", "f", "off", "none", "-"}
_TAG_SPLIT = re.compile(r"[,;|]")
_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})$")


def normalise_tags(text: str | list[str]) -> str:
    """"NHS; Member" -> ",nhs,member," (lower case, de-duplicated, comma-wrapped)."""
    parts = _TAG_SPLIT.split(text) if isinstance(text, str) else text
    tags: list[str] = []
    for part in parts:
        tag = part.strip().strip("\"'").strip().lower()  # Mailchimp writes "a","b"
        if tag and tag not in tags:
            tags.append(tag)
    return "," + ",".join(tags) + "," if tags else ""


def tag_list(wrapped: str) -> list[str]:
    return [t for t in wrapped.split(",") if t]


def normalise_postcode(text: str) -> str:
    compact = re.sub(r"\s+", " ", text.strip().upper())
    match = _POSTCODE.match(compact)
    return f"{match.group(1)} {match.group(2)}" if match else compact


# Cells that stand for "no number here": a warning when another column has one, not a reason
# to lose the member.
_PLACEHOLDERS = {
    "n/a", "na", "n.a.", "-", "--", "---", "tbc", "tba", "tbd", "none", "nil", "nothing", "0",
    "00", "unknown", "not known", "?", "x", "no", "same", "same as mobile", "same as above",
    "as above", "see above", "ditto", "ex-directory", "ex directory", "withheld", "no phone",
    "no number", "not given", "refused", "null", ".", "#n/a", "n/k", "nk",
}
_SCIENTIFIC = re.compile(r"[+-]?\d(?:\.\d+)?e\+?\d+", re.IGNORECASE)
# A run of digits with the separators people type between them; words end it.
_CANDIDATE = re.compile(r"\+?\d[\d \t\-.()]{5,}\d")
_DIGIT_GROUP = re.compile(r"\+?\d+")
_PHONE_CELL_LIMIT = 200
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "revd", "sir", "dame",
           "cllr", "lord", "lady", "fr"}
_PARTICLES = {"de", "da", "di", "del", "della", "van", "von", "der", "den", "la", "le", "du",
              "dos", "das", "bin", "ibn", "al", "ap", "ní", "nic", "mac", "ó", "ua"}
_HOUSEHOLD = {"&", "and", "+"}


def split_full_name(text: str) -> tuple[str, str]:
    """A single name column as (first, last): "Wright, Shona" is Shona Wright.

    A household ("Mr & Mrs Morris") or a title with only a surname ("Mrs Morris") stays whole
    as the first name, so a script's "Hello {first_name}" still reads right.
    """
    name = " ".join(text.split())
    if not name:
        return "", ""
    if name.count(",") == 1:
        last, _, first = name.partition(",")
        if first.strip() and last.strip():
            return first.strip(), last.strip()
    words = name.split()
    if any(w.lower() in _HOUSEHOLD for w in words):
        return name, ""
    if words[0].lower().rstrip(".") in _TITLES:
        if len(words) <= 2:
            return name, ""
        words = words[1:]
    if len(words) == 1:
        return words[0], ""
    for index in range(1, len(words) - 1):
        if words[index].lower() in _PARTICLES:
            return " ".join(words[:index]), " ".join(words[index:])
    return " ".join(words[:-1]), words[-1]


def phones_in_cell(raw: str, normalise: PhoneNormaliser,
                   error: str | None = None) -> tuple[list[Phone], str]:
    """Every number a careful organiser would read in a cell, and the problem if there is none.

    "07400 101015 (after 6pm)", "020 7946 0100 home", "07400103075 / 029 2018 0063": the words
    are dropped, and several numbers in one cell are all kept. The problem ("" when the cell is
    empty or a number was found) names what was wrong without repeating the number.
    """
    text = raw.strip()
    if not text:
        return [], ""
    if error is None:  # (the caller may have tried the whole cell already)
        try:
            return [normalise(text)], ""
        except InvalidPhone as exc:
            error = str(exc)
    if len(text) > _PHONE_CELL_LIMIT:
        return [], "too long to be a phone number"
    lowered = text.lower()
    if lowered in _PLACEHOLDERS or not any(ch.isdigit() for ch in text):
        return [], "not a phone number"
    if _SCIENTIFIC.fullmatch(lowered.replace(",", "")):
        return [], "a number Excel shortened to scientific notation (format the column as text)"
    if text[0] in "=@":
        return [], "not a phone number (a formula)"
    if text.isdigit():  # Excel drops the leading 0 of numbers it thinks are numeric
        fixed = ("0" + text if len(text) == 10 and text[0] != "0"
                 else "+" + text if len(text) == 12 and text.startswith("44") else "")
        if fixed:
            try:
                return [normalise(fixed)], ""
            except InvalidPhone:
                pass
    found: list[Phone] = []
    for match in _CANDIDATE.finditer(text):
        groups = _DIGIT_GROUP.findall(match.group(0))
        start = 0
        while start < len(groups):  # "07400103075 02920180063": the longest valid run first
            for end in range(len(groups), start, -1):
                try:
                    phone = normalise(" ".join(groups[start:end]))
                except InvalidPhone:
                    continue
                if all(phone.e164 != p.e164 for p in found):
                    found.append(phone)
                start = end
                break
            else:
                start += 1
    if found:
        return found, ""
    return [], error


class RowRecord(NamedTuple):  # a tuple: cheap to pickle back from a parsing process
    row_number: int
    phone: str
    phone_type: str
    other_phones: list[str]
    values: dict[str, Any]  # text fields, tags, flags present in the row
    custom: dict[str, str]
    custom_json: str = "{}"  # encoded by the parsing process, so the writer need not
    warnings: tuple[str, ...] = ()  # cells that could not be used in a row that was kept
    do_not_call: bool = False  # the file says this person must not be phoned


class RowRejected(Exception):
    pass


class RowParser:
    """Turn one row's cells into a RowRecord under a checked mapping.

    do_not_call: for each do-not-call column, the (flag_key-tidied) values meaning "no calls";
    all_do_not_call marks every row (a Mailchimp "unsubscribed" file).
    """

    def __init__(self, headers: list[str], mapping: dict[str, str], normaliser: PhoneNormaliser,
                 do_not_call: dict[str, list[str]] | None = None,
                 all_do_not_call: bool = False):
        self.headers = headers
        self.width = len(headers)
        self.normalise = normaliser
        self.phones: list[tuple[int, str, str]] = []  # (index, header, field)
        self.texts: list[tuple[int, str]] = []
        self.flags: list[tuple[int, str, str]] = []
        self.customs: list[tuple[int, str]] = []
        self.refusals: list[tuple[int, frozenset[str]]] = []
        self.all_do_not_call = all_do_not_call
        self.refusal_cache: dict[tuple[int, str], bool] = {}
        self.tags: int | None = None
        self.full_name: int | None = None
        dnc_values = do_not_call or {}
        for index, header in enumerate(headers):
            field_name = mapping[header]
            if field_name in PHONE_FIELDS:
                self.phones.append((index, header, field_name))
            elif field_name in TEXT_FIELDS:
                self.texts.append((index, field_name))
            elif field_name in FLAG_FIELDS:
                self.flags.append((index, header, field_name))
            elif field_name == "tags":
                self.tags = index
            elif field_name == "full_name":
                self.full_name = index
            elif field_name == DO_NOT_CALL:
                values = dnc_values.get(header)
                if values is None:
                    values = guess_do_not_call_values(header)
                self.refusals.append((index, frozenset(flag_key(v) for v in values)))
            elif field_name == CUSTOM:
                self.customs.append((index, header))
        # Mobile columns first, then generic phone, then landline: the first mobile is called.
        order = {"mobile": 0, "phone": 1, "landline": 2}
        self.phones.sort(key=lambda p: order[p[2]])
        self.mapped_fields = {f for f in mapping.values()}

    def parse(self, row_number: int, cells: list[str]) -> RowRecord:
        """Raises RowRejected with the reason."""
        if len(cells) > self.width:
            if any(c.strip() for c in cells[self.width :]):
                raise RowRejected(
                    f"row has {len(cells)} columns but the header has {self.width}"
                )
            cells = cells[: self.width]
        elif len(cells) < self.width:
            cells = cells + [""] * (self.width - len(cells))
        numbers: list[Phone] = []
        sources: list[str] = []  # the column each number came from
        problems: list[str] = []
        normalise = self.normalise
        for index, header, _field in self.phones:
            raw = cells[index]
            if not raw:
                continue
            try:  # the common case, inline: one clean number
                found = [normalise(raw)]
            except InvalidPhone as exc:
                found, problem = phones_in_cell(raw, normalise, str(exc))
                if problem:
                    problems.append(f"{header}: {problem}")
            for phone in found:
                if all(phone.e164 != n.e164 for n in numbers):
                    numbers.append(phone)
                    sources.append(header)
        if not numbers:
            raise RowRejected("; ".join(problems) if problems else "no phone number")
        chosen = next((i for i, n in enumerate(numbers) if n.kind == "mobile"), 0)
        preferred = numbers[chosen]
        warnings = tuple(f"{problem}, kept the {sources[chosen]}" for problem in problems)
        values: dict[str, Any] = {}
        for index, field_name in self.texts:
            text = cells[index].strip()
            if field_name == "postcode":
                text = normalise_postcode(text)
            if text:
                values[field_name] = text
        if self.full_name is not None:
            first, last = split_full_name(cells[self.full_name])
            if first:
                values.setdefault("first_name", first)
            if last:
                values.setdefault("last_name", last)
        for field_name, text in values.items():
            limit = FIELD_LIMITS.get(field_name)
            if limit and len(text) > limit:
                raise RowRejected(f"{field_name} is longer than {limit} characters")
        if self.tags is not None:
            tags = normalise_tags(cells[self.tags])
            if len(tags) > FIELD_LIMITS["tags"]:
                raise RowRejected(f"tags are longer than {FIELD_LIMITS['tags']} characters")
            if tags:
                values["tags"] = tags
        for index, header, field_name in self.flags:
            text = cells[index].strip().lower()
            if text in _TRUE:
                values[field_name] = True
            elif text in _FALSE:
                if text:
                    values[field_name] = False
            else:
                raise RowRejected(f"{header}: {cells[index].strip()!r} is not yes or no")
        refused = self.all_do_not_call
        if not refused:
            cache = self.refusal_cache
            for index, meaning in self.refusals:
                cell = cells[index]
                if not cell:
                    continue
                answer = cache.get((index, cell))
                if answer is None:  # a flag column holds a handful of distinct values
                    if len(cache) > 10_000:
                        cache.clear()
                    answer = cache[(index, cell)] = means_do_not_call(cell, meaning)
                if answer:
                    refused = True
                    break
        custom = {header: text for index, header in self.customs
                  if (text := cells[index].strip())}
        return RowRecord(
            row_number=row_number,
            phone=preferred.e164,
            phone_type=preferred.kind,
            other_phones=[n.e164 for n in numbers if n.e164 != preferred.e164],
            values=values,
            custom=custom,
            custom_json=json.dumps(custom) if custom else "{}",
            warnings=warnings,
            do_not_call=refused,
        )
