"""Add rows to the workbook's `jobs` sheet without touching anything a person wrote: used by
`python -m ingest discover` (ingest/sources/discovery/discover.py).

What is there stays as it is: every existing row, cell value and format, the data
validations (dropdowns and input prompts), the other sheets (descriptions included). New rows
go under the last row that holds a value (no format copied from a person's row: a highlight
there marks that row only), every value a plain string cell (never a formula); a row's notes become a comment on its job_name cell. A
column the new rows need but the header lacks is added at the header's end. Nothing is
written when no row is new; the file is replaced atomically, keeping its mode.
"""

from __future__ import annotations

import io
import tempfile
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.comments import Comment

from ingest.config.dlt_names import DELETED_KEYS_SUFFIX, SCD2_STAGE_SUFFIX
from ingest.config.workbook import JOBS_SHEET, MAX_ROWS, load_workbook_bytes
from ingest.core.errors import WorkbookError
from ingest.core.printable import xml_safe

SourceKey = tuple[str, str, str]
"""(connection, schema, table), lower case; the schema "" for the connection's default."""
COMMENT_AUTHOR = "ingest discover"


@dataclass(frozen=True)
class ExistingRow:
    row: int
    values: dict[str, Any]

    def text(self, column: str) -> str:
        value = self.values.get(column)
        return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class JobsSheet:
    """What discover needs to know of the rows already there."""

    rows: list[ExistingRow]

    def names_in_use(self) -> list[str]:
        """Every job name and lake table of the existing rows, valid or not (a person may be
        half-way through one), with the tables a job derives from its own."""
        names: list[str] = []
        for row in self.rows:
            lake = row.text("target_table") or row.text("source_table").lower() or row.text("job_name")
            names += [row.text("job_name"), lake, lake + DELETED_KEYS_SUFFIX, lake + SCD2_STAGE_SUFFIX]
        return [n for n in names if n and n not in (DELETED_KEYS_SUFFIX, SCD2_STAGE_SUFFIX)]

    def sources(self, default_schema: str | None) -> dict[SourceKey, int]:
        """(connection, schema, table) -> the row that reads it."""
        found: dict[SourceKey, int] = {}
        for row in self.rows:
            if row.text("source_table"):
                found.setdefault(source_key(row.text("connection"), row.text("source_schema") or None,
                                            row.text("source_table"), default_schema), row.row)
        return found


def source_key(connection: str, schema: str | None, table: str, default_schema: str | None) -> SourceKey:
    return (connection.lower(), (schema or default_schema or "").lower(), table.lower())


@dataclass(frozen=True)
class NewRow:
    values: dict[str, Any]
    """jobs column -> value (None: left empty)."""
    note: str = ""


@dataclass
class MergeOutcome:
    added: list[tuple[int, str]] = field(default_factory=list)
    """(row, job name) of each row written (or that --dry-run would write)."""
    added_columns: list[str] = field(default_factory=list)
    written: bool = False


def workbook_bytes(path: Path) -> bytes:
    """The workbook's bytes (size caps of the reader); a new empty template when there is no file."""
    if path.exists():
        return load_workbook_bytes(path)[0]
    from ingest.config.template import write_template

    with tempfile.TemporaryDirectory() as folder:
        return write_template(Path(folder) / "template.xlsx").read_bytes()


def _open(data: bytes, label: str) -> tuple[Any, Any]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data))
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise WorkbookError(f"{label}: cannot be read as a workbook ({type(exc).__name__})") from None
    names = {s.lower(): s for s in book.sheetnames}
    if JOBS_SHEET not in names:
        raise WorkbookError(f"{label}: no sheet named '{JOBS_SHEET}' (found: {', '.join(book.sheetnames)})")
    return book, book[names[JOBS_SHEET]]


def _header(sheet: Any) -> dict[str, int]:
    return {str(c.value).strip().lower(): c.column for c in sheet[1] if c.value is not None and str(c.value).strip()}


def _last_row(sheet: Any, label: str) -> int:
    """The last row holding a value, from the cells the file has: walking rows down from
    `max_row` made every empty cell up to it, so one formatted cell at row 1,048,576 cost
    millions of cells. A value beyond MAX_ROWS job rows is refused: the reader would leave that row
    out (with an issue), and rows appended under it would be left out with it."""
    # openpyxl has no public way to list the cells a sheet holds without creating the empty ones
    last = max((row for (row, _), cell in sheet._cells.items()
                if row > 1 and cell.value is not None and str(cell.value).strip()), default=1)
    if last > MAX_ROWS + 1:
        raise WorkbookError(f"{label}: sheet {sheet.title} has a value in row {last}; a workbook holds at most"
                            f" {MAX_ROWS} job rows")
    return last


def read_jobs_sheet(data: bytes, label: str) -> JobsSheet:
    _book, sheet = _open(data, label)
    header = _header(sheet)
    rows = []
    for number in range(2, _last_row(sheet, label) + 1):
        values = {name: sheet.cell(row=number, column=col).value for name, col in header.items()}
        if any(v is not None and str(v).strip() for v in values.values()):
            rows.append(ExistingRow(number, values))
    return JobsSheet(rows)


def append_rows(data: bytes, label: str, rows: list[NewRow]) -> tuple[bytes, MergeOutcome]:
    """The workbook with `rows` added under the last used row; `data` itself when none."""
    outcome = MergeOutcome()
    if not rows:
        return data, outcome
    book, sheet = _open(data, label)
    header = _header(sheet)
    for name in dict.fromkeys(k for r in rows for k, v in r.values.items() if v is not None):
        if name not in header:
            header[name] = _add_column(sheet, name)
            outcome.added_columns.append(name)
    above = _last_row(sheet, label)
    for offset, new in enumerate(rows, start=1):
        number = above + offset
        for name, column in header.items():
            value = new.values.get(name)
            if value is not None:
                cell = sheet.cell(row=number, column=column)
                cell.value = xml_safe(str(value))  # a name from a source may hold what XML forbids
                cell.data_type = "s"  # a plain string, whatever the text
        if new.note:
            note = xml_safe(new.note)  # column names from the source's catalog: a \x01 made the workbook unreadable
            comment = Comment(note, COMMENT_AUTHOR)
            comment.width, comment.height = 480, min(400, 60 + 16 * note.count("\n"))
            sheet.cell(row=number, column=header["job_name"]).comment = comment
        outcome.added.append((number, str(new.values["job_name"])))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), outcome


def _add_column(sheet: Any, name: str) -> int:
    column = max((c.column for c in sheet[1] if c.value is not None), default=0) + 1
    cell = sheet.cell(row=1, column=column, value=name)
    if column > 1:
        cell._style = copy(sheet.cell(row=1, column=column - 1)._style)
    return column
