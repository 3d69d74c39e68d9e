"""Run parameters against a real PostgreSQL source and a local lake: force FULL of an
INCREMENTAL job (table dropped, state reset, no duplicates), and a backfill window (appended,
state untouched), through the local runner."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.plan.request import Backfill, RunRequest
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import BASE_TIME, create_orders, sql
from tests.integration.test_rest_api import api, fast_http  # noqa: F401 (fixtures)
from tests.workbooks import job_row, write_workbook


def lake_ids(settings, table: str = "orders") -> list[int]:
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    if not files:
        return []
    return sorted(pa.concat_tables([pq.read_table(f) for f in files]).column("id").to_pylist())


def run(book: Path, settings, request: RunRequest | None = None):
    return run_local(make_plan(read_workbook(book), new_run_context(), request=request), settings, book)


def incremental_book(tmp_path, schema: str, **extra) -> Path:
    return write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=schema, load_type="INCREMENTAL",
                                                        watermark_column="updated_at", **extra)])


def test_force_full_reloads_an_incremental_job_without_duplicates_and_resets_its_state(
        postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 100)
    book = incremental_book(tmp_path, pg_schema)
    run(book, settings)
    sql(postgres, f"UPDATE {pg_schema}.orders SET updated_at = updated_at + interval '1 day' WHERE id <= 4")
    second = run(book, settings)
    assert second.jobs[0]["rows_processed"] == 4
    assert len(lake_ids(settings)) == 104  # parquet appends: 4 changed rows twice

    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id > 90")
    full = run(book, settings, RunRequest(jobs=("orders",), force_full=True))
    job = full.jobs[0]
    assert full.exit_code == 0, job
    assert job["rows_processed"] == 90 and job["watermark_before"] is None
    assert lake_ids(settings) == list(range(1, 91))  # old copies gone, deleted rows gone
    assert job["rowcount"]["status"] == "ok"
    assert full.parameters["force_full"] is True

    # the state restarted from this copy: the next normal run loads only what changed since
    sql(postgres, f"UPDATE {pg_schema}.orders SET updated_at = updated_at + interval '2 days' WHERE id = 5")
    after = run(book, settings)
    assert after.jobs[0]["rows_processed"] == 1
    assert len(lake_ids(settings)) == 91


def test_force_full_leaves_full_jobs_as_they_are(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 30)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    summary = run(book, settings, RunRequest(jobs=("orders",), force_full=True))
    assert summary.exit_code == 0 and summary.jobs[0]["rows_processed"] == 30
    assert lake_ids(settings) == list(range(1, 31))


def test_backfill_loads_the_window_appended_and_keeps_the_watermark(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 100)
    start_at = (BASE_TIME + timedelta(seconds=60)).replace(microsecond=0)  # rows 60.. have updated_at >= it
    book = incremental_book(tmp_path, pg_schema, last_watermark=start_at.isoformat())
    first = run(book, settings)
    assert first.jobs[0]["rows_processed"] == 41  # ids 60..100 (row 60 is 12:01:00.123456)
    watermark = first.jobs[0]["watermark_after"]

    # the history before the first watermark: [row 10's time, row 20's time) -> ids 10..19
    window = Backfill.parse((BASE_TIME + timedelta(seconds=10)).isoformat(),
                            (BASE_TIME + timedelta(seconds=20)).isoformat())
    back = run(book, settings, RunRequest(backfill=window))
    job = back.jobs[0]
    assert back.exit_code == 0, job
    assert job["rows_processed"] == 10
    assert job["watermark_after"] == watermark  # the job's state did not move
    assert job["rowcount"]["status"] == "ok" and job["rowcount"]["source_min"] == 10
    assert lake_ids(settings) == list(range(10, 20)) + list(range(60, 101))
    assert read_workbook(book).job("orders").last_watermark == watermark

    # the next normal run continues from the state as if nothing happened
    sql(postgres, f"UPDATE {pg_schema}.orders SET updated_at = updated_at + interval '1 day' WHERE id = 3")
    after = run(book, settings)
    assert after.jobs[0]["rows_processed"] == 1
    assert lake_ids(settings) == [3] + list(range(10, 20)) + list(range(60, 101))


def test_backfill_skips_full_jobs_with_the_reason(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 10)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    window = Backfill.parse("2024-01-01", "2024-02-01")
    plan = make_plan(read_workbook(book), new_run_context(), request=RunRequest(backfill=window))
    assert plan.jobs == [] and plan.skipped == {"orders": "backfill: only INCREMENTAL database jobs load a window"}


def test_force_full_of_an_incremental_rest_job_reads_every_page_again(api, fast_http, tmp_path):
    from tests.workbooks import incremental_cursor_book

    book = incremental_cursor_book(tmp_path / "w.xlsx", api.url)
    first = run(book, fast_http).jobs[0]
    assert first["rows_processed"] == 2500, first["error_message"]
    api.add_coins(30)
    api.requests.clear()
    full = run(book, fast_http, RunRequest(jobs=("coins",), force_full=True)).jobs[0]
    assert full["status"] == "succeeded", full["error_message"]
    assert full["rows_processed"] == 2530
    assert "updated_since" not in api.requests[0]["query"]  # no watermark sent: from the beginning
    ids = lake_ids_of(fast_http, "coins")
    assert len(ids) == len(set(ids)) == 2530
    api.add_coins(5)
    assert run(book, fast_http).jobs[0]["rows_processed"] == 5  # the state restarted from the full copy


def lake_ids_of(settings, table: str) -> list:
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).column("id").to_pylist()
