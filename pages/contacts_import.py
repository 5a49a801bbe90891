"""Import contacts: upload, check how the file was read, map columns, choose the duplicate
policy, import with progress, see the accounting, download rejected rows, undo a batch."""

from __future__ import annotations

import io

import streamlit as st

from core.importing import (
    DELIMITER_NAMES,
    ENCODINGS,
    FIELD_LABELS,
    FIELDS,
    FilePreview,
    ImportFailed,
    ImportFileError,
    ImportProgress,
    ImportUndoError,
    inspect_file,
    list_batches,
    rejections_csv,
    run_import,
    undo_batch,
)
from pages import _ui

POLICIES = {
    "update_empty": "Fill in empty fields only (recommended)",
    "overwrite": "Overwrite with the file's values",
    "skip": "Leave stored contacts as they are",
}
DETECTED = "detected"
RESULT_KEY = "import_last_result"
FLASH_KEY = "import_flash"

user = _ui.require_organiser()
rt = _ui.runtime()
st.title("Import contacts")
st.caption(
    "CSV (comma, semicolon or tab; UTF-8, Excel or Latin-1) or Excel .xlsx. Numbers are checked "
    "and stored in international format; duplicates are merged by number; every row is "
    "accounted for."
)

if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY))

uploaded = st.file_uploader("Members file", type=["csv", "tsv", "txt", "xlsx"],
                            key="import_file")


@st.cache_data(max_entries=4, show_spinner="Reading the file…")
def preview_file(file_id: str, name: str, encoding: str | None, delimiter: str | None,
                 _data: bytes) -> FilePreview:
    """Detection reads the whole file (to be sure of its encoding): once per upload, not per
    rerun. The upload's id stands for its bytes in the cache key."""
    return inspect_file(io.BytesIO(_data), filename=name, encoding=encoding,
                        delimiter=delimiter)


def show_accounting(result: dict) -> None:
    st.subheader(f"Import of {result['filename']}: {result['status']}")
    st.table({
        "": ["Rows in file", "Inserted", "Updated", "Merged duplicates", "Rejected",
             "On the do-not-call list (kept, never queued)"],
        "count": [result["total_rows"], result["inserted"], result["updated"],
                  result["merged"], result["rejected"], result["suppressed"]],
    })
    if result.get("error"):
        st.error(result["error"])
    if result["rejected"]:
        with _ui.read_session() as session:
            data = rejections_csv(session=session, batch_id=result["batch_id"])
        st.download_button("Download rejected rows (CSV)", data=data,
                           file_name=f"rejected-rows-import-{result['batch_id']}.csv",
                           mime="text/csv", key="import_rejects_download")


if uploaded is not None:
    data = uploaded.getvalue()
    is_xlsx = uploaded.name.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04"
    encoding = delimiter = None
    if not is_xlsx:
        left, right = st.columns(2)
        encoding_choice = left.selectbox("Encoding", [DETECTED, *ENCODINGS],
                                         key="import_encoding")
        delimiter_choice = right.selectbox("Delimiter", [DETECTED, *DELIMITER_NAMES.values()],
                                           key="import_delimiter")
        encoding = None if encoding_choice == DETECTED else encoding_choice
        delimiter = None if delimiter_choice == DETECTED else delimiter_choice
    try:
        preview = preview_file(uploaded.file_id, uploaded.name, encoding, delimiter, data)
    except ImportFileError as exc:
        st.error(f"This file cannot be read: {exc}")
        st.stop()

    fmt = preview.format
    if fmt.kind == "csv":
        st.info(f"Read as **{fmt.encoding}**, **{DELIMITER_NAMES.get(fmt.delimiter, fmt.delimiter)}"
                f"**-separated, {len(preview.headers)} columns. Change either above if the "
                "preview looks wrong.")
    else:
        st.info(f"Excel workbook, first sheet, {len(preview.headers)} columns.")
    st.dataframe([dict(zip(preview.headers, row, strict=False)) for row in preview.sample],
                 hide_index=True)

    st.subheader("Columns")
    st.caption("Every column not mapped to a field is kept as a custom field, usable in "
               "targeting and as a {merge field} in scripts.")
    mapping: dict[str, str] = {}
    columns = st.columns(3)
    for index, header in enumerate(preview.headers):
        mapping[header] = columns[index % 3].selectbox(
            header, FIELDS, index=FIELDS.index(preview.mapping[header]),
            format_func=FIELD_LABELS.__getitem__, key=f"import_map_{index}",
        )
    policy = st.radio("When a number is already stored", list(POLICIES),
                      format_func=POLICIES.__getitem__, key="import_policy")

    if st.button("Import", type="primary", key="import_run"):
        bar = st.progress(0.0, text="Starting…")

        def show_progress(update: ImportProgress) -> None:
            bar.progress(min(update.fraction, 1.0),
                         text=f"{update.rows_done:,} rows · {update.rows_per_second:,.0f} rows/s")

        try:
            result = run_import(
                database=rt.database, stream=io.BytesIO(data), filename=uploaded.name,
                mapping=mapping, encoding=encoding or fmt.encoding or None, delimiter=delimiter,
                policy=policy, region=rt.settings.default_region, actor_id=user.id,
                progress=show_progress,
            )
            st.session_state[RESULT_KEY] = result.as_dict()
        except ImportFileError as exc:
            st.error(f"Nothing was imported: {exc}")
        except ImportFailed as exc:
            st.session_state[RESULT_KEY] = exc.result.as_dict()

if RESULT_KEY in st.session_state:
    show_accounting(st.session_state[RESULT_KEY])

st.divider()
st.subheader("Import history")
with _ui.read_session() as session:
    batches = list_batches(session=session)
if not batches:
    st.caption("No imports yet.")
else:
    st.dataframe(
        [{k: b[k] for k in ("id", "created_at", "filename", "status", "total_rows", "inserted",
                            "updated", "merged", "rejected", "suppressed", "seconds")}
         for b in batches],
        hide_index=True,
    )
    undoable = [b for b in batches if b["status"] in ("done", "failed")]
    if undoable:
        with st.form("import_undo_form"):
            chosen = st.selectbox(
                "Undo an import", [b["id"] for b in undoable],
                format_func=lambda i: next(f"#{b['id']} {b['filename']} ({b['inserted']} new)"
                                           for b in undoable if b["id"] == i),
                key="import_undo_batch",
            )
            st.caption("Deletes the contacts it added (with their queue places) and puts back "
                       "the values it changed.")
            confirm = st.checkbox("Yes, undo this import", key="import_undo_confirm")
            if st.form_submit_button("Undo import", key="import_undo_submit"):
                if not confirm:
                    st.warning("Tick the box to confirm.")
                else:
                    try:
                        with _ui.write_session() as session:
                            done = undo_batch(session=session, batch_id=chosen,
                                              actor_id=user.id)
                        st.session_state[FLASH_KEY] = (
                            f"Import #{chosen} undone: {done['deleted']} contacts removed, "
                            f"{done['restored']} restored.")
                        st.session_state.pop(RESULT_KEY, None)
                        st.rerun()
                    except ImportUndoError as exc:
                        st.error(str(exc))
