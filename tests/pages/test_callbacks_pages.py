"""Callbacks on screen through AppTest: the volunteer's "My callbacks" on the calling page and
the organiser's callbacks per volunteer on Campaigns, each with its Release (issue #13, #15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from db.models import QueueEntry
from tests.factories import ALL_DAY, make_campaign, make_contact, make_user, queue_contacts


def arrange(app_db):
    """Jo holds two callbacks (one for tomorrow, one the day after) and one contact is fresh."""
    tomorrow = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    with app_db.write() as s:
        organiser = make_user(s, role="organiser", name="Olive Organiser")
        volunteer = make_user(s, name="Jo Volunteer")
        campaign = make_campaign(s, calling_window=ALL_DAY, name="Save our A&E")
        people = [make_contact(s, first_name=first, last_name=last) for first, last in
                  (("Ann", "Callback"), ("[Bob](https://evil.example)", "Later"),
                   ("Cal", "Fresh"))]
        entries = queue_contacts(s, campaign, people[:2], status="callback",
                                 callback_owner_id=volunteer.id, attempts=1)
        for n, entry in enumerate(entries):
            entry.due_at = tomorrow + timedelta(days=n)
            entry.release_at = entry.due_at + timedelta(hours=1)
            s.add(entry)
        queue_contacts(s, campaign, people[2:])
        return organiser, volunteer, campaign.id, [e.id for e in entries]


def owners(app_db) -> dict[int, int | None]:
    with app_db.session() as s:
        return {e.id: e.callback_owner_id for e in s.exec(select(QueueEntry))
                if e.status == "callback"}


def test_my_callbacks_on_the_calling_page_shows_when_and_whom_and_releases_one(
    make_app, app_db
) -> None:
    _, volunteer, campaign_id, entry_ids = arrange(app_db)
    at = make_app(user=volunteer, page="pages/calling.py")
    at.button(key="calling_start").click()
    at.run()
    assert not at.exception
    expander = next(e for e in at.sidebar.expander if e.label.startswith("My callbacks"))
    assert expander.label == "My callbacks (2)"
    rows = [t.value for t in expander.text]
    assert len(rows) == 2 and rows[0].endswith("· Ann Callback")
    # A name is plain text: a Markdown link in it stays the literal characters, not a link.
    assert rows[1].endswith("· [Bob](https://evil.example) Later")
    assert not any("evil.example" in m.value for m in at.markdown)
    at.button(key=f"callbacks_release_{entry_ids[0]}").click()
    at.run()
    assert not at.exception
    assert owners(app_db) == {entry_ids[0]: None, entry_ids[1]: volunteer.id}
    expander = next(e for e in at.sidebar.expander if e.label.startswith("My callbacks"))
    assert expander.label == "My callbacks (1)"


def test_organisers_see_callbacks_per_volunteer_on_campaigns_and_release_them(
    make_app, app_db
) -> None:
    organiser, volunteer, campaign_id, entry_ids = arrange(app_db)
    at = make_app(user=organiser, page="pages/campaigns.py")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "Volunteer" in d.value.columns)
    assert list(table["Volunteer"]) == ["Jo Volunteer"] and list(table["Callbacks"]) == [2]
    at.button(key=f"callbacks_release_all_{campaign_id}").click()
    at.run()
    assert not at.exception
    assert owners(app_db) == {entry_ids[0]: None, entry_ids[1]: None}
    assert any("No volunteer holds a callback" in c.value for c in at.caption)


def test_organisers_set_the_callback_bounds_of_a_campaign(make_app, app_db) -> None:
    organiser, _, campaign_id, _ = arrange(app_db)
    at = make_app(user=organiser, page="pages/campaigns.py")
    at.number_input(key=f"campaigns_callback_days_{campaign_id}").set_value(7)
    at.number_input(key=f"campaigns_callback_cap_{campaign_id}").set_value(5)
    at.date_input(key=f"campaigns_ends_on_{campaign_id}").set_value(datetime(2026, 12, 6).date())
    at.button(key="campaigns_save_callbacks").click()
    at.run()
    assert not at.exception
    from db.models import Campaign

    with app_db.session() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.callback_max_days, campaign.max_callbacks_per_volunteer) == (7, 5)
        # The end of 6 Dec in London (GMT in winter): midnight after it.
        assert campaign.ends_at == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
