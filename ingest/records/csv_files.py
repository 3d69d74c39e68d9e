"""The CSV trail files of the records (the audit trail, the check results): a locked,
idempotent append, a reader, and the CSV text of one run (one blob per run on Azure).

These are the only CSV writers of the app, and every cell goes through `neutralise_cell`:
text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return, and is not a plain
number, gets a leading apostrophe, so a spreadsheet opening the file shows it as text
instead of running it as a formula (values come from sources and error messages: data an
attacker may choose). Numbers, and text that is a plain number (`-5`, `+3`, `-1.5e3`), stay
as they are; readers see neutralised text with its apostrophe.
"""

from __future__ import annotations

import csv
import fcntl
import io
import re
from pathlib import Path
from typing import Any, Iterable

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_cell(value: Any) -> Any:
    """`value`, or text a spreadsheet would run as a formula with an apostrophe before it."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _neutralised(rows: Iterable[dict]) -> Iterable[dict]:
    return ({key: neutralise_cell(value) for key, value in row.items()} for row in rows)


def append_csv_rows(path: Path, columns: list[str], rows: Iterable[dict]) -> Path:
    """Append rows to a CSV trail under an exclusive lock, writing the header into a new file
    and skipping rows whose (run_id, job_name) the file already holds: a repeated finalize
    never duplicates them. The audit trail and the check results share it."""
    with open(path, "a+", newline="", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        existing = {(r["run_id"], r["job_name"]) for r in csv.DictReader(handle)}
        handle.seek(0, 2)
        writer = csv.DictWriter(handle, fieldnames=columns)
        if handle.tell() == 0:
            writer.writeheader()
        writer.writerows(_neutralised(row for row in rows if (row["run_id"], row["job_name"]) not in existing))
        fcntl.flock(handle, fcntl.LOCK_UN)
    return path


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; none if the file does not exist yet."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def csv_text(columns: list[str], rows: Iterable[dict]) -> str:
    """Rows as CSV text with a header (what goes into one blob per run on Azure)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(_neutralised(rows))
    return buffer.getvalue()
