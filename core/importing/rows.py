"""One row of a file to a contact record: phones, names, tags, flags."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from core.importing.fields import CUSTOM, FLAG_FIELDS, PHONE_FIELDS, TEXT_FIELDS
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
        tag = part.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return "," + ",".join(tags) + "," if tags else ""


def tag_list(wrapped: str) -> list[str]:
    return [t for t in wrapped.split(",") if t]


def normalise_postcode(text: str) -> str:
    compact = re.sub(r"\s+", " ", text.strip().upper())
    match = _POSTCODE.match(compact)
    return f"{match.group(1)} {match.group(2)}" if match else compact


class RowRecord(NamedTuple):  # a tuple: cheap to pickle back from a parsing process
    row_number: int
    phone: str
    phone_type: str
    other_phones: list[str]
    values: dict[str, Any]  # text fields, tags, flags present in the row
    custom: dict[str, str]
    custom_json: str = "{}"  # encoded by the parsing process, so the writer need not


class RowRejected(Exception):
    pass


class RowParser:
    """Turn one row's cells into a RowRecord under a checked mapping."""

    def __init__(self, headers: list[str], mapping: dict[str, str], normaliser: PhoneNormaliser):
        self.headers = headers
        self.width = len(headers)
        self.normalise = normaliser
        self.phones: list[tuple[int, str, str]] = []  # (index, header, field)
        self.texts: list[tuple[int, str]] = []
        self.flags: list[tuple[int, str, str]] = []
        self.customs: list[tuple[int, str]] = []
        self.tags: int | None = None
        self.full_name: int | None = None
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
        for index, header, _field in self.phones:
            raw = cells[index]
            if not raw.strip():
                continue
            try:
                phone = self.normalise(raw)
            except InvalidPhone as exc:
                raise RowRejected(f"{header}: {exc}") from None
            if all(phone.e164 != n.e164 for n in numbers):
                numbers.append(phone)
        if not numbers:
            raise RowRejected("no phone number")
        preferred = next((n for n in numbers if n.kind == "mobile"), numbers[0])
        values: dict[str, Any] = {}
        for index, field_name in self.texts:
            text = cells[index].strip()
            if field_name == "postcode":
                text = normalise_postcode(text)
            if text:
                values[field_name] = text
        if self.full_name is not None:
            first, _, last = cells[self.full_name].strip().rpartition(" ")
            if not first:
                first, last = last, ""
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
        custom = {header: cells[index].strip() for index, header in self.customs
                  if cells[index].strip()}
        return RowRecord(
            row_number=row_number,
            phone=preferred.e164,
            phone_type=preferred.kind,
            other_phones=[n.e164 for n in numbers if n.e164 != preferred.e164],
            values=values,
            custom=custom,
            custom_json=json.dumps(custom) if custom else "{}",
        )
