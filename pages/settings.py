"""Organiser settings: the do-not-call list, data protection, telephony, and this installation."""

from __future__ import annotations

import streamlit as st

from core.contacts import (
    ContactError,
    notes_retention_status,
    purge_old_notes,
    set_notes_retention_months,
)
from core.display import uk_datetime
from core.phones import InvalidPhone, display_phone, normalise_phone
from core.runtime import schema_revision
from core.suppression import add_pasted_numbers, list_suppressions, remove_suppression
from pages import _ui
from pages._twilio_settings import render_twilio_settings

organiser, rt = _ui.organiser_page("Settings")
dnc_tab, privacy_tab, twilio_tab, system_tab = st.tabs(
    ["Do-not-call list", "Data protection", "Telephony", "This installation"]
)

with dnc_tab:
    st.write(
        "Numbers here are never queued or called in any campaign, whatever is imported later. "
        "Volunteers add numbers with the *Do not call again* outcome; texts of STOP add them too."
    )
    with st.form("dnc_add", clear_on_submit=True):
        pasted = st.text_area("Add numbers, one per line", key="dnc_numbers", height=120)
        reason = st.text_input("Reason", key="dnc_reason", value="Asked not to be called")
        if st.form_submit_button("Add to do-not-call list"):
            added = _ui.run_action(
                lambda s: add_pasted_numbers(session=s, text=pasted, reason=reason,
                                             actor_id=organiser.id,
                                             region=rt.settings.default_region),
                done=lambda r: f"Added {r.added}; {r.already} were already on the list.")
            for line_number, problem in added.value.rejected if added.value else ():
                st.warning(f"Line {line_number}: {problem}")

    search = st.text_input("Find a number", key="dnc_search")
    with _ui.read_session() as session:
        rows = list_suppressions(session=session)
    if search.strip():
        try:
            wanted = normalise_phone(search, region=rt.settings.default_region).e164
        except InvalidPhone as exc:
            st.warning(f"That search is {exc}.")
            wanted = None
        rows = [row for row in rows if row["phone"] == wanted]
    st.caption(f"{len(rows):,} numbers on the list.")
    st.dataframe(
        [
            {
                "Number": display_phone(str(row["phone"])),
                "Reason": row["reason"],
                "Source": row["source"],
                "Added": uk_datetime(row["created_at"], rt.settings.timezone),
            }
            for row in rows[:500]
        ],
        hide_index=True,
    )
    if search.strip() and rows:
        st.warning("Remove a number only when the person has asked to be called again.")
        if st.button("Remove from the do-not-call list", key="dnc_remove"):
            _ui.run_action(lambda s: remove_suppression(session=s, phone=str(rows[0]["phone"]),
                                                        actor_id=organiser.id), rerun=True)

with privacy_tab:
    st.write(
        "Call notes are free text and may hold personal details. Set how long they are kept: "
        "older notes are blanked automatically (hourly) and whenever you press Purge now. "
        "Outcomes and survey answers are kept."
    )
    with _ui.read_session() as session:
        status = notes_retention_status(session=session)
    keep = st.checkbox("Purge old call notes", value=status["months"] is not None,
                       key="retention_on")
    months = st.number_input("Keep notes for (months)", min_value=1, max_value=120,
                             value=status["months"] or 12, step=1, key="retention_months",
                             disabled=not keep)
    if st.button("Save retention setting", key="retention_save"):
        _ui.run_action(lambda s: set_notes_retention_months(
            session=s, months=int(months) if keep else None, actor_id=organiser.id),
            errors=(ContactError,), done="Saved.", rerun=True)
    if status["months"] is None:
        st.info("Retention is off: call notes are kept until a contact is erased.")
    else:
        st.markdown(
            f"Notes older than **{status['months']} months** are purged. "
            f"Due for purging now: **{status['due']:,}**."
        )
    if status["last_purge_at"] is not None:
        st.caption(
            f"Last purge: {uk_datetime(status['last_purge_at'], rt.settings.timezone)}, "
            f"{status['last_purge_count']:,} notes blanked."
        )
    if status["months"] is not None and st.button("Purge now", key="retention_purge"):
        _ui.run_action(lambda s: purge_old_notes(session=s),
                       done=lambda purged: f"Blanked {purged:,} notes.")

with twilio_tab:
    render_twilio_settings()

# Invite and reset links then start with the address in the organiser's browser (_ui.app_base_url).
NO_PUBLIC_URL = ("not set: invite and reset links start with the address your browser is using; "
                 "set RINGROUND_PUBLIC_URL for Twilio's callbacks")

with system_tab:
    revision = schema_revision(rt.database)
    backend = "SQLite" if rt.database.is_sqlite else "PostgreSQL"
    st.markdown(
        f"- **Database:** {backend} (schema revision `{revision}`)\n"
        f"- **Time zone for new campaigns:** {rt.settings.timezone}\n"
        f"- **Default phone region:** {rt.settings.default_region}\n"
        f"- **Public address:** {rt.settings.public_url or NO_PUBLIC_URL}\n"
        f"- **Demo mode:** {'on' if rt.settings.demo else 'off'}"
    )
