"""Contact import: messy real-world files in, every row accounted for.

The pipeline streams the file (CSV in any common encoding and delimiter, or .xlsx), maps its
columns to contact fields, normalises phones to E.164, merges duplicates by number (within the
file and against the database) under a policy, and writes in chunks of a few thousand rows.

Accounting, the promise an organiser relies on: for every batch
    inserted + updated + unchanged + merged + rejected == total_rows
where
- inserted:  the row created a new contact;
- updated:   the row matched a contact stored before this import, and the policy changed it;
- unchanged: the row matched a contact stored before this import that it would not change
             (re-importing the same file: nothing updated, no undo snapshot written);
- merged:   the row's number was already taken by an earlier row of this file (two people on one
            landline are one contact, called once), or, under policy "skip", by a stored contact;
- rejected: no column of the row gave a callable number (or a field was unusable); the row and
            the reason are kept (ImportRejection). A row with any callable number is kept, and
            its unusable cells become warnings (ImportWarning).
Blank lines, title rows above the header and a totals line at the end are not rows. Row
numbers are the file's own (spreadsheet-style: the first line is row 1).
Rows the file itself flags "do not call" are kept as contacts and their numbers go onto the
do-not-call list (source "import", with the batch), so they are never queued.

Each chunk is its own short write transaction, not one long one: on SQLite a 30-second write
lock would make every volunteer's "save outcome" wait or fail while an organiser imports.
A batch that fails half-way keeps what it wrote, is marked failed, and can be undone.

The package is one module per stage, each readable and testable on its own:
    fields   the contact fields, header guessing, checking a mapping
    files    detecting and reading CSV and .xlsx files
    phones   the fast UK path of normalise_phone
    rows     one row's cells to a contact record (phones, names, tags, flags)
    writer   merging records into contacts under the duplicate policy, chunk by chunk
    run      the end-to-end import (parsing in a worker process for big files)
    history  import history, rejected rows, retention, undo
This module re-exports their public names, so callers import from core.importing.
"""

from __future__ import annotations

from core.importing.fields import (
    CUSTOM,
    DO_NOT_CALL,
    FIELD_LABELS,
    FIELDS,
    FLAG_FIELDS,
    IGNORE,
    PHONE_FIELDS,
    REPEATABLE_FIELDS,
    TEXT_FIELDS,
    ImportFileError,
    check_do_not_call_values,
    check_mapping,
    flag_key,
    guess_do_not_call_values,
    guess_field,
    guess_mapping,
    known_fields,
    means_do_not_call,
)
from core.importing.files import (
    DELIMITER_NAMES,
    DELIMITERS,
    ENCODINGS,
    LIMITS,
    PREVIEW_LIMITS,
    FileFormat,
    FilePreview,
    FileTooLarge,
    OpenFile,
    ReadLimits,
    detect_delimiter,
    detect_encoding,
    detect_format,
    detect_header_row,
    inspect_file,
    is_do_not_contact_member,
    open_rows,
    parse_delimiter,
)
from core.importing.history import (
    REJECTED_ROWS_KEEP_DAYS,
    ImportUndoError,
    inert_cell,
    list_batches,
    list_rejections,
    list_warnings,
    purge_old_rejections,
    rejections_csv,
    rows_still_kept,
    undo_batch,
    warnings_csv,
)
from core.importing.phones import (
    PhoneNormaliser,
)
from core.importing.rows import (
    ParsedChunk,
    RowParser,
    RowRecord,
    RowRejected,
    normalise_postcode,
    normalise_tags,
    phones_in_cell,
    split_full_name,
    tag_list,
)
from core.importing.run import (
    PARALLEL_FROM_BYTES,
    ChunkParser,
    ParseJob,
    parse_block,
    parse_rows,
    run_import,
)
from core.importing.writer import (
    COUNTERS,
    MERGED_FIELDS,
    ImportFailed,
    ImportProgress,
    ImportResult,
    merge_into,
)

__all__ = [
    "means_do_not_call",
    "COUNTERS",
    "phones_in_cell",
    "split_full_name",
    "inert_cell",
    "list_warnings",
    "rows_still_kept",
    "warnings_csv",
    "LIMITS",
    "PREVIEW_LIMITS",
    "FileTooLarge",
    "ReadLimits",
    "detect_header_row",
    "is_do_not_contact_member",
    "DO_NOT_CALL",
    "check_do_not_call_values",
    "flag_key",
    "guess_do_not_call_values",
    "known_fields",
    "CUSTOM",
    "DELIMITERS",
    "DELIMITER_NAMES",
    "ENCODINGS",
    "FIELDS",
    "FIELD_LABELS",
    "FLAG_FIELDS",
    "FileFormat",
    "FilePreview",
    "IGNORE",
    "ImportFailed",
    "ImportFileError",
    "ImportProgress",
    "ImportResult",
    "ImportUndoError",
    "MERGED_FIELDS",
    "OpenFile",
    "PARALLEL_FROM_BYTES",
    "PHONE_FIELDS",
    "PhoneNormaliser",
    "REJECTED_ROWS_KEEP_DAYS",
    "REPEATABLE_FIELDS",
    "ParsedChunk",
    "RowParser",
    "RowRecord",
    "RowRejected",
    "TEXT_FIELDS",
    "check_mapping",
    "detect_delimiter",
    "detect_encoding",
    "detect_format",
    "guess_field",
    "guess_mapping",
    "inspect_file",
    "list_batches",
    "list_rejections",
    "merge_into",
    "normalise_postcode",
    "normalise_tags",
    "open_rows",
    "ChunkParser",
    "ParseJob",
    "parse_block",
    "parse_rows",
    "parse_delimiter",
    "purge_old_rejections",
    "rejections_csv",
    "run_import",
    "tag_list",
    "undo_batch",
]
