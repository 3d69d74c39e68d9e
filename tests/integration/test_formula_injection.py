"""A formula planted in the source never becomes a live formula in what the app writes
(security #21, finding 3), through a real load from PostgreSQL: a text watermark column
whose greatest value is `=HYPERLINK(...)` (`=` sorts after digits) used to be written back
into `last_watermark` as a formula and into audit_trail.csv as is."""

from __future__ import annotations

import csv

import openpyxl

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.integration.conftest import sql
from tests.workbooks import job_row, write_workbook

EVIL = '=HYPERLINK("https://evil.example","x")'


def test_a_formula_as_the_new_watermark_is_neither_written_back_nor_live_in_the_audit(postgres, pg_schema,
                                                                                       settings, tmp_path):
    sql(postgres, f"CREATE TABLE {pg_schema}.codes (id int PRIMARY KEY, code text NOT NULL);"
                  f" INSERT INTO {pg_schema}.codes VALUES (1, '2024-01-05'), (2, %(evil)s);", {"evil": EVIL})
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="codes", source_schema=pg_schema,
                                                        source_table="codes", load_type="INCREMENTAL",
                                                        watermark_column="code", last_watermark="2024-01-01")])
    config = read_workbook(book)
    summary = run_local(make_plan(config, new_run_context()), settings, book)
    job = summary.jobs[0]
    assert job["status"] == "succeeded" and job["rows_processed"] == 2 and job["watermark_after"] == EVIL

    cell = openpyxl.load_workbook(book)["jobs"]["K2"]
    assert cell.data_type != "f" and cell.value == "2024-01-01"  # kept, not replaced by the formula
    assert any("the new watermark" in c for c in summary.watermark_conflicts), summary.watermark_conflicts

    with open(settings.audit_dir / "audit_trail.csv", newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["watermark_after"] == "'" + EVIL  # text, not a formula, when the CSV is opened
