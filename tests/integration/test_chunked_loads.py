"""Chunked loads of one table from a real PostgreSQL into a local lake (README "Chunked
loads"): the same rows, types and state as the plain load, NULL split values exactly once,
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
    assert job["rows_processed"] == 5000
    chunked, plain = lake_table(settings), lake_table(plain_settings)
    assert chunked.schema == plain.schema
    assert chunked.equals(plain)
    assert not Path(settings.destination, settings.dataset, "_ingest_chunks", "orders").exists()

