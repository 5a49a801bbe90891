"""The import's fast phone path gives exactly normalise_phone's answer, in every format."""

from __future__ import annotations

import random

import pytest

from core.importing import PhoneNormaliser
from core.phones import InvalidPhone, normalise_phone

FORMATS = [
    "0{nsn}",
    "+44{nsn}",
    "0044{nsn}",
    "+44 (0){nsn}",
    "+44(0) {a} {b}",
    "0{a} {b}",
    "0{a}-{b}",
    "0{a}.{b}",
    "(0{a}) {b}",
    "+44 {a} {b}",
    "00 44 {a} {b}",
    " 0{a}  {b} ",
    "44{nsn}",
    "{nsn}",
    "tel: 0{nsn}",
    "0{nsn} ext 12",
    "+1 {a}{b}",
    "+353 {a}{b}",
    "0{a}/{b}",
]
PREFIXES = ["1", "11", "12", "13", "15", "16", "19", "2", "20", "28", "29", "3", "30", "33",
            "5", "55", "56", "7", "70", "71", "74", "75", "76", "77", "7700", "78", "79", "8",
            "80", "84", "87", "9", "90", "91", "0", "4", "6"]


def outcome(fn, text: str) -> tuple[str, str] | str:
    try:
        phone = fn(text)
    except InvalidPhone as exc:
        return f"invalid: {exc}"
    return (phone.e164, phone.kind)


def sample_numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        prefix = rng.choice(PREFIXES)
        length = rng.choice([8, 9, 10, 10, 10, 11])
        nsn = (prefix + "".join(rng.choice("0123456789") for _ in range(12)))[:length]
        split = rng.randint(1, max(len(nsn) - 1, 1))
        texts.append(rng.choice(FORMATS).format(nsn=nsn, a=nsn[:split], b=nsn[split:]))
    return texts


@pytest.mark.parametrize("seed", [1, 2])
def test_the_fast_path_agrees_with_phonenumbers_on_thousands_of_numbers(seed: int) -> None:
    fast = PhoneNormaliser("GB")
    texts = sample_numbers(2500, seed) + ["07700 900123", "07700900999", "+447700900000"]
    disagreements = [
        (t, outcome(fast, t), outcome(lambda x: normalise_phone(x, region="GB"), t))
        for t in texts
        if outcome(fast, t) != outcome(lambda x: normalise_phone(x, region="GB"), t)
    ]
    assert disagreements == []
    # The sample really exercised both paths, with valid and invalid numbers on each.
    assert fast.fast > len(texts) // 3 and fast.slow > len(texts) // 3
    valid = sum(1 for t in texts if isinstance(outcome(fast, t), tuple))
    assert len(texts) // 5 < valid < len(texts) * 4 // 5


def test_the_fast_path_agrees_with_phonenumbers_on_every_four_digit_prefix() -> None:
    rng = random.Random(44)
    fast = PhoneNormaliser("GB")
    disagreements = []
    for prefix in range(1000, 10000):
        for length in (9, 10):
            nsn = str(prefix) + "".join(rng.choice("0123456789") for _ in range(length - 4))
            text = "0" + nsn
            slow = outcome(lambda x: normalise_phone(x, region="GB"), text)
            if outcome(fast, text) != slow:
                disagreements.append((text, outcome(fast, text), slow))
    assert disagreements == []
    assert fast.slow == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07400 123456", ("+447400123456", "mobile")),
        ("+447400123456", ("+447400123456", "mobile")),
        ("0044 7400 123456", ("+447400123456", "mobile")),
        ("+44 (0)7400 123456", ("+447400123456", "mobile")),
        ("07400-123-456", ("+447400123456", "mobile")),
        ("07400.123.456", ("+447400123456", "mobile")),
        ("(07400) 123456", ("+447400123456", "mobile")),
        ("01270 212345", ("+441270212345", "landline")),
        ("020 7946 0018", ("+442079460018", "landline")),
        ("07700 900123", "invalid: not a valid phone number"),
        ("0800 11 11", ("+448001111", "other")),
        ("hello", "invalid: not a phone number"),
    ],
)
def test_uk_formats_normalise_to_e164(text: str, expected: object) -> None:
    assert outcome(PhoneNormaliser("GB"), text) == expected


def test_a_cached_number_gives_the_same_answer_again() -> None:
    fast = PhoneNormaliser("GB")
    assert outcome(fast, "07400123456") == outcome(fast, "+44 7400 123456")
    assert outcome(fast, "07700900123") == outcome(fast, "07700 900 123")


@pytest.mark.parametrize("text", [
    "0000 000000", "0", "+1 202 555 0143", "tel: 07400 123456", "0800 11 11 ext 2",
    "+353 85 123 4567", "07400 123456 (after 6pm)", "4.474E+11",
])
def test_text_off_the_fast_path_gives_phonenumbers_answer_every_time_it_is_asked(
        text: str) -> None:
    """The slow path remembers its answers (a file repeats its placeholders thousands of
    times): asked again, or with other spaces around it, it answers exactly as before."""
    fast = PhoneNormaliser("GB")
    slow = outcome(lambda x: normalise_phone(x, region="GB"), text)
    assert [outcome(fast, t) for t in (text, text, f" {text} ")] == [slow] * 3
    assert fast.slow == 3


def test_the_fast_path_agrees_with_phonenumbers_on_a_membership_lists_numbers() -> None:
    """20,000 numbers as membership exports hold them: every UK mobile and landline block a
    list is likely to have (2-5 digit area codes, 07 mobiles), in the common formats."""
    rng = random.Random(14)
    starts = ["7" + f"{n:03d}" for n in range(1000)] + [f"1{n:03d}" for n in range(1000)] + [
        f"2{n:02d}" for n in range(100)] + [f"3{n:02d}" for n in range(100)] + [
        f"8{n:02d}" for n in range(100)]
    shapes = ["0{nsn}", "+44{nsn}", "0044 {a} {b}", "+44 (0){a} {b}", "0{a}-{b}", "(0{a}) {b}",
              "0{a}.{b}", "+44 {a} {b}"]
    fast = PhoneNormaliser("GB")
    texts = []
    for _ in range(20_000):
        start = rng.choice(starts)
        nsn = (start + "".join(rng.choice("0123456789") for _ in range(10)))[:rng.choice(
            [9, 10, 10, 10])]
        split = rng.randint(2, 5)
        texts.append(rng.choice(shapes).format(nsn=nsn, a=nsn[:split], b=nsn[split:]))
    disagreements = [
        (t, outcome(fast, t), outcome(lambda x: normalise_phone(x, region="GB"), t))
        for t in texts
        if outcome(fast, t) != outcome(lambda x: normalise_phone(x, region="GB"), t)
    ]
    assert disagreements == []
    assert fast.fast == len(texts) and fast.slow == 0  # every one of them took the fast path
    assert {outcome(fast, t)[1] for t in texts if isinstance(outcome(fast, t), tuple)} >= {
        "mobile", "landline", "other"}
