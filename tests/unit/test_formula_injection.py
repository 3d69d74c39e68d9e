"""Nothing this app writes becomes a live formula (security #21, finding 3): the watermark
write-back stores only values that pass the reader's `last_watermark` validation, as values
(never a formula), and every CSV cell of text that starts with =, +, -, @, tab or CR and is
not a plain number is prefixed with an apostrophe (numbers such as -5 stay readable)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from ingest.config.writeback import WatermarkUpdate, write_watermarks_to_file
from ingest.records.csv_files import append_csv_rows, csv_text, neutralise_cell
from tests.workbooks import job_row, write_workbook

EVIL = '=HYPERLINK("https://evil.example","x")'


def test_a_formula_watermark_is_not_written_back_and_the_cell_keeps_its_value(tmp_path):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a", last_watermark="2024-01-01"),
                                                job_row(job_name="b", source_table="b")])
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01", EVIL),
                                              WatermarkUpdate("b", None, "2024-02-02T10:00:00")])
    assert outcome.written == ["b"]
    assert len(outcome.conflicts) == 1 and outcome.conflicts[0].startswith("jobs!K2: the new watermark")
    assert "not a number or an ISO date/datetime" in outcome.conflicts[0]
    jobs = openpyxl.load_workbook(path)["jobs"]
    assert jobs["K2"].value == "2024-01-01" and jobs["K2"].data_type == "s"
    assert jobs["K3"].value == "2024-02-02T10:00:00" and jobs["K3"].data_type == "s"


@pytest.mark.parametrize("new, stored, kind", [(42, 42, "n"), (-5, -5, "n"), ("-5", -5, "n"), (2.5, 2.5, "n"),
                                               ("2024-03-01T12:00:00.123456+00:00",
                                                "2024-03-01T12:00:00.123456+00:00", "s")])
def test_valid_watermarks_are_written_as_the_reader_parses_them(tmp_path, new, stored, kind):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a")])
    assert write_watermarks_to_file(path, [WatermarkUpdate("a", None, new)]).written == ["a"]
    cell = openpyxl.load_workbook(path)["jobs"]["K2"]
    assert (cell.value, cell.data_type) == (stored, kind)


@pytest.mark.parametrize("text", [EVIL, "+SUM(A1:A9)", "-2+3", "@cmd", "\t=1", "\r=1", "-", "+", "=", "-x"])
def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed(text):
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-5", "-1.5", "+3", "-1e5", "2024-01-01", "plain", "", -7, 3.5, None, "a=b"])
def test_numbers_and_ordinary_text_stay_as_they_are(value):
    assert neutralise_cell(value) == value


def test_both_csv_writers_neutralise_every_cell(tmp_path):
    row = {"run_id": "r1", "job_name": "a", "watermark_after": EVIL, "error_message": "@SUM(1)", "rows": -5}
    columns = list(row)
    append_csv_rows(tmp_path / "t.csv", columns, [row])
    for text in ((tmp_path / "t.csv").read_text(), csv_text(columns, [row])):
        (read,) = list(csv.DictReader(io.StringIO(text)))
        assert read == {"run_id": "r1", "job_name": "a", "watermark_after": "'" + EVIL,
                        "error_message": "'@SUM(1)", "rows": "-5"}
