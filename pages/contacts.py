"""Contacts: find someone by name or number, see their history, edit them, erase on request."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from core.contacts import (
    ContactError,
    contact_history,
    erase_contact,
    find_contacts,
    get_contact,
    reveal_numbers,
    update_contact,
)
from core.display import uk_datetime
from core.phones import mask_phone
from pages import _ui


def masked(phone: str) -> str:
    """•••• and the last three digits, from E.164 or a formatted number alike."""
    return mask_phone("".join(ch for ch in phone if ch.isdigit() or ch == "+"))

user, rt = _ui.organiser_page("Contacts")
_ui.show_flash()

query = st.text_input("Find by name, phone number, email or membership number",
                      key="contact_search")
if not query.strip():
    st.stop()
with _ui.read_session() as session:
    found = find_contacts(session=session, query=query)
if not found:
    st.info("Nobody matches.")
    st.stop()

# Numbers stay masked until asked for (and that is audited), as on the calling card.
labels = {c.id: f"{c.name} · {masked(c.phone)} · {c.constituency or 'no constituency'}"
          + (" · do not call" if c.suppressed else "") for c in found}
contact_id = st.selectbox(f"{len(found)} found", list(labels), format_func=labels.__getitem__,
                          key="contact_pick")
with _ui.read_session() as session:
    contact = get_contact(session=session, contact_id=contact_id)
    history = contact_history(session=session, contact_id=contact_id)
if contact is None:
    st.warning("That contact no longer exists.")
    st.stop()

# Names and imported fields are plain text: they came from an upload.
st.text(contact.name)
k = contact.id
revealed: str | None = st.session_state.get(f"contact_revealed_{k}")
facts = [f"{revealed or masked(contact.phone)} ({contact.phone_type})"]
if contact.suppressed:
    facts.append("**on the do-not-call list**")
if contact.tps:
    facts.append("TPS registered" + (", consenting member" if contact.consenting_member else ""))
if contact.bad_number:
    facts.append("reported as a wrong number")
st.markdown(" · ".join(facts))
if revealed is None and st.button("Show number", key=f"contact_reveal_{k}"):
    _ui.run_action(
        lambda s: reveal_numbers(session=s, contact_ids=[k], actor_id=user.id, where="contacts"),
        then=lambda shown: st.session_state.__setitem__(f"contact_revealed_{k}",
                                                        shown.get(k, "")),
        rerun=True)
if contact.phone_note:
    st.text(f"Note with the number: {contact.phone_note}")
if contact.custom:
    st.text(" · ".join(f"{key}: {value}" for key, value in contact.custom.items()))



def readable(rows: list[dict]) -> list[dict]:
    """Headings in words and times as UK dates in Ringround's zone ("Sat 6 Dec, 14:30")."""
    return [{key.replace("_", " ").capitalize():
             uk_datetime(value, rt.settings.timezone) if isinstance(value, datetime) else value
             for key, value in row.items()} for row in rows]


calls_tab, edit_tab, erase_tab = st.tabs(["History", "Edit", "Erase"])
with calls_tab:
    if history["calls"]:
        st.dataframe(readable(history["calls"]), hide_index=True)
    else:
        st.caption("Never called.")
    if history["queues"]:
        st.dataframe(readable(history["queues"]), hide_index=True)
    if history["messages"]:
        st.dataframe(readable(history["messages"]), hide_index=True)

# Keys carry the contact id: picking someone else must show their values, not the last.
with edit_tab, st.form(f"contact_edit_form_{k}"):
    c1, c2 = st.columns(2)
    changes = {
        "first_name": c1.text_input("First name", contact.first_name,
                                    key=f"contact_first_name_{k}"),
        "last_name": c2.text_input("Last name", contact.last_name, key=f"contact_last_name_{k}"),
        "phone": c1.text_input("Phone (called)", revealed or "", key=f"contact_phone_{k}",
                               placeholder="Unchanged (press Show number to see it)"),
        "email": c2.text_input("Email", contact.email, key=f"contact_email_{k}"),
        "postcode": c1.text_input("Postcode", contact.postcode, key=f"contact_postcode_{k}"),
        "membership_number": c2.text_input("Membership number", contact.membership_number,
                                           key=f"contact_membership_{k}"),
        "constituency": c1.text_input("Constituency", contact.constituency,
                                      key=f"contact_constituency_{k}"),
        "ward": c2.text_input("Ward", contact.ward, key=f"contact_ward_{k}"),
        "tags": st.text_input("Tags (comma-separated)", ", ".join(contact.tags),
                              key=f"contact_tags_{k}"),
        "tps": c1.checkbox("TPS registered", contact.tps, key=f"contact_tps_{k}"),
        "consenting_member": c2.checkbox("Consenting member", contact.consenting_member,
                                         key=f"contact_consenting_{k}"),
        "bad_number": c1.checkbox("Wrong number", contact.bad_number, key=f"contact_bad_{k}"),
    }
    if st.form_submit_button("Save", key=f"contact_save_{k}"):
        if not changes["phone"].strip() or changes["phone"] == contact.phone_display:
            changes.pop("phone")
        _ui.run_action(lambda s: update_contact(session=s, contact_id=contact.id,
                                                changes=changes,
                                                region=rt.settings.default_region),
                       errors=(ContactError,), done="Saved.", rerun=True)

with erase_tab:
    st.write("Erasure on request removes this person, their survey answers, texts and the "
             "notes volunteers wrote about their calls. Call totals stay, anonymised. A "
             "do-not-call entry for their number is kept, so they are never called again.")
    do_not_call = st.checkbox("They also asked not to be called", key="contact_erase_dnc")
    typed = st.text_input("Type ERASE to confirm", key="contact_erase_confirm")
    if st.button("Erase this contact", type="primary", key="contact_erase",
                 disabled=typed.strip() != "ERASE"):
        def erased(summary: dict[str, int | bool]) -> str:
            kept = " The do-not-call entry was kept." if summary["suppression_kept"] else ""
            return (f"Erased, with {summary['answers']} answers, {summary['notes']} notes and "
                    f"{summary['messages']} messages.{kept}")

        _ui.run_action(lambda s: erase_contact(session=s, contact_id=contact.id,
                                               actor_id=user.id, do_not_call=do_not_call),
                       errors=(ContactError,), done=erased, rerun=True,
                       then=lambda _: st.session_state.pop("contact_search", None))
