"""Ringround's command line: `python manage.py --help`.

Each subcommand exits 0 on success and non-zero with one line on stderr on bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence

from core.config import ConfigError, Settings, load_settings
from core.runtime import open_database
from db.engine import Database, make_engine
from db.migrate import current_revision, head_revision, upgrade


class CommandError(Exception):
    """A one-line reason to stop; printed as `error: ...` with exit code 2."""


def _settings() -> Settings:
    return load_settings()


def _database(settings: Settings) -> Database:
    return open_database(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    engine.dispose()
    if before == after:
        print(f"schema already at {after}")
    else:
        print(f"schema migrated from {before or 'empty'} to {after} (head {head_revision()})")
    return 0


def cmd_create_organiser(args: argparse.Namespace) -> int:
    from core.accounts import AccountError, create_user

    password = os.environ.get("RINGROUND_NEW_PASSWORD") if args.password_from_env else None
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Repeat password: ") != password:
                raise CommandError("the two passwords differ")
    database = _database(_settings())
    try:
        with database.write() as session:
            user = create_user(
                session=session, username=args.username, name=args.name, email=args.email,
                password=password, role="organiser",
            )
    except AccountError as exc:
        raise CommandError(str(exc)) from None
    print(f"organiser {user.username} created (id {user.id})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import DEMO_PASSWORD, load_demo
    from core.setup import SetupClosed

    database = _database(_settings())
    try:
        with database.write() as session:
            summary = load_demo(session=session, contacts=args.contacts, seed=args.seed)
    except SetupClosed as exc:
        raise CommandError(str(exc)) from None
    parts = ", ".join(f"{count} {name}" for name, count in summary.items())
    print(f"demo loaded: {parts}")
    print(f"sign in as 'organiser' or 'volunteer1'..'volunteer8' with password '{DEMO_PASSWORD}'")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from core.cli_import import run_import_command

    return run_import_command(args, database=_database(_settings()))


def cmd_rebuild_rollups(args: argparse.Namespace) -> int:
    from core import rollups

    with _database(_settings()).write() as session:
        calls = rollups.rebuild(session=session)
        answers = rollups.rebuild_survey(session=session)
    print(f"dashboard rollups recounted from the calls: {calls} call rows, "
          f"{answers} survey rows")
    return 0


def cmd_purge_notes(args: argparse.Namespace) -> int:
    from core.contacts import get_notes_retention_months, purge_old_notes
    from core.importing import REJECTED_ROWS_KEEP_DAYS, purge_old_rejections

    with _database(_settings()).write() as session:
        months = get_notes_retention_months(session=session)
        purged = purge_old_notes(session=session)
        rejected = purge_old_rejections(session=session)
    if months is None:
        print("note retention is off (set it on the Settings page); no notes purged")
    else:
        print(f"{purged} notes older than {months} months blanked")
    print(f"{rejected} rejected import rows older than {REJECTED_ROWS_KEEP_DAYS} days blanked "
          "(row number and reason kept)")
    return 0


def cmd_send_event_texts(args: argparse.Namespace) -> int:
    from core.event_texts import deliver_due_texts

    settings = _settings()
    report = deliver_due_texts(database=_database(settings), settings=settings)
    print(f"event texts: {report.describe()}")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from core.accounts import normalise_username
    from core.auth import unlock_user
    from db.models import User

    username = normalise_username(args.username)
    database = _database(_settings())
    with database.write() as session:
        user_id = session.exec(select(User.id).where(User.username == username)).first()
        if user_id is None:
            raise CommandError(f"no user named {username!r}")
        unlock_user(session=session, user_id=user_id, actor_id=None)
    print(f"{username} unlocked: failed sign-ins forgotten, any block lifted")
    return 0


def cmd_setup_code(args: argparse.Namespace) -> int:
    from core.setup import setup_code

    print(setup_code(_settings().cookie_key))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description="Ringround administration.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str
            ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    add("migrate", cmd_migrate, "Bring the database schema up to date.")

    create = add("create-organiser", cmd_create_organiser,
                 "Create an organiser account (password from the terminal or standard input).")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--password-from-env", action="store_true",
                        help="read the password from RINGROUND_NEW_PASSWORD")

    demo = add("demo", cmd_demo,
               "Load demo contacts, an NHS campaign-day campaign with a day of calls, and "
               "demo accounts (only into a database with no organiser yet).")
    demo.add_argument("--contacts", type=int, default=3000, help="how many contacts (default 3000)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")

    imp = add("import", cmd_import,
              "Import contacts from a CSV, XLSX or ZIP file and print the accounting.")
    imp.add_argument("file", help="path to a .csv, .tsv, .txt, .xlsx or .zip file")
    imp.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                     help="map a file column to a contact field (repeatable)")
    imp.add_argument("--encoding", help="override the detected encoding (e.g. cp1252)")
    imp.add_argument("--delimiter", help="override the detected delimiter (e.g. ';' or 'tab')")
    imp.add_argument("--policy", choices=["update_empty", "overwrite", "skip"],
                     default="update_empty", help="what to do with numbers already stored")
    imp.add_argument("--sheet", help="the workbook sheet (name or number) or the file inside a "
                     "ZIP to read (default: the sheet with data / the subscribed file)")
    imp.add_argument("--header-row", type=int, metavar="N",
                     help="the row holding the column names (default: detected)")
    imp.add_argument("--do-not-call", action="append", default=[], metavar="COLUMN=V1,V2",
                     help="values of a do-not-call column that mean do not call (repeatable; "
                     "default: guessed from its header)")
    imp.add_argument("--json", action="store_true", help="print the accounting as JSON")

    add("rebuild-rollups", cmd_rebuild_rollups,
        "Recount the dashboard's call and survey rollups from the calls themselves (after "
        "loading calls in bulk, or on a database from before rollups).")

    unlock = add("unlock", cmd_unlock,
                 "Lift a sign-in block on a user and forget their failed sign-ins (for the "
                 "last organiser, who has nobody to unlock them from the Team page).")
    unlock.add_argument("username")

    add("setup-code", cmd_setup_code,
        "Print the code that opens first-run setup in a browser on another machine.")

    add("purge-notes", cmd_purge_notes,
        "Blank call notes older than the retention period set on the Settings page "
        "(the app also does this hourly); for cron.")
    add("send-event-texts", cmd_send_event_texts,
        "Send event reminders, cancellations and owed confirmations that are due now "
        "(the app also does this every five minutes); for cron.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (CommandError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
