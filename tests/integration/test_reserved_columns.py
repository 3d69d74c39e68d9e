"""A source column named like the app's own columns (`_cdc_*`, `_ingest_*`, `_dlt_*`, any case,
as dlt normalises names) fails THAT table only, naming the column and the table: at `check`
(and so `validate --check-connections`), and at load for every load type (issue 32 case 7).
On a CDC connection the other tables keep advancing (the slot is confirmed past the bad
table's changes), and once the column is gone the next run reloads the tables from a new
snapshot, so the bad table ends exact. Real PostgreSQL (wal_level=logical), local lake."""

from __future__ import annotations

from pathlib import Path

import psycopg2

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.cdc_helpers import cdc_job, delta_rows, load, parquet_current, source_rows
from tests.cdc_helpers import sql as cdc_sql
from tests.integration.conftest import sql
from tests.workbooks import job_row, write_workbook


def _check(jobs):
    from ingest.sources.connection_check import check_jobs, unregister_job_check
    from ingest.sources.postgres_cdc.check_line import cdc_prerequisites, register

    register()
    try:
        return check_jobs(jobs)
    finally:
        unregister_job_check(cdc_prerequisites)


def _lines_of(report, job):
    return [line for line in report.lines if line.subject == f"job {job}"]


def _confirmed_lsn(postgres, connection: str) -> int:
    con = psycopg2.connect(postgres.url())
    try:
        cur = con.cursor()
        cur.execute("SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots"
                    " WHERE slot_name = %s", (f"ingest_cdc_{connection}",))
        return int(cur.fetchone()[0])
    finally:
        con.close()


def _current_lsn(postgres) -> int:
    con = psycopg2.connect(postgres.url())
    try:
        cur = con.cursor()
        cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint")
        return int(cur.fetchone()[0])
    finally:
        con.close()


def _lake_equals_source(postgres, settings, schema, table):
    names, expected = source_rows(postgres, schema, table)
    assert delta_rows(settings, table, names) == sorted(expected)


def test_a_reserved_column_fails_its_cdc_table_only_and_the_slot_keeps_advancing(postgres, settings, cdc):
    schema, connection = cdc
    cdc_sql(postgres, f"CREATE TABLE {schema}.a (id int PRIMARY KEY, v text); CREATE TABLE {schema}.b (id int"
                      f" PRIMARY KEY, v text); INSERT INTO {schema}.a VALUES (1, 'a1'), (2, 'a2');"
                      f" INSERT INTO {schema}.b VALUES (1, 'b1'), (2, 'b2')")
    jobs = [cdc_job("a", connection, schema, "a"), cdc_job("b", connection, schema, "b")]
    assert all(r.succeeded for r in load(jobs, settings).values())

    cdc_sql(postgres, f'ALTER TABLE {schema}.b ADD COLUMN "_cdc_op" text; INSERT INTO {schema}.b VALUES (3, \'b3\','
                      f" 'x'); INSERT INTO {schema}.a VALUES (3, 'a3'); UPDATE {schema}.a SET v = 'A1' WHERE id = 1")
    written = _current_lsn(postgres)
    second = load(jobs, settings, 2)
    assert second["a"].succeeded, second["a"].error_message
    assert (second["a"].cdc["inserts"], second["a"].cdc["updates"]) == (1, 1)
    _lake_equals_source(postgres, settings, schema, "a")
    assert not second["b"].succeeded
    assert second["b"].error_class == "ReservedColumnError"
    assert "_cdc_op" in second["b"].error_message and f"{schema}.b" in second["b"].error_message
    assert "snapshot" in second["b"].error_message  # what happens once fixed
    assert _confirmed_lsn(postgres, connection) >= written  # the slot did not stall on b

    cdc_sql(postgres, f"INSERT INTO {schema}.a VALUES (4, 'a4'); UPDATE {schema}.b SET v = 'B2' WHERE id = 2")
    written = _current_lsn(postgres)
    third = load(jobs, settings, 3)
    assert third["a"].succeeded and third["a"].cdc["inserts"] == 1, third["a"].error_message
    assert third["b"].error_class == "ReservedColumnError"
    assert _confirmed_lsn(postgres, connection) >= written
    _lake_equals_source(postgres, settings, schema, "a")

    report = _check(jobs)
    assert [line.status for line in _lines_of(report, "a")] == ["OK", "OK"]
    failed = [line for line in _lines_of(report, "b") if line.status == "FAIL"]
    assert failed and "_cdc_op" in failed[0].detail and f"{schema}.b" in failed[0].detail, _lines_of(report, "b")

    cdc_sql(postgres, f'ALTER TABLE {schema}.b DROP COLUMN "_cdc_op"; INSERT INTO {schema}.b VALUES (5, \'b5\');'
                      f" DELETE FROM {schema}.b WHERE id = 1; INSERT INTO {schema}.a VALUES (5, 'a5')")
    fourth = load(jobs, settings, 4)
    assert fourth["a"].succeeded and fourth["b"].succeeded, (fourth["a"].error_message, fourth["b"].error_message)
    _lake_equals_source(postgres, settings, schema, "a")
    _lake_equals_source(postgres, settings, schema, "b")  # b's changes while it failed are there: re-snapshot
    fifth_rows = f"INSERT INTO {schema}.b VALUES (6, 'b6'); UPDATE {schema}.a SET v = 'A2' WHERE id = 2"
    cdc_sql(postgres, fifth_rows)
    fifth = load(jobs, settings, 5)
    assert fifth["a"].succeeded and fifth["b"].succeeded and fifth["b"].cdc["inserts"] == 1
    _lake_equals_source(postgres, settings, schema, "a")
    _lake_equals_source(postgres, settings, schema, "b")


def test_a_reserved_column_before_the_first_cdc_run_fails_that_table_only(postgres, settings, cdc):
    schema, connection = cdc
    cdc_sql(postgres, f"CREATE TABLE {schema}.a (id int PRIMARY KEY, v text); CREATE TABLE {schema}.b (id int"
                      f' PRIMARY KEY, "_Ingest_Deleted" boolean); INSERT INTO {schema}.a VALUES (1, \'a1\');'
                      f" INSERT INTO {schema}.b VALUES (1, true)")
    jobs = [cdc_job("a", connection, schema, "a"), cdc_job("b", connection, schema, "b", "delta_mark")]
    first = load(jobs, settings)
    assert first["a"].succeeded, first["a"].error_message
    _lake_equals_source(postgres, settings, schema, "a")
    assert first["b"].error_class == "ReservedColumnError" and "_Ingest_Deleted" in first["b"].error_message
    cdc_sql(postgres, f'ALTER TABLE {schema}.b RENAME COLUMN "_Ingest_Deleted" TO gone; INSERT INTO {schema}.a'
                      " VALUES (2, 'a2')")
    second = load(jobs, settings, 2)
    assert second["a"].succeeded and second["b"].succeeded, (second["a"].error_message, second["b"].error_message)
    _lake_equals_source(postgres, settings, schema, "a")
    names, expected = source_rows(postgres, schema, "b")
    assert sorted(tuple(r[:2]) for r in delta_rows(settings, "b", names)) == sorted(expected)


def _run(workbook: Path, settings):
    config = read_workbook(workbook)
    return run_local(make_plan(config, new_run_context(), None), settings, workbook)


def test_plain_loads_fail_the_table_with_a_dlt_column_only(postgres, pg_schema, settings, tmp_path):
    sql(postgres, f"CREATE TABLE {pg_schema}.bad (id int PRIMARY KEY, _dlt_id text, updated_at timestamp);"
                  f" INSERT INTO {pg_schema}.bad VALUES (1, 'mine', '2024-01-01'), (2, 'also', '2024-01-02');"
                  f" CREATE TABLE {pg_schema}.good (id int PRIMARY KEY, v text); INSERT INTO {pg_schema}.good"
                  f" VALUES (1, 'x')")
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="bad_full", source_schema=pg_schema, source_table="bad", target_table="bad_full"),
        job_row(job_name="bad_incremental", source_schema=pg_schema, source_table="bad",
                target_table="bad_incremental", load_type="INCREMENTAL", watermark_column="updated_at"),
        job_row(job_name="good", source_schema=pg_schema, source_table="good", target_table="good")])
    summary = _run(book, settings)
    jobs = {j["job_name"]: j for j in summary.jobs}
    assert jobs["good"]["status"] == "succeeded", jobs["good"]
    for name in ("bad_full", "bad_incremental"):
        assert jobs[name]["status"] == "failed", jobs[name]
        assert jobs[name]["error_class"] == "ReservedColumnError", jobs[name]
        assert "_dlt_id" in jobs[name]["error_message"] and f"{pg_schema}.bad" in jobs[name]["error_message"]
    assert not Path(settings.destination, settings.dataset, "bad_full").exists()

    report = _check(read_workbook(book).jobs)
    assert [line.status for line in _lines_of(report, "good")] == ["OK"]
    for name in ("bad_full", "bad_incremental"):
        (line,) = _lines_of(report, name)
        assert line.status == "FAIL" and "_dlt_id" in line.detail and "rename" in line.fix, line


def test_validate_check_connections_names_the_reserved_column(postgres, pg_schema, tmp_path):
    from tests.integration.test_cli import ingest

    sql(postgres, f'CREATE TABLE {pg_schema}.bad (id int PRIMARY KEY, "_CDC_Deleted" boolean);'
                  f" CREATE TABLE {pg_schema}.good (id int PRIMARY KEY)")
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="bad", source_schema=pg_schema, source_table="bad", target_table="bad"),
        job_row(job_name="good", source_schema=pg_schema, source_table="good", target_table="good")])
    result = ingest(["validate", "--config", str(book), "--check-connections"], cwd=tmp_path,
                    env={"SOURCES__PG__CREDENTIALS": postgres.url()})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL job bad: job 'bad': {pg_schema}.bad has column(s) '_CDC_Deleted'" in result.stdout, result.stdout
    assert "OK   job good" in result.stdout


def test_a_reserved_column_seen_only_in_the_log_blocks_the_table_too(postgres, settings, cdc):
    """The column came and went between two runs: the catalog is clean when the run starts, but
    the log's relation message names it. b's changes in that batch (before the column too) are
    skipped, a lands; the next run finds b readable and re-snapshots, so b ends exact."""
    schema, connection = cdc
    cdc_sql(postgres, f"CREATE TABLE {schema}.a (id int PRIMARY KEY, v text); CREATE TABLE {schema}.b (id int"
                      f" PRIMARY KEY, v text); INSERT INTO {schema}.a VALUES (1, 'a1'); INSERT INTO {schema}.b"
                      " VALUES (1, 'b1')")
    jobs = [cdc_job("a", connection, schema, "a"), cdc_job("b", connection, schema, "b", "parquet")]
    assert all(r.succeeded for r in load(jobs, settings).values())
    cdc_sql(postgres, f"INSERT INTO {schema}.b VALUES (2, 'b2'); ALTER TABLE {schema}.b ADD COLUMN \"_dlt_load_id\""
                      f" text; INSERT INTO {schema}.b VALUES (3, 'b3', 'x'); ALTER TABLE {schema}.b DROP COLUMN"
                      f" \"_dlt_load_id\"; INSERT INTO {schema}.a VALUES (2, 'a2')")
    written = _current_lsn(postgres)
    second = load(jobs, settings, 2)
    assert second["a"].succeeded and second["a"].cdc["inserts"] == 1, second["a"].error_message
    assert second["b"].error_class == "ReservedColumnError" and "_dlt_load_id" in second["b"].error_message
    assert _confirmed_lsn(postgres, connection) >= written
    _lake_equals_source(postgres, settings, schema, "a")
    third = load(jobs, settings, 3)
    assert third["a"].succeeded and third["b"].succeeded, third["b"].error_message
    assert third["b"].cdc["snapshot_rows"] == 3
    _lake_equals_source(postgres, settings, schema, "a")
    names, expected = source_rows(postgres, schema, "b")
    assert parquet_current(settings, "b", names) == sorted(expected)
