"""Bad input through the browser: a 200 MB upload, a file over the upload limit, and HTML and
script in contacts' names. The importer's own corpus of broken files is
tests/db/test_hostile_files.py; these are the parts only a browser can show.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import sqlalchemy as sa

from core.config import PROJECT_ROOT
from db.models import Contact
from pages._browser import INLINE_SCRIPTS
from tests.e2e import streamlit_ui as ui
from tests.e2e.harness import PASSWORD, seed_campaign, seed_people
from tests.e2e.volunteer import Volunteer

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
HOSTILE_FIRST = "<script>window.__pwned=1;alert(1)</script>"
HOSTILE_LAST = '<img src=x onerror="window.__pwned=2">'


def upload_limit_mb() -> int:
    config = PROJECT_ROOT / ".streamlit" / "config.toml"
    if not config.exists():
        return 200  # Streamlit's default
    return int(tomllib.loads(config.read_text()).get("server", {}).get("maxUploadSize", 200))


def contact_count(db) -> int:
    with db.session() as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(Contact)).scalar_one())


def test_a_200_mb_upload_gets_a_clear_message_and_a_file_over_the_limit_is_refused(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots, tmp_path
):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=0)
    seed_campaign(db, contacts=5)
    before = contact_count(db)
    server = start_server(sqlite_app_url)
    page = new_context().new_page()
    ui.open_app(page, server.url)
    ui.sign_in(page, "org1", PASSWORD)
    ui.go_to(page, "Import contacts")

    # 200 MB that the uploader accepts: one endless field, which no member list has.
    big = tmp_path / "members-200mb.csv"
    with big.open("wb") as fh:
        fh.write(b"First name,Mobile\n")
        block = b"A" * MB
        for _ in range(200):
            fh.write(block)
        fh.write(b",07400 100001\n")
    page.set_input_files('input[type="file"]', str(big))
    ui.wait_for_text(page, "This file cannot be read", timeout=180)
    ui.wait_idle(page, timeout=60)
    screenshots.take(page, "200 MB file, a clear message")
    message = " ".join(ui.errors(page))
    assert re.search(r"row 2\b.*(field|long|large)", message), message
    assert page.locator('[data-testid="stException"]').count() == 0
    assert contact_count(db) == before
    big.unlink()

    # Over the upload limit: refused in the browser before a byte is sent.
    limit = upload_limit_mb()
    huge = tmp_path / "members-too-big.csv"
    with huge.open("wb") as fh:
        fh.write(b"First name,Mobile\n")
        fh.truncate((limit + 1) * MB)
    page.set_input_files('input[type="file"]', str(huge))
    refusal = page.get_by_text(re.compile(r"(must be|or smaller|too large|exceeds)", re.I))
    refusal.first.wait_for(timeout=30_000)
    screenshots.take(page, "over the upload limit")
    assert str(limit) in refusal.first.inner_text()
    assert contact_count(db) == before


def test_html_and_script_in_names_are_shown_as_text_and_never_run(
    start_server, sqlite_app_url, new_context, test_db_factory, screenshots
):
    db = test_db_factory(sqlite_app_url)
    seed_people(db, volunteers=1)
    seed_campaign(db, contacts=3)
    with db.write() as session:
        session.execute(sa.update(Contact).values(first_name=HOSTILE_FIRST,
                                                  last_name=HOSTILE_LAST))
    server = start_server(sqlite_app_url)
    volunteer = Volunteer(new_context(), "vol01")
    dialogs: list[str] = []
    volunteer.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    volunteer.sign_in(server.url)
    name = volunteer.start_calling()
    screenshots.take(volunteer.page, "hostile names on the card and in the script")

    assert name == f"{HOSTILE_FIRST} {HOSTILE_LAST}"
    text = ui.main_text(volunteer.page)
    assert f"Hello {HOSTILE_FIRST}" in text, "the script's merge field lost the literal text"
    assert dialogs == []
    assert volunteer.page.evaluate("() => window.__pwned === undefined")
    main = volunteer.page.locator('[data-testid="stMain"]')
    assert main.locator('img[src="x"]').count() == 0
    # The only scripts on the page are Ringround's own constant ones (the contact announcer,
    # allowed by hash in the CSP); none carries the contact's text.
    scripts = main.locator("script").all_inner_texts()
    assert all(text.strip() in {s.strip() for s in INLINE_SCRIPTS} for text in scripts), scripts
    assert volunteer.call("Talked – refused") is not None
    assert dialogs == []
