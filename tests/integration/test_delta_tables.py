"""Delta tables and parquet snapshots, on a local lake and on Azurite, from real PostgreSQL:
MERGE correctness, FULL overwrite with time travel, SCD2 history, compaction, data-time
partitions, and parquet FULL snapshots that keep each day's copy."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from ingest.config import read_workbook
from ingest.lake.destination import delta_storage_options, prepare_lake
from ingest.load import run_job
from ingest.plan.planner import new_run_context
from ingest.core.result import RunContext
from tests.integration.conftest import create_orders, sql
from tests.workbooks import job_row, write_workbook


@pytest.fixture(params=["local", "azurite"])
def lake(request, settings, tmp_path):
    """Settings for a local lake or a fresh container in Azurite."""
    if request.param == "azurite":
        azurite = request.getfixturevalue("azurite")
        settings = settings.with_overrides(destination=f"az://lake{uuid.uuid4().hex[:12]}/bronze",
                                           azure_storage_connection_string=azurite.connection_string)
    prepare_lake(settings)
    return settings


def table_uri(settings, table: str) -> str:
    base = settings.destination if "://" in settings.destination else str(settings.destination)
    return f"{base.rstrip('/')}/{settings.dataset}/{table}"


def delta(settings, table: str = "orders", version: int | None = None) -> DeltaTable:
    return DeltaTable(table_uri(settings, table), version=version, storage_options=delta_storage_options(settings))


def source_rows(postgres, query: str) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(postgres.url())
    with con, con.cursor() as cur:
        cur.execute(query)
        rows = cur.fetchall()
    con.close()
    return rows


def load(tmp_path, settings, run: RunContext | None = None, **row):
    config = read_workbook(write_workbook(tmp_path / f"w{uuid.uuid4().hex[:6]}.xlsx", [job_row(**row)]))
    assert config.errors == []
    result = run_job(config.jobs[0], run or new_run_context(), settings)
    assert result.succeeded, (result.error_class, result.error_message)
    return result


def test_incremental_delta_is_a_merge_updates_inserts_no_duplicates(postgres, pg_schema, lake, tmp_path):
    create_orders(postgres, pg_schema, 100)
    job = dict(source_schema=pg_schema, table_format="delta", load_type="INCREMENTAL", watermark_column="updated_at")
    first = load(tmp_path, lake, **job)
    sql(postgres, f"UPDATE {pg_schema}.orders SET name = 'changed', updated_at = updated_at + interval '1 day'"
                  " WHERE id <= 5")
    sql(postgres, f"INSERT INTO {pg_schema}.orders SELECT id + 1000, qty, amount, name, note, created_at,"
                  f" updated_at + interval '2 days' FROM {pg_schema}.orders WHERE id BETWEEN 10 AND 12")
    second = load(tmp_path, lake, **job)

    assert (first.rows_processed, second.rows_processed) == (100, 8)
    assert second.table_format == "delta" and second.delta_version > first.delta_version
    assert second.rowcount["status"] == "ok" and second.rowcount["landed_rows"] == 8
    table = delta(lake).to_pyarrow_table()
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 103
    names = dict(zip(ids, table.column("name").to_pylist()))
    assert [names[i] for i in range(1, 7)] == ["changed"] * 5 + ["Zoë-李雷-6"]
    assert {1010, 1011, 1012} <= set(ids)
    history = [c["operation"] for c in delta(lake).history()]
    assert history[0] == "MERGE"


def test_full_delta_overwrites_and_version_n_stays_readable(postgres, pg_schema, lake, tmp_path):
    create_orders(postgres, pg_schema, 50)
    job = dict(source_schema=pg_schema, table_format="delta")
    first = load(tmp_path, lake, **job)
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id > 40")
    second = load(tmp_path, lake, **job)

    assert second.delta_version > first.delta_version
    assert delta(lake).to_pyarrow_table().num_rows == 40
    assert delta(lake, version=first.delta_version).to_pyarrow_table().num_rows == 50
    assert second.files and all(f.startswith(f"{lake.dataset}/orders/") for f in second.files)
    assert second.rowcount["status"] == "ok"


def test_scd2_keeps_history_rows_and_closes_changed_and_deleted_keys(postgres, pg_schema, lake, tmp_path):
    create_orders(postgres, pg_schema, 20)
    job = dict(source_schema=pg_schema, table_format="delta", scd2="Y")
    t1 = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
    t2 = datetime(2024, 5, 2, 8, tzinfo=timezone.utc)
    first = load(tmp_path, lake, run=new_run_context(t1), **job)
    sql(postgres, f"UPDATE {pg_schema}.orders SET qty = -1 WHERE id IN (3, 4)")
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id = 7")
    second = load(tmp_path, lake, run=new_run_context(t2), **job)
    again = load(tmp_path, lake, run=new_run_context(t2), **job)  # nothing changed: nothing written

    assert first.scd2["inserted_versions"] == 20
    assert (second.scd2["inserted_versions"], second.scd2["closed_versions"], second.scd2["retired_keys"]) == (2, 3, 1)
    assert (again.scd2["inserted_versions"], again.scd2["closed_versions"]) == (0, 0)
    rows = delta(lake).to_pyarrow_table().to_pylist()
    assert len(rows) == 22
    current = [r for r in rows if r["_valid_to"] is None]
    assert sorted(r["id"] for r in current) == [i for i in range(1, 21) if i != 7]
    versions_of_3 = sorted((r for r in rows if r["id"] == 3), key=lambda r: r["_valid_from"])
    assert [r["qty"] for r in versions_of_3] == [3, -1]
    assert versions_of_3[0]["_valid_to"] == versions_of_3[1]["_valid_from"] == t2
    assert [r["_valid_to"] for r in rows if r["id"] == 7] == [t2]


def test_compaction_lowers_file_count_and_keeps_the_data(postgres, pg_schema, lake, tmp_path):
    create_orders(postgres, pg_schema, 30)
    lake = lake.with_overrides(delta_maintenance_every=4, delta_vacuum_retention_hours=0)
    job = dict(source_schema=pg_schema, table_format="delta", load_type="INCREMENTAL",
               watermark_column="updated_at", zorder_columns="qty")
    results = [load(tmp_path, lake, **job)]
    for step in range(1, 4):
        # new keys only: a MERGE that matches nothing adds a file and rewrites none
        sql(postgres, f"INSERT INTO {pg_schema}.orders SELECT id + {step * 100}, qty, amount, name, note,"
                      f" created_at, updated_at + interval '{step} day' FROM {pg_schema}.orders WHERE id <= 10")
        if step == 3:
            files_before = len(delta(lake).file_uris())
        results.append(load(tmp_path, lake, **job))

    assert [r.maintenance is not None for r in results] == [False, False, False, True]
    report = results[-1].maintenance
    assert report["files_before"] > report["files_after"] >= 1 and report["zorder_columns"] == ["qty"]
    assert report["files_before"] == files_before + 1  # the 4th load's own file
    table = delta(lake)
    assert len(table.file_uris()) == report["files_after"]
    after = table.to_pyarrow_table().sort_by("id")
    source = source_rows(postgres, f"SELECT id, name, amount FROM {pg_schema}.orders ORDER BY id")
    assert list(zip(*(after.column(c).to_pylist() for c in ("id", "name", "amount")))) == source
    assert pc.count_distinct(after.column("id")).as_py() == after.num_rows == 60
    assert report["vacuumed_files"] > 0


def test_data_time_partitions_follow_a_date_column_of_the_data(postgres, pg_schema, lake, tmp_path):
    create_orders(postgres, pg_schema, 5)
    sql(postgres, f"UPDATE {pg_schema}.orders SET created_at = created_at + (id % 2) * interval '40 days'")
    load(tmp_path, lake, source_schema=pg_schema, table_format="delta", partition_date_column="created_at")

    table = delta(lake)
    assert table.metadata().partition_columns == ["created_at_date"]
    folders = sorted({uri.rsplit("/", 2)[-2] for uri in table.file_uris()})
    assert folders == ["created_at_date=2024-03-01", "created_at_date=2024-04-10"]


def test_parquet_snapshot_keeps_each_days_copy_and_replaces_a_days_rerun(postgres, pg_schema, lake, tmp_path):
    import pyarrow.parquet as pq
    from ingest.lake.destination import make_destination
    import dlt

    create_orders(postgres, pg_schema, 10)
    job = dict(source_schema=pg_schema, full_mode="snapshot")
    day1 = load(tmp_path, lake, run=new_run_context(datetime(2024, 6, 1, 1, tzinfo=timezone.utc)), **job)
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id > 8")
    day2 = load(tmp_path, lake, run=new_run_context(datetime(2024, 6, 2, 1, tzinfo=timezone.utc)), **job)
    sql(postgres, f"DELETE FROM {pg_schema}.orders WHERE id > 6")
    day2_again = load(tmp_path, lake, run=new_run_context(datetime(2024, 6, 2, 9, tzinfo=timezone.utc)), **job)

    assert day1.partition_path == f"{lake.dataset}/orders/2024/06/01"
    assert day2.partition_path == day2_again.partition_path == f"{lake.dataset}/orders/2024/06/02"
    pipeline = dlt.pipeline(pipeline_name="snapshot_reader", pipelines_dir=str(tmp_path / "reader"),
                            destination=make_destination(lake), dataset_name=lake.dataset)
    with pipeline.destination_client() as client:
        fs, root = client.fs_client, client.bucket_path.rstrip("/")
        by_day = {}
        for day in ("01", "02"):
            files = fs.ls(f"{root}/{lake.dataset}/orders/2024/06/{day}", detail=False)
            tables = [pq.read_table(fs.open(f, "rb")) for f in files]
            by_day[day] = (len(files), sum(t.num_rows for t in tables),
                           {d for t in tables for d in t.column("_snapshot_date").to_pylist()})
    assert by_day["01"][:2] == (1, 10) and str(by_day["01"][2].pop()) == "2024-06-01"
    assert by_day["02"][:2] == (1, 6) and str(by_day["02"][2].pop()) == "2024-06-02"
    assert day2_again.rowcount["status"] == "ok"
