"""Phones: a fast path for the common UK formats, provably the same answer as normalise_phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from core.phones import InvalidPhone, Phone, normalise_phone

_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_SEPARATORS = str.maketrans("", "", " \t-.()")
# +44 / 0044 / 0, then a national significant number of 9 or 10 digits not starting with 0.
_UK_SHAPE = re.compile(r"(?:\+44|0044|0)([1-9]\d{8,9})")
_CACHE_LIMIT = 100_000


_Match = Callable[[str], "re.Match[str] | None"] | None  # a description's fullmatch
_TYPE_ORDER = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
               "uan", "voicemail")


def _guarded(desc: Any) -> str | None:
    """A description's pattern with its allowed lengths as a lookahead; None if it matches
    nothing (no pattern, or no lengths at all: a type with no numbers in this region)."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = [n for n in desc.possible_length if n > 0]
    if desc.possible_length and not lengths:
        return None
    guard = f"(?=(?:{'|'.join(f'.{{{n}}}' for n in lengths)})$)" if lengths else ""
    return f"{guard}(?:{desc.national_number_pattern})"


def _compile_desc(desc: Any) -> _Match:
    pattern = _guarded(desc)
    return re.compile(pattern).fullmatch if pattern is not None else None


class _Cc44Types:
    """phonenumbers.number_type for country code 44, with its own metadata precompiled.

    A line-by-line port of phonenumbers' number_type -> region_code_for_number ->
    _number_type_helper for the regions sharing +44 (GB, GG, IM, JE), minus the per-call
    pattern-cache lookups that make the original cost ~20 us a number.
    tests/core/test_importing_phones.py compares it with phonenumbers on every 4-digit prefix.
    """

    def __init__(self) -> None:
        # (leading digits, general, other, fixed line, mobile, same mobile and fixed patterns)
        self.regions: list[tuple[re.Pattern[str] | None, _Match, _Match, _Match, _Match,
                                 bool]] = []
        for region in COUNTRY_CODE_TO_REGION_CODE[44]:
            metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
            if metadata is None:
                continue
            leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
            self.regions.append((
                leading, _compile_desc(metadata.general_desc),
                self._any_of([getattr(metadata, name) for name in _TYPE_ORDER]),
                _compile_desc(metadata.fixed_line), _compile_desc(metadata.mobile),
                bool(metadata.same_mobile_and_fixed_line_pattern),
            ))

    @staticmethod
    def _any_of(descs: list[Any]) -> _Match:
        """One pattern matching exactly what any of the descriptions matches.

        The eight types checked before fixed line and mobile (premium rate ... voicemail) all
        come out as "other", so their order does not matter and one alternation can test them
        all; each alternative carries its description's allowed lengths as a lookahead.
        """
        parts = [p for p in map(_guarded, descs) if p is not None]
        return re.compile("|".join(f"(?:{p})" for p in parts)).fullmatch if parts else None

    @staticmethod
    def _type(nsn: str, general: _Match, other: _Match, fixed: _Match, mobile: _Match,
              same: bool) -> str:
        """'unknown', 'landline', 'mobile' or 'other' (any other known type)."""
        if general is None or general(nsn) is None:
            return "unknown"
        if other is not None and other(nsn) is not None:
            return "other"
        if fixed is not None and fixed(nsn) is not None:
            if same or (mobile is not None and mobile(nsn) is not None):
                return "other"  # FIXED_LINE_OR_MOBILE
            return "landline"
        if not same and mobile is not None and mobile(nsn) is not None:
            return "mobile"
        return "unknown"

    def kind(self, nsn: str) -> str:
        type_of = self._type
        for leading, general, other, fixed, mobile, same in self.regions:
            if leading is not None:
                if leading.match(nsn):
                    return type_of(nsn, general, other, fixed, mobile, same)
            else:
                kind = type_of(nsn, general, other, fixed, mobile, same)
                if kind != "unknown":
                    return kind
        return "unknown"  # no region: phonenumbers finds no metadata, so UNKNOWN


_cc44: _Cc44Types | None = None


def _cc44_types() -> _Cc44Types:
    global _cc44
    if _cc44 is None:
        _cc44 = _Cc44Types()
    return _cc44


class PhoneNormaliser:
    """normalise_phone, many times faster on the shapes UK membership lists hold.

    phonenumbers.parse and number_type are nearly all of normalise_phone's cost (~40 us).
    For text that is plainly "+44", "0044" or "0" followed by a 9-10 digit national number,
    parse always yields country code 44 and that national number, so we skip parsing and
    classify the national number with _Cc44Types; for country code 44 a number is valid
    exactly when its type is known. Anything else goes through normalise_phone unchanged.
    tests/core/test_importing_phones.py checks both paths agree on every 4-digit prefix and
    thousands of numbers written in every format.
    """

    def __init__(self, region: str = "GB"):
        self.region = region
        self._types = _cc44_types() if region == "GB" else None
        self._cache: dict[str, Phone | None] = {}  # national number: its Phone, None if invalid
        # Text the fast path cannot read: normalise_phone's answer, a Phone or why it is not
        # one. A file repeats its placeholders ("0000 000000", "0") in thousands of rows, and
        # reading a cell's words tries the same runs of digits ("0000") again and again, each
        # costing phonenumbers 20-50 us.
        self._slow_cache: dict[str, Phone | str] = {}
        self.fast = 0
        self.slow = 0

    def common(self, raw: str) -> Phone | None:
        """The number, if the text is plainly a UK number ("07400 123456", "+44 (0)1270 ...");
        None if it is not of that shape (then only __call__ can tell).

        Raises InvalidPhone: of that shape, but not a valid number.
        """
        if self._types is None:
            return None
        text = raw.strip()
        if "(" in text:
            text = _TRUNK_ZERO.sub("", text)
        match = _UK_SHAPE.fullmatch(text.translate(_SEPARATORS))
        if match is None:
            return None
        nsn = match.group(1)
        if nsn in self._cache:
            found = self._cache[nsn]
        else:
            kind = self._types.kind(nsn)
            found = None if kind == "unknown" else Phone("+44" + nsn, kind)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[nsn] = found
        self.fast += 1
        if found is None:
            raise InvalidPhone("not a valid phone number")
        return found

    def __call__(self, raw: str) -> Phone:
        """Raises InvalidPhone, like normalise_phone."""
        found = self.common(raw)
        if found is not None:
            return found
        text = raw.strip()
        if not any(map(str.isdigit, text)):  # "n/a", "tbc": phonenumbers finds no number
            raise InvalidPhone("not a phone number" if text else "no phone number")
        self.slow += 1
        answer = self._slow_cache.get(text)
        if answer is None:
            try:
                answer = normalise_phone(text, region=self.region)
            except InvalidPhone as exc:
                answer = str(exc)
            if len(self._slow_cache) >= _CACHE_LIMIT:
                self._slow_cache.clear()
            self._slow_cache[text] = answer
        if isinstance(answer, str):
            raise InvalidPhone(answer)
        return answer
