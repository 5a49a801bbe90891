"""Reading messy files: encodings, delimiters, quoting, .xlsx, header guessing, row parsing."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import Workbook

from core.importing import (
    FileFormat,
    ImportFileError,
    PhoneNormaliser,
    RowParser,
    RowRejected,
    check_mapping,
    detect_format,
    detect_header_row,
    guess_do_not_call_values,
    guess_field,
    guess_mapping,
    inspect_file,
    means_do_not_call,
    normalise_postcode,
    normalise_tags,
    open_rows,
    parse_delimiter,
    phones_in_cell,
    split_full_name,
)
from core.importing.files import CsvRecords
from core.importing.rows import (
    ROW_COLUMNS,
    _json_of_columns,
    _json_of_texts,
    column_keys,
    from_wire,
    to_wire,
)


def rows_of(data: bytes, **overrides: str) -> tuple[FileFormat, list[str], list[list[str]]]:
    stream = io.BytesIO(data)
    fmt = detect_format(stream, **overrides)
    opened = open_rows(stream, fmt)
    return fmt, opened.headers, [cells for _n, cells in opened.rows]


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


NAME = "Zoë Brontë"
FILES = [
    pytest.param("First name,Phone\nZoë Brontë,07400 123456\n".encode(), "utf-8", ",",
                 id="utf-8 comma"),
    pytest.param(b"\xef\xbb\xbf" + "First name,Phone\nZoë Brontë,07400 123456\n".encode(),
                 "utf-8-sig", ",", id="utf-8 with BOM"),
    pytest.param("First name;Phone\r\nZoë Brontë;07400 123456\r\n".encode("cp1252"), "cp1252",
                 ";", id="cp1252 semicolon CRLF"),
    pytest.param("First name\tPhone\nZoë Brontë\t07400 123456\n".encode("latin-1") + b"",
                 "cp1252", "\t", id="latin-1 bytes read as cp1252 tab"),
    pytest.param("First name|Phone\nZoë Brontë|07400 123456\n".encode("latin-1")
                 + b"\x81", "latin-1", "|", id="byte undefined in cp1252 falls to latin-1"),
    pytest.param("First name\tPhone\r\nZoë Brontë\t07400 123456\r\n".encode("utf-16"),
                 "utf-16", "\t", id="Excel Unicode text (UTF-16 with BOM)"),
]


@pytest.mark.parametrize(("data", "encoding", "delimiter"), FILES)
def test_encoding_and_delimiter_are_detected(data: bytes, encoding: str, delimiter: str) -> None:
    fmt, headers, rows = rows_of(data)
    assert (fmt.kind, fmt.encoding, fmt.delimiter) == ("csv", encoding, delimiter)
    assert headers == ["First name", "Phone"]
    assert rows[0][:2] == [NAME, "07400 123456"]


def test_quoted_fields_keep_embedded_newlines_and_delimiters() -> None:
    data = b'Name,Notes,Phone\n"Smith, Jo","line one\nline two",07400123456\nAl,x,07400123457\n'
    _fmt, headers, rows = rows_of(data)
    assert headers == ["Name", "Notes", "Phone"]
    assert rows == [["Smith, Jo", "line one\nline two", "07400123456"],
                    ["Al", "x", "07400123457"]]


def test_an_override_beats_detection() -> None:
    data = b"a;b,c\n1;2,3\n"
    assert rows_of(data)[1] == ["a;b", "c"]
    assert rows_of(data, delimiter=";")[1] == ["a", "b,c"]
    fmt, _h, rows = rows_of("Name,Phone\nZoë,1\n".encode(), encoding="latin-1")
    assert fmt.encoding == "latin-1" and rows[0][0] == "ZoÃ«"


def test_blank_lines_are_not_rows_and_row_numbers_count_the_header_as_row_one() -> None:
    stream = io.BytesIO(b"Phone\n07400123456\n\n07400123457\n")
    opened = open_rows(stream, detect_format(stream))
    assert list(opened.rows) == [(2, ["07400123456"]), (4, ["07400123457"])]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"PK\x03\x04 not really a workbook", "xlsx"),
    ],
)
def test_unreadable_files_raise_a_one_line_reason(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        inspect_file(io.BytesIO(data), filename="x.csv")


def test_an_unknown_encoding_override_is_refused() -> None:
    with pytest.raises(ImportFileError, match="unknown encoding"):
        detect_format(io.BytesIO(b"a,b\n"), encoding="klingon")


def test_xlsx_is_read_with_numbers_as_text_and_the_guessed_mapping() -> None:
    data = xlsx_bytes([["Forename", "Surname", "Mobile", "Branch"],
                       ["Asha", "Patel", 7400123456, "North"], [None, None, None, None],
                       ["Ben", "Jones", "+44 7400 123457", None]])
    preview = inspect_file(io.BytesIO(data), filename="members.xlsx")
    assert preview.format.kind == "xlsx"
    assert preview.headers == ["Forename", "Surname", "Mobile", "Branch"]
    assert preview.sample == [["Asha", "Patel", "7400123456", "North"],
                              ["Ben", "Jones", "+44 7400 123457", ""]]
    assert preview.mapping == {"Forename": "first_name", "Surname": "last_name",
                               "Mobile": "mobile", "Branch": "custom"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["First Name", "Last_Name", "Telephone", "E-mail"],
         ["first_name", "last_name", "phone", "email"]),
        (["forename", "SURNAME", "Home Phone", "Mobile No", "Post Code"],
         ["first_name", "last_name", "landline", "mobile", "postcode"]),
        (["Name", "Phone 1", "Phone 2", "Constituency", "Ward", "Tags", "Membership No"],
         ["full_name", "phone", "phone", "constituency", "ward", "tags", "membership_number"]),
        (["Member ID", "TPS", "Consent", "Favourite colour", "Surname", "Last name"],
         ["membership_number", "tps", "consenting_member", "custom", "last_name", "custom"]),
    ],
)
def test_common_headers_are_guessed(headers: list[str], expected: list[str]) -> None:
    assert list(guess_mapping(headers).values()) == expected


def test_a_mapping_must_include_a_phone_and_map_each_field_once() -> None:
    with pytest.raises(ImportFileError, match="phone"):
        check_mapping(["a"], {"a": "first_name"})
    with pytest.raises(ImportFileError, match="more than one"):
        check_mapping(["a", "b", "p"], {"a": "email", "b": "email", "p": "phone"})
    with pytest.raises(ImportFileError, match="no column"):
        check_mapping(["p"], {"nope": "phone"})
    assert check_mapping(["p", "x"], {"p": "phone"}) == {"p": "phone", "x": "custom"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("\t", "\t"), ("Semicolon", ";"), (None, None)],
)
def test_delimiter_names_are_understood(text: str | None, expected: str | None) -> None:
    assert parse_delimiter(text) == expected


def test_tags_and_postcodes_are_tidied() -> None:
    assert normalise_tags("NHS; Member ,nhs|Unison") == ",nhs,member,unison,"
    assert normalise_tags("  ") == ""
    assert normalise_postcode(" sw1a1aa ") == "SW1A 1AA"
    assert normalise_postcode("cw1  2ab") == "CW1 2AB"


HEADERS = ["First", "Last", "Mobile", "Landline", "Tags", "TPS", "Branch"]
MAPPING = check_mapping(HEADERS, guess_mapping(HEADERS))


def parse(cells: list[str]):
    return RowParser(HEADERS, MAPPING, PhoneNormaliser("GB")).parse(2, cells)


def test_a_row_keeps_every_number_with_the_mobile_preferred() -> None:
    record = parse(["Asha", "Patel", "07400 123456", "01270 212345", "NHS,Member", "no", "N"])
    assert record.phone == "+447400123456" and record.phone_type == "mobile"
    assert record.other_phones == ["+441270212345"]
    assert record.values == {"first_name": "Asha", "last_name": "Patel",
                             "tags": ",nhs,member,", "tps": False}
    assert record.custom == {"Branch": "N"}


def test_a_landline_only_row_calls_the_landline() -> None:
    record = parse(["Al", "", "", "(01270) 212-345", "", "yes", ""])
    assert (record.phone, record.phone_type, record.other_phones) == (
        "+441270212345", "landline", [])
    assert record.values["tps"] is True


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["Al", "", "", "", "", "", ""], "no phone number"),
        (["Al", "", "07700 900123", "", "", "", ""], "Mobile: not a valid phone number"),
        (["Al", "", "07700 900123", "hello", "", "", ""],
         "Mobile: not a valid phone number; Landline: not a phone number"),
        (["Al", "", "07400123456", "", "", "maybe", ""], "TPS: 'maybe' is not yes or no"),
        (["Al", "", "07400123456", "", "", "", "", "extra"], "row has 8 columns"),
        (["A" * 201, "", "07400123456", "", "", "", ""], "first_name is longer than 200"),
    ],
)
def test_bad_rows_are_rejected_with_their_reason(cells: list[str], reason: str) -> None:
    with pytest.raises(RowRejected, match=reason):
        parse(cells)


def test_a_bad_cell_beside_a_good_number_is_a_warning_not_a_rejection() -> None:
    record = parse(["Al", "", "07400123456", "hello", "", "", ""])
    assert record.phone == "+447400123456"
    assert record.warnings == ("Landline: not a phone number, kept the Mobile",)


def test_short_rows_are_padded_and_trailing_empty_cells_ignored() -> None:
    assert parse(["Al", "", "07400123456"]).phone == "+447400123456"
    assert parse(["Al", "", "07400123456", "", "", "", "", "", ""]).phone == "+447400123456"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        # NationBuilder people export
        ("mobile_number", "mobile"), ("phone_number", "phone"), ("work_phone_number", "phone"),
        ("primary_zip", "postcode"), ("tag_list", "tags"), ("do_not_call", "do_not_call"),
        ("is_mobile_bad", "do_not_call"), ("mobile_opt_in", "custom"),
        ("primary_address1", "custom"),
        # Action Network report
        ("can2_phone", "phone"), ("zip_code", "postcode"), ("can2_user_tags", "tags"),
        ("can2_sms_status", "custom"),
        # Mailchimp audience export
        ("Email Address", "email"), ("TAGS", "tags"), ("Phone Number", "phone"),
        # Google Forms questions
        ("What's the best number to call you on?", "phone"), ("Your name", "full_name"),
        ("May we phone you about campaign events?", "do_not_call"),
        ("What is your mobile number?", "mobile"), ("Timestamp", "custom"),
        # a membership system
        ("Contact by phone", "do_not_call"), ("Home Telephone", "landline"),
        ("Name of your branch", "custom"),
    ],
)
def test_the_real_tools_headers_are_guessed(header: str, field: str) -> None:
    assert guess_field(header) == field


@pytest.mark.parametrize(
    ("header", "cell", "refused"),
    [
        ("do_not_call", "true", True), ("do_not_call", "FALSE", False),
        ("is_mobile_bad", "TRUE", True), ("May we phone you?", "No", True),
        ("May we phone you?", "No, please don't", True), ("May we phone you?", "Yes", False),
        ("Contact by phone", "n", True), ("Contact by phone", "", False),
        ("Phone consent", "Opted out", True), ("Phone consent", "Unsubscribed", True),
    ],
)
def test_do_not_call_values_are_guessed_from_the_header(header: str, cell: str,
                                                        refused: bool) -> None:
    values = frozenset(guess_do_not_call_values(header))
    assert means_do_not_call(cell, values) is refused


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Wright, Shona", "Shona", "Wright"), ("Shona Wright", "Shona", "Wright"),
        ("Mr & Mrs Morris", "Mr & Mrs Morris", ""),
        ("John and Ann Patel", "John and Ann Patel", ""),
        ("Mrs Morris", "Mrs Morris", ""), ("Dr Jane Smith", "Jane", "Smith"),
        ("Mary Ann Smith", "Mary Ann", "Smith"), ("Aoife Ní Bhriain", "Aoife", "Ní Bhriain"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"), ("Cher", "Cher", ""),
        ("  Zoë   Evans ", "Zoë", "Evans"), ("", "", ""),
    ],
)
def test_a_full_name_column_is_split_sensibly(name: str, first: str, last: str) -> None:
    assert split_full_name(name) == (first, last)


@pytest.mark.parametrize(
    ("cell", "numbers", "problem"),
    [
        ("07400 101015 (after 6pm)", ["+447400101015"], ""),
        ("020 7946 0100 home", ["+442079460100"], ""),
        ("07400 106 900 (Mum's)", ["+447400106900"], ""),
        ("07400103075 / 029 2018 0063", ["+447400103075", "+442920180063"], ""),
        ("mobile 07400 123456 or 0113 496 0123", ["+447400123456", "+441134960123"], ""),
        ("7400123456", ["+447400123456"], ""),  # Excel dropped the 0
        ("447400123456", ["+447400123456"], ""),
        ("n/a", [], "not a phone number"), ("tbc", [], "not a phone number"),
        ("same as mobile", [], "not a phone number"), ("0", [], "not a phone number"),
        ("0000 000000", [], "not a phone number"),
        ("4.474E+11", [], "a number Excel shortened to scientific notation"),
        ("=1+07400100003", [], "not a phone number (a formula)"),
        ("07700 900123", [], "not a valid phone number"),
        ("0" * 500, [], "too long to be a phone number"),
    ],
)
def test_numbers_are_read_from_cells_with_words_around_them(
    cell: str, numbers: list[str], problem: str
) -> None:
    found, why, _notes = phones_in_cell(cell, PhoneNormaliser("GB"))
    assert [p.e164 for p in found] == numbers
    assert why.startswith(problem) and bool(why) == bool(problem)


@pytest.mark.parametrize(
    ("rows", "header_row"),
    [
        ([["Members"], ["Printed today"], [], ["Name", "Mobile", "Ward"]], 4),
        ([["Forename", "Surname", "Tel"], ["Ann", "Ames", "07400123451"]], 1),
        ([["Report"], ["Col A", "Col B", "Col C"], ["1", "2", "3"]], 2),
    ],
)
def test_the_header_row_is_found_below_title_rows(rows: list[list[str]], header_row: int) -> None:
    assert detect_header_row(list(enumerate(rows, start=1))) == header_row


@pytest.mark.parametrize(
    ("cell", "notes"),
    [
        ("07400 101015 (after 6pm)", {"+447400101015": "after 6pm"}),
        ("020 7946 0100 home", {"+442079460100": "home"}),
        ("07400 106 900 (Mum's)", {"+447400106900": "Mum's"}),
        ("07400103075 / 029 2018 0063", {}),  # a separator is not a note
        ("07400 101015 (after 6pm) or 020 7946 0100 (work)",
         {"+447400101015": "after 6pm", "+442079460100": "work"}),
        ("evenings: 07400 101015", {"+447400101015": "evenings"}),
        ("Tel: 07400 101015", {}),  # a label that says nothing
        ("020 7946 0100 ext 23", {"+442079460100": "ext 23"}),  # phonenumbers reads it whole
        ("07400 101015", {}),
    ],
)
def test_words_beside_a_number_are_kept_as_its_note(cell: str, notes: dict[str, str]) -> None:
    assert phones_in_cell(cell, PhoneNormaliser("GB"))[2] == notes


def test_a_row_carries_its_numbers_notes_and_the_preferred_number_stays_the_mobile() -> None:
    record = parse(["Al", "", "07400 123456 (after 6pm)", "01270 212345 home", "", "", ""])
    assert (record.phone, record.other_phones) == ("+447400123456", ["+441270212345"])
    assert record.phone_notes == {"+447400123456": "after 6pm", "+441270212345": "home"}
    assert parse(["Al", "", "07400 123456", "", "", "", ""]).phone_notes == {}


def test_a_records_row_holds_what_the_writer_inserts() -> None:
    record = parse(["Asha", "Patel", "07400 123456 (Mum's)", "", "NHS", "yes", "North"])
    row = dict(zip(ROW_COLUMNS, record.row, strict=True))
    assert row == {
        "phone": "+447400123456", "phone_type": "mobile", "other_phones": "[]",
        "phone_notes": '{"+447400123456": "Mum\'s"}', "first_name": "Asha",
        "last_name": "Patel", "email": "", "postcode": "", "constituency": "", "ward": "",
        "membership_number": "", "tags": ",nhs,", "tps": True, "consenting_member": False,
        "bad_number": False, "custom": '{"Branch": "North"}'}


@pytest.mark.parametrize("values", [
    {}, {"a": "b"}, {"Zoë's \"branch\"": "Siân\n\t\\ \u2028 \U0001f600", "x": ""},
    {"k": "\x00\x1f\x7f", "=HYPERLINK(1)": "é"}, {"a\x00": "b"}, {"a": "\\u0000"},
])
def test_custom_fields_are_encoded_exactly_as_json_dumps_would(values: dict[str, str]) -> None:
    assert _json_of_texts(values) == json.dumps(values)
    assert _json_of_columns(values, column_keys([*values, "unused"])) == json.dumps(values)


NASTY_CSV = (
    "Report\r\n\r\nFirst,Notes,Phone\r\n"
    "Zoë,\"two\r\nlines\",07400 123451\r\n"
    "Siân,\"a \"\"quoted\"\" word, and a comma\",07400 123452\n"
    ",,\r\n"
    "Bartłomiej,\"ends with a break\n\",07400 123453\r"
    "Renée,plain,07400 123454\r\n"
    "\r\n"
    "Total,,4"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 10_000])
def test_a_csv_read_block_by_block_gives_the_csv_modules_records(encoding: str,
                                                                 block: int) -> None:
    data = NASTY_CSV.encode(encoding)
    expected = list(enumerate(csv.reader(io.StringIO(NASTY_CSV, newline="")), start=1))
    reader = CsvRecords(FileFormat(kind="csv", encoding=encoding, delimiter=","))
    got = []
    for start in range(0, len(data), block):
        got += reader.feed(data[start : start + block], start + block >= len(data))
    assert got == expected and reader.error is None


def test_bytes_not_in_the_encoding_stop_the_csv_at_their_row() -> None:
    reader = CsvRecords(FileFormat(kind="csv", encoding="utf-8", delimiter=","))
    data = b"Phone\n07400123451\n07400123452\nRen\xe9e\n07400123453\n"
    got = reader.feed(data[:20], False) + reader.feed(data[20:], True)
    assert got == [(1, ["Phone"]), (2, ["07400123451"]), (3, ["07400123452"])]
    assert str(reader.error) == ("row 4 is not utf-8: invalid continuation byte; choose the "
                                 "encoding")


@pytest.mark.parametrize("cells", [
    ["Asha", "Patel", "07400 123456 (Mum's)", "01270 212345", "NHS,Member", "no", "North"],
    ["Al", "", "", "(01270) 212-345", "", "yes", ""],
    ["", "", "07400 123456", "hello", "", "", ""],  # a warning; no flag given
    ["Zoë \"Z\"", "Ní Bhriain", "07400103075 / 029 2018 0063", "", "", "", "Siân's"],
])
def test_a_record_comes_back_whole_from_what_the_parsing_process_sends(cells: list[str]) -> None:
    record = parse(cells)
    assert from_wire(to_wire(record)) == record._replace(row_number=0, warnings=(),
                                                         do_not_call=False)


def test_many_custom_fields_are_encoded_exactly_as_json_dumps_would() -> None:
    values = {f"column {n} \"é\"": f"value {n}\t{'x' * n}" for n in range(40)}
    assert _json_of_texts(values) == json.dumps(values)
    keys = column_keys([*values, "with a backslash"])
    assert _json_of_columns(values, keys) == json.dumps(values)
    values["with a backslash"] = "a\\u0000b"  # looks like an escaped NUL once escaped
    assert _json_of_texts(values) == json.dumps(values)
    assert _json_of_columns(values, keys) == json.dumps(values)


@pytest.mark.parametrize(("costs", "share"), [
    ({}, 0.0),  # nothing measured yet: the parsing process parses
    ({"parse": 1.0, "write": 1.0}, 0.0),  # the writer is as busy: it parses nothing
    ({"parse": 1.0, "write": 2.0}, 0.0),
    ({"parse": 2.0, "write": 1.0, "frame": 0.0, "own_parse": 2.0}, 0.25),
    ({"parse": 3.0, "write": 1.0, "frame": 1.0, "own_parse": 2.0}, 0.5),
    ({"parse": 10.0, "write": 0.0, "frame": 0.0, "own_parse": 1.0}, 0.9),  # at most 0.9
])
def test_the_writer_takes_the_share_of_blocks_that_evens_out_the_two_processes(
        costs: dict[str, float], share: float) -> None:
    from core.importing.run import ParsingShare

    balance = ParsingShare()
    for kind, seconds in costs.items():
        balance.note(kind, seconds * 100, 100)
    assert balance.share() == pytest.approx(share)
    taken = sum(balance.leave_next_to_writer() for _ in range(100))
    assert taken == pytest.approx(share * 100, abs=1)
