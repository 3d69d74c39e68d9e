"""Watermarks know their lake (issue 32, case 1): a watermark the run wrote back into the
workbook records the lake it came from (`watermark_lake`); against another lake with no state
it is no starting point: the job loads from the beginning, and the plan and the run summary say
why. A value a person typed (no lake recorded) still starts the first load."""

from __future__ import annotations

import openpyxl

from ingest.config import read_workbook
from ingest.drivers.dry_run import describe_plan
from ingest.drivers.finalize import format_summary
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.integration.conftest import create_orders, updated_at_of
from tests.workbooks import job_row, write_workbook


def _incremental_book(path, pg_schema, **values):
    return write_workbook(path, [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                         watermark_column="updated_at", **values)])


def test_a_written_back_watermark_does_not_start_another_empty_lake(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 5000)
    book = _incremental_book(tmp_path / "w.xlsx", pg_schema)
    lake_a = settings.with_overrides(destination=str(tmp_path / "lake_a"))
    first = run_local(make_plan(read_workbook(book), new_run_context()), lake_a, book)
    assert first.jobs[0]["rows_processed"] == 5000
    written = read_workbook(book).job("orders")
    assert written.last_watermark == updated_at_of(5000).isoformat()
    header = [c.value for c in openpyxl.load_workbook(book)["jobs"][1]]
    assert "watermark_lake" in header  # a person reading the workbook sees where the value came from
    assert written.watermark_lake == f"{(tmp_path / 'lake_a').resolve().as_uri()}/{settings.dataset}"

    lake_b = settings.with_overrides(destination=str(tmp_path / "lake_b"))
    report = describe_plan(make_plan(read_workbook(book), new_run_context()), lake_b, read_slot=None)
    start = report.jobs[0].start_from
    assert start.startswith("the beginning") and "written back from lake" in start and "lake_a" in start
    second = run_local(make_plan(read_workbook(book), new_run_context()), lake_b, book)
    assert second.jobs[0]["status"] == "succeeded" and second.jobs[0]["rows_processed"] == 5000
    assert "written back from lake" in format_summary(second) and "lake_a" in format_summary(second)
    again = read_workbook(book).job("orders")  # the write-back now names lake B
    assert again.watermark_lake == f"{(tmp_path / 'lake_b').resolve().as_uri()}/{settings.dataset}"


def test_a_typed_watermark_still_starts_the_first_load(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 5000)
    book = _incremental_book(tmp_path / "w.xlsx", pg_schema, last_watermark=updated_at_of(4001).isoformat())
    report = describe_plan(make_plan(read_workbook(book), new_run_context()), settings, read_slot=None)
    assert report.jobs[0].start_from.startswith(updated_at_of(4001).isoformat())
    summary = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
    assert summary.jobs[0]["rows_processed"] == 1000


def test_a_workbook_tried_locally_loads_everything_into_an_azure_lake(postgres, pg_schema, azurite, settings,
                                                                      tmp_path):
    """The docs' next step after `make run` (docs/azurite.md): the same workbook against az://... (Azurite)."""
    create_orders(postgres, pg_schema, 500)
    book = _incremental_book(tmp_path / "w.xlsx", pg_schema)
    assert run_local(make_plan(read_workbook(book), new_run_context()), settings, book).jobs[0]["rows_processed"] == 500
    container = f"lake{pg_schema.replace('_', '')}"
    azure = settings.with_overrides(destination=f"az://{container}/bronze",
                                    azure_storage_connection_string=azurite.connection_string)
    summary = run_local(make_plan(read_workbook(book), new_run_context()), azure, book)
    assert summary.jobs[0]["rows_processed"] == 500 and "written back from lake file://" in format_summary(summary)
    assert read_workbook(book).job("orders").watermark_lake == f"az://{container}/bronze/raw (account devstoreaccount1)"
