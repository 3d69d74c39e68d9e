"""One engine per source connection per process (ingest/sources/engine_cache.py), against a
real PostgreSQL server: reused across jobs, holding no connection once a job has finished."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import sqlalchemy as sa

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.sources import engine_cache
from ingest.sources.connections import build_connection
from ingest.sources.job_source import open_source
from tests.integration.conftest import create_orders


@contextmanager
def backends_opened() -> Iterator[set[int]]:
    """The server process ids of every pooled connection this process opens meanwhile: what
    this test's jobs opened, not what other tests' processes left on the shared server."""
    from sqlalchemy.pool import Pool

    pids: set[int] = set()

    def opened(dbapi_connection, _record) -> None:
        pids.add(dbapi_connection.get_backend_pid())

    sa.event.listen(Pool, "connect", opened)
    try:
        yield pids
    finally:
        sa.event.remove(Pool, "connect", opened)


def still_open(postgres, pids: set[int], seconds: float = 5.0) -> set[int]:
    """Those of `pids` the server still has after up to `seconds` (a backend leaves
    pg_stat_activity a moment after its client closed the connection)."""
    deadline = time.monotonic() + seconds
    while True:
        con = psycopg2.connect(postgres.url())
        with con, con.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (sorted(pids),))
            left = {row[0] for row in cur.fetchall()}
        con.close()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def job(schema: str) -> JobConfig:
    return JobConfig(job_name="orders", enabled=True, source_type=SourceType.POSTGRES, connection="pg",
                     source_table="orders", source_schema=schema, load_type=LoadType.FULL)


def test_jobs_on_one_connection_share_an_engine_and_hold_no_connection_after(postgres, pg_schema, settings):
    create_orders(postgres, pg_schema, 10)
    engine_cache.clear()
    with backends_opened() as pids:
        first = open_source(job(pg_schema), settings)
        assert first.count_range(None, None) == (10, 10)
        first.close()
        second = open_source(job(pg_schema), settings)
        try:
            assert second.engine is first.engine  # compiled SQL (reflection, counts) is reused
            assert second.count_range(None, None) == (10, 10)  # usable after the first job gave it back
        finally:
            second.close()
    assert pids and not still_open(postgres, pids)


def test_a_job_ending_while_another_reads_leaves_no_connection_open(postgres, pg_schema, settings):
    """Two jobs of one process (threads: the Functions worker, the local thread mode) on one
    engine: the first ending must not orphan the connection the second is reading on. It did:
    the first's close disposed of the engine's pool, the second's connection then went back to
    a pool nobody knew and stayed open on the server until a garbage collection."""
    create_orders(postgres, pg_schema, 10)
    engine_cache.clear()
    with backends_opened() as pids:
        first = open_source(job(pg_schema), settings)
        second = open_source(job(pg_schema), settings)
        with second.engine.connect() as reading:  # the second job mid-stream
            assert reading.execute(sa.text("SELECT 1")).scalar() == 1
            first.close()
        assert second.count_range(None, None) == (10, 10)
        second.close()
    assert pids and not still_open(postgres, pids)


def test_other_credentials_get_another_engine(postgres):
    engine_cache.clear()
    url = postgres.url()
    one = engine_cache.lease_engine(build_connection("a", SourceType.POSTGRES, url))
    same = engine_cache.lease_engine(build_connection("b", SourceType.POSTGRES, url))
    other = engine_cache.lease_engine(build_connection("a", SourceType.POSTGRES, url + "?sslmode=disable"))
    assert one is same and other is not one
    engine_cache.clear()
    assert engine_cache.lease_engine(build_connection("a", SourceType.POSTGRES, url)) is not one


def test_reflection_reads_columns_and_key_only(postgres, pg_schema):
    """Catalog queries for the columns and the primary key only (a full autoload ran 12 per
    job), plus the read plan's one query (what each column lands as,
    ingest/sources/postgres_types.py); what a load needs is all there: names, exact types, NOT
    NULL, the key."""
    from ingest.sources.sql import reflect_table

    create_orders(postgres, pg_schema, 1)
    engine_cache.clear()
    engine = engine_cache.lease_engine(build_connection("pg", SourceType.POSTGRES, postgres.url()))
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    reflected = reflect_table(engine, job(pg_schema))
    engine_cache.release_engine(engine)

    table = reflected.table
    assert [c.name for c in table.primary_key] == ["id"]
    assert {c.name: (str(c.type), getattr(c.type, "timezone", None), c.nullable) for c in table.columns} == {
        "id": ("BIGINT", None, False), "qty": ("INTEGER", None, False), "amount": ("NUMERIC(12, 2)", None, True),
        "name": ("TEXT", None, False), "note": ("TEXT", None, True), "created_at": ("TIMESTAMP", True, False),
        "updated_at": ("TIMESTAMP", False, False)}
    catalog = [s for s in statements if "pg_catalog" in s or "pg_attribute" in s]
    assert len(catalog) <= 4, catalog  # columns (with enums and domains), primary key, read plan
    assert sum("format_type(a.atttypid" in s for s in catalog) == 1 and set(reflected.read_plans) == set(
        c.name for c in table.columns)
