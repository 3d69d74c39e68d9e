"""Helpers of the CDC tests (tests/integration/test_cdc_*.py): a CDC job on a real PostgreSQL
table, one connection load, and the lake read back (Delta as is; parquet's change log through
the DuckDB query of docs/cdc.md)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import psycopg2

from ingest.config.model import CdcDeletes, JobConfig, LoadType, SourceType, TableFormat
from ingest.core.result import RunContext
from ingest.lake.locks import FileJobLock

CURRENT_STATE_SQL = (Path(__file__).resolve().parents[1] / "docs" / "cdc_current_state.sql")
SOFT_DELETES_SQL = (Path(__file__).resolve().parents[1] / "docs" / "cdc_current_state_soft_deletes.sql")


def cdc_job(name: str, connection: str, schema: str, table: str, fmt: str = "delta",
            key: tuple[str, ...] = ("id",)) -> JobConfig:
    """`fmt`: parquet, delta, delta_mark (cdc_deletes mark) or delta_scd2."""
    table_format, _, mode = fmt.partition("_")
    return JobConfig(job_name=name, enabled=True, source_type=SourceType.POSTGRES, connection=connection,
                     source_table=table, source_schema=schema, load_type=LoadType.CDC, primary_key=key,
                     table_format=TableFormat(table_format), scd2=mode == "scd2",
                     cdc_deletes=CdcDeletes.MARK if mode == "mark" else CdcDeletes.DELETE)


def run_context(number: int = 1) -> RunContext:
    return RunContext(run_id=f"cdc-run-{number}", started_at=f"2024-05-0{min(number, 9)}T10:00:00+00:00")


def load(jobs: list[JobConfig], settings, number: int = 1) -> dict[str, Any]:
    from ingest.sources.postgres_cdc.connection_load import load_connection

    results = load_connection(jobs, run_context(number), settings, FileJobLock(settings.pipelines_dir / "locks"))
    return {r.job_name: r for r in results}


def sql(postgres, statements: str, database: str | None = None) -> None:
    con = psycopg2.connect(postgres.url(database))
    con.autocommit = True
    try:
        con.cursor().execute("SET synchronous_commit = on; " + statements)  # the test server runs with it off; decoding reads flushed WAL only
    finally:
        con.close()


def source_rows(postgres, schema: str, table: str, key: str = "id") -> list[tuple]:
    con = psycopg2.connect(postgres.url())
    try:
        cur = con.cursor()
        cur.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY {key}')
        names = [d[0] for d in cur.description]
        return names, [tuple(r) for r in cur.fetchall()]
    finally:
        con.close()


def delta_rows(settings, table: str, names: list[str], key: str = "id") -> list[tuple]:
    from deltalake import DeltaTable

    data = DeltaTable(str(Path(settings.destination) / settings.dataset / table)).to_pyarrow_table()
    return sorted(tuple(row[n] for n in names) for row in data.to_pylist())


def parquet_current(settings, table: str, names: list[str], key: str = "id", soft: bool = False) -> list[tuple]:
    """The documented DuckDB query over the parquet change log (`soft`: the one keeping deleted
    rows marked)."""
    import duckdb

    files = glob.glob(str(Path(settings.destination) / settings.dataset / table / "**" / "*.parquet"), recursive=True)
    query = (SOFT_DELETES_SQL if soft else CURRENT_STATE_SQL).read_text().replace("{files}", repr(files)).replace("{key}", key)
    rows = duckdb.sql(query).fetchall()
    columns = duckdb.sql(query).columns
    return sorted(tuple(dict(zip(columns, r))[n] for n in names) for r in rows)


def change_right_after_the_slot(monkeypatch, postgres, statements: str) -> None:
    """Run `statements` right after the slot exported its snapshot, before the snapshot is read
    (a race the tests make certain): those changes must come through the slot, not the snapshot."""
    from contextlib import contextmanager

    from ingest.sources.postgres_cdc import slot as slots

    original = slots.create_slot

    @contextmanager
    def racing(url, slot):
        with original(url, slot) as start:
            sql(postgres, statements)
            yield start

    monkeypatch.setattr(slots, "create_slot", racing)
