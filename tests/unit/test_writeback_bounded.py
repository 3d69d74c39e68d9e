"""The watermark write-back is bounded like the reader (issue 32, case 8): only the jobs sheet's
XML is read and rewritten, every other part of the workbook is copied byte for byte, so a hidden
sheet of 2M cells costs its copy (it took 38 s and 965 MB in openpyxl's full mode). The reader
refuses a sheet it does not know over a small size, naming it, without parsing it."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.datavalidation import DataValidation

from ingest.config import read_workbook
from ingest.config.writeback import WatermarkUpdate, write_watermarks_to_file
from ingest.core.errors import WorkbookError
from tests.workbooks import job_row, write_workbook

ROWS, COLUMNS = 20_000, 100  # 2M cells


def _book(path: Path) -> Path:
    """Two jobs, a styled header, a data validation and a notes sheet."""
    write_workbook(path, [job_row(job_name="a", last_watermark="2024-01-01"), job_row(job_name="b", source_table="b")])
    book = openpyxl.load_workbook(path)
    jobs = book["jobs"]
    jobs["A1"].font = openpyxl.styles.Font(bold=True)
    check = DataValidation(type="list", formula1='"Y,N"')
    jobs.add_data_validation(check)
    check.add("B2:B100")
    book.create_sheet("notes")["A1"] = "keep me"
    book.save(path)
    return path


def _add_hidden_sheet(path: Path, rows: int, columns: int) -> None:
    """A hidden sheet of rows x columns numbers, its XML written directly into the zip."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(c) for c in range(1, columns + 1)]
    parts = ["<?xml version='1.0' encoding='UTF-8'?><worksheet xmlns='http://schemas.openxmlformats.org/"
             "spreadsheetml/2006/main'><sheetData>"]
    for row in range(1, rows + 1):
        parts.append(f'<row r="{row}">' + "".join(f'<c r="{x}{row}"><v>{row}</v></c>' for x in letters) + "</row>")
    parts.append("</sheetData></worksheet>")
    with zipfile.ZipFile(path) as source:
        members = {i.filename: source.read(i.filename) for i in source.infolist()}
    members["xl/workbook.xml"] = members["xl/workbook.xml"].replace(
        b"</sheets>", b'<sheet name="big" sheetId="99" state="hidden" r:id="rIdBig"/></sheets>')
    members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdBig" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/worksheet" Target="worksheets/big.xml"/></Relationships>')
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/worksheets/big.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
    members["xl/worksheets/big.xml"] = "".join(parts).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


MEASURE = """
import json, sys, time
from ingest.config.writeback import WatermarkUpdate, write_watermarks_to_file
clock = time.perf_counter()
outcome = write_watermarks_to_file(sys.argv[1], [WatermarkUpdate("a", "2024-01-01", "2024-02-02T10:00:00")])
seconds = time.perf_counter() - clock
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"written": outcome.written, "seconds": seconds, "peak_mb": int(hwm.split()[1]) / 1024}))
"""


def _measure(path: Path) -> dict:
    """Seconds and peak memory of the write-back in a fresh process: its VmHWM (ru_maxrss
    would count the pytest process it was forked from)."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_hidden_sheet_of_2m_cells_is_copied_not_read(tmp_path):
    path = _book(tmp_path / "w.xlsx")
    _add_hidden_sheet(path, ROWS, COLUMNS)
    measured = _measure(path)
    assert measured["written"] == ["a"]
    assert measured["seconds"] < 2 and measured["peak_mb"] < 150, measured
    with zipfile.ZipFile(path) as archive:
        assert b'<c r="CV20000"><v>20000</v></c>' in archive.read("xl/worksheets/big.xml")


def test_a_cell_at_the_last_row_costs_nothing(tmp_path):
    path = _book(tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    book["jobs"].cell(row=1_048_576, column=1, value="far away")
    book.save(path)
    measured = _measure(path)
    assert measured["written"] == ["a"] and measured["seconds"] < 1, measured


def test_every_other_part_is_kept_byte_for_byte_and_the_workbook_opens(tmp_path):
    path = _book(tmp_path / "w.xlsx")
    with zipfile.ZipFile(path) as archive:
        before = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01", "2024-02-02T10:00:00", "file:///l/raw"),
                                              WatermarkUpdate("b", None, 42, "file:///l/raw")])
    assert outcome.written == ["a", "b"] and outcome.conflicts == []
    with zipfile.ZipFile(path) as archive:
        after = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    jobs_part = "xl/worksheets/sheet1.xml"
    assert list(after) == list(before)
    assert {k: v for k, v in after.items() if k != jobs_part} == {k: v for k, v in before.items() if k != jobs_part}
    validations = re.compile(rb"<dataValidations.*</dataValidations>", re.S)
    assert validations.search(after[jobs_part]).group(0) == validations.search(before[jobs_part]).group(0)
    book = openpyxl.load_workbook(path)
    jobs = book["jobs"]
    assert jobs["K2"].value == "2024-02-02T10:00:00" and jobs["K2"].data_type == "s" and jobs["K3"].value == 42
    assert jobs["A1"].font.bold and book["notes"]["A1"].value == "keep me"
    assert len(jobs.data_validations.dataValidation) == 1
    config = read_workbook(path)
    assert config.job("a").watermark_lake == "file:///l/raw" and config.job("b").last_watermark == 42


def test_the_reader_refuses_a_large_sheet_it_does_not_know(tmp_path):
    path = _book(tmp_path / "w.xlsx")
    _add_hidden_sheet(path, 2_000, 100)
    with pytest.raises(WorkbookError, match="sheet 'big'"):
        read_workbook(path)
    small = _book(tmp_path / "small.xlsx")  # the small notes sheet is no problem
    assert [j.job_name for j in read_workbook(small).jobs] == ["a", "b"]
