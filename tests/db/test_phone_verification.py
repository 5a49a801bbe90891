"""A volunteer confirms their phone with a texted code: hashed, 10 minutes, 5 guesses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.phone_verification import (
    CODE_TTL,
    MAX_ATTEMPTS,
    MAX_CODES_PER_HOUR,
    PhoneVerificationError,
    confirm_phone_code,
    remove_phone,
    start_phone_verification,
)
from core.users import get_user
from db.engine import Database
from db.models import AuditEvent, PhoneVerification
from tests.factories import make_user

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def start(database: Database, user_id: int, code: str = "123456", phone: str = "07400 100001",
          now: datetime = NOW):
    with database.write() as session:
        return start_phone_verification(session=session, user_id=user_id, raw_phone=phone,
                                        now=now, code_factory=lambda: code)


def confirm(database: Database, user_id: int, code: str, now: datetime = NOW):
    with database.write() as session:
        return confirm_phone_code(session=session, user_id=user_id, code=code, now=now)


@pytest.fixture
def volunteer_id(database: Database) -> int:
    with database.write() as session:
        return make_user(session).id


def test_the_right_code_makes_the_phone_the_volunteers_and_verified(
    database: Database, volunteer_id: int
) -> None:
    pending = start(database, volunteer_id)
    assert pending.phone == "+447400100001" and "123456" in pending.message()
    result = confirm(database, volunteer_id, " 123456 ", now=NOW + timedelta(minutes=9))
    assert result.verified and result.phone == "+447400100001"
    with database.session() as session:
        user = get_user(session=session, user_id=volunteer_id)
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "phone_verified")).one()
    assert user is not None and (user.phone, user.phone_verified) == ("+447400100001", True)
    assert "+447400100001" not in str(audit.details)  # masked in the audit trail


def test_only_a_hash_of_the_code_is_stored(database: Database, volunteer_id: int) -> None:
    start(database, volunteer_id, code="654321")
    with database.session() as session:
        row = session.exec(select(PhoneVerification)).one()
    assert "654321" not in row.code_hash and len(row.code_hash) == 64


def test_a_wrong_code_counts_an_attempt_and_leaves_the_phone_unverified(
    database: Database, volunteer_id: int
) -> None:
    start(database, volunteer_id)
    result = confirm(database, volunteer_id, "000000")
    assert not result.verified and result.attempts_left == MAX_ATTEMPTS - 1
    assert "4 tries left" in result.message
    with database.session() as session:
        assert session.exec(select(PhoneVerification.attempts)).one() == 1
        user = get_user(session=session, user_id=volunteer_id)
    assert user is not None and not user.phone_verified and user.phone is None


def test_after_five_wrong_guesses_even_the_right_code_is_refused(
    database: Database, volunteer_id: int
) -> None:
    start(database, volunteer_id)
    for _ in range(MAX_ATTEMPTS):
        assert not confirm(database, volunteer_id, "999999").verified
    result = confirm(database, volunteer_id, "123456")
    assert not result.verified and "new code" in result.message


def test_an_expired_code_is_refused(database: Database, volunteer_id: int) -> None:
    start(database, volunteer_id)
    result = confirm(database, volunteer_id, "123456", now=NOW + CODE_TTL)
    assert not result.verified and "expired" in result.message


def test_a_new_code_replaces_the_old_one(database: Database, volunteer_id: int) -> None:
    start(database, volunteer_id, code="111111")
    start(database, volunteer_id, code="222222", now=NOW + timedelta(minutes=1))
    assert not confirm(database, volunteer_id, "111111", now=NOW + timedelta(minutes=2)).verified
    assert confirm(database, volunteer_id, "222222", now=NOW + timedelta(minutes=2)).verified


def test_without_a_pending_code_confirming_says_to_ask_for_one(
    database: Database, volunteer_id: int
) -> None:
    result = confirm(database, volunteer_id, "123456")
    assert not result.verified and "no code waiting" in result.message


def test_one_volunteers_code_does_not_verify_another(database: Database, volunteer_id: int) -> None:
    with database.write() as session:
        other = make_user(session).id
    start(database, volunteer_id, code="123456")
    assert not confirm(database, other, "123456").verified


def test_an_invalid_number_is_refused_in_words(database: Database, volunteer_id: int) -> None:
    with pytest.raises(PhoneVerificationError, match="not a valid phone number"):
        start(database, volunteer_id, phone="07700 900123")


def test_codes_are_rationed_per_hour(database: Database, volunteer_id: int) -> None:
    for minute in range(MAX_CODES_PER_HOUR):
        start(database, volunteer_id, now=NOW + timedelta(minutes=minute))
    with pytest.raises(PhoneVerificationError, match="Too many codes"):
        start(database, volunteer_id, now=NOW + timedelta(minutes=10))
    start(database, volunteer_id, now=NOW + timedelta(minutes=61))  # an hour on, allowed again


def test_removing_the_phone_unverifies_it(database: Database, volunteer_id: int) -> None:
    start(database, volunteer_id)
    confirm(database, volunteer_id, "123456")
    with database.write() as session:
        remove_phone(session=session, user_id=volunteer_id)
    with database.session() as session:
        user = get_user(session=session, user_id=volunteer_id)
    assert user is not None and (user.phone, user.phone_verified) == (None, False)
