"""The commit of a chunked load publishes the files its chunks staged as they are: no row is
read back or encoded again (docs/chunked-loads.md), and a reader sees the rows and types of
the plain load. Real PostgreSQL, a local lake."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.config import read_workbook
from ingest.drivers.chunks import tasks
from ingest.lake.chunk_staging import ChunkStage
from ingest.lake.destination import prepare_lake
from ingest.plan.planner import new_run_context
from tests.integration.conftest import create_orders
from tests.integration.test_chunked_loads import book, lake_table, run, state_of


def digests(folder: Path) -> set[str]:
    return {hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.rglob("*.parquet")}


def stage_every_chunk(job, run_context, settings) -> set[str]:
    prepare_lake(settings)
    planned = tasks.split_task(job, run_context, settings)
    assert planned["status"] == "succeeded" and not planned["plain"], planned
    for chunk in planned["chunks"]:
        assert tasks.chunk_task(job, run_context, settings, chunk)["status"] == "succeeded"
    return digests(Path(settings.destination, settings.dataset, "_ingest_chunks", job.job_name))


@pytest.mark.parametrize("row", [
    dict(chunk_size="3 chunks"),
    dict(chunk_size="3 chunks", load_type="INCREMENTAL", watermark_column="updated_at",
         last_watermark="2024-03-01T12:05:00"),
], ids=["full", "first-incremental"])
def test_the_commit_publishes_the_staged_files_byte_for_byte_without_reading_a_row(
        postgres, pg_schema, settings, tmp_path, monkeypatch, row):
    create_orders(postgres, pg_schema, 3000)
    plain_settings = settings.with_overrides(destination=str(tmp_path / "plain"))
    plain_row = {k: v for k, v in row.items() if k != "chunk_size"}
    plain = run(book(tmp_path, "p.xlsx", source_schema=pg_schema, **plain_row), plain_settings)
    assert plain.exit_code == 0, plain.jobs
    job = read_workbook(book(tmp_path, source_schema=pg_schema, **row)).jobs[0]
    run_context = new_run_context()
    staged = stage_every_chunk(job, run_context, settings)
    assert staged

    def no_rows(*args, **kwargs):
        raise AssertionError("the commit read staged rows back")

    monkeypatch.setattr(ChunkStage, "tables", no_rows)
    result = tasks.commit_task(job, run_context, settings)
    assert result["status"] == "succeeded", result
    published = digests(Path(settings.destination, settings.dataset, "orders"))
    assert published == staged  # the very files, not a copy encoded again
    assert result["rows_processed"] == plain.jobs[0]["rows_processed"]
    assert result["rowcount"]["status"] == "ok" and result["values"]["status"] == "ok"
    chunked_table, plain_table = lake_table(settings), lake_table(plain_settings)
    assert chunked_table.schema == plain_table.schema  # names, order, types, nullability
    assert chunked_table.equals(plain_table)
    if job.is_incremental:
        assert result["watermark_after"] == plain.jobs[0]["watermark_after"]
        chunked_state, plain_state = state_of(settings)["updated_at"], state_of(plain_settings)["updated_at"]
        assert chunked_state["last_value"] == plain_state["last_value"]
        assert sorted(chunked_state["unique_hashes"]) == sorted(plain_state["unique_hashes"])
    assert not Path(settings.destination, settings.dataset, "_ingest_chunks", "orders").exists()


def test_a_snapshot_table_stages_raw_batches_and_equals_the_plain_load(postgres, pg_schema, settings, tmp_path):
    """A snapshot's date column is the commit run's: its chunks keep the raw batches, read back
    through the resource at the commit."""
    create_orders(postgres, pg_schema, 2000)
    plain_settings = settings.with_overrides(destination=str(tmp_path / "plain"))
    assert run(book(tmp_path, "p.xlsx", source_schema=pg_schema, full_mode="snapshot"), plain_settings).exit_code == 0
    summary = run(book(tmp_path, source_schema=pg_schema, full_mode="snapshot", chunk_size="2 chunks"), settings)
    assert summary.exit_code == 0, summary.jobs
    assert summary.jobs[0]["chunks"]["commit"] == "rows read again"
    chunked, plain = lake_table(settings), lake_table(plain_settings)
    assert chunked.schema == plain.schema and "_snapshot_date" in chunked.column_names
    assert chunked.equals(plain)


@pytest.mark.parametrize("tamper", [
    {"file_rows": []}, {"file_rows": [-1]}, {"file_rows": ["9"]},
    {"arrow_schema": "not base64!"}, {"arrow_schema": "aGVsbG8="},
    {"state": "{not json"},
])
def test_a_done_record_that_does_not_describe_its_files_publishes_nothing(postgres, pg_schema, settings, tmp_path,
                                                                          tamper):
    """done.json comes back from the lake: rows per file, the arrow schema and the cursor state
    are checked before the load starts; the table is not touched."""
    create_orders(postgres, pg_schema, 1000)
    job = read_workbook(book(tmp_path, source_schema=pg_schema, chunk_size="2 chunks")).jobs[0]
    run_context = new_run_context()
    stage_every_chunk(job, run_context, settings)
    stage = ChunkStage.open(settings, "orders")
    record = stage.done("c000")
    assert len(record["files"]) == 1
    stage.mark_done("c000", {**record, **tamper})
    result = tasks.commit_task(job, run_context, settings)
    assert result["status"] == "failed" and result["error_class"] == "ChunkedLoadError", result
    assert "c000" in result["error_message"] and "done.json" in result["error_message"]
    assert not Path(settings.destination, settings.dataset, "orders").exists()


def test_a_scratch_folder_a_killed_chunk_left_goes_when_the_next_load_is_planned(postgres, pg_schema, settings,
                                                                                 tmp_path):
    from ingest.lake import chunk_names
    from ingest.lake.destination import working_dir

    create_orders(postgres, pg_schema, 1000)
    job = read_workbook(book(tmp_path, source_schema=pg_schema, chunk_size="2 chunks")).jobs[0]
    left = working_dir(settings) / (chunk_names.scratch_prefix("orders", "c001") + "k1ll3d")
    other = working_dir(settings) / (chunk_names.scratch_prefix("orders_2", "c001") + "running")
    for folder in (left, other):
        (folder / "ingest_orders").mkdir(parents=True)
    prepare_lake(settings)
    assert tasks.split_task(job, new_run_context(), settings)["status"] == "succeeded"
    assert not left.exists() and other.exists()


def test_the_commit_checks_values_with_the_chunks_statistics_and_asks_the_source_nothing(
        postgres, pg_schema, settings, tmp_path, monkeypatch):
    """Each chunk asked the source for its range's statistics; the commit sums them. A chunk's
    statistics that disagree with what it staged fail the job as a whole-table scan would."""
    from ingest.drivers.chunks import source_stats
    from ingest.sources.job_source import SqlJobSource

    create_orders(postgres, pg_schema, 2000)
    job = read_workbook(book(tmp_path, source_schema=pg_schema, chunk_size="2 chunks")).jobs[0]
    run_context = new_run_context()
    stage_every_chunk(job, run_context, settings)
    asked: list[str] = []
    for name in ("value_stats", "count_range"):
        monkeypatch.setattr(SqlJobSource, name, lambda *a, name=name, **k: asked.append(name))
    stage = ChunkStage.open(settings, "orders")
    record = stage.done("c001")
    rows, columns, ranged = source_stats.decode("c001", record["source_stats"])
    columns["amount"].maximum += 1  # the source held a larger amount than the chunk staged
    stage.mark_done("c001", {**record, "source_stats": source_stats.encode((rows, columns, ranged))})
    result = tasks.commit_task(job, run_context, settings)
    assert asked == []
    assert result["rowcount"]["status"] == "ok" and result["rowcount"]["source_max"] == 2000
    assert result["values"]["status"] == "mismatch" and "amount" in result["values"]["message"]
    assert result["status"] == "failed" and result["error_class"] == "ValueCheckError"


def test_chunks_staged_in_different_ways_publish_nothing(postgres, pg_schema, settings, tmp_path):
    """dlt's files and raw batches cannot make one table: a record of the other layout (dlt's
    configuration changed between two chunks) is refused before anything is read."""
    create_orders(postgres, pg_schema, 1000)
    job = read_workbook(book(tmp_path, source_schema=pg_schema, chunk_size="2 chunks")).jobs[0]
    run_context = new_run_context()
    stage_every_chunk(job, run_context, settings)
    stage = ChunkStage.open(settings, "orders")
    stage.mark_done("c001", {**stage.done("c001"), "layout": "batches"})
    result = tasks.commit_task(job, run_context, settings)
    assert result["status"] == "failed" and "staged in different ways" in result["error_message"], result
    assert not Path(settings.destination, settings.dataset, "orders").exists()


def test_a_column_dropped_at_the_source_lands_as_the_plain_load_lands_it(postgres, pg_schema, settings, tmp_path):
    """dlt keeps a dropped column in the table's schema and writes it all NULL; the chunks'
    files (extracted on a fresh schema) lack it, so dlt's normalize rewrites them at the commit
    instead of importing them as they are: the table is still the plain load's."""
    create_orders(postgres, pg_schema, 1500)
    plain_settings = settings.with_overrides(destination=str(tmp_path / "plain"))
    plain_book = book(tmp_path, "p.xlsx", source_schema=pg_schema)
    chunked_book = book(tmp_path, source_schema=pg_schema, chunk_size="3 chunks")
    assert run(plain_book, plain_settings).exit_code == 0 and run(chunked_book, settings).exit_code == 0
    from tests.integration.conftest import sql

    sql(postgres, f"ALTER TABLE {pg_schema}.orders DROP COLUMN note")
    plain, chunked = run(plain_book, plain_settings), run(chunked_book, settings)
    assert chunked.exit_code == 0, chunked.jobs
    assert chunked.jobs[0]["rows_processed"] == plain.jobs[0]["rows_processed"] == 1500
    chunked_table, plain_table = lake_table(settings), lake_table(plain_settings)
    assert plain_table.column("note").null_count == 1500  # what dlt does with the dropped column
    assert chunked_table.schema == plain_table.schema
    assert chunked_table.equals(plain_table)



def test_a_chunk_whose_value_scan_fails_still_loads_the_check_then_skipped(postgres, pg_schema, settings, tmp_path,
                                                                           monkeypatch):
    """The value check's scan is not the load: a source refusing it (here: raising, as a
    source without MIN/MAX on a type would) leaves the check skipped, as the plain load's scan
    does (ingest/load.py), instead of failing each chunk after it read and staged its rows, and
    the whole load with it. Each chunk still counts its range (its row-count check)."""
    from ingest.sources.job_source import SqlJobSource

    def refuse(*args, **kwargs):
        raise RuntimeError("the source refuses MIN/MAX here")

    monkeypatch.setattr(SqlJobSource, "value_stats", refuse)
    create_orders(postgres, pg_schema, 500)
    job = read_workbook(book(tmp_path, source_schema=pg_schema, chunk_size="2 chunks")).jobs[0]
    run_context = new_run_context()
    stage_every_chunk(job, run_context, settings)
    stage = ChunkStage.open(settings, "orders")
    records = [stage.done(chunk) for chunk in ("c000", "c001")]
    assert all(r is not None and r.get("source_stats") is None for r in records)  # scanned nothing, still landed
    assert sum(r["source_rows"] for r in records) == 500 and {r["rowcount"] for r in records} == {"ok"}
    result = tasks.commit_task(job, run_context, settings)
    assert result["status"] == "succeeded", result.get("error_message")
    assert result["rows_processed"] == 500 and result["rowcount"]["status"] == "ok"
    assert result["values"]["status"] == "skipped"
    assert sorted(lake_table(settings).column("id").to_pylist()) == list(range(1, 501))
