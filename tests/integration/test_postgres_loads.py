"""Loads from a real PostgreSQL server into a local lake, through the local runner."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.records.audit import read_audit
from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import create_orders, sql, updated_at_of
from tests.workbooks import job_row, write_workbook


def run(workbook: Path, settings, jobs=None):
    config = read_workbook(workbook)
    plan = make_plan(config, new_run_context(), jobs)
    return run_local(plan, settings, workbook)


def lake_table(settings, table: str) -> pa.Table:
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    assert files, f"no parquet files for {table}"
    return pa.concat_tables([pq.read_table(f) for f in files])


@pytest.mark.parametrize("backend", [None, "pyarrow"], ids=["default-connectorx", "pyarrow"])
def test_full_load_keeps_counts_and_exact_types(postgres, pg_schema, settings, tmp_path, backend, capfd):
    settings = settings.with_overrides(sql_backend=backend)
    create_orders(postgres, pg_schema, 2500)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    summary = run(book, settings)
    # dlt warned once per batch while connectorx's fields were all nullable (exact_types.py)
    assert "hints were different" not in capfd.readouterr().err
    assert summary.exit_code == 0, summary.jobs
    assert summary.jobs[0]["rows_processed"] == 2500
    table = lake_table(settings, "orders")
    assert table.num_rows == 2500
    schema = table.schema
    assert schema.field("id").type == pa.int64() and schema.field("qty").type == pa.int32()
    assert schema.field("amount").type == pa.decimal128(12, 2)
    assert schema.field("created_at").type.tz is not None
    assert schema.field("updated_at").type.tz is None  # timestamp without time zone stays naive
    assert not schema.field("id").nullable and schema.field("note").nullable  # NOT NULL kept
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[7]["name"] == "Zoë-李雷-7" and rows[7]["note"] == "note ✓ 7"
    assert rows[3]["note"] is None
    assert rows[7]["amount"] == Decimal("86.38")
    assert rows[7]["created_at"].microsecond == 123456


def test_full_load_replaces_the_previous_copy(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 100)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    run(book, settings)
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id > 60")
    summary = run(book, settings)
    assert summary.jobs[0]["rows_processed"] == 60
    assert lake_table(settings, "orders").num_rows == 60


def test_incremental_two_runs_load_exactly_the_changed_rows(postgres, pg_schema, settings, tmp_path, monkeypatch):
    create_orders(postgres, pg_schema, 1000)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(
        source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
        last_watermark="2024-01-01T00:00:00")])
    first = run(book, settings)
    assert first.exit_code == 0, first.jobs
    assert first.jobs[0]["rows_processed"] == 1000
    assert first.jobs[0]["watermark_after"] == updated_at_of(1000).isoformat()

    # between runs: 3 inserts and 2 updates, all later than the watermark
    sql(postgres, f"""
        INSERT INTO {pg_schema}.orders SELECT id + 1000, qty, amount, name, note, created_at,
               updated_at + interval '1 hour' FROM {pg_schema}.orders WHERE id <= 3;
        UPDATE {pg_schema}.orders SET qty = -1, updated_at = updated_at + interval '2 hours'
         WHERE id IN (10, 20);
    """)
    shutil.rmtree(settings.pipelines_dir)  # a fresh machine: state must come from the lake
    from dlt.pipeline.pipeline import Pipeline

    syncs = []
    real_sync = Pipeline._sync_destination
    monkeypatch.setattr(Pipeline, "_sync_destination", lambda self, *a, **k: (syncs.append(1), real_sync(self, *a, **k))[1])
    second = run(book, settings)
    assert second.exit_code == 0, second.jobs
    assert len(syncs) == 1  # ours, before the load; dlt's run() does not read the lake's state again
    assert second.jobs[0]["rows_processed"] == 5
    assert second.jobs[0]["watermark_before"] == updated_at_of(1000).isoformat()
    newest = updated_at_of(20).replace(hour=updated_at_of(20).hour + 2)
    assert second.jobs[0]["watermark_after"] == newest.isoformat()

    table = lake_table(settings, "orders")
    assert table.num_rows == 1005  # parquet appends: changed rows land again, newest wins by updated_at
    ids = table.column("id").to_pylist()
    assert sorted(i for i in ids if ids.count(i) > 1) == [10, 10, 20, 20]

    # the workbook shows the new watermark; the other cells are untouched
    sheet = openpyxl.load_workbook(book)["jobs"]
    assert sheet["K2"].value == newest.isoformat()
    assert sheet["F2"].value == "orders" and sheet["E2"].value == pg_schema

    audit = [r for r in read_audit(settings.audit_dir) if r["job_name"] == "orders"]
    assert [int(r["rows_processed"]) for r in audit] == [1000, 5]
    assert audit[1]["watermark_before"] == audit[0]["watermark_after"]
    assert {r["status"] for r in audit} == {"succeeded"}


def test_nothing_new_loads_no_rows_and_keeps_the_watermark(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 50)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(
        source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")])
    run(book, settings)
    again = run(book, settings)
    assert again.jobs[0]["rows_processed"] == 0
    assert again.jobs[0]["watermark_after"] == updated_at_of(50).isoformat()
    assert lake_table(settings, "orders").num_rows == 50


def test_layout_and_audit_row(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 10)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, target_table="sales_orders")])
    summary = run(book, settings)
    job = summary.jobs[0]
    y, m, d = summary.started_at[:10].split("-")
    assert job["partition_path"] == f"raw/sales_orders/{y}/{m}/{d}"
    assert all(re.fullmatch(rf"raw/sales_orders/{y}/{m}/{d}/\d+\.\d+\.[0-9a-z]+\.parquet", f) for f in job["files"])
    for f in job["files"]:
        assert Path(settings.destination, f).is_file()
    (row,) = read_audit(settings.audit_dir)
    assert row["run_id"] == summary.run_id and row["status"] == "succeeded"
    assert row["rows_processed"] == "10" and row["partition_path"] == job["partition_path"]
    assert row["load_id"] == job["load_id"] and float(row["duration_s"]) > 0
    assert summary.audit_path == str(settings.audit_dir / "audit_trail.csv")


def test_failing_jobs_do_not_stop_good_ones(postgres, pg_schema, settings, tmp_path, monkeypatch):
    create_orders(postgres, pg_schema, 20)
    canary = "Canary-Pw-91731"
    monkeypatch.setenv("SOURCES__PGBAD__CREDENTIALS", postgres.url(password=canary))
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="good", source_schema=pg_schema),
        job_row(job_name="missing_table", source_schema=pg_schema, source_table="nope"),
        job_row(job_name="wrong_password", connection="pgbad", source_schema=pg_schema, target_table="o2"),
        job_row(job_name="no_secret", connection="unknown_conn", source_schema=pg_schema, target_table="o3"),
        job_row(job_name="bad_column", source_schema=pg_schema, target_table="o4",
                load_type="INCREMENTAL", watermark_column="modified"),
        job_row(job_name="bad_row", load_type="SOMETIMES", target_table="o5"),
    ])
    summary = run(book, settings)
    by_name = {j["job_name"]: j for j in summary.jobs}
    assert by_name["good"]["status"] == "succeeded" and by_name["good"]["rows_processed"] == 20
    assert by_name["missing_table"]["error_class"] == "SourceObjectNotFoundError"
    assert f"table {pg_schema}.nope does not exist" in by_name["missing_table"]["error_message"]
    assert by_name["wrong_password"]["error_class"] == "SourceAuthenticationError"
    assert by_name["no_secret"]["error_class"] == "MissingCredentialsError"
    assert "SOURCES__UNKNOWN_CONN__CREDENTIALS" in by_name["no_secret"]["error_message"]
    assert by_name["bad_column"]["error_class"] == "SourceObjectNotFoundError"
    assert "watermark_column 'modified'" in by_name["bad_column"]["error_message"]
    assert by_name["bad_row"]["status"] == "invalid" and "jobs!H7" in by_name["bad_row"]["error_message"]
    assert summary.succeeded == 1 and summary.failed == 5 and summary.exit_code == 2
    audit_text = (settings.audit_dir / "audit_trail.csv").read_text()
    assert len(read_audit(settings.audit_dir)) == 6
    for text in (audit_text, str(summary.to_dict())):
        assert canary not in text
