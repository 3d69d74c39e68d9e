"""Write an empty workbook: the `jobs` header, dropdowns for enumerated columns, and a
`descriptions` sheet that explains every column; the same for the `quality_rules` sheet
(descriptions of its columns and rules in `quality_descriptions`)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ingest.config.api_sheet import API_COLUMNS, API_SHEET
from ingest.config.columns import JOB_COLUMNS
from ingest.config.filters_sheet import FILTER_COLUMNS, FILTERS_SHEET
from ingest.config.quality_sheet import QUALITY_COLUMNS, QUALITY_SHEET, RULE_HELP
from ingest.config.workbook import JOBS_SHEET
from ingest.config.credential_fields import FIELDS_BY_SOURCE_TYPE

TEMPLATE_ROWS = 1000


def _table_sheet(sheet, columns) -> None:
    """Header row, widths and a dropdown for every enumerated column."""
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.name)
        cell.font = Font(bold=True)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(14, len(column.name) + 4)
        if column.choices:
            validation = DataValidation(type="list", formula1='"' + ",".join(column.choices) + '"',
                                        allow_blank=not column.required, showErrorMessage=True,
                                        errorTitle=column.name,
                                        error=f"{column.name} must be one of: {', '.join(column.choices)}")
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"


def write_template(path: str | Path) -> Path:
    book = openpyxl.Workbook()
    jobs = book.active
    jobs.title = JOBS_SHEET
    _table_sheet(jobs, JOB_COLUMNS)
    _table_sheet(book.create_sheet(API_SHEET), API_COLUMNS)
    _table_sheet(book.create_sheet(FILTERS_SHEET), FILTER_COLUMNS)
    _quality_sheets(book)

    descriptions = book.create_sheet("descriptions")
    headers = ("sheet", "column", "required", "allowed values", "example", "description")
    for index, title in enumerate(headers, start=1):
        descriptions.cell(row=1, column=index, value=title).font = Font(bold=True)
    described = [(JOBS_SHEET, c) for c in JOB_COLUMNS] + [(API_SHEET, c) for c in API_COLUMNS] + \
        [(FILTERS_SHEET, c) for c in FILTER_COLUMNS]
    for row, (sheet_name, column) in enumerate(described, start=2):
        descriptions.cell(row=row, column=1, value=sheet_name)
        descriptions.cell(row=row, column=2, value=column.name)
        descriptions.cell(row=row, column=3, value="yes" if column.required else "no")
        descriptions.cell(row=row, column=4, value=", ".join(column.choices))
        descriptions.cell(row=row, column=5, value=column.example)
        descriptions.cell(row=row, column=6, value=column.description)
    _describe_credentials(descriptions, first_row=len(described) + 3)
    for letter, width in zip("ABCDEF", (16, 22, 10, 26, 28, 100)):
        descriptions.column_dimensions[letter].width = width

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out


def _describe_credentials(sheet, first_row: int) -> None:
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


def _quality_sheets(book) -> None:
    """The `quality_rules` sheet, and `quality_descriptions`: its columns, then each rule."""
    _table_sheet(book.create_sheet(QUALITY_SHEET), QUALITY_COLUMNS)
    help_sheet = book.create_sheet("quality_descriptions")
    for index, title in enumerate(("column or rule", "required", "allowed values / argument", "example",
                                   "description"), start=1):
        help_sheet.cell(row=1, column=index, value=title).font = Font(bold=True)
    row = 2
    for column in QUALITY_COLUMNS:
        for index, value in enumerate((column.name, "yes" if column.required else "no", ", ".join(column.choices),
                                       column.example, column.description), start=1):
            help_sheet.cell(row=row, column=index, value=value)
        row += 1
    for rule, (argument, meaning) in RULE_HELP.items():
        for index, value in enumerate((f"rule {rule.value}", "", argument, "", meaning), start=1):
            help_sheet.cell(row=row, column=index, value=value)
        row += 1
    for letter, width in zip("ABCDE", (22, 10, 40, 16, 100)):
        help_sheet.column_dimensions[letter].width = width
