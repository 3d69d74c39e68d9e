"""kill -9 of a CDC load before and after the lake commit, then a re-run: every change lands
exactly once (real PostgreSQL; the load runs in a child process that SIGKILLs itself). Delta
jobs that keep deletes marked or keep SCD2 history are also killed between dlt's commit of
their stage and the app's MERGE."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.cdc_helpers import cdc_job, load, source_rows, sql
from tests.integration.test_cdc_postgres import lake_equals_source

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from ingest.core.settings import Settings
    from ingest.lake.dlt_defaults import apply_dlt_defaults
    from ingest.sources.postgres_cdc import connection_load, slot as slots
    from tests.cdc_helpers import cdc_job, load

    apply_dlt_defaults()
    lake, schema, connection, fmt, when = sys.argv[1:6]
    settings = Settings(destination=lake + "/lake", audit_dir=Path(lake) / "audit", log_dir=Path(lake) / "logs",
                        pipelines_dir=Path(lake) / "pipelines", worker_mode="thread")
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if when == "before_extract":  # the batch read and decoded, nothing written anywhere
        original_run = connection_load._run
        def die_before(ctx, resources, state, snapshot):
            if not snapshot:
                die()
            return original_run(ctx, resources, state, snapshot)
        connection_load._run = die_before
    elif when == "before_commit":  # extracted and normalized here, nothing committed to the lake
        original_run = connection_load._run
        def run_then_die(ctx, resources, state, snapshot):
            if snapshot:
                return original_run(ctx, resources, state, snapshot)
            ctx.pipeline.load = die
            original_run(ctx, resources, state, snapshot)
        connection_load._run = run_then_die
    elif when == "before_merge":  # dlt committed the stage and its state, the app's MERGE not run
        from ingest.sources.postgres_cdc import landing
        original_apply = landing.apply_staged
        def die_before_merge(pipeline, job, entry, valid_at):
            if entry["kind"] == "changes":
                die()
            return original_apply(pipeline, job, entry, valid_at)
        landing.apply_staged = die_before_merge
    elif when in ("state_write", "before_state"):  # the lake commit: data copied, the state half or not written
        from dlt.destinations.impl.filesystem.filesystem import FilesystemClient
        original_write = FilesystemClient._write_to_json_file
        def half_then_die(self, filepath, data):
            if "_dlt_pipeline_state" in filepath:
                from dlt.common import json
                if when == "state_write":
                    self.fs_client.write_text(filepath, json.dumps(data)[:40], encoding="utf-8")
                die()
            return original_write(self, filepath, data)
        FilesystemClient._write_to_json_file = half_then_die
    else:  # the lake committed (and merged), the slot not advanced
        original_advance = slots.advance
        calls = []
        def advance_or_die(cur, slot, lsn):
            calls.append(lsn)
            if len(calls) > 1:
                die()
            return original_advance(cur, slot, lsn)
        slots.advance = advance_or_die
    load([cdc_job("t", connection, schema, "t", fmt)], settings, 2)
    print("survived")
""")


@pytest.mark.parametrize("when", ["before_extract", "before_commit", "after_commit"])
@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_kill_9_then_rerun_lands_every_change_once(postgres, settings, cdc, tmp_path, when, fmt):
    schema, connection = cdc
    again = _killed_then_rerun(postgres, settings, schema, connection, tmp_path, fmt, when)
    # before_extract: the slot gives the batch again; before_commit: the package left on this
    # machine is committed first (its state says so); after_commit: the lake holds it already
    expected_changes = 3 if when == "before_extract" else 0
    assert again.cdc["changes"] == expected_changes and again.cdc["snapshot_rows"] == 0
    lake_equals_source(postgres, settings, schema, "t", fmt)
    if fmt == "parquet":  # every change once in the change log
        import duckdb, glob

        files = glob.glob(f"{settings.destination}/{settings.dataset}/t/**/*.parquet", recursive=True)
        ops = duckdb.sql(f"SELECT _cdc_op, count(*) FROM read_parquet({files!r}, union_by_name=true)"
                         " WHERE _cdc_lsn > (SELECT min(_cdc_lsn) FROM read_parquet("
                         f"{files!r}, union_by_name=true)) GROUP BY 1 ORDER BY 1").fetchall()
        assert ops == [("D", 1), ("I", 1), ("U", 1)]
    names, _ = source_rows(postgres, schema, "t")
    assert names == ["id", "v"]


def _killed_then_rerun(postgres, settings, schema, connection, tmp_path, fmt, when, fresh_machine=False):
    """A table with two rows loaded, three changes, a load killed with SIGKILL at `when` (in a
    child process), then a re-run (`fresh_machine`: without dlt's working folders): its result."""
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2)")
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"INSERT INTO {schema}.t VALUES (3, 3); UPDATE {schema}.t SET v = 20 WHERE id = 2;"
                  f" DELETE FROM {schema}.t WHERE id = 1")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), schema, connection, fmt, when],
                           capture_output=True, text=True, env=env, timeout=300)
    assert child.returncode == -9, child.stderr[-2000:]
    if fresh_machine:
        import shutil

        shutil.rmtree(settings.pipelines_dir)
    again = load([job], settings, 3)["t"]
    assert again.succeeded, again.error_message
    return again


def _kill_then_rerun(postgres, settings, schema, connection, tmp_path, fmt, when):
    again = _killed_then_rerun(postgres, settings, schema, connection, tmp_path, fmt, when)
    assert again.cdc["changes"] == (3 if when == "before_extract" else 0) and again.cdc["snapshot_rows"] == 0
    from deltalake import DeltaTable

    table = DeltaTable(f"{settings.destination}/{settings.dataset}/t")
    return table.to_pyarrow_table().to_pylist()


@pytest.mark.parametrize("when", ["before_extract", "before_commit", "before_merge", "after_commit"])
def test_kill_9_with_deletes_marked_then_rerun_lands_every_change_once(postgres, settings, cdc, tmp_path, when):
    schema, connection = cdc
    rows = _kill_then_rerun(postgres, settings, schema, connection, tmp_path, "delta_mark", when)
    assert sorted((r["id"], r["v"], r["_ingest_deleted"]) for r in rows) == [(1, 1, True), (2, 20, False), (3, 3, False)]


@pytest.mark.parametrize("when", ["before_extract", "before_commit", "before_merge", "after_commit"])
def test_kill_9_with_scd2_then_rerun_opens_and_closes_each_version_once(postgres, settings, cdc, tmp_path, when):
    schema, connection = cdc
    rows = _kill_then_rerun(postgres, settings, schema, connection, tmp_path, "delta_scd2", when)
    history = sorted((r["id"], r["v"], r["_valid_to"] is None) for r in rows)
    assert history == [(1, 1, False), (2, 2, False), (2, 20, True), (3, 3, True)]
    closed_2 = next(r for r in rows if r["id"] == 2 and r["v"] == 2)["_valid_to"]
    assert closed_2 == next(r for r in rows if r["id"] == 2 and r["v"] == 20)["_valid_from"]


@pytest.mark.parametrize("when", ["state_write", "before_state"])
@pytest.mark.parametrize("fmt", ["delta", "parquet", "delta_mark"])
def test_kill_9_in_the_lake_commit_then_a_fresh_machine_lands_every_change_once(postgres, settings, cdc, tmp_path,
                                                                                 fmt, when):
    """Killed while dlt wrote the batch's state file (`state_write`: half written) or right before
    (`before_state`: the batch's data files in the lake, no state, no load marker), the slot not
    moved, and the machine lost: the load is rolled back (ingest/lake/repair.py), the slot gives
    the batch again, and every change is in the lake once."""
    schema, connection = cdc
    again = _killed_then_rerun(postgres, settings, schema, connection, tmp_path, fmt, when,
                               fresh_machine=True)
    assert again.cdc["changes"] == 3 and again.cdc["snapshot_rows"] == 0
    if fmt == "delta_mark":
        from tests.cdc_helpers import delta_rows

        rows = delta_rows(settings, "t", ["id", "v", "_ingest_deleted"])
        assert rows == [(1, 1, True), (2, 20, False), (3, 3, False)]
        return
    lake_equals_source(postgres, settings, schema, "t", fmt)
    if fmt == "parquet":
        assert _change_log_ops(settings) == [("D", 1), ("I", 1), ("U", 1)]


def _change_log_ops(settings):
    """Operations of the parquet change log after the snapshot: (op, count)."""
    import duckdb, glob

    files = glob.glob(f"{settings.destination}/{settings.dataset}/t/**/*.parquet", recursive=True)
    return duckdb.sql(f"SELECT _cdc_op, count(*) FROM read_parquet({files!r}, union_by_name=true)"
                      " WHERE _cdc_lsn > (SELECT min(_cdc_lsn) FROM read_parquet("
                      f"{files!r}, union_by_name=true)) GROUP BY 1 ORDER BY 1").fetchall()


@pytest.mark.parametrize("when", ["state_write", "before_state"])
@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_kill_9_in_a_re_snapshots_commit_then_a_fresh_machine_keeps_the_new_snapshot(postgres, settings, cdc,
                                                                                     tmp_path, fmt, when):
    """A TRUNCATE reloads the table from a new slot's snapshot; killed in that load's commit and the
    machine lost: the lake's state is the one before, but its old rows are gone (replaced) and the
    new slot starts after the snapshot, so the snapshot's files must stay (not rolled back)."""
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2)")
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"TRUNCATE {schema}.t; INSERT INTO {schema}.t VALUES (7, 7), (8, 8)")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), schema, connection, fmt, when],
                           capture_output=True, text=True, env=env, timeout=300)
    assert child.returncode == -9, child.stderr[-2000:]
    import shutil

    shutil.rmtree(settings.pipelines_dir)
    sql(postgres, f"INSERT INTO {schema}.t VALUES (9, 9); DELETE FROM {schema}.t WHERE id = 7")
    again = load([job], settings, 3)["t"]
    assert again.succeeded, again.error_message
    lake_equals_source(postgres, settings, schema, "t", fmt)
