"""Follow-up texts: the campaign's template (organisers) and the one-click send (calling page)."""

from __future__ import annotations

import streamlit as st

from core.dialing import DialerError
from core.script import STANDARD_FIELDS, VOLUNTEER_FIELDS
from core.sms import (
    CAMPAIGN_FIELDS,
    MAX_SMS_LENGTH,
    SmsRefused,
    preview_campaign_followup,
    save_sms_template,
    send_campaign_followup,
    sms_template,
)
from pages import _ui


def render_sms_followup(*, campaign_id: int, contact_id: int, volunteer_id: int) -> None:
    """Show the follow-up text for this contact and send it with one click, or say why not."""
    rt = _ui.runtime()
    sent_key = f"sms_sent:{campaign_id}:{contact_id}"
    if st.session_state.get(sent_key):
        st.success("Follow-up text sent.")
        return
    with _ui.read_session() as session:
        preview = preview_campaign_followup(
            session=session, settings=rt.settings, campaign_id=campaign_id,
            contact_id=contact_id, volunteer_id=volunteer_id,
        )
    if not preview["available"]:
        st.caption(preview["reason"])
        return
    if not preview["can_send"]:
        st.caption(f"No follow-up text: {preview['reason']}")
        return
    st.markdown("**Follow-up text**")
    st.text(preview["body"])
    if st.button("Send follow-up text", key=f"sms_send_{campaign_id}_{contact_id}", icon="✉️"):
        _ui.run_action(
            lambda database: send_campaign_followup(
                database=database, settings=rt.settings, campaign_id=campaign_id,
                contact_id=contact_id, volunteer_id=volunteer_id),
            transaction="own", errors=(SmsRefused, DialerError), done="Follow-up text sent.",
            then=lambda _: st.session_state.__setitem__(sent_key, True))


def render_sms_template_editor(*, campaign_id: int, actor_id: int) -> None:
    """Organisers: write the campaign's follow-up text with merge fields."""
    with _ui.read_session() as session:
        current = sms_template(session=session, campaign_id=campaign_id)
    fields = ", ".join(f"{{{name}}}" for name in (*STANDARD_FIELDS, *VOLUNTEER_FIELDS,
                                                  *CAMPAIGN_FIELDS))
    template = st.text_area(
        "Follow-up text", value=current, key=f"sms_template_{campaign_id}",
        max_chars=MAX_SMS_LENGTH,
        help=f"Sent with one click after a good call. Merge fields: {fields}, or any imported "
             "column; {name|fallback} fills in when the contact has no value.",
    )
    if st.button("Save follow-up text", key=f"sms_template_save_{campaign_id}"):
        _ui.run_action(lambda s: save_sms_template(session=s, campaign_id=campaign_id,
                                                   template=template, actor_id=actor_id),
                       errors=(SmsRefused,), done="Saved.")
