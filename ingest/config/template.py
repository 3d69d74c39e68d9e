"""Write an empty workbook: each sheet's header with an input prompt on every column (a person
sees what a column means where they type), dropdowns for enumerated columns, and one
`descriptions` sheet (wrapped text) that explains every column of every sheet, each quality
rule, and the fields of a connection's credentials (which never live in the workbook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import openpyxl
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ingest.config.api_sheet import API_COLUMNS, API_SHEET
from ingest.config.columns import JOB_COLUMNS
from ingest.config.credential_fields import FIELDS_BY_SOURCE_TYPE
from ingest.config.filters_sheet import FILTER_COLUMNS, FILTERS_SHEET
from ingest.config.quality_sheet import QUALITY_COLUMNS, QUALITY_SHEET, RULE_HELP
from ingest.config.workbook import JOBS_SHEET

TEMPLATE_ROWS = 1000
DESCRIPTIONS_SHEET = "descriptions"
MAX_PROMPT = 250
"""Excel shows at most 255 characters of an input prompt; the rest is in `descriptions`."""
TABLE_SHEETS = ((JOBS_SHEET, JOB_COLUMNS), (API_SHEET, API_COLUMNS), (FILTERS_SHEET, FILTER_COLUMNS),
                (QUALITY_SHEET, QUALITY_COLUMNS))


def _prompt(column: Any) -> str:
    text = " ".join(f"{'Required. ' if column.required else ''}{column.description}".split())
    return text if len(text) <= MAX_PROMPT else text[: MAX_PROMPT - 22].rstrip() + "... (see descriptions)"


def _table_sheet(sheet: Any, columns: Iterable[Any]) -> None:
    """Header row, widths, an input prompt on each column (header and cells) and a dropdown
    for every enumerated column (one data validation per cell: the dropdown carries the prompt)."""
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.name)
        cell.font = Font(bold=True)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(14, len(column.name) + 4)
        prompt = {"showInputMessage": True, "promptTitle": column.name[:32], "prompt": _prompt(column)}
        header = DataValidation(allow_blank=True, **prompt)
        header.add(f"{letter}1")
        sheet.add_data_validation(header)
        if column.choices:
            cells = DataValidation(type="list", formula1='"' + ",".join(column.choices) + '"',
                                   allow_blank=not column.required, showErrorMessage=True, errorTitle=column.name,
                                   error=f"{column.name} must be one of: {', '.join(column.choices)}", **prompt)
        else:
            cells = DataValidation(allow_blank=True, **prompt)
        cells.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
        sheet.add_data_validation(cells)
    sheet.freeze_panes = "A2"


def write_template(path: str | Path) -> Path:
    book = openpyxl.Workbook()
    book.active.title = JOBS_SHEET
    for name, columns in TABLE_SHEETS:
        _table_sheet(book[name] if name in book.sheetnames else book.create_sheet(name), columns)
    _descriptions(book.create_sheet(DESCRIPTIONS_SHEET))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out


def _descriptions(sheet: Any) -> None:
    """Every column of every sheet, then each quality rule, then the credentials' fields."""
    headers = ("sheet", "column", "required", "allowed values", "example", "description")
    for index, title in enumerate(headers, start=1):
        sheet.cell(row=1, column=index, value=title).font = Font(bold=True)
    rows: list[tuple] = [(name, c.name, "yes" if c.required else "no", ", ".join(c.choices), c.example,
                          c.description) for name, columns in TABLE_SHEETS for c in columns]
    rows += [(QUALITY_SHEET, f"rule {rule.value}", "", argument, "", meaning)
             for rule, (argument, meaning) in RULE_HELP.items()]
    for row, values in enumerate(rows, start=2):
        for index, value in enumerate(values, start=1):
            sheet.cell(row=row, column=index, value=value)
    _describe_credentials(sheet, first_row=len(rows) + 3)
    for letter, width in zip("ABCDEF", (16, 22, 12, 30, 28, 90)):
        sheet.column_dimensions[letter].width = width
    wrapped = Alignment(wrap_text=True, vertical="top")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrapped
    sheet.freeze_panes = "A2"


def _describe_credentials(sheet: Any, first_row: int) -> None:
    """The fields a connection's credentials hold per source type (they never live here)."""
    sheet.cell(row=first_row, column=1, value="connection credentials").font = Font(bold=True)
    sheet.cell(row=first_row, column=6, value=(
        "Never in this workbook. sources.<connection>.credentials (environment variable"
        " SOURCES__<CONNECTION>__CREDENTIALS, .dlt/secrets.toml or Key Vault) holds a URL, or these"
        " fields as a TOML table or a JSON object. postgres and sqlite take a URL (or dlt's"
        " drivername/host/port/database/username/password). README: Connection strings."))
    row = first_row + 1
    for source_type, fields in FIELDS_BY_SOURCE_TYPE.items():
        sheet.cell(row=row, column=1, value=f"{source_type} credentials").font = Font(bold=True)
        row += 1
        for spec in fields:
            sheet.cell(row=row, column=1, value=f"{source_type} credentials")
            sheet.cell(row=row, column=2, value=spec.name)
            sheet.cell(row=row, column=3, value=spec.required)
            sheet.cell(row=row, column=5, value=spec.example)
            sheet.cell(row=row, column=6, value=spec.description)
            row += 1
