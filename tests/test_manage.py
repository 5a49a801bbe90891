"""manage.py: each subcommand works, has --help, and fails with one line on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlmodel import func, select

from core.config import PROJECT_ROOT
from db.engine import Database, make_engine
from db.models import CallAttempt, Campaign, Contact, User
from manage import main

SUBCOMMANDS = ["migrate", "create-organiser", "demo", "import", "purge-notes", "unlock",
               "setup-code"]


@pytest.fixture
def env(app_env: str) -> str:
    return app_env


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: manage.py " + command in capsys.readouterr().out


def test_migrate_reports_the_schema_is_current(env: str, capsys) -> None:
    assert main(["migrate"]) == 0
    assert "schema already at" in capsys.readouterr().out


def test_demo_loads_contacts_a_campaign_and_calls_then_refuses_a_second_time(env: str, capsys
                                                                           ) -> None:
    assert main(["demo", "--contacts", "400"]) == 0
    out = capsys.readouterr().out
    assert "demo loaded: 400 contacts" in out
    db = Database(make_engine(env))
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 400
        assert session.exec(select(func.count()).select_from(CallAttempt)).one() > 0
        names = set(session.exec(select(Campaign.name)))
        constituencies = set(session.exec(select(Contact.constituency)))
        users = session.exec(select(func.count()).select_from(User)).one()
    db.dispose()
    assert "NHS campaign day – Saturday" in names
    assert {"Crewe and Nantwich", "Hastings and Rye", "Bedford"} <= constituencies
    assert users == 9
    assert main(["demo"]) == 2
    assert "error: " in capsys.readouterr().err


def test_create_organiser_reads_the_password_from_stdin(env: str, monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    code = main(["create-organiser", "--username", "asha", "--name", "Asha", "--email",
                 "asha@example.org"])
    assert code == 0, capsys.readouterr().err
    assert "organiser asha created" in capsys.readouterr().out


def test_create_organiser_refuses_a_short_password_in_one_line(env: str, monkeypatch, capsys
                                                               ) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code = main(["create-organiser", "--username", "asha", "--name", "Asha", "--email",
                 "asha@example.org"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


def test_an_unknown_subcommand_exits_non_zero() -> None:
    result = subprocess.run([sys.executable, "manage.py", "frobnicate"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "invalid choice" in result.stderr


def test_a_missing_cookie_key_is_one_line_error(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "RINGROUND_SECRETS_FILE": str(tmp_path / "none.toml"),
           "RINGROUND_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "migrate"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: RINGROUND_COOKIE_KEY is not set")


def test_purge_notes_blanks_old_notes_only_when_retention_is_on(env: str, capsys) -> None:
    from datetime import UTC, datetime, timedelta

    from core.contacts import set_notes_retention_months
    from tests.factories import make_campaign, make_contact

    db = Database(make_engine(env))
    with db.write() as session:
        campaign, contact = make_campaign(session), make_contact(session)
        for key, age_days in (("old", 400), ("new", 10)):
            session.add(CallAttempt(
                idempotency_key=key, campaign_id=campaign.id, contact_id=contact.id,
                outcome_code="refused", notes=f"{key} note",
                started_at=datetime.now(UTC) - timedelta(days=age_days),
            ))
    assert main(["purge-notes"]) == 0
    assert "retention is off" in capsys.readouterr().out
    with db.write() as session:
        set_notes_retention_months(session=session, months=6)
    assert main(["purge-notes"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        "1 notes older than 6 months blanked",
        "0 rejected import rows older than 30 days blanked (row number and reason kept)",
    ]
    with db.session() as session:
        notes = dict(session.exec(select(CallAttempt.idempotency_key, CallAttempt.notes)).all())
    db.dispose()
    assert notes == {"old": "", "new": "new note"}


def test_rebuild_rollups_counts_calls_written_without_them(env: str, capsys) -> None:
    from datetime import UTC, datetime

    from core import rollups, stats
    from tests.factories import make_campaign, make_contact

    db = Database(make_engine(env))
    with db.write() as session:  # calls from before rollups: rows written directly
        campaign, contact = make_campaign(session), make_contact(session)
        campaign_id = campaign.id
        for key in ("a", "b"):
            session.add(CallAttempt(
                idempotency_key=key, campaign_id=campaign.id, contact_id=contact.id,
                outcome_code="refused", is_conversation=True,
                started_at=datetime(2026, 6, 10, 13, 5, tzinfo=UTC)))
    with db.session() as session:
        assert stats.outcome_breakdown(session=session, campaign_id=campaign_id) == []
    assert main(["rebuild-rollups"]) == 0
    # Both calls share a key: one all-time row and one for their quarter hour, in each of
    # the two rollup tables (per volunteer and per campaign).
    assert "4 call rows" in capsys.readouterr().out
    with db.session() as session:
        counted = stats.outcome_breakdown(session=session, campaign_id=campaign_id)
        assert rollups.stored(session=session) == rollups.from_attempts(session=session)
    db.dispose()
    assert [(r["code"], r["count"]) for r in counted] == [("refused", 2)]


def test_unlock_lifts_a_block_on_the_last_organiser(env: str, capsys) -> None:
    from datetime import UTC, datetime

    from core import auth, login_throttle
    from tests.factories import make_user

    db = Database(make_engine(env))
    with db.write() as session:
        organiser = make_user(session, role="organiser")
        for n in range(20):
            login_throttle.record_failure(session=session, username=organiser.username,
                                          address=f"192.0.2.{n}", now=datetime.now(UTC))
    with db.session() as session:
        assert {m.id: m for m in auth.list_team(session=session)}[organiser.id].locked
    assert main(["unlock", organiser.username.upper()]) == 0
    assert f"{organiser.username} unlocked" in capsys.readouterr().out
    with db.session() as session:
        assert not {m.id: m for m in auth.list_team(session=session)}[organiser.id].locked
    db.dispose()
    assert main(["unlock", "nobody"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err


def test_setup_code_prints_the_code_the_setup_page_asks_for(env: str, capsys) -> None:
    from core.config import load_settings
    from core.setup import setup_code

    assert main(["setup-code"]) == 0
    assert capsys.readouterr().out.strip() == setup_code(load_settings().cookie_key)
