"""Adding discovered rows to a workbook (ingest/config/workbook_merge.py) without a database:
a header lacking a column, text that looks like a formula, blank formatted rows below the data,
a workbook without a jobs sheet, and the names and sources of the rows already there."""

from __future__ import annotations

import io

import openpyxl
import pytest
from openpyxl.styles import PatternFill

from ingest.config.workbook_merge import NewRow, append_rows, read_jobs_sheet, workbook_bytes
from ingest.config.writeback import replace_file
from ingest.core.errors import WorkbookError


def book_bytes(rows: list[list], header=("job_name", "enabled", "source_type", "connection", "source_schema",
                                         "source_table", "load_type")) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Jobs"  # the sheet's name is matched ignoring case, as the reader does
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    for number in range(2, 40):  # formatted, empty rows under the data
        sheet.cell(row=number, column=1).fill = PatternFill("solid", fgColor="DDEEFF")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_rows_go_under_the_last_value_and_a_missing_column_is_added():
    data = book_bytes([["orders", "Y", "postgres", "pg", "Sales", "Orders", "FULL"]])
    new = NewRow({"job_name": "=HYPERLINK(\"x\")", "enabled": "N", "source_type": "postgres", "connection": "pg",
                  "source_schema": None, "source_table": "lines", "target_table": "lines_lake", "load_type": "FULL"},
                 note="no primary key")
    out, outcome = append_rows(data, "w.xlsx", [new])
    assert outcome.added == [(3, "=HYPERLINK(\"x\")")] and outcome.added_columns == ["target_table"]
    sheet = openpyxl.load_workbook(io.BytesIO(out))["Jobs"]
    assert sheet["A3"].data_type == "s" and sheet["A3"].value == "=HYPERLINK(\"x\")"  # text, never a formula
    assert sheet["H1"].value == "target_table" and sheet["H3"].value == "lines_lake" and sheet["E3"].value is None
    assert sheet["A3"].comment.text == "no primary key" and sheet["A3"].fill.fgColor.rgb == "00DDEEFF"
    assert [c.value for c in sheet[2]][:7] == ["orders", "Y", "postgres", "pg", "Sales", "Orders", "FULL"]


def test_nothing_to_add_returns_the_same_bytes():
    data = book_bytes([])
    out, outcome = append_rows(data, "w.xlsx", [])
    assert out is data and outcome.added == []


def test_existing_names_and_sources_are_read_whatever_their_validity():
    data = book_bytes([["orders", "Y", "postgres", "PG", "Sales", "Orders", "FULL"],
                       ["Bad Name!", "maybe", "postgres", "pg", None, "lines", "SOMETIMES"]])
    sheet = read_jobs_sheet(data, "w.xlsx")
    assert set(sheet.names_in_use()) >= {"orders", "Bad Name!", "lines", "orders_deleted_keys"}
    assert sheet.sources("public") == {("pg", "sales", "orders"): 2, ("pg", "public", "lines"): 3}


def test_a_workbook_without_a_jobs_sheet_is_refused(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "other"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(WorkbookError, match="no sheet named 'jobs'"):
        read_jobs_sheet(buffer.getvalue(), "w.xlsx")


def test_a_missing_file_starts_from_the_template_and_saving_keeps_the_mode(tmp_path):
    path = tmp_path / "w.xlsx"
    data = workbook_bytes(path)
    assert "descriptions" in openpyxl.load_workbook(io.BytesIO(data)).sheetnames and not path.exists()
    replace_file(path, data)
    path.chmod(0o640)
    replace_file(path, data)
    assert path.stat().st_mode & 0o777 == 0o640 and list(tmp_path.iterdir()) == [path]


def test_a_formatted_cell_at_the_last_excel_row_costs_nothing():
    """One styled, empty cell at row 1,048,576 made the sheet's max_row that row; the merge walked
    every row up to it, creating each empty cell."""
    book = openpyxl.load_workbook(io.BytesIO(book_bytes([["orders", "Y", "postgres", "pg", "s", "o", "FULL"]])))
    book["Jobs"].cell(row=1_048_576, column=3).fill = PatternFill("solid", fgColor="DDEEFF")
    buffer = io.BytesIO()
    book.save(buffer)
    out, outcome = append_rows(buffer.getvalue(), "w.xlsx", [NewRow({"job_name": "lines", "source_table": "lines"})])
    assert outcome.added == [(3, "lines")]
    assert len(openpyxl.load_workbook(io.BytesIO(out))["Jobs"]._cells) < 100


def test_a_value_beyond_the_row_limit_is_refused_naming_its_row():
    book = openpyxl.load_workbook(io.BytesIO(book_bytes([])))
    book["Jobs"].cell(row=900_000, column=1).value = "far_away"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(WorkbookError, match="w.xlsx: sheet Jobs has a value in row 900000; a workbook holds at most"
                                            " 50000 job rows"):
        read_jobs_sheet(buffer.getvalue(), "w.xlsx")
