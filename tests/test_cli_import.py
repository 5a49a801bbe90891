"""`python manage.py import`: the accounting on stdout, JSON with --json, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from core.config import PROJECT_ROOT
from db.engine import Database, make_engine, reset_databases
from db.models import Contact
from manage import main


@pytest.fixture(autouse=True)
def _fresh_database_cache():
    reset_databases()
    yield
    reset_databases()


@pytest.fixture
def stored(app_env: str):
    def read() -> dict[str, Contact]:
        db = Database(make_engine(app_env))
        with db.session() as session:
            rows = {c.phone: c for c in session.exec(select(Contact))}
        db.dispose()
        return rows

    return read


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_import_prints_the_accounting_as_json(app_env, tmp_path, capsys, stored) -> None:
    path = write(tmp_path, "members.csv",
                 b"First name,Phone\nAsha,07400 123451\nBen,+44 7400 123451\nBad,07700 900123\n")
    assert main(["import", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("total_rows", "inserted", "updated", "merged", "rejected")} == {
        "total_rows": 3, "inserted": 1, "updated": 0, "merged": 1, "rejected": 1}
    assert stored()["+447400123451"].first_name == "Asha"


def test_map_delimiter_encoding_and_policy_options_are_honoured(
    app_env, tmp_path, capsys, stored
) -> None:
    path = write(tmp_path, "export.txt",
                 "Tel\tWho\tArea\n07400 123451\tZoë\tBedford\n".encode("cp1252"))
    code = main(["import", path, "--map", "Who=first_name", "--map", "Area=constituency",
                 "--delimiter", "tab", "--encoding", "cp1252", "--policy", "overwrite"])
    out = capsys.readouterr().out
    assert code == 0
    assert "inserted" in out and "rows in file" in out
    contact = stored()["+447400123451"]
    assert (contact.first_name, contact.constituency) == ("Zoë", "Bedford")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "{missing}"], "cannot read"),
        (["import", "{empty}"], "the file is empty"),
        (["import", "{csv}", "--map", "Nope=phone"], "no column 'Nope'"),
        (["import", "{csv}", "--map", "Phone=shoe_size"], "unknown field"),
        (["import", "{csv}", "--delimiter", "banana"], "unknown delimiter"),
        (["import", "{nophone}"], "no column is mapped to a phone"),
    ],
)
def test_an_unusable_file_exits_non_zero_with_one_line_on_stderr(
    app_env, tmp_path, capsys, args: list[str], message: str
) -> None:
    paths = {
        "missing": str(tmp_path / "missing.csv"),
        "empty": write(tmp_path, "empty.csv", b""),
        "csv": write(tmp_path, "ok.csv", b"Phone\n07400123451\n"),
        "nophone": write(tmp_path, "nophone.csv", b"Name,Colour\nA,red\n"),
    }
    code = main([a.format(**paths) for a in args])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_the_real_command_line_runs_as_a_process(app_env, tmp_path) -> None:
    path = write(tmp_path, "members.csv", b"Phone\n07400123451\n")
    done = subprocess.run([sys.executable, "manage.py", "import", path, "--json"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inserted"] == 1
    bad = subprocess.run([sys.executable, "manage.py", "import", str(tmp_path / "nope.csv")],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: cannot read")


def two_sheet_workbook() -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Cover"
    book.active.append(["Crewe phone bank"])
    members = book.create_sheet("Members")
    members.append(["Exported 1 Dec 2026"])
    members.append(["Tel", "Who", "Phone OK"])
    members.append(["07400 123451", "Asha", "Yes"])
    members.append(["07400 123452", "Ben", "Nope"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_sheet_header_row_and_do_not_call_options_are_honoured(
    app_env, tmp_path, capsys, stored
) -> None:
    path = write(tmp_path, "book.xlsx", two_sheet_workbook())
    code = main(["import", path, "--sheet", "Members", "--header-row", "2",
                 "--map", "Who=first_name", "--do-not-call", "Phone OK=nope,no", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("total_rows", "inserted", "do_not_call", "suppressed")} == {
        "total_rows": 2, "inserted": 2, "do_not_call": 1, "suppressed": 1}
    assert stored()["+447400123451"].first_name == "Asha"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sheet", "Nope"], "no sheet 'Nope'; its sheets are Cover, Members"),
        (["--header-row", "0"], "--header-row counts from 1"),
        (["--sheet", "Members", "--header-row", "9"], "row 9 is blank or past the end"),
        (["--do-not-call", "Phone OK"], "is not COLUMN=VALUE"),
    ],
)
def test_bad_sheet_and_header_row_options_exit_non_zero_naming_the_problem(
    app_env, tmp_path, capsys, args: list[str], message: str
) -> None:
    path = write(tmp_path, "book.xlsx", two_sheet_workbook())
    assert main(["import", path, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
