"""One row of a file to a contact record: phones, names, tags, flags."""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from sqlalchemy import Boolean

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
from db.tables import CONTACT

FIELD_LIMITS: dict[str, int] = {
    c.name: length for c in CONTACT.columns if (length := getattr(c.type, "length", None))
}
_TRUE = {"y", "yes", "true", "1", "x", "t", "on", "tps", "registered", "consent", "consented"}
_FALSE = {"", "n", "no", "false", "0", "f", "off", "none", "-"}
_TAG_SPLIT = re.compile(r"[,;|]")
_POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})$")


_CACHE_LIMIT = 50_000  # distinct cells remembered per column kind (tags, postcodes)


def _json_of_texts(values: dict[str, str]) -> str:
    """json.dumps of a dict of str to str, byte for byte, in a few C calls rather than a few
    per item (a wide export's 25 custom columns cost more to encode than to read);
    tests/core/test_importing.py compares the two.

    Every key and value is escaped in one call, NUL-separated, and split again; a text with a
    NUL or a backslash of its own (which could look like an escaped NUL) is done item by item.
    """
    if not values:
        return "{}"
    texts = [*values, *values.values()]
    joined = "\x00".join(texts)
    if "\\" not in joined:
        parts = encode_basestring_ascii(joined)[1:-1].split("\\u0000")
        if len(parts) == len(texts):
            count = len(values)
            return '{"' + '", "'.join(map('": "'.join, zip(parts[:count], parts[count:],
                                                           strict=True))) + '"}'
    return "{" + ", ".join([encode_basestring_ascii(k) + ": " + encode_basestring_ascii(v)
                            for k, v in values.items()]) + "}"


_SEPARATOR = '", '  # what column_keys puts between a value and the next key


def _json_of_columns(values: dict[str, str], keys: dict[str, str]) -> str:
    """_json_of_texts of custom fields, whose keys (the file's headers) were encoded once for
    the whole file: keys maps each to the text between the value before it and its own (see
    column_keys), so that a row's JSON is one join of those and its escaped values."""
    if not values:
        return "{}"
    joined = "\x00".join(values.values())
    if "\\" not in joined:
        parts = encode_basestring_ascii(joined)[1:-1].split("\\u0000")
        if len(parts) == len(values):
            pieces = parts + parts  # (the right length: every other item is replaced)
            pieces[0::2] = map(keys.__getitem__, values)
            pieces[1::2] = parts
            return "{" + "".join(pieces)[len(_SEPARATOR):] + '"}'
    return _json_of_texts(values)


def column_keys(headers: list[str]) -> dict[str, str]:
    """Each header as the text that comes before its value in the JSON: the end of the value
    before it, the key, and the value's opening quote ('", "Branch": "')."""
    return {header: _SEPARATOR + encode_basestring_ascii(header) + ': "' for header in headers}


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


_LETTER = re.compile(r"[^\W\d_]")  # a letter in any script
# What is left beside a number that says nothing: separators, "or", "tel:".
_NOTE_EDGES = " \t()[]{}/\\,;:-\u2013\u2014&.\u2026|*#~"
_NOTE_CONNECTORS = {"or", "and", "else", "also"}
_NOTE_NOISE = {"tel", "t", "ph", "phone", "phone no", "tel no", "telephone", "number", "no",
               "num"}
_NOTE_LIMIT = 200


def _tidy_note(words: str) -> str:
    """The words beside a number as a note: "(after 6pm)" is "after 6pm"; "/" and "or" are
    nothing."""
    note = " ".join(words.split()).strip(_NOTE_EDGES)
    while True:
        parts = note.split(" ", 1)
        if len(parts) == 2 and parts[0].lower() in _NOTE_CONNECTORS:
            note = parts[1].strip(_NOTE_EDGES)
            continue
        parts = note.rsplit(" ", 1)
        if len(parts) == 2 and parts[1].lower() in _NOTE_CONNECTORS:
            note = parts[0].strip(_NOTE_EDGES)
            continue
        break
    if note.lower() in _NOTE_CONNECTORS or note.lower() in _NOTE_NOISE or not _LETTER.search(
            note):
        return ""
    return note[:_NOTE_LIMIT]


def _notes_beside(text: str, spans: list[tuple[int, int, str]]) -> dict[str, str]:
    """Each number's note: the words after it up to the next number (the first number also
    takes the words before it). spans: (start, end, e164) of the text each number came from."""
    notes: dict[str, str] = {}
    for position, (start, end, e164) in enumerate(spans):
        following = spans[position + 1][0] if position + 1 < len(spans) else len(text)
        words = text[end:following]
        if position == 0:
            words = text[:start] + " " + words
        note = _tidy_note(words)
        if note and e164 not in notes:
            notes[e164] = note
    return notes


def phones_in_cell(raw: str, normalise: PhoneNormaliser,
                   error: str | None = None) -> tuple[list[Phone], str, dict[str, str]]:
    """Every number a careful organiser would read in a cell, the problem if there is none,
    and the words written beside each number.

    "07400 101015 (after 6pm)", "020 7946 0100 home", "07400103075 / 029 2018 0063": several
    numbers in one cell are all kept, and the words become notes by number ("after 6pm",
    "home"), which the volunteer sees beside the number. The problem ("" when the cell is empty
    or a number was found) names what was wrong without repeating the number.
    """
    text = raw.strip()
    if not text:
        return [], "", {}
    if error is None:  # (the caller may have tried the whole cell already)
        try:
            whole = normalise(text)
        except InvalidPhone as exc:
            error = str(exc)
        else:  # "Tel: 07400 123456", "020 7946 0100 ext 23": phonenumbers read it whole
            if not _LETTER.search(text):
                return [whole], "", {}
            runs = [m.span() for m in _CANDIDATE.finditer(text)]
            if not runs:
                return [whole], "", {}
            return [whole], "", _notes_beside(text, [(runs[0][0], runs[-1][1], whole.e164)])
    if len(text) > _PHONE_CELL_LIMIT:
        return [], "too long to be a phone number", {}
    lowered = text.lower()
    if lowered in _PLACEHOLDERS or not any(map(str.isdigit, text)):
        return [], "not a phone number", {}
    if _SCIENTIFIC.fullmatch(lowered.replace(",", "")):
        return [], ("a number Excel shortened to scientific notation (format the column as "
                    "text)"), {}
    if text[0] in "=@":
        return [], "not a phone number (a formula)", {}
    if text.isdigit():  # Excel drops the leading 0 of numbers it thinks are numeric
        fixed = ("0" + text if len(text) == 10 and text[0] != "0"
                 else "+" + text if len(text) == 12 and text.startswith("44") else "")
        if fixed:
            try:
                return [normalise(fixed)], "", {}
            except InvalidPhone:
                pass
    found: list[Phone] = []
    spans: list[tuple[int, int, str]] = []
    for match in _CANDIDATE.finditer(text):
        groups = _DIGIT_GROUP.findall(match.group(0))
        start = 0
        last: str | None = None
        while start < len(groups):  # "07400103075 02920180063": the longest valid run first
            for end in range(len(groups), start, -1):
                try:
                    phone = normalise(" ".join(groups[start:end]))
                except InvalidPhone:
                    continue
                if all(phone.e164 != p.e164 for p in found):
                    found.append(phone)
                last = phone.e164
                start = end
                break
            else:
                start += 1
        if last is not None:
            spans.append((match.start(), match.end(), last))
    if found:
        return found, "", _notes_beside(text, spans) if _LETTER.search(text) else {}
    return [], error, {}


# The contact columns a row fills, in the table's order: RowRecord.row holds their values, so
# the writer inserts a new contact with no per-row work. The table's last four columns
# (import_batch_id, last_contacted_at, created_at, updated_at) are the batch's, added by it.
ROW_COLUMNS = tuple(c.name for c in CONTACT.columns
                    if c.name not in ("id", "import_batch_id", "last_contacted_at",
                                      "created_at", "updated_at"))
_ROW_HEAD = ("phone", "phone_type", "other_phones", "phone_notes")
_ROW_VALUES = ROW_COLUMNS[len(_ROW_HEAD):-1]  # the text fields, tags and flags
assert ROW_COLUMNS[: len(_ROW_HEAD)] == _ROW_HEAD and ROW_COLUMNS[-1] == "custom", ROW_COLUMNS
_ROW_DEFAULTS = tuple(
    False if isinstance(CONTACT.c[name].type, Boolean) else ""
    for name in _ROW_VALUES)


class RowRecord(NamedTuple):
    """One kept row. The parsing process sends it back as to_wire gives it."""

    row_number: int
    phone: str
    phone_type: str
    other_phones: list[str]
    values: dict[str, Any]  # text fields, tags, flags present in the row
    custom: dict[str, str]
    warnings: tuple[str, ...] = ()  # cells that could not be used in a row that was kept
    do_not_call: bool = False  # the file says this person must not be phoned
    phone_notes: dict[str, str] = {}  # words beside a number, by number (never mutated)
    row: tuple[Any, ...] = ()  # the values of ROW_COLUMNS, JSON encoded, for an insert


_FLAG_BITS = tuple((1 << bit, name) for bit, name in enumerate(FLAG_FIELDS))
_TEXT_AT = tuple((ROW_COLUMNS.index(n), n) for n in (*TEXT_FIELDS, "tags"))
_FLAG_AT = tuple((bit, ROW_COLUMNS.index(n), n) for bit, n in _FLAG_BITS)
WIRE_PHONE = ROW_COLUMNS.index("phone")
WIRE_OTHERS = ROW_COLUMNS.index("other_phones")
ROW_WIDTH = len(ROW_COLUMNS)


def to_wire(record: RowRecord) -> tuple[Any, ...]:
    """A record as the parsing process sends it: its row, then a bit per flag the row gave.

    Strings, booleans and one small int: a tenth of the time to unpickle that a record's dicts
    and lists took, and the writer needs no more for a new contact (the row is its insert);
    from_wire gives the whole record back for the rows that merge.
    """
    values = record.values
    mask = 0
    for bit, name in _FLAG_BITS:
        if name in values:
            mask |= bit
    return (*record.row, mask)


def from_wire(wire: tuple[Any, ...]) -> RowRecord:
    """The record to_wire sent (its row number, warnings and do-not-call mark aside: those
    travel in the ParsedChunk)."""
    row = wire[:ROW_WIDTH]
    values: dict[str, Any] = {name: row[at] for at, name in _TEXT_AT if row[at]}
    mask = wire[ROW_WIDTH]
    for bit, at, name in _FLAG_AT:
        if mask & bit:
            values[name] = row[at]
    return RowRecord(
        row_number=0, phone=row[0], phone_type=row[1], other_phones=json.loads(row[2]),
        values=values, custom=json.loads(row[-1]), phone_notes=json.loads(row[3]), row=row)


class ParsedChunk(NamedTuple):
    """A few thousand rows of a file, parsed: what the writer writes in one transaction."""

    records: list[tuple[Any, ...]]  # the kept rows, as to_wire gives them
    rejections: list[dict[str, Any]]  # ImportRejection rows
    warnings: list[dict[str, Any]]  # ImportWarning rows
    refused: list[tuple[Any, ...]]  # the records the file flags "do not call" (to_wire)
    last_row: int  # the file's row number of the chunk's last row


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
        self.texts: list[tuple[int, str, int]] = []  # (index, field, length limit)
        self._postcodes: dict[str, str] = {}
        self._tags: dict[str, str] = {}
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
                self.texts.append((index, field_name, FIELD_LIMITS[field_name]))
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
        self.custom_keys = column_keys([header for _index, header in self.customs])
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
        e164s: list[str] = []
        sources: list[str] = []  # the column each number came from
        problems: list[str] = []
        notes: dict[str, str] = {}
        normalise, common = self.normalise, self.normalise.common
        for index, header, _field in self.phones:
            raw = cells[index]
            if not raw:
                continue
            error: str | None = None
            try:
                phone = common(raw)  # the common case, inline: one plain UK number
                if phone is None and not _LETTER.search(raw):
                    phone = normalise(raw)
            except InvalidPhone as exc:
                phone, error = None, str(exc)
            if phone is not None:
                found = [phone]
            else:
                # Words around a number ("Tel: 07400 123456 (evenings)", "n/a"), or digits that
                # are not one number as they stand: phones_in_cell reads the whole cell (unless
                # tried above: error), then each number among the words, keeping the words.
                found, problem, cell_notes = phones_in_cell(raw, normalise, error)
                if problem:
                    problems.append(f"{header}: {problem}")
                for e164, note in cell_notes.items():
                    notes.setdefault(e164, note)
            for phone in found:
                if phone.e164 not in e164s:
                    e164s.append(phone.e164)
                    numbers.append(phone)
                    sources.append(header)
        if not numbers:
            raise RowRejected("; ".join(problems) if problems else "no phone number")
        chosen = 0
        if numbers[0].kind != "mobile":
            chosen = next((i for i, n in enumerate(numbers) if n.kind == "mobile"), 0)
        preferred = numbers[chosen]
        warnings = (tuple(f"{problem}, kept the {sources[chosen]}" for problem in problems)
                    if problems else ())
        values: dict[str, Any] = {}
        for index, field_name, limit in self.texts:
            text = cells[index].strip()
            if not text:
                continue
            if field_name == "postcode":
                text = self.postcode(text)
            if len(text) > limit:
                raise RowRejected(f"{field_name} is longer than {limit} characters")
            values[field_name] = text
        if self.full_name is not None:
            first, last = split_full_name(cells[self.full_name])
            for field_name, text in (("first_name", first), ("last_name", last)):
                if text and field_name not in values:
                    limit = FIELD_LIMITS[field_name]
                    if len(text) > limit:
                        raise RowRejected(f"{field_name} is longer than {limit} characters")
                    values[field_name] = text
        if self.tags is not None:
            tags = self.tag_text(cells[self.tags])
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
        e164 = preferred.e164
        others = [n for n in e164s if n != e164] if len(e164s) > 1 else []
        return tuple.__new__(RowRecord, (
            row_number, e164, preferred.kind, others, values, custom, warnings, refused, notes,
            (e164, preferred.kind, json.dumps(others) if others else "[]",
             _json_of_texts(notes) if notes else "{}",
             *map(values.get, _ROW_VALUES, _ROW_DEFAULTS),
             _json_of_columns(custom, self.custom_keys)),
        ))

    def postcode(self, text: str) -> str:
        found = self._postcodes.get(text)
        if found is None:  # a membership list repeats its postcodes, and tidying costs
            if len(self._postcodes) >= _CACHE_LIMIT:
                self._postcodes.clear()
            found = self._postcodes[text] = normalise_postcode(text)
        return found

    def tag_text(self, cell: str) -> str:
        found = self._tags.get(cell)
        if found is None:  # and its few combinations of tags
            if len(self._tags) >= _CACHE_LIMIT:
                self._tags.clear()
            found = self._tags[cell] = normalise_tags(cell)
        return found
