"""Watermark strategies against a real PostgreSQL server with planted data, through the local
runner: safe filters (and an injection attempt), composite watermarks with ties, lookback
with rows committed late, the run-start cap, soft deletes by flag and by key comparison."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import BASE_TIME, create_orders, sql, updated_at_of
from tests.workbooks import HEADER, job_row, write_workbook

STRATEGY_HEADER = HEADER


def book(path: Path, rows, filters=None) -> Path:
    return write_workbook(path, rows, header=STRATEGY_HEADER,
                          extra_sheets={"filters": filters} if filters else None)


def run(workbook: Path, settings, jobs=None):
    config = read_workbook(workbook)
    return run_local(make_plan(config, new_run_context(), jobs), settings, workbook)


def lake(settings, table: str) -> pa.Table:
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    assert files, f"no parquet files for {table}"
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def add_regions(postgres, schema: str) -> None:
    sql(postgres, f"""ALTER TABLE {schema}.orders ADD COLUMN region text;
                      UPDATE {schema}.orders SET region = CASE WHEN id % 4 = 0 THEN 'EU' ELSE 'US' END;""")


def test_filters_load_matching_rows_bind_injection_and_reject_free_sql(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 200)
    add_regions(postgres, pg_schema)
    rows = [job_row(job_name="us_big", source_schema=pg_schema, target_table="us_big"),
            job_row(job_name="injected", source_schema=pg_schema, target_table="injected"),
            job_row(job_name="free_sql", source_schema=pg_schema, target_table="free_sql"),
            job_row(job_name="listed", source_schema=pg_schema, target_table="listed"),
            job_row(job_name="no_such_column", source_schema=pg_schema, target_table="nsc")]
    filters = [{"job_name": "us_big", "column": "region", "operator": "eq", "value": "US"},
               {"job_name": "us_big", "column": "qty", "operator": ">=", "value": 100},
               {"job_name": "injected", "column": "region", "operator": "eq", "value": "US' OR '1'='1"},
               {"job_name": "free_sql", "column": "region = 'US' OR 1=1", "operator": "eq", "value": "x"},
               {"job_name": "listed", "column": "id", "operator": "in", "value": "3, 5, 8"},
               {"job_name": "listed", "column": "note", "operator": "is not null", "value": None},
               {"job_name": "no_such_column", "column": "country", "operator": "eq", "value": "US"}]
    summary = run(book(tmp_path / "w.xlsx", rows, filters), settings)
    jobs = {j["job_name"]: j for j in summary.jobs}

    expected = sorted(i for i in range(1, 201) if i % 4 and i % 1000 >= 100)
    assert sorted(lake(settings, "us_big").column("id").to_pylist()) == expected
    assert jobs["us_big"]["rowcount"]["status"] == "ok"  # the source count applies the filters too
    assert jobs["us_big"]["rowcount"]["source_min"] == len(expected)
    assert jobs["injected"]["status"] == "succeeded" and jobs["injected"]["rows_processed"] == 0
    assert jobs["free_sql"]["status"] == "invalid"
    assert "filters!B5" in jobs["free_sql"]["error_message"]
    assert "free SQL is not accepted" in jobs["free_sql"]["error_message"]
    assert sorted(lake(settings, "listed").column("id").to_pylist()) == [5, 8]  # 3 has no note
    assert jobs["no_such_column"]["error_class"] == "SourceObjectNotFoundError"
    assert "filters!B8" in jobs["no_such_column"]["error_message"]
    # the injected text is data: the table is unharmed and other jobs ran
    sql(postgres, f"SELECT count(*) FROM {pg_schema}.orders")
    assert summary.succeeded == 3


def create_events(postgres, schema: str) -> None:
    """60 events in 3 bursts of 20 sharing one modified_at each: ties on the first column."""
    sql(postgres, f"""
        CREATE TABLE {schema}.events (id bigint PRIMARY KEY, modified_at timestamp NOT NULL, payload text);
        INSERT INTO {schema}.events
        SELECT g, %(base)s::timestamp + ((g - 1) / 20) * interval '1 minute', 'p' || g
        FROM generate_series(1, 60) g;""", {"base": BASE_TIME})


def test_composite_watermark_resolves_ties_without_duplicates(postgres, pg_schema, settings, tmp_path):
    create_events(postgres, pg_schema)
    workbook = book(tmp_path / "w.xlsx", [job_row(
        job_name="events", source_schema=pg_schema, source_table="events", load_type="INCREMENTAL",
        watermark_column="modified_at, id", primary_key="id")])
    first = run(workbook, settings)
    assert first.jobs[0]["rows_processed"] == 60, first.jobs
    last_burst = (BASE_TIME + timedelta(minutes=2)).isoformat()
    assert first.jobs[0]["watermark_after"] == last_burst

    # ties: 5 more rows at the last burst's modified_at (higher ids), 2 at a later time
    sql(postgres, f"""
        INSERT INTO {pg_schema}.events SELECT g, %(t)s::timestamp, 'late tie ' || g FROM generate_series(61, 65) g;
        INSERT INTO {pg_schema}.events VALUES (66, %(t)s::timestamp + interval '1 second', 'x'),
                                              (67, %(t)s::timestamp + interval '1 second', 'y');""",
        {"t": BASE_TIME + timedelta(minutes=2)})
    second = run(workbook, settings)
    assert second.jobs[0]["rows_processed"] == 7, second.jobs
    third = run(workbook, settings)
    assert third.jobs[0]["rows_processed"] == 0
    ids = lake(settings, "events").column("id").to_pylist()
    assert sorted(ids) == list(range(1, 68))  # every row once
    assert second.jobs[0]["rowcount"]["status"] == "ok"


def test_lookback_loads_rows_committed_late_once(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 100)
    create_orders(postgres, pg_schema, 100, table="plain")
    workbook = book(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
                lookback="1 hours"),
        job_row(job_name="plain", source_schema=pg_schema, source_table="plain", load_type="INCREMENTAL",
                watermark_column="updated_at")])
    first = run(workbook, settings)
    assert [j["rows_processed"] for j in first.jobs] == [100, 100], first.jobs

    # a transaction that began before the first run commits now: its rows are older than the
    # watermark (updated_at 50 s after BASE_TIME, the watermark is at 100 s)
    for table in ("orders", "plain"):
        sql(postgres, f"""INSERT INTO {pg_schema}.{table} VALUES
            (1001, 1, 1.00, 'late', NULL, %(t)s, %(t)s), (1002, 2, 2.00, 'late', NULL, %(t)s, %(t)s)""",
            {"t": updated_at_of(50)})
    second = {j["job_name"]: j for j in run(workbook, settings).jobs}
    assert second["orders"]["rows_processed"] == 2  # only the late rows; the re-read hour is not duplicated
    assert second["plain"]["rows_processed"] == 0  # without lookback they are lost
    assert second["orders"]["watermark_after"] == updated_at_of(100).isoformat()  # forward only

    third = {j["job_name"]: j for j in run(workbook, settings).jobs}
    assert third["orders"]["rows_processed"] == 0
    ids = lake(settings, "orders").column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 102


def test_watermark_is_capped_at_the_run_start(postgres, pg_schema, settings, tmp_path):
    """A row committed after the run with a timestamp older than a row the run saw is still
    loaded next run: the watermark never passes the run's start minus the margin."""
    create_orders(postgres, pg_schema, 10)
    create_orders(postgres, pg_schema, 10, table="uncapped")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for table in ("orders", "uncapped"):  # committed before the run, 30 s before its start
        sql(postgres, f"INSERT INTO {pg_schema}.{table} VALUES (500, 1, 1, 'recent', NULL, %(t)s, %(t)s)",
            {"t": now - timedelta(seconds=30)})
        sql(postgres, f"INSERT INTO {pg_schema}.{table} VALUES (600, 1, 1, 'future', NULL, %(t)s, %(t)s)",
            {"t": now + timedelta(days=1)})
    rows = [job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")]
    capped = book(tmp_path / "capped.xlsx", rows)
    uncapped = book(tmp_path / "uncapped.xlsx", [job_row(
        job_name="uncapped", source_schema=pg_schema, source_table="uncapped", load_type="INCREMENTAL",
        watermark_column="updated_at")])
    margin = settings.with_overrides(watermark_safety_s=300)
    first = run(capped, margin).jobs[0]
    control = run(uncapped, settings).jobs[0]  # margin 0: capped at the run's start only
    assert first["rows_processed"] == 10  # the recent row waits (inside the margin), the future one too
    assert control["rows_processed"] == 11  # the recent row is loaded, the future one is not
    assert datetime.fromisoformat(first["watermark_after"]) < now - timedelta(seconds=300)

    # the late transaction commits: its timestamp (60 s before the first run) is older than
    # the recent row's
    for table in ("orders", "uncapped"):
        sql(postgres, f"INSERT INTO {pg_schema}.{table} VALUES (700, 1, 1, 'late', NULL, %(t)s, %(t)s)",
            {"t": now - timedelta(seconds=60)})
    second = run(capped, settings).jobs[0]  # margin 0 now: everything up to this run's start
    control2 = run(uncapped, settings).jobs[0]
    assert second["rows_processed"] == 2  # the recent row and the late one
    assert control2["rows_processed"] == 0  # the late row is behind the uncapped watermark: lost
    assert sorted(lake(settings, "orders").column("id").to_pylist()) == list(range(1, 11)) + [500, 700]


def test_delete_flag_rows_land_with_a_marker(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 20)
    sql(postgres, f"""ALTER TABLE {pg_schema}.orders ADD COLUMN is_deleted boolean;
                      UPDATE {pg_schema}.orders SET is_deleted = (id IN (4, 9));
                      UPDATE {pg_schema}.orders SET is_deleted = NULL WHERE id = 10;""")
    workbook = book(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                                  watermark_column="updated_at", delete_flag_column="IS_DELETED")])
    summary = run(workbook, settings)
    assert summary.exit_code == 0, summary.jobs
    rows = {r["id"]: r["_ingest_deleted"] for r in lake(settings, "orders").to_pylist()}
    assert sorted(i for i, deleted in rows.items() if deleted) == [4, 9]
    assert rows[10] is False and len(rows) == 20


def test_key_comparison_writes_delete_markers_once(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 30)
    workbook = book(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                                  watermark_column="updated_at", detect_deleted_keys="Y")])
    first = run(workbook, settings)
    assert first.jobs[0]["rows_processed"] == 30, first.jobs
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id IN (7, 21)")
    second = run(workbook, settings)
    assert second.exit_code == 0, second.jobs
    markers = lake(settings, "orders_deleted_keys")
    assert sorted(markers.column("id").to_pylist()) == [7, 21]
    assert set(markers.column("_ingest_deleted").to_pylist()) == {True}
    run(workbook, settings)  # nothing new deleted: no new markers
    assert lake(settings, "orders_deleted_keys").num_rows == 2

    # id 7 comes back, then goes again: it is live in between, and marked a second time
    sql(postgres, f"""INSERT INTO {pg_schema}.orders VALUES (7, 1, 1, 'back', NULL, %(t)s, %(t)s)""",
        {"t": updated_at_of(500)})
    back = run(workbook, settings)
    assert back.jobs[0]["rows_processed"] == 1
    assert lake(settings, "orders_deleted_keys").num_rows == 2
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id = 7")
    run(workbook, settings)
    assert sorted(lake(settings, "orders_deleted_keys").column("id").to_pylist()) == [7, 7, 21]


def test_a_filter_that_could_be_meant_for_a_job_keeps_it_from_loading_unfiltered(postgres, pg_schema, settings,
                                                                                   tmp_path):
    """Fail closed (security #21): a filter row whose job_name matches a job only ignoring
    case used to be reported while the job loaded the whole table; an unusable filters header
    let every SQL job load unfiltered."""
    create_orders(postgres, pg_schema, 40)
    add_regions(postgres, pg_schema)
    rows = [job_row(job_name="us_only", source_schema=pg_schema, target_table="us_only"),
            job_row(job_name="other", source_schema=pg_schema, target_table="other")]
    typo = [{"job_name": "US_Only", "column": "region", "operator": "eq", "value": "US"}]
    jobs = {j["job_name"]: j for j in run(book(tmp_path / "typo.xlsx", rows, typo), settings).jobs}
    assert jobs["us_only"]["status"] == "invalid", jobs["us_only"]
    assert "filters!A2: job 'us_only' is not loaded" in jobs["us_only"]["error_message"]
    assert not Path(settings.destination, settings.dataset, "us_only").exists()  # no row of the table landed
    assert jobs["other"]["status"] == "succeeded" and jobs["other"]["rows_processed"] == 40

    broken = [{"job_name": "us_only", "column": "region", "op": "eq", "value": "US"}]  # no `operator` column
    jobs = {j["job_name"]: j for j in run(book(tmp_path / "header.xlsx", rows, broken), settings).jobs}
    assert {j["status"] for j in jobs.values()} == {"invalid"}
    assert "filters!1:1" in jobs["us_only"]["error_message"]
    assert not Path(settings.destination, settings.dataset, "us_only").exists()
