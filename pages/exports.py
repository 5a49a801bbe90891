"""Exports (organisers): results, survey answers, recruits and the do-not-call list to take home.

The file is built when the organiser asks for it (and audited then), then offered for download.
It is kept in this session until another export replaces it.
"""

from __future__ import annotations

import io

import streamlit as st

from core import exports, stats
from pages import _ui

FILE_KEY = "export_file"
ALL = 0

organiser, rt = _ui.organiser_page(
    "Exports", "Every export is recorded in the audit trail: who, what, how many rows. "
    "Exported files hold members' personal data: keep them on an encrypted device and delete "
    "them when the follow-up is done.")

with _ui.read_session() as session:
    campaigns = stats.campaign_choices(session=session)
names = {c["id"]: c["name"] for c in campaigns}

kind = st.selectbox("What", options=list(exports.EXPORT_KINDS), key="export_kind",
                    format_func=exports.EXPORT_KINDS.__getitem__)
global_list = kind == "suppressions"
campaign_key = st.selectbox(
    "Campaign", options=[*names, ALL], key="export_campaign", disabled=global_list,
    format_func=lambda i: "All campaigns" if i == ALL else names[i],
    help="The do-not-call list covers every campaign." if global_list else None,
)
fmt = st.radio("Format", options=list(exports.FORMATS), key="export_format", horizontal=True,
               format_func=lambda f: {"csv": "CSV", "xlsx": "Excel (XLSX)"}[f])
campaign_id = None if global_list or campaign_key in (ALL, None) else int(campaign_key)

if st.button("Prepare export", key="export_prepare", type="primary"):
    out = io.BytesIO()
    with st.spinner("Preparing…"):
        prepared = _ui.run_action(
            lambda database: exports.run_export(database=database, kind=kind, fmt=fmt, out=out,
                                                actor=organiser, campaign_id=campaign_id,
                                                timezone=rt.settings.timezone),
            transaction="own", errors=(stats.CampaignNotFound, exports.ExportNotAllowed),
            on_refusal=lambda exc: st.error("That campaign no longer exists."
                                            if isinstance(exc, stats.CampaignNotFound)
                                            else "Only organisers can export."))
    if prepared.value is not None:
        result = prepared.value
        st.session_state[FILE_KEY] = {"data": out.getvalue(), "filename": result.filename,
                                      "mime": result.mime, "rows": result.rows}

prepared = st.session_state.get(FILE_KEY)
if prepared:
    st.success(f"{prepared['filename']}: {prepared['rows']:,} rows.")
    st.download_button("Download", data=prepared["data"], file_name=prepared["filename"],
                       mime=prepared["mime"], key="export_download", on_click="ignore")
