"""Real member exports go in whole (issue #14).

Each file here is written by the test in the shape the tool really exports (its own header
names, its quirks): a NationBuilder people export, an Action Network report, a Mailchimp
audience ZIP, a membership system's Excel-saved CSV, Excel "Unicode Text", a Google Forms
responses sheet, LibreOffice "quote all text cells", a hand-made organiser workbook and a Google
Sheets .xlsx. On every one: the accounting identity, every callable member kept, the file's
own do-not-call flags on the do-not-call list and never queued.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from core.importing import (
    FileTooLarge,
    ImportFailed,
    ImportFileError,
    ImportResult,
    ReadLimits,
    inspect_file,
    list_warnings,
    rejections_csv,
    run_import,
    warnings_csv,
)
from core.targeting import Segment, attach_segment
from db.engine import Database
from db.models import Contact, ImportBatch, ImportChange, QueueEntry, Suppression
from tests.factories import make_campaign, make_contact, queue_contacts


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8", delimiter: str = ",",
              quoting: int = csv.QUOTE_MINIMAL) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator="\r\n").writerows(
        rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


NB_HEADER = ["nationbuilder_id", "first_name", "last_name", "email", "phone_number",
             "mobile_number", "work_phone_number", "primary_address1", "primary_city",
             "primary_zip", "tag_list", "do_not_call", "do_not_contact", "is_mobile_bad",
             "email_opt_in", "created_at"]


def nationbuilder() -> bytes:
    def row(n: int, phone: str, mobile: str, work: str = "", dnc: str = "false",
            bad: str = "false") -> list[str]:
        return [str(n), f"First{n}", f"Last{n}", f"p{n}@example.org", phone, mobile, work,
                "1 High St", "Crewe", "cw1 2ab", "member, nhs", dnc, "false", bad, "true",
                "2024-03-01T10:00:00+00:00"]
    return csv_bytes([
        NB_HEADER,
        row(1, "n/a", "07400 123401"),                     # placeholder beside a mobile
        row(2, "0113 496 0001", "4.474E+11"),               # Excel-shortened mobile
        row(3, "", "07400 123403", dnc="true"),             # do_not_call
        row(4, "020 7946 0004", "07400 123404", bad="TRUE"),  # is_mobile_bad
        row(5, "-", "0"),                                   # nothing callable: rejected
        row(6, "", "07400 101006 (after 6pm)", "tbc"),      # words around the number
        row(7, "same as mobile", "+44 7400 123407"),
    ])


def action_network() -> bytes:
    return csv_bytes([
        ["first_name", "last_name", "email", "zip_code", "can2_phone", "can2_sms_status",
         "can2_user_tags", "can2_country", "can2_state_abbreviated"],
        ["Asha", "Patel", "asha@example.org", "CW1 2AB", "+447400123411", "subscribed",
         "nhs, steward", "GB", ""],
        ["Ben", "Jones", "ben@example.org", "CW2 3CD", "07400 123412 / 0113 496 0012",
         "unsubscribed", "", "GB", ""],
        ["Cat", "Hill", "cat@example.org", "", "", "", "", "GB", ""],
    ])


MC_HEADER = ["Email Address", "First Name", "Last Name", "Phone Number", "MEMBER_RATING",
             "OPTIN_TIME", "TAGS", "LEID", "EUID"]


def mailchimp_zip() -> bytes:
    subscribed = csv_bytes([
        MC_HEADER,
        ["a@example.org", "Ann", "Ames", "07400 123421", "2", "2024-01-01 10:00:00",
         '"Volunteer","NHS"', "1", "x1"],
        ["b@example.org", "Bea", "Bell", "07400 123422", "3", "2024-01-02 10:00:00", "", "2",
         "x2"],
    ])
    unsubscribed = csv_bytes([
        [*MC_HEADER, "UNSUB_TIME", "UNSUB_REASON"],
        ["c@example.org", "Cy", "Cole", "07400 123423", "1", "", "", "3", "x3",
         "2024-05-01", "No longer interested"],
    ])
    cleaned = csv_bytes([[*MC_HEADER, "CLEAN_TIME"],
                         ["d@example.org", "Di", "Dunn", "07400 123424", "1", "", "", "4",
                          "x4", "2024-06-01"]])
    return zip_bytes({
        "subscribed_members_export_5f1e.csv": subscribed,
        "unsubscribed_members_export_5f1e.csv": unsubscribed,
        "cleaned_members_export_5f1e.csv": cleaned,
    })


def membership_system_csv() -> bytes:
    return csv_bytes([
        ["Membership report - Crewe & Nantwich CLP"],
        ["Generated 01/12/2026 09:14"],
        [],
        ["Membership No", "Title", "Forename", "Surname", "Home Telephone", "Mobile Telephone",
         "Post Code", "Contact by phone", "Status"],
        ["M0001", "Ms", "Siân", "Évans", "01270 496001", "07400 123431", "CW1 2AB", "Yes",
         "Current"],
        ["M0002", "Mr", "Bartłomiej", "Nowak", "0000 000000", "07400 123432", "CW1 2AC", "No",
         "Current"],
        ["M0003", "Mrs", "Renée", "Okafor", "01270 496003", "none", "CW1 2AD", "", "Lapsed"],
        ["", "", "", "", "", "", "", "", ""],
        ["Total members: 3", "", "", "", "", "", "", "", ""],
    ], encoding="utf-8-sig")


def excel_unicode_text() -> bytes:
    text = csv_bytes([
        ["Forename", "Surname", "Mobile", "Home Phone", "Ward"],
        ["Zoë", "Ní Bhriain", "07400 123441", "same as mobile", "Crewe East"],
        ["Aoife", "O'Brien", "7400123442", "020 7946 0042 home", "Wistaston"],
    ], delimiter="\t").decode()
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def google_forms() -> bytes:
    return xlsx_bytes({"Form responses 1": [
        ["Timestamp", "Your name", "What's the best number to call you on?", "Email address",
         "Postcode", "May we phone you about campaign events?"],
        [datetime(2026, 11, 3, 18, 2), "Wright, Shona", "07400 123451", "s@example.org",
         "cw1 2ab", "Yes"],
        [datetime(2026, 11, 3, 19, 40), "Mr & Mrs Morris", "07400 106 900 (Mum's)",
         "m@example.org", "CW2 1AA", "No, please don't"],
        [datetime(2026, 11, 4, 8, 5), "Kwame Mensah", "call me on 07400 123453 or 0113 496 0053",
         "", "", "Yes"],
    ]})


def libreoffice_quote_all() -> bytes:
    return csv_bytes([
        ["Name", "Phone", "Phone 2", "Tags", "Notes"],
        ["Priya Shah", "07400103075 / 029 2018 0063", "", "nhs;rep", "ok"],
        ["Leo Grant", "tbc", "07400 123462", "", ""],
        ["Grace Lee", "ex-directory", "", "", "no number"],
    ], quoting=csv.QUOTE_ALL)


def organiser_workbook() -> bytes:
    return xlsx_bytes({
        "Instructions": [["Phone bank list - fill in the Members sheet"], [], ["Thanks!"]],
        "Members": [
            ["Saturday phone bank, Bedford"],
            [],
            ["Name", "Mobile", "Landline", "Joined", "Shifts"],
            ["Ada Lovelace", 7400123471.0, None, datetime(2021, 4, 1), 3],
            ["Alan Turing", 447400123472, 1134960072, datetime(2022, 6, 23), 1.5],
            ["Mary Ann de la Cruz", None, "0113 496 0073", None, None],
            [None, None, None, None, None],
            ["Total", None, None, None, 4.5],
            [None, None, None, None, None],
        ],
    })


def google_sheets_xlsx() -> bytes:
    rows: list[list[Any]] = [["First Name", "Last Name", "Tel", "Do not call"]]
    rows += [["Ola", "Nordmann", "07400 123481", ""], ["Kim", "Park", "07400 123482", "TRUE"],
             ["Lin", "Wu", "+447400123483", "FALSE"]]
    rows += [[None, None, None, None]] * 40  # Sheets writes its empty grid rows too
    return xlsx_bytes({"Sheet1": rows})


@dataclass
class Case:
    filename: str
    build: Callable[[], bytes]
    # rows, inserted, rejected, warnings, flagged do-not-call
    counts: tuple[int, int, int, int, int]
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # phone -> (first, last)
    refused: set[str] = field(default_factory=set)  # numbers that must be on the list
    others: dict[str, list[str]] = field(default_factory=dict)  # phone -> other numbers
    options: dict[str, Any] = field(default_factory=dict)


CASES = [
    pytest.param(Case("nationbuilder-people-export.csv", nationbuilder, (7, 6, 1, 4, 2),
                      names={"+447400123401": ("First1", "Last1")},
                      refused={"+447400123403", "+447400123404", "+442079460004"},
                      others={"+441134960001": []}), id="NationBuilder people export"),
    pytest.param(Case("report.csv", action_network, (3, 2, 1, 0, 0),
                      names={"+447400123412": ("Ben", "Jones")},
                      others={"+447400123412": ["+441134960012"]}), id="Action Network report"),
    pytest.param(Case("members_export_5f1e.zip", mailchimp_zip, (2, 2, 0, 0, 0),
                      names={"+447400123421": ("Ann", "Ames")},
                      refused={"+447400123423", "+447400123424"}), id="Mailchimp audience ZIP"),
    pytest.param(Case("CLP membership.csv", membership_system_csv, (3, 3, 0, 2, 1),
                      names={"+447400123431": ("Siân", "Évans")},
                      refused={"+447400123432"}), id="membership system, Excel-saved CSV"),
    pytest.param(Case("members.txt", excel_unicode_text, (2, 2, 0, 1, 0),
                      names={"+447400123442": ("Aoife", "O'Brien")},
                      others={"+447400123442": ["+442079460042"]}), id="Excel Unicode Text"),
    pytest.param(Case("Phone bank sign-up (Responses).xlsx", google_forms, (3, 3, 0, 0, 1),
                      names={"+447400123451": ("Shona", "Wright"),
                             "+447400106900": ("Mr & Mrs Morris", "")},
                      refused={"+447400106900"},
                      others={"+447400123453": ["+441134960053"]}), id="Google Forms responses"),
    pytest.param(Case("list.csv", libreoffice_quote_all, (3, 2, 1, 1, 0),
                      names={"+447400103075": ("Priya", "Shah")},
                      others={"+447400103075": ["+442920180063"]}),
                 id="LibreOffice quote all text cells"),
    pytest.param(Case("phonebank.xlsx", organiser_workbook, (3, 3, 0, 0, 0),
                      names={"+447400123471": ("Ada", "Lovelace"),
                             "+441134960073": ("Mary Ann", "de la Cruz")},
                      others={"+447400123472": ["+441134960072"]}),
                 id="hand-made organiser workbook"),
    pytest.param(Case("Members - Google Sheets.xlsx", google_sheets_xlsx, (3, 3, 0, 0, 1),
                      refused={"+447400123482"}), id="Google Sheets xlsx"),
]


def stored_contacts(database: Database) -> dict[str, Contact]:
    with database.session() as session:
        return {c.phone: c for c in session.exec(select(Contact).order_by(col(Contact.id)))}


def assert_accounted(database: Database, result: ImportResult) -> None:
    assert result.status == "done"
    assert (result.inserted + result.updated + result.unchanged + result.merged
            + result.rejected) == result.total_rows
    with database.session() as session:
        batch = session.get(ImportBatch, result.batch_id)
        assert batch is not None
        assert (batch.total_rows, batch.inserted, batch.updated, batch.unchanged, batch.merged,
                batch.rejected, batch.warnings, batch.do_not_call) == (
            result.total_rows, result.inserted, result.updated, result.unchanged,
            result.merged, result.rejected, result.warnings, result.do_not_call)


@pytest.mark.parametrize("case", CASES)
def test_a_real_tools_export_goes_in_whole_and_its_do_not_call_flags_are_honoured(
    database: Database, case: Case
) -> None:
    result = run_import(database=database, stream=io.BytesIO(case.build()),
                        filename=case.filename, **case.options)
    assert_accounted(database, result)
    assert (result.total_rows, result.inserted, result.rejected, result.warnings,
            result.do_not_call) == case.counts
    contacts = stored_contacts(database)
    for phone, name in case.names.items():
        assert (contacts[phone].first_name, contacts[phone].last_name) == name
    for phone, others in case.others.items():
        assert contacts[phone].other_phones == others
    with database.write() as session:
        listed = {s.phone: s for s in session.exec(select(Suppression))}
        campaign = make_campaign(session)
        attach_segment(session=session, segment=Segment(), campaign_id=campaign.id)
        queued = set(session.exec(
            select(Contact.phone).join(QueueEntry, col(QueueEntry.contact_id) == Contact.id)))
    assert set(listed) == case.refused
    assert all(s.source == "import" and s.import_batch_id == result.batch_id
               for s in listed.values())
    assert not queued & case.refused, "a number the file flagged do-not-call was queued"
    assert queued == set(contacts) - {p for p, c in contacts.items()
                                      if p in case.refused or set(c.other_phones) & case.refused}


def test_a_mailchimp_zip_of_several_files_reads_the_subscribed_one_and_names_the_others(
    database: Database
) -> None:
    preview = inspect_file(io.BytesIO(mailchimp_zip()), filename="export.zip")
    assert preview.format.kind == "zip"
    assert preview.format.sheet == "subscribed_members_export_5f1e.csv"
    assert len(preview.format.sheets) == 3
    assert preview.mapping["Email Address"] == "email"
    assert preview.mapping["TAGS"] == "tags"
    with database.write() as session:  # Cy, stored by an earlier import and queued
        campaign = make_campaign(session)
        queue_contacts(session, campaign, [make_contact(session, phone="+447400123423")])
    result = run_import(database=database, stream=io.BytesIO(mailchimp_zip()),
                        filename="export.zip")
    assert stored_contacts(database)["+447400123421"].tags == ",volunteer,nhs,"
    # Those who unsubscribed or were cleaned are listed do-not-call, none made a contact.
    assert result.listed_from_files == {"unsubscribed_members_export_5f1e.csv": 1,
                                        "cleaned_members_export_5f1e.csv": 1}
    with database.session() as session:
        assert set(session.exec(select(Suppression.phone))) == {"+447400123423",
                                                                "+447400123424"}
        assert session.exec(select(QueueEntry.status)).one() == "excluded"
        batch = session.get(ImportBatch, result.batch_id)
        assert batch is not None and batch.options["listed_from_files"] == (
            result.listed_from_files)
    assert "+447400123424" not in stored_contacts(database)
    # The unsubscribed file, chosen on purpose: its people are do-not-contact, never callable.
    gone = run_import(database=database, stream=io.BytesIO(mailchimp_zip()),
                      filename="export.zip", sheet="unsubscribed_members_export_5f1e.csv")
    assert_accounted(database, gone)
    assert (gone.total_rows, gone.inserted, gone.do_not_call, gone.suppressed) == (1, 0, 1, 1)
    assert result.do_not_call == 0


def test_a_zip_with_no_obvious_file_is_refused_naming_the_files_to_choose_from(
    database: Database
) -> None:
    data = zip_bytes({"crewe.csv": b"Phone\n07400123491\n", "bedford.csv": b"Phone\n0\n"})
    with pytest.raises(ImportFileError) as caught:
        run_import(database=database, stream=io.BytesIO(data), filename="lists.zip")
    message = str(caught.value)
    assert "ZIP of 2 files" in message and "crewe.csv" in message and "bedford.csv" in message
    assert "workbook" not in message
    with pytest.raises(ImportFileError, match="not a readable ZIP file"):
        run_import(database=database, stream=io.BytesIO(b"PK\x03\x04broken"),
                   filename="export.zip")
    with pytest.raises(ImportFileError, match="holds no CSV file"):
        run_import(database=database, stream=io.BytesIO(zip_bytes({"a.pdf": b"%PDF"})),
                   filename="docs.zip")
    result = run_import(database=database, stream=io.BytesIO(data), filename="lists.zip",
                        sheet="crewe.csv")
    assert (result.total_rows, result.inserted) == (1, 1)


def test_reimporting_an_unchanged_file_updates_nothing_and_stores_no_undo_snapshots(
    database: Database
) -> None:
    first = run_import(database=database, stream=io.BytesIO(nationbuilder()),
                       filename="nb.csv")
    again = run_import(database=database, stream=io.BytesIO(nationbuilder()),
                       filename="nb.csv")
    assert_accounted(database, again)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (
        0, 0, first.inserted, 1)
    with database.session() as session:
        assert session.exec(select(ImportChange)).all() == []
    # One changed row is one update, and one snapshot to undo it.
    changed = nationbuilder().replace(b"First7", b"Firstseven").replace(b"Last7,", b",")
    third = run_import(database=database, stream=io.BytesIO(changed), filename="nb.csv",
                       policy="overwrite")
    assert (third.updated, third.unchanged) == (1, first.inserted - 1)
    with database.session() as session:
        assert len(session.exec(select(ImportChange)).all()) == 1


def test_a_flagged_row_for_a_stored_queued_contact_pulls_it_from_the_queue(
    database: Database
) -> None:
    with database.write() as session:
        contact = make_contact(session, phone="+447400123403", first_name="First3")
        campaign = make_campaign(session)
        queue_contacts(session, campaign, [contact])
    run_import(database=database, stream=io.BytesIO(nationbuilder()), filename="nb.csv")
    with database.session() as session:
        (entry,) = session.exec(select(QueueEntry)).all()
    assert entry.status == "excluded"


def test_organisers_can_change_the_values_that_mean_do_not_call(database: Database) -> None:
    data = membership_system_csv()
    result = run_import(database=database, stream=io.BytesIO(data), filename="m.csv",
                        do_not_call_values={"Contact by phone": ["Yes"]})
    # Values as the organiser typed them: now "Yes" means do not call, and "No" does not.
    assert result.do_not_call == 1
    with database.session() as session:
        assert set(session.exec(select(Suppression.phone))) == {"+447400123431", "+441270496001"}
    with pytest.raises(ImportFileError, match="not mapped to the do-not-call flag"):
        run_import(database=database, stream=io.BytesIO(data), filename="m.csv",
                   do_not_call_values={"Forename": ["no"]})


def test_title_rows_and_a_totals_line_are_not_members_and_a_chosen_header_row_wins(
    database: Database
) -> None:
    preview = inspect_file(io.BytesIO(membership_system_csv()), filename="m.csv")
    assert preview.header_row == 4
    assert preview.headers[:3] == ["Membership No", "Title", "Forename"]
    assert [n for n, _ in preview.top_rows][:2] == [1, 2]
    chosen = inspect_file(io.BytesIO(membership_system_csv()), filename="m.csv", header_row=1)
    assert chosen.headers == ["Membership report - Crewe & Nantwich CLP"]
    with pytest.raises(ImportFileError, match="row 3 is blank"):
        inspect_file(io.BytesIO(membership_system_csv()), filename="m.csv", header_row=3)
    result = run_import(database=database, stream=io.BytesIO(membership_system_csv()),
                        filename="m.csv")
    with database.session() as session:
        warnings = list_warnings(session=session, batch_id=result.batch_id)
    assert warnings == [
        {"row_number": 6, "message": "Home Telephone: not a phone number, kept the "
                                     "Mobile Telephone"},
        {"row_number": 7, "message": "Mobile Telephone: not a phone number, kept the "
                                     "Home Telephone"},
    ]


def test_the_sheet_with_data_is_preselected_and_a_named_sheet_is_read(database: Database) -> None:
    preview = inspect_file(io.BytesIO(organiser_workbook()), filename="w.xlsx")
    assert preview.format.sheets == ("Instructions", "Members")
    assert (preview.format.sheet, preview.header_row) == ("Members", 3)
    assert preview.sample[0][:4] == ["Ada Lovelace", "7400123471", "", "2021-04-01"]
    by_number = inspect_file(io.BytesIO(organiser_workbook()), filename="w.xlsx", sheet="1")
    assert by_number.format.sheet == "Instructions"
    with pytest.raises(ImportFileError, match="no sheet 'Nope'; its sheets are Instructions"):
        inspect_file(io.BytesIO(organiser_workbook()), filename="w.xlsx", sheet="Nope")


def test_rejected_rows_and_warnings_download_formula_safe_headers_and_reasons_included(
    database: Database
) -> None:
    data = csv_bytes([
        ['=HYPERLINK("http://evil.example/","x")', "Mobile", "Landline"],
        ["=1+1", "07700 900123", "@SUM(1)"],
        ["ok", "07400 123499", "-"],
    ])
    result = run_import(database=database, stream=io.BytesIO(data), filename="evil.csv")
    assert (result.rejected, result.warnings) == (1, 1)
    with database.session() as session:
        rejected = rejections_csv(session=session, batch_id=result.batch_id).decode("utf-8-sig")
        warned = warnings_csv(session=session, batch_id=result.batch_id).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(rejected)))
    assert header == ["row", "reason", "'=HYPERLINK(\"http://evil.example/\",\"x\")", "Mobile",
                      "Landline"]
    assert row == ["2", "Mobile: not a valid phone number; Landline: not a phone number "
                   "(a formula)", "'=1+1", "07700 900123", "'@SUM(1)"]
    assert list(csv.reader(io.StringIO(warned))) == [
        ["row", "warning"], ["3", "Landline: not a phone number, kept the Mobile"]]


# --------------------------------------------------------------------------------------------
# Hostile workbooks cannot exhaust the server
# --------------------------------------------------------------------------------------------

def shared_strings_bomb(uncompressed: int) -> bytes:
    """A valid workbook whose text table unpacks to `uncompressed` bytes (from a few hundred KB)."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes({"Sheet1": [["Phone"], ["07400 123401"]]})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in base.infolist():
            if info.filename != "xl/sharedStrings.xml":
                archive.writestr(info, base.read(info.filename))
        with archive.open("xl/sharedStrings.xml", "w") as member:
            member.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                         b'spreadsheetml/2006/main"><si><t>Phone</t></si>')
            block = b"<si><t>x</t></si>" * 65536
            for _ in range(uncompressed // len(block)):
                member.write(block)
            member.write(b"</sst>")
    return out.getvalue()


def test_a_shared_strings_bomb_is_refused_before_it_is_unpacked(database: Database) -> None:
    bomb = shared_strings_bomb(110 << 20)
    assert len(bomb) < 1 << 20, "the bomb should be small"
    for read in (lambda: inspect_file(io.BytesIO(bomb), filename="bomb.xlsx"),
                 lambda: run_import(database=database, stream=io.BytesIO(bomb),
                                    filename="bomb.xlsx")):
        with pytest.raises(FileTooLarge, match="sharedStrings.xml.*limit for shared strings"):
            read()
    with pytest.raises(FileTooLarge, match="limit for uncompressed size"):
        inspect_file(io.BytesIO(shared_strings_bomb(2 << 20)), filename="bomb.xlsx",
                     limits=ReadLimits(uncompressed_bytes=1 << 20))
    with database.session() as session:
        assert session.exec(select(ImportBatch)).all() == []


def sparse_workbook(last_row: int, last_column: int = 1) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name"])
    sheet.append(["07400 123401", "Ann"])
    sheet.cell(row=last_row, column=last_column, value="x")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_rows_cells_and_time_read_from_a_workbook_are_capped_naming_the_limit(
    database: Database
) -> None:
    far = sparse_workbook(1_048_576)  # a few KB that would pad out a million empty rows
    with pytest.raises(ImportFailed) as caught:  # reached part-way: the batch is failed
        run_import(database=database, stream=io.BytesIO(far), filename="far.xlsx",
                   limits=ReadLimits(rows=10_000))
    assert "more than 10,000 rows (the limit for rows read" in str(caught.value)
    wide = sparse_workbook(3, 16_384)  # one cell in the last column Excel has
    with pytest.raises((ImportFileError, ImportFailed), match="the limit for cells read"):
        run_import(database=database, stream=io.BytesIO(wide), filename="wide.xlsx",
                   limits=ReadLimits(cells=10_000))
    with pytest.raises((ImportFileError, ImportFailed), match="the time limit"):
        run_import(database=database, stream=io.BytesIO(far), filename="far.xlsx",
                   limits=ReadLimits(seconds=0.0))
    # The preview of the far file reads only what it shows, so it answers at once.
    preview = inspect_file(io.BytesIO(far), filename="far.xlsx")
    assert preview.sample == [["07400 123401", "Ann"]]
    with database.session() as session:
        assert {b.status for b in session.exec(select(ImportBatch))} == {"failed"}
