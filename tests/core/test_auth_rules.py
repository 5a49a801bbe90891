"""Password and token rules that need no database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core import auth, login_sessions, login_throttle, setup
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


@pytest.mark.parametrize(
    "failures, block",
    [(4, None), (5, 1), (6, 2), (7, 4), (10, 32), (11, 60), (40, 60)],
)
def test_a_usernames_block_from_one_address_doubles_from_a_minute_to_an_hour(
    failures: int, block: int | None
) -> None:
    pair = next(rule for rule in login_throttle.rules(5) if rule.scope == "pair")
    expected = timedelta(minutes=block) if block is not None else None
    assert pair.block_for(failures) == expected


def test_no_counter_ever_blocks_for_more_than_an_hour() -> None:
    assert all(rule.block_for(10_000) <= timedelta(hours=1)  # type: ignore[operator]
               for rule in login_throttle.rules(5))


@pytest.mark.parametrize(
    "remote, forwarded, expected",
    [
        (None, None, "local"),
        ("::ffff:127.0.0.1", None, "local"),
        ("::1", None, "local"),
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),  # Caddy or nginx on this machine
        ("127.0.0.1", "10.0.0.1, 203.0.113.9", "203.0.113.9"),  # only the proxy's own entry
        ("203.0.113.9", "127.0.0.1", "203.0.113.9"),  # a header from the internet is ignored
        ("::ffff:198.51.100.7", None, "198.51.100.7"),
    ],
)
def test_failures_are_counted_against_the_real_client_address(
    remote: str | None, forwarded: str | None, expected: str
) -> None:
    assert login_throttle.client_address(remote, forwarded) == expected


@pytest.mark.parametrize(
    "path, expected",
    [("/import", "/import"), ("/", "/"), ("", "/"), (None, "/"), ("//evil.example", "/"),
     ("https://evil.example", "/"), ("/\\evil.example", "/"), ("import", "/")],
)
def test_after_signing_in_the_browser_only_goes_to_a_page_of_this_site(
    path: str | None, expected: str
) -> None:
    assert login_sessions.safe_next(path) == expected


@pytest.mark.parametrize(
    "address, host, needs",
    [("local", "localhost", False), ("local", "127.0.0.1", False), ("local", "[::1]", False),
     ("local", "calls.example.org", True), ("203.0.113.9", "localhost", True),
     ("203.0.113.9", "calls.example.org", True)],
)
def test_only_a_browser_on_the_server_itself_sets_up_without_the_code(
    address: str, host: str, needs: bool
) -> None:
    assert setup.setup_needs_code(address=address, host=host) is needs


def test_the_setup_code_comes_from_the_cookie_key_and_is_checked_loosely() -> None:
    code = setup.setup_code("k1" * 30)
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
    assert code != setup.setup_code("k2" * 30)
    setup.check_setup_code(given=f" {code.lower().replace('-', ' ')} ", cookie_key="k1" * 30)
    with pytest.raises(setup.SetupClosed, match="not right"):
        setup.check_setup_code(given="", cookie_key="k1" * 30)
