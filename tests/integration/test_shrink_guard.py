"""A FULL load that would shrink a non-empty lake table to nothing, or below the share the job
allows, is refused before anything is published (README "What the app will not do without
asking"): real PostgreSQL, a local lake (and Azurite for the blob lake), through the local
runner or ingest.load.run_job. The lake keeps its rows, no load package is left for the next
run to publish, and the run option --allow-shrink lets one run through, recorded in the audit."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import dlt
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.lake.destination import delta_storage_options, make_destination, prepare_lake, working_dir
from ingest.load import run_job
from ingest.plan.planner import make_plan, new_run_context
from ingest.plan.request import RunRequest
from ingest.records.audit import read_audit
from tests.integration.conftest import create_orders, sql, updated_at_of
from tests.workbooks import HEADER, job_row, write_workbook

REFUSED = "ShrinkRefusedError"


def regions_book(tmp_path: Path, schema: str, **values) -> Path:
    row = job_row(job_name="regions", source_schema=schema, source_table="regions", **values)
    return write_workbook(tmp_path / f"w{uuid.uuid4().hex[:6]}.xlsx", [row], header=HEADER)


def run(book: Path, settings, request: RunRequest | None = None, when: datetime | None = None) -> dict:
    plan = make_plan(read_workbook(book), new_run_context(when), request=request)
    summary = run_local(plan, settings, book)
    (job,) = summary.jobs
    return job


def lake_rows(settings, table: str = "regions") -> int:
    """Rows the lake's parquet files of `table` hold, read from the files (local lake)."""
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    return sum(pq.read_table(f).num_rows for f in files)


def pending_packages(settings, job: str = "regions") -> list[str]:
    pipeline = dlt.pipeline(pipeline_name=f"ingest_{job}", pipelines_dir=str(working_dir(settings)),
                            destination=make_destination(settings), dataset_name=settings.dataset)
    return list(pipeline.list_extracted_load_packages()) + list(pipeline.list_normalized_load_packages())


def assert_refused(job: dict, current: int, new: int) -> None:
    assert job["status"] == "failed" and job["error_class"] == REFUSED, job
    message = job["error_message"]
    assert f"holds {current} rows" in message and f"with {new} rows" in message, message
    assert "max_shrink_pct" in message and "--allow-shrink regions" in message, message


def test_an_emptied_source_is_refused_the_lake_keeps_its_rows_and_the_next_run_too(
        postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema)
    first = run(book, settings)
    assert first["status"] == "succeeded" and lake_rows(settings) == 40
    sql(postgres, f"DELETE FROM {pg_schema}.regions")

    refused = run(book, settings)
    assert_refused(refused, 40, 0)
    assert lake_rows(settings) == 40
    assert pending_packages(settings) == []  # nothing left that a later run would publish
    assert read_audit(settings.audit_dir)[-1]["status"] == "failed"

    again = run(book, settings)
    assert_refused(again, 40, 0)
    assert lake_rows(settings) == 40


def test_the_run_option_publishes_the_shrink_once_and_the_audit_records_it(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema)
    run(book, settings)
    sql(postgres, f"DELETE FROM {pg_schema}.regions")
    allowed = run(book, settings, RunRequest(jobs=("regions",), allow_shrink=("regions",)))
    assert allowed["status"] == "succeeded", allowed
    assert lake_rows(settings) == 0
    consents = read_audit(settings.audit_dir)[-1]["consents"]
    assert "40 rows" in consents and "0 rows" in consents and "--allow-shrink" in consents, consents
    assert allowed["consents"] and "40 rows" in allowed["consents"][0]


def test_a_drop_below_the_default_share_is_refused_a_drop_to_it_is_not(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema)
    run(book, settings)
    sql(postgres, f"DELETE FROM {pg_schema}.regions WHERE id > 20")  # 50% of the rows stay: allowed
    half = run(book, settings)
    assert half["status"] == "succeeded" and half["consents"] == [] and lake_rows(settings) == 20
    sql(postgres, f"DELETE FROM {pg_schema}.regions WHERE id > 9")  # 45% of 20 stay: refused
    assert_refused(run(book, settings), 20, 9)
    assert lake_rows(settings) == 20


def test_the_workbook_column_sets_the_share(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 40, table="regions")
    strict = regions_book(tmp_path, pg_schema, max_shrink_pct=10)
    run(strict, settings)
    sql(postgres, f"DELETE FROM {pg_schema}.regions WHERE id > 35")  # a drop of 12.5%
    job = run(strict, settings)
    assert_refused(job, 40, 35)
    assert "max_shrink_pct 10" in job["error_message"]
    allow_all = regions_book(tmp_path, pg_schema, max_shrink_pct=100)
    sql(postgres, f"DELETE FROM {pg_schema}.regions")
    emptied = run(allow_all, settings)
    assert emptied["status"] == "succeeded" and lake_rows(settings) == 0
    assert "max_shrink_pct 100" in read_audit(settings.audit_dir)[-1]["consents"]


def test_a_chunked_full_load_is_refused_before_its_commit_publishes(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema, chunk_size="4 chunks")
    assert run(book, settings)["status"] == "succeeded" and lake_rows(settings) == 40
    sql(postgres, f"DELETE FROM {pg_schema}.regions WHERE id > 5")
    assert_refused(run(book, settings), 40, 5)
    assert lake_rows(settings) == 40
    assert pending_packages(settings) == []


def test_a_delta_full_load_is_refused_and_the_table_keeps_its_version(postgres, pg_schema, settings, tmp_path):
    prepare_lake(settings)
    create_orders(postgres, pg_schema, 40, table="regions")
    job = read_workbook(regions_book(tmp_path, pg_schema, table_format="delta")).jobs[0]
    first = run_job(job, new_run_context(), settings)
    assert first.succeeded, first.error_message
    sql(postgres, f"DELETE FROM {pg_schema}.regions")
    refused = run_job(job, new_run_context(), settings)
    assert_refused(refused.to_dict(), 40, 0)
    table = DeltaTable(f"{settings.destination}/{settings.dataset}/regions",
                       storage_options=delta_storage_options(settings))
    assert table.version() == first.delta_version and table.to_pyarrow_table().num_rows == 40


def test_a_snapshot_is_compared_with_the_newest_days_copy(postgres, pg_schema, settings, tmp_path):
    prepare_lake(settings)
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema, full_mode="snapshot")
    day1 = run(book, settings, when=datetime(2024, 6, 1, 1, tzinfo=timezone.utc))
    assert day1["status"] == "succeeded", day1
    sql(postgres, f"DELETE FROM {pg_schema}.regions WHERE id > 3")
    assert_refused(run(book, settings, when=datetime(2024, 6, 2, 1, tzinfo=timezone.utc)), 40, 3)
    assert not Path(settings.destination, settings.dataset, "regions", "2024", "06", "02").exists()
    assert lake_rows(settings) == 40


def test_a_blob_lake_is_guarded_the_same_way(postgres, pg_schema, settings, tmp_path, azurite):
    lake = settings.with_overrides(destination=f"az://lake{uuid.uuid4().hex[:12]}/bronze",
                                   azure_storage_connection_string=azurite.connection_string)
    prepare_lake(lake)
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema)
    assert run(book, lake)["status"] == "succeeded"
    sql(postgres, f"DELETE FROM {pg_schema}.regions")
    assert_refused(run(book, lake), 40, 0)
    pipeline = dlt.pipeline(pipeline_name="reader", pipelines_dir=str(tmp_path / "reader"),
                            destination=make_destination(lake), dataset_name=lake.dataset)
    with pipeline.destination_client() as client:
        fs, root = client.fs_client, client.bucket_path.rstrip("/")
        files = [f for f in fs.find(f"{root}/{lake.dataset}/regions") if str(f).endswith(".parquet")]
        assert sum(pq.ParquetFile(fs.open(f, "rb")).metadata.num_rows for f in files) == 40


def test_a_refused_force_full_leaves_the_incremental_state_as_it_was(postgres, pg_schema, settings, tmp_path):
    """force FULL of an INCREMENTAL job drops its table and cursor in dlt's load step: refused
    before it, neither happens (the local state dlt's extract had reset is rewound too)."""
    create_orders(postgres, pg_schema, 40, table="regions")
    book = regions_book(tmp_path, pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")
    assert run(book, settings)["rows_processed"] == 40
    sql(postgres, f"DELETE FROM {pg_schema}.regions WHERE id > 10")
    refused = run(book, settings, RunRequest(jobs=("regions",), force_full=True))
    assert_refused(refused, 40, 10)
    assert lake_rows(settings) == 40 and pending_packages(settings) == []
    sql(postgres, f"INSERT INTO {pg_schema}.regions VALUES (41, 1, 1.00, 'new', NULL, now(), %s)",
        (updated_at_of(1000),))
    after = run(book, settings)
    assert after["status"] == "succeeded" and after["rows_processed"] == 1, after
    assert lake_rows(settings) == 41


def test_an_scd2_full_load_of_an_emptied_source_retires_nothing(postgres, pg_schema, settings, tmp_path):
    """SCD2 (delta): the staged copy is the load that replaces; refused, no current row is closed."""
    prepare_lake(settings)
    create_orders(postgres, pg_schema, 40, table="regions")
    job = read_workbook(regions_book(tmp_path, pg_schema, table_format="delta", scd2="Y")).jobs[0]
    first = run_job(job, new_run_context(datetime(2024, 5, 1, 8, tzinfo=timezone.utc)), settings)
    assert first.succeeded, first.error_message
    sql(postgres, f"DELETE FROM {pg_schema}.regions")
    refused = run_job(job, new_run_context(datetime(2024, 5, 2, 8, tzinfo=timezone.utc)), settings)
    assert_refused(refused.to_dict(), 40, 0)
    rows = DeltaTable(f"{settings.destination}/{settings.dataset}/regions",
                      storage_options=delta_storage_options(settings)).to_pyarrow_table().to_pylist()
    assert len(rows) == 40 and all(r["_valid_to"] is None for r in rows)
