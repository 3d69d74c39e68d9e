"""Chunked loads of one table from a real PostgreSQL into a local lake (docs/chunked-loads.md,
"Chunked loads"): the same rows, types and state as the plain load, NULL split values exactly once,
resumption after a crash, and readers that never see a half-published table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.lake.chunk_staging import ChunkStage
from ingest.plan.planner import make_plan, new_run_context
from tests.integration.conftest import create_orders, sql, updated_at_of
from tests.workbooks import HEADER, job_row, write_workbook

CHUNK_HEADER = HEADER


def book(tmp_path: Path, name: str = "w.xlsx", **values) -> Path:
    return write_workbook(tmp_path / name, [job_row(**values)], header=CHUNK_HEADER)


def run(workbook: Path, settings, run_context=None):
    plan = make_plan(read_workbook(workbook), run_context or new_run_context())
    return run_local(plan, settings, workbook)


def lake_table(settings, table: str = "orders") -> pa.Table:
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    assert files, f"no parquet files for {table}"
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id")


def state_of(settings, job: str = "orders") -> dict:
    import dlt

    from ingest.lake.destination import make_destination, working_dir

    pipeline = dlt.pipeline(pipeline_name=f"ingest_{job}", pipelines_dir=str(working_dir(settings)),
                            destination=make_destination(settings), dataset_name=settings.dataset)
    pipeline.sync_destination()
    resources = next(iter(pipeline.state["sources"].values()))["resources"]
    return next(iter(resources.values()))["incremental"]


def test_chunked_full_load_equals_the_plain_load(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 5000)
    plain_settings = settings.with_overrides(destination=str(tmp_path / "plain"))
    assert run(book(tmp_path, "p.xlsx", source_schema=pg_schema), plain_settings).exit_code == 0
    summary = run(book(tmp_path, source_schema=pg_schema, chunk_size="4 chunks"), settings)
    assert summary.exit_code == 0, summary.jobs
    job = summary.jobs[0]
    assert job["rows_processed"] == 5000 and job["chunks"]["done"] == job["chunks"]["total"] == 4
    assert job["rowcount"]["status"] == "ok" and job["values"]["status"] == "ok"
    from ingest.records.audit import read_audit

    assert read_audit(settings.audit_dir)[-1]["chunks"] == "4/4"
    chunked, plain = lake_table(settings), lake_table(plain_settings)
    assert chunked.schema == plain.schema
    assert chunked.equals(plain)
    assert not Path(settings.destination, settings.dataset, "_ingest_chunks", "orders").exists()



def test_first_incremental_load_in_chunks_equals_the_plain_one_and_the_next_run_continues(
        postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 3000)
    row = dict(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
               last_watermark="2024-03-01T12:05:00")  # rows 1..299 are before it
    plain_settings = settings.with_overrides(destination=str(tmp_path / "plain"))
    plain_book, chunked_book = book(tmp_path, "p.xlsx", **row), book(tmp_path, chunk_size="3 chunks", **row)
    plain, chunked = run(plain_book, plain_settings), run(chunked_book, settings)
    assert chunked.exit_code == 0, chunked.jobs
    job = chunked.jobs[0]
    assert job["chunks"]["total"] == 3 and job["chunks"]["done"] == 3
    assert job["rowcount"]["status"] == "ok" and set(job["chunks"]["rowcount"].values()) == {"ok"}
    assert job["rows_processed"] == plain.jobs[0]["rows_processed"] == 3000 - 299
    assert job["watermark_after"] == plain.jobs[0]["watermark_after"] == updated_at_of(3000).isoformat()
    assert lake_table(settings).equals(lake_table(plain_settings))
    chunked_state, plain_state = state_of(settings), state_of(plain_settings)
    assert chunked_state["updated_at"]["last_value"] == plain_state["updated_at"]["last_value"]
    assert chunked_state["updated_at"]["unique_hashes"] == plain_state["updated_at"]["unique_hashes"]
    # the next run is a plain incremental one from the state: the two new rows, nothing twice
    sql(postgres, f"""INSERT INTO {pg_schema}.orders SELECT g, 1, 1, 'n', NULL, now(),
                      '2024-03-01 13:00:00'::timestamp + g * interval '1 second' FROM generate_series(3001, 3002) g""")
    again = run(chunked_book, settings)
    assert again.jobs[0]["rows_processed"] == 2 and again.jobs[0]["chunks"] is None
    ids = lake_table(settings).column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 3000 - 299 + 2


def test_null_split_values_land_exactly_once_in_their_own_chunk(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 2000)
    sql(postgres, f"ALTER TABLE {pg_schema}.orders ADD COLUMN batch integer")
    sql(postgres, f"UPDATE {pg_schema}.orders SET batch = CASE WHEN id % 7 = 0 THEN NULL ELSE id % 500 END")
    summary = run(book(tmp_path, source_schema=pg_schema, chunk_size="4 chunks", chunk_column="batch"), settings)
    assert summary.exit_code == 0, summary.jobs
    chunks = summary.jobs[0]["chunks"]
    assert chunks["rows"]["cnull"] == 2000 // 7 and sum(chunks["rows"].values()) == 2000
    ids = lake_table(settings).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 2001))


def test_backfill_and_force_full_load_in_chunks(postgres, pg_schema, settings, tmp_path):
    from ingest.plan.request import Backfill, RunRequest

    create_orders(postgres, pg_schema, 1200)
    workbook = book(tmp_path, source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
                    chunk_size="3 chunks", primary_key="id")
    first = run(workbook, settings)
    assert first.jobs[0]["chunks"]["total"] == 3 and first.jobs[0]["rows_processed"] == 1200
    config = read_workbook(workbook)
    forced = make_plan(config, new_run_context(), request=RunRequest(jobs=("orders",), force_full=True))
    summary = run_local(forced, settings, workbook)
    assert summary.jobs[0]["chunks"]["done"] == 3 and summary.jobs[0]["rows_processed"] == 1200
    assert lake_table(settings).num_rows == 1200  # the table was replaced, not appended
    window = {"start": updated_at_of(100).isoformat(), "end": updated_at_of(400).isoformat()}
    backfill = make_plan(config, new_run_context(), request=RunRequest(jobs=("orders",), backfill=Backfill.parse(window["start"], window["end"])))
    summary = run_local(backfill, settings, workbook)
    assert summary.jobs[0]["chunks"]["total"] == 3 and summary.jobs[0]["rows_processed"] == 300


KILLER = '''
import os, signal, sys
from pathlib import Path
from ingest.core.settings import Settings
from ingest.lake.dlt_defaults import apply_dlt_defaults
from ingest.drivers.chunks import tasks
from tests.integration.test_chunked_loads import run

apply_dlt_defaults()
staged = tasks._stage_chunk


def dies_in_c002(job, run, settings, source, stage, chunk_id, clauses, layout):
    if chunk_id != "c002":
        return staged(job, run, settings, source, stage, chunk_id, clauses, layout)
    writer = stage.writer(chunk_id)  # mid-chunk: a part written, no done.json
    import pyarrow as pa
    writer.write(pa.table({"id": [1]}))
    writer.close()
    os.kill(os.getpid(), signal.SIGKILL)


tasks._stage_chunk = dies_in_c002
tmp = Path(sys.argv[1])
settings = Settings(destination=str(tmp / "lake"), audit_dir=tmp / "audit", log_dir=tmp / "logs",
                    pipelines_dir=tmp / "pipelines", max_workers=2, worker_mode="process")
summary = run(Path(sys.argv[2]), settings)
print("RESULT", summary.jobs[0]["error_class"], summary.jobs[0]["chunks"])
'''


def test_a_chunk_killed_mid_load_is_the_only_one_loaded_again(postgres, pg_schema, settings, tmp_path, monkeypatch):
    """The first run forks job processes (a fresh interpreter: this pytest process ran jobs in
    threads, after which it must not fork); the process loading chunk c002 is killed with
    SIGKILL after staging a part. The re-run loads c002 alone and publishes the exact table."""
    import subprocess
    import sys

    from ingest.drivers.chunks import tasks

    create_orders(postgres, pg_schema, 4000)
    workbook = book(tmp_path, source_schema=pg_schema, chunk_size="4 chunks")
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(script), str(tmp_path), str(workbook)], cwd=repo, timeout=300,
                          capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(repo)})
    assert "RESULT ChunkedLoadError" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "'failed': ['c002']" in done.stdout
    assert not Path(tmp_path, "lake", "raw", "orders").exists()  # nothing published
    stage = ChunkStage.open(settings, "orders")
    assert [c for c in ("c000", "c001", "c002", "c003") if stage.done(c)] == ["c000", "c001", "c003"]

    read: list[str] = []
    real = tasks._stage_chunk

    def counting(job, run_, settings_, source, stage_, chunk_id, clauses, layout):
        read.append(chunk_id)
        return real(job, run_, settings_, source, stage_, chunk_id, clauses, layout)

    monkeypatch.setattr(tasks, "_stage_chunk", counting)
    summary = run(workbook, settings)
    assert summary.exit_code == 0, summary.jobs
    assert read == ["c002"]
    assert summary.jobs[0]["chunks"]["done"] == 4 and summary.jobs[0]["rows_processed"] == 4000
    ids = lake_table(settings).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 4001))
    assert not Path(settings.destination, settings.dataset, "_ingest_chunks", "orders").exists()


def test_readers_see_the_old_complete_table_while_chunks_land(postgres, pg_schema, settings, tmp_path, monkeypatch):
    from ingest.drivers.chunks import tasks

    create_orders(postgres, pg_schema, 1000)
    workbook = book(tmp_path, source_schema=pg_schema, chunk_size="4 chunks")
    assert run(workbook, settings).exit_code == 0
    old = lake_table(settings)
    sql(postgres, f"DELETE FROM {pg_schema}.orders")
    create_orders(postgres, pg_schema, 3000, table="orders_new")
    sql(postgres, f"INSERT INTO {pg_schema}.orders SELECT * FROM {pg_schema}.orders_new")
    seen: list[int] = []
    real = tasks._stage_chunk

    def then_read(*args):
        record = real(*args)
        table = lake_table(settings)  # what a reader of the lake sees right now
        assert table.equals(old)
        seen.append(table.num_rows)
        return record

    monkeypatch.setattr(tasks, "_stage_chunk", then_read)
    summary = run(workbook, settings)
    assert summary.exit_code == 0, summary.jobs
    assert seen == [1000] * 4
    assert lake_table(settings).num_rows == 3000


def test_boundaries_follow_a_skewed_key(postgres, pg_schema):
    """90% of the keys in 1..90,000, the rest spread up to 10^9: min/max strides put nearly
    every row in the first chunk; the planner's histogram (after ANALYZE) and percentile_disc
    (before it) balance them."""
    import sqlalchemy as sa

    from ingest.sources import chunk_ranges

    sql(postgres, f"""CREATE TABLE {pg_schema}.skewed (id bigint PRIMARY KEY);
        INSERT INTO {pg_schema}.skewed SELECT g FROM generate_series(1, 90000) g;
        INSERT INTO {pg_schema}.skewed SELECT 100000 + g * 99990 FROM generate_series(1, 10000) g""")
    engine = sa.create_engine(postgres.url().replace("postgresql://", "postgresql+psycopg2://", 1))
    table = sa.Table("skewed", sa.MetaData(schema=pg_schema), autoload_with=engine)
    split = chunk_ranges.SplitColumn("id", "integer", False)

    def sizes(bounds):
        with engine.connect() as connection:
            return [connection.execute(sa.select(sa.func.count()).select_from(table).where(
                *chunk_ranges.range_clause(table.c.id, r))).scalar_one() for r in chunk_ranges.chunk_ranges(bounds, False)]

    with engine.connect() as connection:
        quantiles, method = chunk_ranges.boundaries(connection, table, split, [], 8)
        low, high = connection.execute(sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id))).one()
    assert method == "percentile_disc"
    stride_sizes, quantile_sizes = sizes(chunk_ranges.stride(low, high, 8)), sizes(quantiles)
    sql(postgres, f"ANALYZE {pg_schema}.skewed")
    with engine.connect() as connection:
        histogram, method = chunk_ranges.boundaries(connection, table, split, [], 8)
    assert method == "pg_stats histogram"
    histogram_sizes = sizes(histogram)
    engine.dispose()
    print(f"largest/ideal chunk: stride {max(stride_sizes) / 12500:.2f}, percentile_disc"
          f" {max(quantile_sizes) / 12500:.2f}, histogram {max(histogram_sizes) / 12500:.2f}")
    assert max(stride_sizes) > 90000  # one huge chunk
    assert max(quantile_sizes) <= 12500 * 1.01
    assert max(histogram_sizes) <= 12500 * 1.3  # a sample of 30,000 rows: close, not exact
    assert sum(histogram_sizes) == sum(quantile_sizes) == 100000


def test_a_chunked_delta_load_is_one_commit_equal_to_the_plain_one(postgres, pg_schema, settings, tmp_path):
    from deltalake import DeltaTable

    create_orders(postgres, pg_schema, 2000)
    plain_settings = settings.with_overrides(destination=str(tmp_path / "plain"))
    row = dict(source_schema=pg_schema, table_format="delta")
    assert run(book(tmp_path, "p.xlsx", **row), plain_settings).exit_code == 0
    summary = run(book(tmp_path, chunk_size="4 chunks", **row), settings)
    assert summary.exit_code == 0, summary.jobs
    assert summary.jobs[0]["chunks"]["done"] == 4
    chunked = DeltaTable(str(Path(settings.destination, settings.dataset, "orders")))
    plain = DeltaTable(str(Path(plain_settings.destination, plain_settings.dataset, "orders")))
    assert chunked.version() == plain.version() == 0  # one commit
    assert chunked.to_pyarrow_table().sort_by("id").equals(plain.to_pyarrow_table().sort_by("id"))


def test_a_chunk_name_that_is_not_one_is_refused_before_it_names_a_path(postgres, pg_schema, settings, tmp_path):
    from ingest.config.model import JobConfig
    from ingest.drivers.chunks import tasks

    job = JobConfig.from_dict({**job_row(source_schema=pg_schema), "enabled": True, "primary_key": ["id"],
                               "chunk_size": {"amount": 4, "unit": "chunks"}})
    outcome = tasks.chunk_task(job, new_run_context(), settings, "../../orders/x")
    assert outcome["status"] == "failed" and outcome["error_class"] == "ChunkedLoadError"
    assert "is not a chunk name" in outcome["error_message"]
    assert not Path(settings.destination).exists()


def test_staged_chunks_older_than_a_day_are_not_reused(postgres, pg_schema, settings, tmp_path, monkeypatch):
    from datetime import timedelta

    from ingest.drivers.chunks import tasks

    create_orders(postgres, pg_schema, 1000)
    workbook = book(tmp_path, source_schema=pg_schema, chunk_size="2 chunks")
    job = read_workbook(workbook).jobs[0]
    first = new_run_context()
    from ingest.lake.destination import prepare_lake

    prepare_lake(settings)
    planned = tasks.split_task(job, first, settings)
    assert tasks.chunk_task(job, first, settings, planned["chunks"][0])["status"] == "succeeded"
    soon = replace_started(first, timedelta(hours=2))
    assert tasks.split_task(job, soon, settings)["done"] == [planned["chunks"][0]]  # a re-run continues
    later = replace_started(first, timedelta(hours=25))
    assert tasks.split_task(job, later, settings)["done"] == []  # afresh


def replace_started(run_context, delta):
    from dataclasses import replace
    from datetime import datetime

    started = datetime.fromisoformat(run_context.started_at.replace("Z", "+00:00")) + delta
    return replace(run_context, started_at=started.isoformat())
