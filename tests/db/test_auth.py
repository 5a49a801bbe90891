"""Accounts against a real database (SQLite and PostgreSQL): lockout, invites, resets, team."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core import auth
from core.accounts import AccountError, change_password, verify_password
from core.audit import AUDITED_ACTIONS
from core.config import PROJECT_ROOT
from db.engine import Database
from db.models import AuditEvent, CampaignMember, Invite, PasswordReset, User
from tests.factories import TEST_PASSWORD, make_campaign, make_user

NEW_PASSWORD = "a brand new password"


def _user_row(database: Database, user_id: int) -> User:
    with database.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def _actions(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))


def _fail(database: Database, username: str, times: int) -> auth.LoginResult:
    result = auth.LoginResult()
    for _ in range(times):
        with database.write() as session:
            result = auth.check_login(session=session, username=username,
                                      password="not the password")
    return result


# --- signing in ------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_records_the_login(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    with database.write() as session:
        result = auth.check_login(session=session, username=user.username.upper(),
                                  password=TEST_PASSWORD)
    assert result.ok and result.user is not None and result.user.id == user.id
    assert _user_row(database, user.id).last_login_at is not None
    assert _actions(database)[-1] == "login"


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    database: Database,
) -> None:
    with database.write() as session:
        user = make_user(session)
    fourth = _fail(database, user.username, 4)
    assert fourth.reason == "bad_credentials" and "1 attempt left" in fourth.message
    fifth = _fail(database, user.username, 1)
    assert fifth.reason == "now_locked"
    assert "locked" in fifth.message and "organiser" in fifth.message
    with database.write() as session:
        result = auth.check_login(session=session, username=user.username,
                                  password=TEST_PASSWORD)
    assert not result.ok and result.reason == "locked"
    row = _user_row(database, user.id)
    assert row.failed_logins == 5 and row.locked_at is not None
    assert _actions(database).count("lockout") == 1


def test_a_successful_login_resets_the_failure_count(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    _fail(database, user.username, 4)
    with database.write() as session:
        assert auth.check_login(session=session, username=user.username,
                                password=TEST_PASSWORD).ok
    assert _user_row(database, user.id).failed_logins == 0
    assert _fail(database, user.username, 4).reason == "bad_credentials"


def test_lockout_persists_across_a_new_process(database: Database, database_url: str) -> None:
    with database.write() as session:
        user = make_user(session)
    _fail(database, user.username, 5)
    database.dispose()
    script = (
        "import sys\n"
        "from core import auth\n"
        "from db.engine import Database\n"
        "db = Database.from_url(sys.argv[1])\n"
        "with db.write() as session:\n"
        "    result = auth.check_login(session=session, username=sys.argv[2],\n"
        f"                              password={TEST_PASSWORD!r})\n"
        "print(result.reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, database_url, user.username],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    assert done.stdout.strip() == "locked"


def test_failures_counted_at_once_by_several_servers_are_all_kept(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    # Each thread is one app server recording a wrong password at the same moment.
    start = threading.Barrier(8)

    def fail_once() -> None:
        start.wait()
        database.retrying(lambda session: auth.record_failed_login(
            session=session, username=user.username, lockout_attempts=5))

    threads = [threading.Thread(target=fail_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = _user_row(database, user.id)
    assert row.failed_logins == 8 and row.locked_at is not None
    assert _actions(database).count("lockout") == 1


def test_an_unknown_username_fails_without_recording_what_was_typed(database: Database) -> None:
    with database.write() as session:
        result = auth.check_login(session=session, username="my-secret-password",
                                  password="whatever at all")
    assert result.reason == "bad_credentials"
    with database.session() as session:
        event = session.exec(select(AuditEvent)).one()
    assert event.action == "login_failed"
    assert "my-secret-password" not in f"{event.target}{event.details}"


def test_a_password_over_72_bytes_is_refused_without_a_crash(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    with database.write() as session:
        result = auth.check_login(session=session, username=user.username, password="é" * 40)
    assert result.reason == "bad_credentials"


def test_a_deactivated_user_cannot_log_in(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    with database.write() as session:
        auth.deactivate_user(session=session, user_id=user.id, actor_id=organiser.id)
    with database.write() as session:
        result = auth.check_login(session=session, username=user.username,
                                  password=TEST_PASSWORD)
    assert not result.ok and result.reason == "inactive"
    assert "deactivated" in result.message
    # Without the password, a deactivated account looks like any wrong password.
    with database.write() as session:
        guess = auth.check_login(session=session, username=user.username, password="guess")
    assert (guess.reason, guess.message) == ("bad_credentials", auth.BAD_CREDENTIALS_MESSAGE)
    # A password checked just before the deactivation does not slip through either.
    with database.write() as session:
        late = auth.complete_login(session=session, user_id=user.id)
    assert late.reason == "inactive"


def test_deactivating_a_user_ends_their_sessions(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    with database.write() as session:
        auth.deactivate_user(session=session, user_id=user.id, actor_id=organiser.id)
    row = _user_row(database, user.id)
    assert row.session_epoch == user.session_epoch + 1 and not row.active


def test_a_login_cookie_signed_before_sign_out_everywhere_is_refused(database: Database) -> None:
    with database.write() as session:
        user = make_user(session)
    signed = datetime.now(UTC) - timedelta(minutes=5)
    with database.write() as session:
        assert auth.complete_login(session=session, user_id=user.id, method="cookie",
                                   cookie_issued_at=signed).ok
    with database.write() as session:
        ended = auth.end_sessions(session=session, user_id=user.id)
    assert ended.session_epoch == user.session_epoch + 1
    with database.write() as session:
        refused = auth.complete_login(session=session, user_id=user.id, method="cookie",
                                      cookie_issued_at=signed)
        fresh = auth.complete_login(session=session, user_id=user.id, method="cookie",
                                    cookie_issued_at=datetime.now(UTC) + timedelta(seconds=1))
    assert refused.reason == "cookie_revoked" and fresh.ok


def test_an_organiser_can_unlock_a_locked_account(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    _fail(database, user.username, 5)
    with database.write() as session:
        auth.unlock_user(session=session, user_id=user.id, actor_id=organiser.id)
    with database.write() as session:
        assert auth.check_login(session=session, username=user.username,
                                password=TEST_PASSWORD).ok


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
    outcomes: list[str] = []

    def register(n: int) -> None:
        try:
            _register(database, new.token, 20 + n)
            outcomes.append("ok")
        except auth.InviteInvalid:
            outcomes.append("refused")

    threads = [threading.Thread(target=register, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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
    assert verify_password(NEW_PASSWORD, row.password_hash) and row.locked_at is None
    assert row.password_hash.startswith("$2b$")
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
    assert team[user.id].locked and team[user.id].role == "volunteer"
    assert team[organiser.id].role == "organiser" and not team[organiser.id].locked
    assert "password_hash" not in auth.TeamMember.__dataclass_fields__


def test_the_audit_log_records_each_account_event(database: Database) -> None:
    with database.write() as session:
        organiser = make_user(session, role="organiser")
        user = make_user(session)
    with database.write() as session:
        auth.check_login(session=session, username=organiser.username, password=TEST_PASSWORD)
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
        auth.record_logout(session=session, user_id=organiser.id)
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
