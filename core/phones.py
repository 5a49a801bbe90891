"""Phone numbers: parse anything a spreadsheet holds, store E.164, never log the raw number."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

MOBILE_TYPES = {PhoneNumberType.MOBILE}
LANDLINE_TYPES = {PhoneNumberType.FIXED_LINE}
# "+44 (0)20 ..." is how many UK lists write it; the (0) must go before parsing.
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")


class InvalidPhone(ValueError):
    """The text is not a valid, diallable phone number; str() says why, without the number."""


@dataclass(frozen=True)
class Phone:
    e164: str
    kind: str  # "mobile" | "landline" | "other"


def normalise_phone(raw: str, *, region: str = "GB") -> Phone:
    """Parse a number as written in a file into E.164 and its kind.

    Raises:
        InvalidPhone: empty, unparseable, or not a valid number for its country.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("no phone number")
    text = _TRUNK_ZERO.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number")
    number_type = phonenumbers.number_type(number)
    if number_type in MOBILE_TYPES:
        kind = "mobile"
    elif number_type in LANDLINE_TYPES:
        kind = "landline"
    elif number_type == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        kind = "other"
    else:
        kind = "other"
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind)


def display_phone(e164: str) -> str:
    """Format for a person to read and dial: national format for UK numbers."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 44
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def mask_phone(e164: str) -> str:
    """What logs and audit details may show: the last three digits only."""
    return "•" * max(len(e164) - 3, 0) + e164[-3:]
