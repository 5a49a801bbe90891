"""The exports page: organisers prepare, get audited, download; volunteers never get there."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.config import PROJECT_ROOT
from db.models import AuditEvent
from tests.db.stats_fixture import build_day
from tests.pages.conftest import sign_in_as

PAGE = "pages/exports.py"


def test_an_organiser_prepares_an_audited_export_and_downloads_it(make_app, app_db,
                                                                  organiser) -> None:
    day = build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    at.selectbox(key="export_kind").select("recruits")
    at.selectbox(key="export_campaign").select(day.a)
    at.radio(key="export_format").set_value("csv")
    at.button(key="export_prepare").click().run()
    assert not at.exception
    prepared = at.session_state["export_file"]
    rows = list(csv.DictReader(io.StringIO(prepared["data"].decode("utf-8-sig"))))
    assert [r["first_name"] for r in rows] == ["Ann", "Cat"]
    assert prepared["filename"].endswith(".csv")
    assert at.get("download_button")
    with app_db.session() as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert (event.actor_id, event.details) == (
        organiser.id, {"kind": "recruits", "rows": 2, "format": "csv", "campaign_id": day.a})


def test_nothing_is_exported_until_asked(make_app, app_db, organiser) -> None:
    build_day(app_db)
    at = make_app(user=organiser, page=PAGE)
    assert not at.exception
    assert not at.get("download_button")
    with app_db.session() as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all() == []


def test_a_volunteer_cannot_open_the_exports_page(make_app, volunteer) -> None:
    at = make_app(user=volunteer)
    with pytest.raises(ValueError):
        at.switch_page(PAGE)


def test_the_exports_page_itself_refuses_a_volunteer(app_env, app_db, volunteer) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / PAGE), default_timeout=30)
    sign_in_as(at, volunteer)
    at.run()
    assert [e.value for e in at.error] == ["This page is for organisers."]
    assert not at.button


def test_core_exports_are_only_called_from_pages_that_require_an_organiser() -> None:
    imports_exports = re.compile(r"^\s*(from core\.exports import|import core\.exports"
                                 r"|from core import .*\bexports\b)", re.MULTILINE)
    callers = [path for path in (PROJECT_ROOT / "pages").glob("*.py")
               if imports_exports.search(path.read_text())]
    assert callers, "some page must offer the exports"
    locked = re.compile(r"_ui\.(require_organiser\(\)|organiser_page\()")
    for path in callers:
        assert locked.search(path.read_text()), path.name
