"""Watermark write-back touches only last_watermark cells, and never a newer edit."""

from __future__ import annotations

import openpyxl

from ingest.config.writeback import WatermarkUpdate, write_watermarks_to_file
from tests.workbooks import job_row, write_workbook


def test_writes_only_the_watermark_cell_and_keeps_other_sheets(tmp_path):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a", last_watermark="2024-01-01"),
                                                job_row(job_name="b", source_table="b")])
    book = openpyxl.load_workbook(path)
    notes = book.create_sheet("notes")
    notes["A1"] = "keep me"
    book["jobs"]["L1"] = "owner"
    book.save(path)
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01", "2024-02-02T10:00:00"),
                                              WatermarkUpdate("b", None, 42)])
    assert outcome.written == ["a", "b"] and outcome.conflicts == []
    book = openpyxl.load_workbook(path)
    jobs = book["jobs"]
    assert jobs["K2"].value == "2024-02-02T10:00:00" and jobs["K3"].value == 42
    assert jobs["L1"].value == "owner" and book["notes"]["A1"].value == "keep me"
    assert [c.value for c in jobs[2]][:10] == [c.value for c in openpyxl.load_workbook(path)["jobs"][2]][:10]


def test_a_cell_edited_since_the_run_started_is_not_clobbered(tmp_path):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a", last_watermark="2025-06-01")])
    before = path.read_bytes()
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01", "2024-03-01")])
    assert outcome.written == []
    assert outcome.conflicts == ["jobs!K2: changed since the run started; not overwritten"]
    assert path.read_bytes() == before


def test_a_removed_row_is_reported(tmp_path):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a")])
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("gone", None, 5)])
    assert outcome.conflicts == ["gone: its row is no longer in the workbook"]


def test_the_written_workbook_keeps_its_mode_owner_and_group(tmp_path):
    """A shared workbook (group-readable, a team's group) stays so after a write-back; the
    replacement file used to be mkstemp's 0600 of the app's user. Run as root here, so another
    group can be given to the file."""
    import os
    import stat

    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a", last_watermark="2024-01-01")])
    os.chmod(path, 0o664)
    os.chown(path, os.getuid(), 65534)  # nogroup
    before = os.stat(path)
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01", "2024-02-02T10:00:00")])
    after = os.stat(path)
    assert outcome.written == ["a"] and after.st_ino != before.st_ino  # replaced, not rewritten in place
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (0o664, before.st_uid, 65534)


def test_the_lake_is_written_beside_the_watermark_and_its_header_added_when_missing(tmp_path):
    """Watermarks know their lake (issue 32 case 1): a workbook from before has no
    watermark_lake column; the write-back adds its header cell after the last column and writes
    the lake beside each value it writes. The same value from another lake rewrites the lake."""
    from ingest.config import read_workbook
    from tests.workbooks import HEADER

    old_header = [h for h in HEADER if h != "watermark_lake"]
    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a", last_watermark="2024-01-01"),
                                                job_row(job_name="b", source_table="b")], header=old_header)
    outcome = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01", "2024-02-02", "file:///x/raw")])
    assert outcome.written == ["a"]
    jobs = openpyxl.load_workbook(path)["jobs"]
    column = len(old_header) + 1
    assert jobs.cell(1, column).value == "watermark_lake" and jobs.cell(2, column).value == "file:///x/raw"
    assert jobs.cell(3, column).value is None and jobs["K2"].value == "2024-02-02"
    assert read_workbook(path).job("a").watermark_lake == "file:///x/raw"
    again = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-02-02", "2024-02-02", "az://lake/b/raw")])
    assert again.written == ["a"] and read_workbook(path).job("a").watermark_lake == "az://lake/b/raw"
    assert write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-02-02", "2024-02-02",
                                                           "az://lake/b/raw")]).written == []  # already there


def test_a_date_cell_is_compared_as_the_reader_reads_it(tmp_path):
    """Excel keeps a typed date as a number with a date style: the write-back (which reads the
    sheet's XML itself) compares it as the reader does, as ISO text."""
    from datetime import datetime

    from ingest.config import read_workbook

    path = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="a", last_watermark=datetime(2024, 1, 1, 3, 4, 5))])
    assert read_workbook(path).job("a").last_watermark == "2024-01-01T03:04:05"
    stale = write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01T00:00:00", "2024-03-01")])
    assert stale.conflicts == ["jobs!K2: changed since the run started; not overwritten"]
    assert write_watermarks_to_file(path, [WatermarkUpdate("a", "2024-01-01T03:04:05", "2024-03-01")]).written == ["a"]
    assert read_workbook(path).job("a").last_watermark == "2024-03-01"
