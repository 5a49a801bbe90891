"""Text from uploads, contacts and volunteers is rendered as plain text, never Markdown; only the
merged script is Markdown, with every merged value escaped (issue #13).

Each test plants a Markdown image and link (which would load an external image and show a
"Verify account" link) and checks the element type that carries it and its exact value.
"""

from __future__ import annotations

import html

from sqlmodel import select

from core.script import escape_markdown
from db.models import AuditEvent
from tests.factories import ALL_DAY, make_campaign, make_contact, make_user, queue_contacts

IMAGE = "![x](http://evil.example/pixel.png)"
LINK = "[Verify account](https://evil.example/login)"
URL = "https://evil.example/x"


def markdown_values(at) -> list[str]:
    elements = [*at.markdown, *at.caption, *at.subheader, *at.success, *at.info, *at.warning,
                *at.error, *at.sidebar.markdown, *at.sidebar.caption]
    return [str(e.value) for e in elements]


def no_markdown_holds_it(at) -> bool:
    return not any("evil.example" in value for value in markdown_values(at))


def test_the_calling_card_shows_names_and_fields_as_text_and_escapes_them_in_the_script(
    make_app, app_db
) -> None:
    with app_db.write() as s:
        make_user(s, role="organiser")
        volunteer = make_user(s, name="Jo Volunteer")
        campaign = make_campaign(s, calling_window=ALL_DAY,
                                 script="Hello {first_name}, about {branch}.")
        person = make_contact(s, first_name=IMAGE, last_name=LINK, custom={"branch": URL})
        queue_contacts(s, campaign, [person])
    at = make_app(user=volunteer, page="pages/calling.py")
    at.button(key="calling_start").click()
    at.run()
    assert not at.exception
    # The name is the card's heading, as one escaped text node: no image, no link.
    assert f"<h3>{html.escape(f'{IMAGE} {LINK}')}</h3>" in [h.proto.body for h in at.html]
    assert f"Branch: {URL}" in [t.value for t in at.text]
    # A widget label has no plain-text mode, so the one tap to dial carries the name escaped.
    dial = next(b for b in at.get("link_button"))
    assert dial.proto.label == f"Call {escape_markdown(IMAGE)}"
    # The merged script is the one Markdown element holding contact data, fully escaped.
    script = [v for v in markdown_values(at) if "evil" in v]
    assert script == [f"Hello {escape_markdown(IMAGE)}, about {escape_markdown(URL)}."]
    assert "](" not in script[0] and "://" not in script[0]


def test_the_contact_page_shows_the_name_and_custom_fields_as_text(make_app, app_db) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        make_contact(s, first_name="Asha", last_name=LINK, custom={IMAGE: URL})
    at = make_app(user=organiser, page="pages/contacts.py")
    at.text_input(key="contact_search").input("Asha")
    at.run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert f"Asha {LINK}" in texts and f"{IMAGE}: {URL}" in texts
    assert no_markdown_holds_it(at)


def test_the_mapping_screen_shows_csv_headers_as_text(make_app, app_db) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
    at = make_app(user=organiser, page="pages/contacts_import.py")
    csv = f"First name,Mobile,{IMAGE},{LINK}\nAnn,07400 100001,a,b\n".encode()
    at.file_uploader(key="import_file").set_value(("members.csv", csv, "text/csv"))
    at.run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert IMAGE in texts and LINK in texts
    labels = [at.selectbox(key=f"import_map_{i}").label for i in range(4)]
    assert labels == [f"Field for column {i}" for i in range(1, 5)]
    assert no_markdown_holds_it(at)


def test_team_messages_and_the_sidebar_show_a_volunteers_name_as_text(make_app, app_db) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser", name="Olive")
        member = make_user(s, name=f"Vic {IMAGE}")
    at = make_app(user=organiser, page="pages/team.py")
    at.selectbox(key="team_member").set_value(member.id)
    at.run()
    at.button(key="team_deactivate").click()
    at.run()
    assert not at.exception
    assert f"✅ Vic {IMAGE} is deactivated and signed out." in [t.value for t in at.text]
    assert no_markdown_holds_it(at)
    volunteer_at = make_app(user=make_volunteer(app_db, LINK), page="pages/my_stats.py")
    assert f"Signed in as {LINK} (volunteer)" in [t.value for t in volunteer_at.sidebar.text]


def make_volunteer(app_db, name: str):
    with app_db.write() as s:
        return make_user(s, name=name)


def test_organisers_see_a_contacts_number_only_on_request_and_each_reveal_is_audited(
    make_app, app_db
) -> None:
    with app_db.write() as s:
        organiser = make_user(s, role="organiser")
        person = make_contact(s, first_name="Asha", last_name="Patel", phone="+447400100001")
    at = make_app(user=organiser, page="pages/contacts.py")
    at.text_input(key="contact_search").input("Asha")
    at.run()
    shown = "\n".join([*markdown_values(at), *(t.value for t in at.text),
                       *(str(o) for o in at.selectbox(key="contact_pick").options),
                       str(at.text_input(key=f"contact_phone_{person.id}").value)])
    assert "07400 100001" not in shown and "100001" not in shown
    with app_db.session() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "number_revealed")
                      ).all() == []
    at.button(key=f"contact_reveal_{person.id}").click()
    at.run()
    assert any("07400 100001" in v for v in markdown_values(at))
    with app_db.session() as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "number_revealed"))
        assert (event.actor_id, event.target) == (organiser.id, f"contact:{person.id}")
        assert "100001" not in str(event.details)
