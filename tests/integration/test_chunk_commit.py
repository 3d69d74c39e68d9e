"""The commit of a chunked load publishes the files its chunks staged as they are: no row is
read back or encoded again (README "Chunked loads"), and a reader sees the rows and types of
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
