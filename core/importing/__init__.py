"""Contact import: messy real-world files in, every row accounted for.

The pipeline streams the file (CSV in any common encoding and delimiter, or .xlsx), maps its
columns to contact fields, normalises phones to E.164, merges duplicates by number (within the
file and against the database) under a policy, and writes in chunks of a few thousand rows.

Accounting, the promise an organiser relies on: for every batch
    inserted + updated + merged + rejected == total_rows
where
- inserted: the row created a new contact;
- updated:  the row matched a contact stored before this import, and the policy applied it;
- merged:   the row's number was already taken by an earlier row of this file (two people on one
            landline are one contact, called once), or, under policy "skip", by a stored contact;
- rejected: the row could not be used; its number and reason are kept (ImportRejection).
Blank lines are not rows. Row numbers are spreadsheet-style: the header is row 1.

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
    FIELD_LABELS,
    FIELDS,
    FLAG_FIELDS,
    IGNORE,
    PHONE_FIELDS,
    REPEATABLE_FIELDS,
    TEXT_FIELDS,
    ImportFileError,
    check_mapping,
    guess_field,
    guess_mapping,
)
from core.importing.files import (
    DELIMITER_NAMES,
    DELIMITERS,
    ENCODINGS,
    FileFormat,
    FilePreview,
    OpenFile,
    detect_delimiter,
    detect_encoding,
    detect_format,
    inspect_file,
    open_rows,
    parse_delimiter,
)
from core.importing.history import (
    REJECTED_ROWS_KEEP_DAYS,
    ImportUndoError,
    get_batch,
    list_batches,
    list_rejections,
    purge_old_rejections,
    rejections_csv,
    undo_batch,
)
from core.importing.phones import (
    PhoneNormaliser,
)
from core.importing.rows import (
    RowParser,
    RowRecord,
    RowRejected,
    normalise_postcode,
    normalise_tags,
    tag_list,
)
from core.importing.run import (
    PARALLEL_FROM_BYTES,
    parse_chunk,
    run_import,
)
from core.importing.writer import (
    MERGED_FIELDS,
    ImportFailed,
    ImportProgress,
    ImportResult,
    merge_into,
)

__all__ = [
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
    "RowParser",
    "RowRecord",
    "RowRejected",
    "TEXT_FIELDS",
    "check_mapping",
    "detect_delimiter",
    "detect_encoding",
    "detect_format",
    "get_batch",
    "guess_field",
    "guess_mapping",
    "inspect_file",
    "list_batches",
    "list_rejections",
    "merge_into",
    "normalise_postcode",
    "normalise_tags",
    "open_rows",
    "parse_chunk",
    "parse_delimiter",
    "purge_old_rejections",
    "rejections_csv",
    "run_import",
    "tag_list",
    "undo_batch",
]
