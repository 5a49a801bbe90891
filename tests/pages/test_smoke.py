"""Every page renders for each role it is offered to, on an empty and on a demo database."""

from __future__ import annotations

import pytest

from core.demo import load_demo
from tests.factories import make_user

ORGANISER_PAGES = [
    "pages/dashboard.py", "pages/calling.py", "pages/my_stats.py", "pages/campaigns.py",
    "pages/contacts_import.py", "pages/targeting.py", "pages/contacts.py", "pages/team.py",
    "pages/exports.py", "pages/settings.py", "pages/account.py", "pages/events.py",
    "pages/checkin.py",
]
VOLUNTEER_PAGES = ["pages/calling.py", "pages/my_stats.py", "pages/account.py"]
# Each page's title and one widget it cannot work without, on demo data.
KEY_ELEMENTS = {
    "pages/dashboard.py": ("Dashboard", "dashboard_campaign"),
    "pages/calling.py": ("Calling", "calling_start"),
    "pages/my_stats.py": ("My calls", "my_stats_campaign"),
    "pages/campaigns.py": ("Campaigns", "campaigns_pick"),
    "pages/contacts_import.py": ("Import contacts", "import_file"),
    "pages/targeting.py": ("Targeting", "seg_constituencies"),
    "pages/contacts.py": ("Contacts", "contact_search"),
    "pages/team.py": ("Team", "team_member"),
    "pages/exports.py": ("Exports", "export_kind"),
    "pages/settings.py": ("Settings", "dnc_numbers"),
    "pages/account.py": ("My account", "account_name"),
    "pages/events.py": ("Events", None),
    "pages/checkin.py": ("Check-in", None),
}


def assert_page_shows_its_title_and_key_element(at, page: str) -> None:
    title, key = KEY_ELEMENTS[page]
    assert title in [t.value for t in at.title], page
    if key is not None:
        assert key in at.session_state, f"{page}: no widget {key!r}"


@pytest.mark.parametrize("page", ORGANISER_PAGES)
def test_every_organiser_page_renders_on_an_empty_database(make_app, organiser, page) -> None:
    at = make_app(user=organiser, page=page)
    assert not at.exception, at.exception
    assert KEY_ELEMENTS[page][0] in [t.value for t in at.title], page


@pytest.fixture
def demo(app_db):
    with app_db.write() as session:
        load_demo(session=session, contacts=300)


def demo_user(app_db, username: str):
    """One of the demo's accounts (load_demo makes "organiser" and "volunteer1"...)."""
    from sqlmodel import select

    from core.users import get_user
    from db.models import User

    with app_db.session() as session:
        user_id = session.exec(select(User.id).where(User.username == username)).one()
        return get_user(session=session, user_id=user_id)


@pytest.mark.parametrize(("username", "page"), [
    *(("organiser", page) for page in ORGANISER_PAGES),
    *(("volunteer1", page) for page in VOLUNTEER_PAGES),
])
def test_every_page_renders_on_demo_data(make_app, app_db, demo, username, page) -> None:
    at = make_app(user=demo_user(app_db, username), page=page)
    assert not at.exception, at.exception
    assert_page_shows_its_title_and_key_element(at, page)


# Check-in is also for the volunteers an organiser chose (tests/pages/test_events_pages.py).
@pytest.mark.parametrize("page", [p for p in ORGANISER_PAGES
                                  if p not in VOLUNTEER_PAGES and p != "pages/checkin.py"])
def test_a_volunteer_cannot_open_an_organiser_page(make_app, app_db, page) -> None:
    with app_db.write() as session:
        make_user(session, role="organiser")
        volunteer = make_user(session, role="volunteer")
    at = make_app(user=volunteer)
    # app.py must have run to its st.navigation call; before that, Streamlit's older multipage
    # mode knows every file in pages/ and switch_page would prove nothing.
    assert not at.exception
    # The page is not in the volunteer's navigation, so Streamlit has nothing to switch to.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)


def test_organiser_sets_note_retention_on_the_settings_page(make_app, app_db, organiser) -> None:
    from core.contacts import get_notes_retention_months

    at = make_app(user=organiser, page="pages/settings.py")
    at.checkbox(key="retention_on").check()
    at.run()
    at.number_input(key="retention_months").set_value(6)
    at.button(key="retention_save").click()
    at.run()
    assert not at.exception
    with app_db.session() as session:
        assert get_notes_retention_months(session=session) == 6


def test_pasted_numbers_reach_the_do_not_call_list_from_settings(make_app, app_db, organiser
                                                                 ) -> None:
    from core.suppression import is_suppressed

    at = make_app(user=organiser, page="pages/settings.py")
    at.text_area(key="dnc_numbers").input("07400 123456\nnonsense")
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception
    assert "Line 2: not a phone number" in [w.value for w in at.warning]
    with app_db.session() as session:
        assert is_suppressed(session=session, phone="+447400123456")


# Check-in is also for the volunteers an organiser chose (tests/pages/test_events_pages.py).
@pytest.mark.parametrize("page", [p for p in ORGANISER_PAGES
                                  if p not in VOLUNTEER_PAGES and p != "pages/checkin.py"])
def test_an_organiser_page_run_directly_shows_a_volunteer_only_its_guard(app_db, page) -> None:
    # Streamlit can run a file in pages/ without app.py (its older multipage mode, e.g. on a
    # fresh server's first request), so each organiser page must lock itself too.
    from streamlit.testing.v1 import AppTest

    from core.config import PROJECT_ROOT
    from tests.pages.conftest import sign_in_as

    with app_db.write() as session:
        make_user(session, role="organiser")
        volunteer = make_user(session, role="volunteer")
    at = AppTest.from_file(str(PROJECT_ROOT / page), default_timeout=30)
    sign_in_as(at, volunteer)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["This page is for organisers."]
    assert len(at.main.children) <= 2


@pytest.mark.parametrize("page", ["pages/dashboard.py", "pages/campaigns.py",
                                  "pages/targeting.py", "pages/events.py"])
def test_every_date_picker_reads_day_month_year(make_app, app_db, demo, page) -> None:
    # UK dates wherever a date is shown (issue #15): Streamlit's own default is YYYY/MM/DD.
    from sqlmodel import select

    from core.users import get_user
    from db.models import User

    with app_db.session() as session:
        organiser_id = session.exec(select(User.id).where(User.username == "organiser")).one()
        organiser = get_user(session=session, user_id=organiser_id)
    at = make_app(user=organiser, page=page)
    if page == "pages/targeting.py":
        at.checkbox(key="seg_use_last").check()  # its date picker shows once asked for
        at.run()
    assert not at.exception, at.exception
    formats = [picker.proto.format for picker in at.date_input]
    assert formats and set(formats) == {"DD/MM/YYYY"}, (page, formats)
