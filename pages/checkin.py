"""Check-in on the day, on a phone: tick who came, add walk-ins.

For organisers and the volunteers an organiser chose for the event. Names only; numbers only
when asked for, and that is audited.
"""

from __future__ import annotations

import streamlit as st

from core import events
from core.events import CheckInNotAllowed, EventError
from core.script import escape_markdown
from pages import _ui

user = _ui.require_user()
rt = _ui.runtime()

st.title("Check-in")

with _ui.read_session() as session:
    choices = events.check_in_events(session=session, user_id=user.id)
if not choices:
    st.info("There is no event today or tomorrow whose check-in you run. An organiser chooses "
            "the check-in helpers on the Events page.")
    st.stop()

names = {e.id: f"{e.title} · {e.when()}" for e in choices}
event_id = st.selectbox("Event", list(names), format_func=names.__getitem__,
                        key="checkin_event")
event = next(e for e in choices if e.id == event_id)
st.caption(escape_markdown(event.where))
show_numbers = (user.is_organiser
                and st.toggle("Show phone numbers (recorded in the audit trail)",
                              key="checkin_numbers"))

listed = _ui.run_action(
    lambda s: events.check_in_list(session=s, event_id=event_id, user_id=user.id,
                                   with_numbers=show_numbers),
    errors=(CheckInNotAllowed,),
    transaction="write" if show_numbers else "read")  # a reveal of numbers is audited
if listed.value is None:
    st.stop()
people = listed.value

came = sum(p.attended for p in people)
st.metric("Here", f"{came} of {len(people)}")


def tick(signup_id: int) -> None:
    """on_change of a person's box: store the tick at once, so nobody is lost to a dropped
    signal between ticks."""
    attended = bool(st.session_state.get(f"checkin_person_{signup_id}"))
    _ui.run_action(lambda s: events.mark_attended(session=s, signup_id=signup_id,
                                                  attended=attended, user_id=user.id),
                   errors=(CheckInNotAllowed, events.EventNotFound),
                   on_refusal=lambda exc: st.session_state.__setitem__("checkin_problem",
                                                                       str(exc)))


if not people:
    st.caption("Nobody is booked yet.")
for person in people:
    label = person.name + (" (walk-in)" if person.walk_in else "")
    if person.phone:
        label += f" · {person.phone}"
    key = f"checkin_person_{person.signup_id}"
    st.session_state[key] = person.attended
    # Names came from contacts and walk-in forms, and a checkbox label renders Markdown.
    st.checkbox(escape_markdown(label), key=key, on_change=tick, args=(person.signup_id,))

if "checkin_problem" in st.session_state:
    st.error(st.session_state.pop("checkin_problem"))

st.markdown("#### Someone not on the list?")
with st.form("checkin_walk_in", clear_on_submit=True):
    walk_in_name = st.text_input("Name", key="checkin_walk_in_name")
    walk_in_phone = st.text_input("Phone (optional)", key="checkin_walk_in_phone")
    if st.form_submit_button("Add walk-in", type="primary"):
        _ui.run_action(
            lambda s: events.add_walk_in(session=s, event_id=event_id, name=walk_in_name,
                                         phone=walk_in_phone, user_id=user.id,
                                         region=rt.settings.default_region),
            errors=(EventError, CheckInNotAllowed), rerun=True,
            on_refusal=lambda exc: st.error(f"{exc.field.capitalize()}: {exc}"
                                            if isinstance(exc, EventError) else str(exc)))
