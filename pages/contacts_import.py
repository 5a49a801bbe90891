"""Import contacts: upload, check how the file was read (sheet, header row, encoding,
delimiter), map columns (do-not-call flag values included), choose the duplicate policy, import
with progress, see the accounting, download rejected rows and warnings, undo a batch."""

from __future__ import annotations

import io
from typing import Any

import streamlit as st

from core.display import uk_datetime
from core.importing import (
    DELIMITER_NAMES,
    DO_NOT_CALL,
    ENCODINGS,
    FIELD_LABELS,
    FIELDS,
    REJECTED_ROWS_KEEP_DAYS,
    FilePreview,
    ImportFailed,
    ImportFileError,
    ImportProgress,
    ImportUndoError,
    guess_do_not_call_values,
    inspect_file,
    list_batches,
    rejections_csv,
    run_import,
    undo_batch,
    warnings_csv,
)
from pages import _ui

POLICIES = {
    "update_empty": "Fill in empty fields only (recommended)",
    "overwrite": "Overwrite with the file's values",
    "skip": "Leave stored contacts as they are",
}
DETECTED = "detected"
RESULT_KEY = "import_last_result"
ACCOUNTING = (
    ("total_rows", "Rows in file"),
    ("inserted", "Inserted"),
    ("updated", "Updated"),
    ("unchanged", "Unchanged (already stored as in the file)"),
    ("merged", "Merged duplicates"),
    ("rejected", "Rejected"),
    ("suppressed", "On the do-not-call list (kept, never queued)"),
    ("do_not_call", "… of which the file flags do-not-call"),
    ("warnings", "Warnings (cells not used in kept rows)"),
)

user, rt = _ui.organiser_page(
    "Import contacts",
    "CSV (comma, semicolon or tab; UTF-8, Excel or Latin-1), Excel .xlsx, or a ZIP as "
    "downloaded (Mailchimp's audience export). Numbers are checked and stored in international "
    "format; duplicates are merged by number; every row is accounted for.")

_ui.show_flash()

uploaded = st.file_uploader("Members file", type=["csv", "tsv", "txt", "xlsx", "xlsm", "zip"],
                            key="import_file")


@st.cache_data(max_entries=4, show_spinner="Reading the file…")
def preview_file(file_id: str, name: str, encoding: str | None, delimiter: str | None,
                 sheet: str | None, header_row: int | None, _data: bytes) -> FilePreview:
    """Detection reads the whole file (to be sure of its encoding): once per upload and choice,
    not per rerun. The upload's id stands for its bytes in the cache key."""
    return inspect_file(io.BytesIO(_data), filename=name, encoding=encoding,
                        delimiter=delimiter, sheet=sheet, header_row=header_row)


def detected(value: Any) -> Any:
    return None if value in (None, DETECTED) else value


def download_buttons(batch: dict[str, Any], key: str) -> None:
    """The batch's rejected rows and warnings as CSVs, while the rows are kept."""
    with _ui.read_session() as session:
        if batch["rejected"] and batch.get("rows_kept", True):
            st.download_button(
                f"Download rejected rows of import #{batch['id']} (CSV)",
                data=rejections_csv(session=session, batch_id=batch["id"]),
                file_name=f"rejected-rows-import-{batch['id']}.csv", mime="text/csv",
                key=f"{key}_rejects")
        if batch["warnings"]:
            st.download_button(
                f"Download warnings of import #{batch['id']} (CSV)",
                data=warnings_csv(session=session, batch_id=batch["id"]),
                file_name=f"warnings-import-{batch['id']}.csv", mime="text/csv",
                key=f"{key}_warnings")


def show_accounting(result: dict) -> None:
    st.subheader(f"Import: {result['status']}")
    st.text(f"File: {result['filename']}")
    st.table({"": [label for _, label in ACCOUNTING],
              "count": [result[name] for name, _ in ACCOUNTING]})
    for member, count in (result.get("listed_from_files") or {}).items():
        st.text(f"{count} numbers from {member} put on the do-not-call list (people who "
                "unsubscribed or were cleaned are never called).")
    if result.get("error"):
        st.error(result["error"])
    download_buttons({**result, "id": result["batch_id"]}, key="import_last")


if uploaded is not None:
    data = uploaded.getvalue()
    state = st.session_state
    encoding = detected(state.get("import_encoding"))
    delimiter = detected(state.get("import_delimiter"))
    try:
        # The sheet first (detected when not chosen), then that sheet's header row, if chosen.
        preview = preview_file(uploaded.file_id, uploaded.name, encoding, delimiter,
                               state.get("import_sheet"), None, data)
        header_key = f"import_header_row_{preview.format.sheet}"
        if state.get(header_key) not in (None, preview.header_row):
            preview = preview_file(uploaded.file_id, uploaded.name, encoding, delimiter,
                                   preview.format.sheet or None, state[header_key], data)
    except ImportFileError as exc:
        st.error(f"This file cannot be read: {exc}")
        st.stop()

    fmt = preview.format
    if fmt.kind in ("csv", "zip"):
        left, right = st.columns(2)
        left.selectbox("Encoding", [DETECTED, *ENCODINGS], key="import_encoding")
        right.selectbox("Delimiter", [DETECTED, *DELIMITER_NAMES.values()],
                        key="import_delimiter")
    if len(fmt.sheets) > 1:
        st.selectbox("File inside the ZIP" if fmt.kind == "zip" else "Sheet", list(fmt.sheets),
                     index=list(fmt.sheets).index(fmt.sheet), key="import_sheet")
    rows = {number: cells for number, cells in preview.top_rows}
    if len(rows) > 1:
        st.selectbox(
            "Row with the column names", list(rows), index=list(rows).index(preview.header_row),
            format_func=lambda n: f"Row {n}: " + " | ".join(c for c in rows[n] if c)[:90],
            key=header_key,
        )
    where = f"header on row {preview.header_row}, {len(preview.headers)} columns"
    if fmt.kind == "csv":
        st.info(f"Read as **{fmt.encoding}**, **{DELIMITER_NAMES.get(fmt.delimiter, fmt.delimiter)}"
                f"**-separated, {where}. Change any of these above if the preview looks wrong.")
    elif fmt.kind == "zip":
        st.info(f"ZIP file: reading the file named below ({fmt.encoding}, "
                f"{DELIMITER_NAMES.get(fmt.delimiter, fmt.delimiter)}-separated), {where}.")
        st.text(f"File in the ZIP: {fmt.sheet}")
    else:
        st.info(f"Excel workbook, the sheet named below, {where}.")
        st.text(f"Sheet: {fmt.sheet}")
    if fmt.do_not_contact:
        st.warning("This file lists people who unsubscribed or were cleaned: every number in "
                   "it goes onto the do-not-call list, and none of them will be called.")
    st.dataframe([dict(zip(preview.headers, row, strict=False)) for row in preview.sample],
                 hide_index=True)

    st.subheader("Columns")
    st.caption("Every column not mapped to a field is kept as a custom field, usable in "
               "targeting and as a {merge field} in scripts. A do-not-call flag column puts "
               "the rows whose value means \"do not call\" onto the do-not-call list.")
    mapping: dict[str, str] = {}
    refusals: dict[str, list[str]] = {}
    columns = st.columns(3)
    for index, header in enumerate(preview.headers):
        column = columns[index % 3]
        # The header as plain text above a label-less picker: a header is whatever the file
        # says, and a widget label would read it as Markdown (images, links).
        column.text(header)
        mapping[header] = column.selectbox(
            f"Field for column {index + 1}", FIELDS, index=FIELDS.index(preview.mapping[header]),
            format_func=FIELD_LABELS.__getitem__, key=f"import_map_{index}",
            label_visibility="collapsed",
        )
        if mapping[header] == DO_NOT_CALL:
            guessed = preview.do_not_call.get(header) or guess_do_not_call_values(header)
            typed = column.text_input(
                "Values meaning do not call (comma-separated)", value=", ".join(guessed),
                key=f"import_dnc_{index}")
            refusals[header] = [v.strip() for v in typed.split(",") if v.strip()]
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
                progress=show_progress, sheet=fmt.sheet or None, header_row=preview.header_row,
                do_not_call_values=refusals,
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
        [{**{k: b[k] for k in ("id", "created_at", "filename", "status", "total_rows",
                               "inserted", "updated", "unchanged", "merged", "rejected",
                               "suppressed", "warnings", "seconds")},
          # UK style in the app's zone, the same helper as every other screen.
          "created_at": uk_datetime(b["created_at"], _ui.runtime().settings.timezone)}
         for b in batches],
        hide_index=True,
    )
    with_rows = [b for b in batches if (b["rejected"] and b["rows_kept"]) or b["warnings"]]
    if with_rows:
        chosen_rows = st.selectbox(
            "Rejected rows and warnings of an import", [b["id"] for b in with_rows],
            format_func=lambda i: next(f"#{b['id']} {b['filename']} ({b['rejected']} rejected, "
                                       f"{b['warnings']} warnings)"
                                       for b in with_rows if b["id"] == i),
            key="import_history_rows",
        )
        download_buttons(next(b for b in with_rows if b["id"] == chosen_rows),
                         key="import_history")
        st.caption(f"Rejected rows keep their text for {REJECTED_ROWS_KEEP_DAYS} days, then only "
                   "the row number and reason stay.")
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
                    _ui.run_action(
                        lambda s: undo_batch(session=s, batch_id=chosen, actor_id=user.id),
                        errors=(ImportUndoError,), rerun=True,
                        then=lambda _: st.session_state.pop(RESULT_KEY, None),
                        done=lambda undone: f"Import #{chosen} undone: {undone['deleted']} "
                                            f"contacts removed, {undone['restored']} restored.")
