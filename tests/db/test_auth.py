"""Accounts against a real database (SQLite and PostgreSQL): sign-in throttling, invites,
resets, team."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core import auth, login_throttle
from core.accounts import AccountError, change_password, verify_password
from core.audit import AUDITED_ACTIONS
from core.config import PROJECT_ROOT
from db.engine import Database
from db.models import (
    AuditEvent,
    CampaignMember,
    Invite,
    LoginSession,
    LoginThrottle,
    PasswordReset,
    User,
)
from tests.factories import TEST_PASSWORD, make_campaign, make_user
from tests.racing import at_once, times

NEW_PASSWORD = "a brand new password"


def _user_row(database: Database, user_id: int) -> User:
    with database.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def _actions(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))


ATTACKER = "203.0.113.9"
ORGANISER_DESK = "198.51.100.7"


def _sign_in(database: Database, username: str, password: str = TEST_PASSWORD,
             address: str = ORGANISER_DESK, now: datetime | None = None) -> auth.LoginResult:
    return auth.sign_in_with_password(database=database, username=username, password=password,
                                      address=address, now=now)


def _count_failures(database: Database, username: str, addresses: list[str],
                    now: datetime | None = None) -> None:
    """Failed sign-ins recorded straight on the counters (no bcrypt: many are needed)."""
    with database.write() as session:
        for address in addresses:
            login_throttle.record_failure(session=session, username=username, address=address,
                                          now=now or datetime.now(UTC))


def _fail(database: Database, username: str, times: int, address: str = ATTACKER,
          now: datetime | None = None) -> auth.LoginResult:
    result = auth.LoginResult()
    for _ in range(times):
        result = _sign_in(database, username, "not the password", address, now)
    return result


# --- signing in ------------------------------------------------------------------------------


def test_the_right_password_signs_in_records_the_login_and_opens_a_session(
    database: Database,
) -> None:
    with database.write() as session:
        user = make_user(session)
    result = _sign_in(database, user.username.upper())
    assert result.ok and result.user is not None and result.user.id == user.id
    assert result.login_session_id is not None and len(result.handoff_code) >= 40
    assert _user_row(database, user.id).last_login_at is not None
    assert _actions(database)[-1] == "login"
    with database.session() as session:
        opened = session.get(LoginSession, result.login_session_id)
    assert opened is not None and opened.user_id == user.id and opened.ended_at is None
    assert result.handoff_code not in repr(result)


def test_a_real_username_and_an_unknown_one_get_the_same_answers_all_the_way(
    database: Database,
) -> None:
    """No "2 attempts left" for real users only, and the same block for both."""
    with database.write() as session:
        user = make_user(session)
    real = [_fail(database, user.username, 1) for _ in range(6)]
    unknown = [_fail(database, "no-such-person", 1) for _ in range(6)]
    assert [(r.reason, r.message) for r in real] == [(u.reason, u.message) for u in unknown]
    assert [r.message for r in real[:4]] == [auth.BAD_CREDENTIALS_MESSAGE] * 4
    assert "attempt" not in " ".join(r.message for r in real).replace("sign-ins", "")
    assert real[4].reason == "bad_credentials" and "Try again in 1 minute" in real[4].message
    assert real[5].reason == "throttled"


def test_five_wrong_passwords_from_one_address_do_not_lock_the_organiser_out_elsewhere(
    database: Database,
) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
    _fail(database, organiser.username, 5, address=ATTACKER)
    at_attacker = _sign_in(database, organiser.username, address=ATTACKER)
    assert not at_attacker.ok and at_attacker.reason == "throttled"
    assert _sign_in(database, organiser.username, address=ORGANISER_DESK).ok
    assert _actions(database).count("lockout") == 1


def test_a_block_doubles_with_each_further_failure_and_then_lapses(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    start = datetime.now(UTC)
    assert _fail(database, user.username, 5, now=start).retry_after == timedelta(minutes=1)
    assert _sign_in(database, user.username, address=ATTACKER,
                    now=start + timedelta(seconds=30)).reason == "throttled"
    later = start + timedelta(seconds=61)
    assert _fail(database, user.username, 1, now=later).retry_after == timedelta(minutes=2)
    assert _sign_in(database, user.username, address=ATTACKER,
                    now=later + timedelta(minutes=1)).reason == "throttled"
    assert _sign_in(database, user.username, address=ATTACKER,
                    now=later + timedelta(minutes=2, seconds=1)).ok


def test_a_guesser_spread_over_many_addresses_blocks_the_account_for_a_while_only(
    database: Database,
) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
    start = datetime.now(UTC)
    _count_failures(database, organiser.username, [f"192.0.2.{n}" for n in range(20)], start)
    refused = _sign_in(database, organiser.username, now=start + timedelta(minutes=1))
    assert refused.reason == "throttled" and refused.retry_after is not None
    assert refused.retry_after <= timedelta(minutes=5)
    assert _sign_in(database, organiser.username, now=start + timedelta(minutes=6)).ok


def test_one_address_trying_many_usernames_is_slowed(database: Database) -> None:
    start = datetime.now(UTC)
    with database.write() as session:
        for n in range(50):
            login_throttle.record_failure(session=session, username=f"guess{n}",
                                          address=ATTACKER, now=start)
    with database.write() as session:
        user = make_user(session)
    assert _sign_in(database, user.username, address=ATTACKER,
                    now=start).reason == "throttled"
    assert _sign_in(database, user.username, address=ORGANISER_DESK, now=start).ok


def test_a_successful_sign_in_clears_the_usernames_counters(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    _fail(database, user.username, 4)
    assert _sign_in(database, user.username, address=ATTACKER).ok
    assert _fail(database, user.username, 4).reason == "bad_credentials"
    assert _fail(database, user.username, 1).retry_after is not None


def test_a_block_holds_across_two_processes(database: Database, database_url: str) -> None:
    """Two app servers (here two processes) share the count: 3 + 2 failures block both."""
    with database.write() as session:
        user = make_user(session)
    database.dispose()
    script = (
        "import sys\n"
        "from core import auth\n"
        "from db.engine import Database\n"
        "db = Database.from_url(sys.argv[1])\n"
        "for password in sys.argv[3:]:\n"
        "    result = auth.sign_in_with_password(database=db, username=sys.argv[2],\n"
        f"        password=password, address={ATTACKER!r})\n"
        "    print(result.reason)\n"
    )

    def process(*passwords: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", script, database_url, user.username, *passwords],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90, check=True,
        )
        return done.stdout.split()

    assert process("wrong", "wrong", "wrong") == ["bad_credentials"] * 3
    assert process("wrong", "wrong", TEST_PASSWORD) == [
        "bad_credentials", "bad_credentials", "throttled"]


def test_failures_counted_at_once_by_several_servers_are_all_kept(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    # Each thread is one app server recording a wrong password at the same moment.
    now = datetime.now(UTC)
    at_once(lambda n: database.retrying(lambda session: login_throttle.record_failure(
        session=session, username=user.username, address=f"192.0.2.{n}", now=now)), times(8))
    with database.session() as session:
        team = {m.id: m for m in auth.list_team(session=session)}
    assert team[user.id].failed_logins == 8


def test_an_unknown_username_fails_without_recording_what_was_typed(database: Database) -> None:
    result = _sign_in(database, "my-secret-password", "whatever at all")
    assert result.reason == "bad_credentials"
    with database.session() as session:
        event = session.exec(select(AuditEvent)).one()
        counters = session.exec(select(LoginThrottle)).all()
    assert event.action == "login_failed"
    assert "my-secret-password" not in f"{event.target}{event.details}"
    assert counters and all("my-secret-password" not in repr(c) for c in counters)


def test_a_password_over_72_bytes_is_refused_without_a_crash(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    assert _sign_in(database, user.username, "é" * 40).reason == "bad_credentials"


def test_a_deactivated_user_cannot_log_in(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    with database.write() as session:
        auth.deactivate_user(session=session, user_id=user.id, actor_id=organiser.id)
    result = _sign_in(database, user.username)
    assert not result.ok and result.reason == "inactive"
    assert "deactivated" in result.message
    # Without the password, a deactivated account looks like any wrong password.
    guess = _sign_in(database, user.username, "guess")
    assert (guess.reason, guess.message) == ("bad_credentials", auth.BAD_CREDENTIALS_MESSAGE)
    # A password checked just before the deactivation does not slip through either.
    with database.write() as session:
        late = auth.complete_login(session=session, user_id=user.id)
    assert late.reason == "inactive"


def test_deactivating_a_user_ends_their_sessions(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    opened = _sign_in(database, user.username)
    with database.write() as session:
        auth.deactivate_user(session=session, user_id=user.id, actor_id=organiser.id)
    row = _user_row(database, user.id)
    assert row.session_epoch == user.session_epoch + 1 and not row.active
    with database.session() as session:
        assert session.get(LoginSession, opened.login_session_id).ended_at is not None  # type: ignore[union-attr]


def test_an_organiser_can_unlock_a_blocked_account(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    _count_failures(database, user.username, [f"192.0.2.{n}" for n in range(20)])
    assert _sign_in(database, user.username).reason == "throttled"
    with database.write() as session:
        auth.unlock_user(session=session, user_id=user.id, actor_id=organiser.id)
    assert _sign_in(database, user.username).ok


# --- invites -----------------------------------------------------------------------------------


def _invite(database: Database, **kwargs: object) -> auth.NewInvite:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        return auth.create_invite(session=session, actor_id=organiser.id, **kwargs)  # type: ignore[arg-type]


def _register(database: Database, token: str, n: int, **overrides: str) -> object:
    fields = {"name": f"Vol {n}", "email": f"vol{n}@example.org", "username": f"vol{n}",
              "password": TEST_PASSWORD}
    fields.update(overrides)
    with database.write() as session:
        return auth.register_with_invite(session=session, token=token, **fields)


def test_an_invite_stores_only_the_hash_of_its_token(database: Database) -> None:
    new = _invite(database)
    with database.session() as session:
        invite = session.exec(select(Invite)).one()
    assert invite.token_hash == auth.hash_token(new.token) and new.token not in invite.token_hash
    assert auth.invite_link(new.token, "https://calls.example.org/") == (
        f"https://calls.example.org/join?invite={new.token}"
    )
    assert auth.invite_link(new.token) == f"/join?invite={new.token}"


def test_registering_with_an_invite_makes_a_volunteer_in_its_campaign(database: Database) -> None:
    with database.write() as session:
        campaign_id = make_campaign(session).id
    new = _invite(database, campaign_id=campaign_id, max_uses=3)
    user = _register(database, new.token, 1, phone="07400 123456")
    assert isinstance(user, auth.UserView)
    assert user.role == "volunteer" and user.phone == "+447400123456"
    with database.session() as session:
        members = session.exec(select(CampaignMember)).all()
        invite = session.exec(select(Invite)).one()
        stored = session.get(User, user.id)
    assert [(m.campaign_id, m.user_id) for m in members] == [(campaign_id, user.id)]
    assert invite.uses == 1
    assert stored is not None and stored.password_hash.startswith("$2b$")


def test_an_expired_invite_is_refused_with_a_message(database: Database) -> None:
    new = _invite(database, expires_in_hours=1, now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(auth.InviteInvalid, match="expired"):
        _register(database, new.token, 2)
    with database.session() as session, pytest.raises(auth.InviteInvalid, match="expired"):
        auth.check_invite(session=session, token=new.token)


def test_a_used_up_invite_is_refused_with_a_message(database: Database) -> None:
    new = _invite(database, max_uses=1)
    _register(database, new.token, 3)
    with pytest.raises(auth.InviteInvalid, match="used as many times"):
        _register(database, new.token, 4)


def test_a_revoked_or_unknown_invite_is_refused(database: Database) -> None:
    new = _invite(database)
    with database.write() as session:
        auth.revoke_invite(session=session, invite_id=new.invite.id, actor_id=None)
    with pytest.raises(auth.InviteInvalid, match="withdrawn"):
        _register(database, new.token, 5)
    with pytest.raises(auth.InviteInvalid, match="not valid"):
        _register(database, "made-up-token", 6)


def test_a_refused_registration_leaves_the_invite_unused(database: Database) -> None:
    new = _invite(database, max_uses=1)
    with pytest.raises(AccountError, match="phone number"):
        _register(database, new.token, 7, phone="12345")
    with pytest.raises(AccountError, match="too long"):
        _register(database, new.token, 8, password="x" * 73)
    user = _register(database, new.token, 9)
    assert isinstance(user, auth.UserView)


def test_two_volunteers_racing_for_the_last_place_on_an_invite_get_one_account(
    database: Database,
) -> None:
    new = _invite(database, max_uses=1)

    def register(n: int) -> str:
        try:
            _register(database, new.token, 20 + n)
        except auth.InviteInvalid:
            return "refused"
        return "ok"

    outcomes = at_once(register, times(2))
    assert sorted(outcomes) == ["ok", "refused"]
    with database.session() as session:
        assert session.exec(select(Invite)).one().uses == 1


# --- password resets ---------------------------------------------------------------------------


def test_a_reset_link_works_once_ends_old_sessions_and_clears_a_lockout(
    database: Database,
) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    _fail(database, user.username, 5)
    with database.write() as session:
        reset = auth.create_password_reset(session=session, user_id=user.id,
                                           actor_id=organiser.id)
    assert timedelta(hours=23) < reset.expires_at - datetime.now(UTC) <= timedelta(hours=24)
    with database.session() as session:
        assert auth.check_password_reset(session=session, token=reset.token).id == user.id
        stored = session.exec(select(PasswordReset)).one()
    assert stored.token_hash == auth.hash_token(reset.token)
    with database.write() as session:
        after = auth.use_password_reset(session=session, token=reset.token,
                                        new_password=NEW_PASSWORD)
    assert after.session_epoch == user.session_epoch + 1
    row = _user_row(database, user.id)
    assert verify_password(NEW_PASSWORD, row.password_hash)
    assert row.password_hash.startswith("$2b$")
    assert _sign_in(database, user.username, NEW_PASSWORD, address=ATTACKER).ok  # unblocked
    with database.write() as session, pytest.raises(auth.ResetInvalid, match="already been used"):
        auth.use_password_reset(session=session, token=reset.token, new_password=NEW_PASSWORD)


def test_an_expired_reset_link_is_refused(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
        reset = auth.create_password_reset(
            session=session, user_id=user.id, actor_id=None,
            now=datetime.now(UTC) - timedelta(hours=25),
        )
    with database.write() as session, pytest.raises(auth.ResetInvalid, match="expired"):
        auth.use_password_reset(session=session, token=reset.token, new_password=NEW_PASSWORD)


def test_a_bad_new_password_keeps_the_reset_link_usable(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
        reset = auth.create_password_reset(session=session, user_id=user.id, actor_id=None)
    with pytest.raises(AccountError, match="too long"), database.write() as session:
        auth.use_password_reset(session=session, token=reset.token, new_password="é" * 40)
    with database.session() as session:
        assert auth.check_password_reset(session=session, token=reset.token).id == user.id


def test_a_new_reset_link_kills_the_older_one(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
        first = auth.create_password_reset(session=session, user_id=user.id, actor_id=None)
    with database.write() as session:
        auth.create_password_reset(session=session, user_id=user.id, actor_id=None)
    with database.session() as session, pytest.raises(auth.ResetInvalid, match="expired"):
        auth.check_password_reset(session=session, token=first.token)


def test_changing_ones_own_password_needs_the_current_one(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    with database.write() as session, pytest.raises(AccountError, match="current password"):
        change_password(session=session, user_id=user.id, current_password="wrong one!",
                        new_password=NEW_PASSWORD)
    with database.write() as session:
        after = change_password(session=session, user_id=user.id,
                                current_password=TEST_PASSWORD, new_password=NEW_PASSWORD)
    assert after.session_epoch == user.session_epoch + 1
    assert verify_password(NEW_PASSWORD, _user_row(database, user.id).password_hash)


# --- the team ----------------------------------------------------------------------------------


def test_the_last_active_organiser_cannot_be_demoted_or_deactivated(database: Database) -> None:
    with database.write() as session:
        first = make_user(session, role="organiser")
        second = make_user(session, role="organiser")
    with database.write() as session:
        auth.demote_user(session=session, user_id=second.id, actor_id=first.id)
    with database.write() as session, pytest.raises(auth.TeamActionRefused, match="last active"):
        auth.demote_user(session=session, user_id=first.id, actor_id=second.id)
    with database.write() as session, pytest.raises(auth.TeamActionRefused, match="last active"):
        auth.deactivate_user(session=session, user_id=first.id, actor_id=second.id)
    assert _user_row(database, first.id).role == "organiser"


def test_an_organiser_cannot_deactivate_themself(database: Database) -> None:
    with database.write() as session:
        first = make_user(session, role="organiser")
        make_user(session, role="organiser")
    with database.write() as session, pytest.raises(auth.TeamActionRefused, match="your own"):
        auth.deactivate_user(session=session, user_id=first.id, actor_id=first.id)


def test_the_team_list_shows_roles_locks_and_last_logins(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    _fail(database, user.username, 5)
    with database.session() as session:
        team = {member.id: member for member in auth.list_team(session=session)}
    assert team[user.id].failed_logins == 5
    assert team[user.id].locked and team[user.id].role == "volunteer"
    assert team[organiser.id].role == "organiser" and not team[organiser.id].locked
    assert "password_hash" not in auth.TeamMember.__dataclass_fields__


def test_the_audit_log_records_each_account_event(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    _sign_in(database, organiser.username)
    _fail(database, user.username, 5)
    with database.write() as session:
        auth.unlock_user(session=session, user_id=user.id, actor_id=organiser.id)
        auth.promote_user(session=session, user_id=user.id, actor_id=organiser.id)
        auth.demote_user(session=session, user_id=user.id, actor_id=organiser.id)
        auth.deactivate_user(session=session, user_id=user.id, actor_id=organiser.id)
        auth.reactivate_user(session=session, user_id=user.id, actor_id=organiser.id)
        reset = auth.create_password_reset(session=session, user_id=user.id,
                                           actor_id=organiser.id)
    with database.write() as session:
        auth.use_password_reset(session=session, token=reset.token, new_password=NEW_PASSWORD)
        invite = auth.create_invite(session=session, actor_id=organiser.id)
    _register(database, invite.token, 30)
    with database.write() as session:
        auth.sign_out(session=session, user_id=organiser.id, login_session_id=None)
    expected = {
        "login", "login_failed", "lockout", "unlock", "role_change", "user_deactivated",
        "user_reactivated", "password_reset_created", "password_reset_used", "invite_created",
        "invite_used", "logout",
    }
    assert expected <= set(AUDITED_ACTIONS)
    actions = _actions(database)
    assert expected <= set(actions)
    assert actions.count("role_change") == 2
    with database.session() as session:
        details = " ".join(f"{e.target} {e.details}" for e in session.exec(select(AuditEvent)))
        hashes = [u.password_hash for u in session.exec(select(User))]
    assert TEST_PASSWORD not in details and NEW_PASSWORD not in details
    assert not any(h in details for h in hashes) and reset.token not in details
