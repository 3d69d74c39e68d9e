"""Reading one table-shaped sheet (header in row 1, one record per row) against a tuple of
`Column`s: header checks, formula and size guards, per-cell parsing, all with sheet!cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from openpyxl.utils import get_column_letter

from ingest.config.columns import CellError, Column, shown
from ingest.config.model import ConfigIssue

MAX_CELL_CHARS = 1_000


@dataclass
class SheetRecord:
    row: int
    values: dict[str, Any]
    issues: list[ConfigIssue] = field(default_factory=list)

    def ref(self, header: dict[str, int], column: str) -> str:
        """The cell of `column` in this record's row (the row itself if the column is absent)."""
        return f"{get_column_letter(header[column] + 1)}{self.row}" if column in header else f"{self.row}:{self.row}"


def cell_value(cell: Any) -> Any:
    value = getattr(cell, "value", None)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def is_formula(cell: Any) -> bool:
    return getattr(cell, "data_type", None) == "f" or (
        isinstance(getattr(cell, "value", None), str) and cell.value.startswith("=")
    )


def read_header(sheet: str, row: Sequence[Any], columns: Sequence[Column],
                issues: list[ConfigIssue]) -> dict[str, int] | None:
    """Column name -> index; None (with issues) when a required column is missing."""
    known = {c.name for c in columns}
    header: dict[str, int] = {}
    broken = False
    for index, cell in enumerate(row):
        value = cell_value(cell)
        if value is None:
            continue
        ref = f"{get_column_letter(index + 1)}1"
        name = str(value).strip().lower()
        if name in header:
            issues.append(ConfigIssue(sheet, ref, f"column '{name}' appears twice"))
            broken = True
        elif name in known:
            header[name] = index
        else:
            issues.append(ConfigIssue(sheet, ref, f"unknown column {shown(name)} is ignored", severity="warning"))
    missing = [c.name for c in columns if c.required and c.name not in header]
    if missing:
        issues.append(ConfigIssue(sheet, "1:1", "missing required column(s): " + ", ".join(missing)))
        return None
    return None if broken else header


def read_records(sheet: str, rows: Sequence[Sequence[Any]], header: dict[str, int],
                 columns: Sequence[Column], first_row: int = 2) -> list[SheetRecord]:
    """Parse every non-empty row; each record carries its own issues."""
    records: list[SheetRecord] = []
    for offset, row in enumerate(rows):
        number = first_row + offset
        if all(cell_value(c) is None for c in row):
            continue
        record = SheetRecord(row=number, values={})
        for column in columns:
            if column.name not in header:
                continue
            index = header[column.name]
            cell = row[index] if index < len(row) else None
            ref = f"{get_column_letter(index + 1)}{number}"
            raw = cell_value(cell)
            if cell is not None and is_formula(cell):
                record.issues.append(ConfigIssue(sheet, ref, f"{column.name} holds a formula ({shown(raw)});"
                                                 " write the value itself"))
            elif isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
                record.issues.append(ConfigIssue(sheet, ref, f"{column.name} is longer than {MAX_CELL_CHARS} characters"))
            elif raw is None:
                if column.required:
                    record.issues.append(ConfigIssue(sheet, ref, f"{column.name} is required"))
            else:
                try:
                    record.values[column.name] = column.parse(raw)
                except CellError as exc:
                    record.issues.append(ConfigIssue(sheet, ref, str(exc)))
        records.append(record)
    return records
