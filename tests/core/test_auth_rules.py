"""Password and token rules that need no database."""

from __future__ import annotations

import re

import pytest

from core import auth
from core.accounts import AccountError, check_password_rules, hash_password, verify_password


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("x" * 73, "too long: at most 72 bytes"),
        # 40 characters, but 80 bytes in UTF-8: the limit is bcrypt's, in bytes.
        ("é" * 40, "too long: at most 72 bytes"),
    ],
)
def test_passwords_bcrypt_cannot_take_are_refused_with_a_clear_message(
    password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        check_password_rules(password)


def test_a_72_byte_password_is_accepted_and_checked_whole() -> None:
    password = "x" * 71 + "y"
    stored = hash_password(password)
    assert re.fullmatch(r"\$2b\$12\$[./A-Za-z0-9]{53}", stored)
    assert verify_password(password, stored)
    assert not verify_password("x" * 72, stored)


def test_checking_an_over_long_password_is_a_plain_no_not_a_crash() -> None:
    stored = hash_password("a fine password")
    assert verify_password("é" * 40, stored) is False
    assert verify_password("a fine password", "not a hash") is False


def test_tokens_are_long_random_and_stored_as_sha256() -> None:
    first, second = auth.new_token(), auth.new_token()
    assert first != second and len(first) >= 43
    assert re.fullmatch(r"[0-9a-f]{64}", auth.hash_token(first))
    assert auth.hash_token(first) == auth.hash_token(first) != auth.hash_token(second)


def test_links_use_the_public_url_when_there_is_one() -> None:
    assert auth.invite_link("T") == "/join?invite=T"
    assert auth.invite_link("T", "https://calls.example.org/") == (
        "https://calls.example.org/join?invite=T"
    )
    assert auth.reset_link("R", "https://calls.example.org") == (
        "https://calls.example.org/reset?token=R"
    )


def test_a_login_candidate_never_shows_its_hash_when_printed() -> None:
    candidate = auth.LoginCandidate(id=1, username="asha", name="Asha", email="a@example.org",
                                    role="organiser", active=True, locked=False,
                                    password_hash="$2b$12$secret")
    assert "$2b$" not in repr(candidate)
