"""`python manage.py import FILE [--map COLUMN=FIELD ...] [--sheet S] [--header-row N]
[--do-not-call COLUMN=V1,V2] [--json]`: the page's import, scripted."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from core.config import ConfigError, load_settings
from core.importing import (
    DO_NOT_CALL,
    FIELDS,
    ImportFailed,
    ImportFileError,
    ImportProgress,
    ImportResult,
    inspect_file,
    parse_delimiter,
    run_import,
)
from db.engine import Database

ACCOUNTING_LINES = (
    ("total_rows", "rows in file"),
    ("inserted", "inserted"),
    ("updated", "updated"),
    ("unchanged", "unchanged (already stored as in the file)"),
    ("merged", "merged duplicates"),
    ("rejected", "rejected"),
    ("suppressed", "on the do-not-call list (stored, never queued)"),
    ("do_not_call", "  of which the file flags do-not-call"),
    ("warnings", "warnings (cells not used in kept rows)"),
)


class _CliError(Exception):
    pass


def parse_map(items: list[str]) -> dict[str, str]:
    """["Tel=mobile", "Branch=custom"] -> {"Tel": "mobile", "Branch": "custom"}."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, field_name = item.rpartition("=")
        if not sep or not column.strip():
            raise _CliError(f"--map {item!r} is not COLUMN=FIELD")
        field_name = field_name.strip()
        if field_name not in FIELDS:
            raise _CliError(f"--map {item!r}: unknown field; choose one of {', '.join(FIELDS)}")
        mapping[column.strip()] = field_name
    return mapping


def parse_do_not_call(items: list[str]) -> dict[str, list[str]]:
    """["Contact by phone=No,N"] -> {"Contact by phone": ["No", "N"]}."""
    values: dict[str, list[str]] = {}
    for item in items:
        column, sep, text = item.rpartition("=")
        if not sep or not column.strip() or not text.strip():
            raise _CliError(f"--do-not-call {item!r} is not COLUMN=VALUE[,VALUE...]")
        values[column.strip()] = [v.strip() for v in text.split(",") if v.strip()]
    return values


def _region(args: argparse.Namespace) -> str:
    region = getattr(args, "region", None)
    if region:
        return str(region).upper()
    try:
        return load_settings().default_region
    except ConfigError:
        return "GB"


def _print_accounting(result: ImportResult, out: TextIO) -> None:
    out.write(f"import {result.batch_id} of {result.filename}: {result.status} "
              f"in {result.seconds:.1f} s\n")
    for key, label in ACCOUNTING_LINES:
        out.write(f"  {label:<48} {getattr(result, key):>9}\n")
    for member, count in result.listed_from_files.items():
        out.write(f"  {count} numbers from {member} put on the do-not-call list\n")
    if result.rejected or result.warnings:
        out.write("  rejected rows and warnings: download them from the Import page's history\n")


def run_import_command(args: argparse.Namespace, *, database: Database) -> int:
    """Run an import from the command line; 0 on success, 2 on an unreadable file or bad args."""
    try:
        overrides = parse_map(list(getattr(args, "map", None) or []))
        refusals = parse_do_not_call(list(getattr(args, "do_not_call", None) or []))
        sheet = getattr(args, "sheet", None) or None
        header_row = getattr(args, "header_row", None)
        if header_row is not None and header_row < 1:
            raise _CliError("--header-row counts from 1 (the first row of the file)")
        delimiter = parse_delimiter(getattr(args, "delimiter", None))
        try:
            stream = open(args.file, "rb")  # closed by the with-block below
        except OSError as exc:
            raise _CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except (_CliError, ImportFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def show_progress(update: ImportProgress) -> None:
        sys.stderr.write(f"\r{update.rows_done:>9} rows  {update.rows_per_second:>8.0f} rows/s")
        sys.stderr.flush()

    with stream:
        try:
            preview = inspect_file(stream, filename=args.file,
                                   encoding=getattr(args, "encoding", None), delimiter=delimiter,
                                   sheet=sheet, header_row=header_row)
            mapping = dict(preview.mapping)
            for column in [*overrides, *refusals]:
                if column not in mapping:
                    raise ImportFileError(f"the file has no column {column!r} (--map)")
            mapping.update(overrides)
            for column in refusals:
                mapping[column] = DO_NOT_CALL
            result = run_import(
                database=database, stream=stream, filename=args.file, mapping=mapping,
                encoding=preview.format.encoding or None, delimiter=delimiter,
                policy=getattr(args, "policy", None) or "update_empty", region=_region(args),
                sheet=preview.format.sheet or None, header_row=preview.header_row,
                do_not_call_values=refusals or None,
                progress=show_progress if sys.stderr.isatty() else None,
            )
        except ImportFileError as exc:
            print(f"error: {args.file}: {exc}", file=sys.stderr)
            return 2
        except ImportFailed as exc:
            if getattr(args, "json", False):
                print(json.dumps(exc.result.as_dict(), default=str))
            else:
                _print_accounting(exc.result, sys.stdout)
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if getattr(args, "json", False):
        print(json.dumps(result.as_dict(), default=str))
    else:
        _print_accounting(result, sys.stdout)
    return 0
