"""Names in the workbook spelled differently from the source resolve to the source's spelling
(the path Oracle takes: it stores unquoted names in upper case and SQLAlchemy reflects them in
lower case). Proven on the real PostgreSQL server, which folds the other way: the workbook
says ORDERS / UPDATED_AT / ID, the server has orders / updated_at / id."""

from __future__ import annotations

from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import create_orders, updated_at_of
from tests.workbooks import job_row, write_workbook


def test_upper_case_names_load_incrementally_and_report_the_watermark(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 40)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(
        source_schema=pg_schema.upper(), source_table="ORDERS", primary_key="ID",
        load_type="INCREMENTAL", watermark_column="UPDATED_AT", last_watermark="2024-01-01T00:00:00")])
    for expected_rows in (40, 0):
        summary = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
        job = summary.jobs[0]
        assert job["status"] == "succeeded", job
        assert job["rows_processed"] == expected_rows
        assert job["watermark_after"] == updated_at_of(40).isoformat()
    assert job["watermark_before"] == updated_at_of(40).isoformat()


def test_a_table_missing_in_every_spelling_is_reported(postgres, pg_schema, settings, tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema.upper(), source_table="NOPE")])
    summary = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
    assert summary.jobs[0]["error_class"] == "SourceObjectNotFoundError"
    assert f"table {pg_schema.upper()}.NOPE does not exist" in summary.jobs[0]["error_message"]
