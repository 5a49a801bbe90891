"""Accounts through the real app (AppTest): sign in, lockout, roles, invites, resets, team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core import auth, login_throttle
from core.accounts import verify_password
from core.config import PROJECT_ROOT
from core.demo import DEMO_PASSWORD
from core.users import UserView
from db.engine import Database
from db.models import AuditEvent, CampaignMember, Invite, LoginSession, User
from pages._auth_widgets import REDIRECT_KEY
from tests.factories import TEST_PASSWORD, make_campaign, make_user
from tests.pages.conftest import create_invite

ORGANISER_PAGES = [
    "pages/dashboard.py", "pages/campaigns.py", "pages/contacts_import.py",
    "pages/targeting.py", "pages/contacts.py", "pages/exports.py", "pages/team.py",
    "pages/settings.py",
]


def _people(app_db: Database) -> tuple[UserView, UserView]:
    with app_db.write() as session:
        return make_user(session, role="organiser"), make_user(session)


def _page_hashes(at: AppTest) -> dict[str, str]:
    """Script path -> page hash of the pages this session's navigation registered."""
    return {
        str(info["script_path"]).removeprefix(str(PROJECT_ROOT) + "/"): page_hash
        for page_hash, info in at._registered_pages.items()
        if info.get("script_path")
    }


def _current_page(at: AppTest) -> str:
    info = at._registered_pages[at._finished_page_script_hash]
    return str(info["script_path"]).removeprefix(str(PROJECT_ROOT) + "/")


def _reload(at: AppTest) -> AppTest:
    """Open the app's root, as a browser reload after a sign-in or sign-out would.

    AppTest starts every run in Streamlit's legacy pages-directory mode (it resets
    PagesManager.uses_pages_directory, which app.py's st.navigation clears in a real server
    after the first run). In that mode a page whose url_path equals its file name (login,
    calling, team...) is run directly, without app.py: so a plain rerun after signing in runs
    the login page again. Running app.py itself gives what a real session sees.
    """
    at.switch_page("app.py")
    return at.run()


def _sign_in_with_form(at: AppTest, username: str, password: str) -> AppTest:
    fields = {field.label: field for field in at.text_input}
    fields["Username"].input(username)
    fields["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def _actions(app_db: Database) -> list[str]:
    with app_db.session() as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- signing in ------------------------------------------------------------------------------


def test_signing_in_on_the_login_page_opens_the_organisers_app(make_app, app_db) -> None:
    organiser, _ = _people(app_db)
    at = make_app()
    assert _current_page(at) == "pages/login.py"
    _sign_in_with_form(at, organiser.username, TEST_PASSWORD)
    assert not at.exception
    signed_in = at.session_state["auth_user"]
    assert (signed_in["id"], signed_in["epoch"]) == (organiser.id, 0)
    with app_db.session() as session:
        opened = session.get(LoginSession, signed_in["login_session"])
    assert opened is not None and opened.user_id == organiser.id
    _reload(at)
    assert "pages/team.py" in _page_hashes(at) and _current_page(at) == "pages/dashboard.py"
    assert _actions(app_db)[-1] == "login"
    with app_db.session() as session:
        stored_hash = session.get(User, organiser.id).password_hash  # type: ignore[union-attr]
    state = repr({key: at.session_state[key] for key in at.session_state})
    assert stored_hash not in state


def test_a_wrong_password_is_refused_and_counted(make_app, app_db) -> None:
    _, volunteer = _people(app_db)
    at = _sign_in_with_form(make_app(), volunteer.username, "not my password")
    assert "Wrong username or password" in _errors(at)
    assert "auth_user" not in at.session_state
    with app_db.session() as session:
        team = {member.id: member for member in auth.list_team(session=session)}
    assert team[volunteer.id].failed_logins == 1


def test_an_over_long_password_at_sign_in_is_a_plain_refusal_and_never_logged(
    make_app, app_db, capfd
) -> None:
    _, volunteer = _people(app_db)
    typed = "ø" * 37 + "-secret"  # 81 bytes: more than bcrypt can take
    at = _sign_in_with_form(make_app(), volunteer.username, typed)
    assert not at.exception
    assert "Wrong username or password" in _errors(at)
    with app_db.session() as session:
        stored_hash = session.get(User, volunteer.id).password_hash  # type: ignore[union-attr]
        details = " ".join(f"{e.target} {e.details}" for e in session.exec(select(AuditEvent)))
    printed = "".join(capfd.readouterr())
    for secret in (typed, stored_hash):
        assert secret not in printed and secret not in details


def test_five_failures_slow_this_browser_with_a_message_even_for_the_right_password(
    make_app, app_db
) -> None:
    _, volunteer = _people(app_db)
    at = make_app()
    for _ in range(5):
        _sign_in_with_form(at, volunteer.username, "not my password")
    assert "Too many failed sign-ins" in _errors(at) and "organiser" in _errors(at)
    _sign_in_with_form(at, volunteer.username, TEST_PASSWORD)
    assert "Try again in 1 minute" in _errors(at)
    assert "auth_user" not in at.session_state
    assert _actions(app_db).count("lockout") == 1


def test_an_unknown_username_gets_exactly_the_same_messages(make_app, app_db) -> None:
    _, volunteer = _people(app_db)
    real, unknown = make_app(), make_app()
    seen: list[tuple[str, str]] = []
    for _ in range(6):
        seen.append((_errors(_sign_in_with_form(real, volunteer.username, "nope")),
                     _errors(_sign_in_with_form(unknown, "no-such-volunteer", "nope"))))
    assert all(mine == theirs for mine, theirs in seen)
    assert "left" not in " ".join(mine for mine, _ in seen)


def test_with_the_cookie_routes_a_sign_in_sends_the_browser_to_collect_its_cookie(
    make_app, app_db, served
) -> None:
    organiser, _ = _people(app_db)
    at = _sign_in_with_form(make_app(), organiser.username, TEST_PASSWORD)
    assert not at.exception
    assert at.session_state[REDIRECT_KEY].startswith("/auth/session?code=")
    assert at.session_state[REDIRECT_KEY].endswith("&next=%2F")
    assert [b.label for b in at.get("link_button")] == ["Continue"]


def _open_signed_out(at: AppTest, url_path: str) -> AppTest:
    """Open a page's address in a signed-out browser (as typing /import in the bar does)."""
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == url_path)
    return at.run()


def test_a_signed_in_pages_address_opened_signed_out_leads_there_after_signing_in(
    make_app, app_db, served
) -> None:
    organiser, _ = _people(app_db)
    at = _open_signed_out(make_app(), "import")
    assert not at.exception and [t.value for t in at.title] == ["☎️ Ringround"]
    _sign_in_with_form(at, organiser.username, TEST_PASSWORD)
    assert at.session_state[REDIRECT_KEY].endswith("&next=%2Fimport")


def test_without_the_cookie_routes_the_deep_link_opens_its_page_after_signing_in(
    make_app, app_db
) -> None:
    organiser, _ = _people(app_db)
    at = _open_signed_out(make_app(), "import")
    _sign_in_with_form(at, organiser.username, TEST_PASSWORD)
    assert not at.exception and _current_page(at) == "pages/contacts_import.py"


def test_a_volunteer_signing_in_at_an_organiser_address_goes_to_calling(
    make_app, app_db, served
) -> None:
    _, volunteer = _people(app_db)
    at = _open_signed_out(make_app(), "import")
    _sign_in_with_form(at, volunteer.username, TEST_PASSWORD)
    assert at.session_state[REDIRECT_KEY].endswith("&next=%2F")


def test_a_deactivated_user_cannot_sign_in(make_app, app_db) -> None:
    organiser, volunteer = _people(app_db)
    with app_db.write() as session:
        auth.deactivate_user(session=session, user_id=volunteer.id, actor_id=organiser.id)
    at = _sign_in_with_form(make_app(), volunteer.username, TEST_PASSWORD)
    assert "deactivated" in _errors(at)
    assert "auth_user" not in at.session_state


def test_a_wrong_password_does_not_reveal_that_an_account_is_deactivated(
    make_app, app_db
) -> None:
    organiser, volunteer = _people(app_db)
    with app_db.write() as session:
        auth.deactivate_user(session=session, user_id=volunteer.id, actor_id=organiser.id)
    deactivated = _sign_in_with_form(make_app(), volunteer.username, "not my password")
    unknown = _sign_in_with_form(make_app(), "nobody-by-this-name", "not my password")
    assert _errors(deactivated) == _errors(unknown) == auth.BAD_CREDENTIALS_MESSAGE
    assert "auth_user" not in deactivated.session_state


def test_deactivation_ends_a_volunteers_open_session(make_app, app_db) -> None:
    organiser, volunteer = _people(app_db)
    at = make_app(user=volunteer)
    assert _current_page(at) == "pages/calling.py"
    with app_db.write() as session:
        auth.deactivate_user(session=session, user_id=volunteer.id, actor_id=organiser.id)
    at.run()
    assert "auth_user" not in at.session_state
    assert any("sign in" in w.value for w in at.warning)
    _reload(at)
    assert _current_page(at) == "pages/login.py"
    assert "pages/calling.py" not in _page_hashes(at)


def test_the_login_page_names_the_demo_accounts_once_demo_data_is_loaded(make_app,
                                                                         app_db) -> None:
    _people(app_db)
    at = make_app()
    assert not any(DEMO_PASSWORD in i.value for i in at.info)
    at.session_state["demo_loaded"] = {"contacts": 3000}
    at.run()
    assert any(DEMO_PASSWORD in i.value and "volunteer1" in i.value for i in at.info)


# --- roles -------------------------------------------------------------------------------------


def test_a_volunteer_cannot_reach_any_organiser_page(make_app, app_db) -> None:
    _, volunteer = _people(app_db)
    at = make_app(user=volunteer)
    assert set(_page_hashes(at)) == {"pages/calling.py", "pages/my_stats.py", "pages/account.py"}
    for page in ORGANISER_PAGES:
        # The page is not in the volunteer's navigation, so there is nothing to switch to.
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    at.run()
    assert not at.exception and _current_page(at) == "pages/calling.py"


def test_the_team_page_run_directly_shows_a_volunteer_only_its_guard(make_app, app_db) -> None:
    """Streamlit's legacy pages-directory mode (see _reload) can run a page file without
    app.py's navigation: the page's own organiser check is then what keeps volunteers out."""
    organiser, volunteer = _people(app_db)
    team_hash = _page_hashes(make_app(user=organiser))["pages/team.py"]
    at = make_app(user=volunteer)
    at._page_hash = team_hash
    at.run()
    assert not at.exception
    if _current_page(at) != "pages/calling.py":
        assert [e.value for e in at.error] == ["This page is for organisers."]
        assert len(at.main.children) == 1


# --- invites -----------------------------------------------------------------------------------


def _invite(app_db: Database, organiser: UserView, **kwargs: object) -> str:
    with app_db.write() as session:
        new = auth.create_invite(session=session, actor_id=organiser.id, **kwargs)  # type: ignore[arg-type]
    return new.token


def _join(make_app, token: str) -> AppTest:
    at = make_app()
    at.switch_page("pages/register.py")
    at.query_params["invite"] = token
    return at.run()


def test_an_invite_link_registers_a_volunteer_who_lands_on_the_calling_page(
    make_app, app_db
) -> None:
    organiser, _ = _people(app_db)
    with app_db.write() as session:
        campaign_id = make_campaign(session, name="NHS day").id
    at = _join(make_app, _invite(app_db, organiser, campaign_id=campaign_id))
    assert "NHS day" in " ".join(m.value for m in at.markdown)
    at.text_input(key="register_name").input("Priya Shah")
    at.text_input(key="register_email").input("priya@example.org")
    at.text_input(key="register_username").input("priya")
    at.text_input(key="register_password").input(TEST_PASSWORD)
    at.text_input(key="register_confirm").input(TEST_PASSWORD)
    at.text_input(key="register_phone").input("07400 123456")
    at.button(key="register_submit").click()
    at.run()
    assert not at.exception
    with app_db.session() as session:
        user = session.exec(select(User).where(User.username == "priya")).one()
        member = session.exec(select(CampaignMember)).one()
    assert user.role == "volunteer" and user.phone == "+447400123456"
    assert user.password_hash.startswith("$2b$") and verify_password(TEST_PASSWORD,
                                                                      user.password_hash)
    assert (member.campaign_id, member.user_id) == (campaign_id, user.id)
    assert at.session_state["auth_user"]["id"] == user.id
    assert _current_page(at) == "pages/calling.py"
    assert {"invite_used", "login"} <= set(_actions(app_db))


def test_an_expired_invite_link_is_refused_with_a_message(make_app, app_db) -> None:
    organiser, _ = _people(app_db)
    token = _invite(app_db, organiser, expires_in_hours=1,
                    now=datetime.now(UTC) - timedelta(hours=3))
    at = _join(make_app, token)
    assert "expired" in _errors(at)
    assert not [t for t in at.text_input if t.key == "register_name"]


def test_a_used_up_invite_link_is_refused_with_a_message(make_app, app_db) -> None:
    organiser, _ = _people(app_db)
    token = _invite(app_db, organiser, max_uses=1)
    with app_db.write() as session:
        auth.register_with_invite(session=session, token=token, name="First", username="first",
                                  email="first@example.org", password=TEST_PASSWORD)
    at = _join(make_app, token)
    assert "used as many times as allowed" in _errors(at)


def test_a_too_long_password_gets_a_clear_message_on_registration(make_app, app_db) -> None:
    organiser, _ = _people(app_db)
    at = _join(make_app, _invite(app_db, organiser))
    for key, value in [("register_name", "Long"), ("register_email", "long@example.org"),
                       ("register_username", "long"), ("register_password", "é" * 40),
                       ("register_confirm", "é" * 40)]:
        at.text_input(key=key).input(value)
    at.button(key="register_submit").click()
    at.run()
    assert not at.exception and "too long" in _errors(at) and "72 bytes" in _errors(at)
    with app_db.session() as session:
        assert session.exec(select(Invite)).one().uses == 0


# --- password resets ---------------------------------------------------------------------------


def test_a_reset_link_sets_a_new_password_once(make_app, app_db) -> None:
    organiser, volunteer = _people(app_db)
    with app_db.write() as session:
        reset = auth.create_password_reset(session=session, user_id=volunteer.id,
                                           actor_id=organiser.id)
    at = make_app()
    at.switch_page("pages/reset_password.py")
    at.query_params["token"] = reset.token
    at.run()
    at.text_input(key="reset_password").input("my new long password")
    at.text_input(key="reset_confirm").input("my new long password")
    at.button(key="reset_submit").click()
    at.run()
    assert not at.exception
    assert any("password has been changed" in s.value for s in at.success)
    with app_db.session() as session:
        stored = session.get(User, volunteer.id)
    assert stored is not None and verify_password("my new long password", stored.password_hash)
    at.query_params["token"] = reset.token
    at.run()
    assert "already been used" in _errors(at)


# --- the team page -----------------------------------------------------------------------------


def test_the_team_page_unlocks_a_locked_volunteer(make_app, app_db) -> None:
    organiser, volunteer = _people(app_db)
    with app_db.write() as session:
        for n in range(20):  # from twenty addresses: the account itself is blocked
            login_throttle.record_failure(session=session, username=volunteer.username,
                                          address=f"192.0.2.{n}", now=datetime.now(UTC))
    at = make_app(user=organiser, page="pages/team.py")
    assert "locked" in at.selectbox(key="team_member").format_func(volunteer.id)
    assert not at.exception
    at.selectbox(key="team_member").set_value(volunteer.id)
    at.run()
    at.button(key="team_unlock").click()
    at.run()
    assert not at.exception and any("unlocked" in t.value for t in at.text)
    with app_db.session() as session:
        team = {member.id: member for member in auth.list_team(session=session)}
    assert not team[volunteer.id].locked and team[volunteer.id].failed_logins == 0
    assert "unlock" in _actions(app_db)


def test_the_team_page_refuses_to_demote_the_last_organiser(make_app, app_db) -> None:
    organiser, _ = _people(app_db)
    at = make_app(user=organiser, page="pages/team.py")
    at.selectbox(key="team_member").set_value(organiser.id)
    at.run()
    assert at.button(key="team_deactivate").disabled
    at.button(key="team_demote").click()
    at.run()
    assert "last active organiser" in _errors(at)
    with app_db.session() as session:
        assert session.get(User, organiser.id).role == "organiser"  # type: ignore[union-attr]


def test_the_team_page_shows_a_new_invite_link_once(make_app, app_db) -> None:
    organiser, _ = _people(app_db)
    at, link = create_invite(make_app, organiser, "Saturday")
    assert link.startswith("/join?invite=")
    token = link.removeprefix("/join?invite=")
    with app_db.session() as session:
        invite = session.exec(select(Invite)).one()
    assert invite.token_hash == auth.hash_token(token) and invite.label == "Saturday"
    at.run()
    assert not [c for c in at.code if token in c.value]
