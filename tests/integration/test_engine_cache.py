"""One engine per source connection per process (ingest/sources/engine_cache.py), against a
real PostgreSQL server: reused across jobs, holding no connection once a job has finished."""

from __future__ import annotations

import psycopg2

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.sources import engine_cache
from ingest.sources.connections import build_connection
from ingest.sources.job_source import open_source
from tests.integration.conftest import create_orders


def ingest_connections(postgres) -> int:
    con = psycopg2.connect(postgres.url())
    with con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ingest'")
        count = cur.fetchone()[0]
    con.close()
    return count


def job(schema: str) -> JobConfig:
    return JobConfig(job_name="orders", enabled=True, source_type=SourceType.POSTGRES, connection="pg",
                     source_table="orders", source_schema=schema, load_type=LoadType.FULL)


def test_jobs_on_one_connection_share_an_engine_and_hold_no_connection_after(postgres, pg_schema, settings):
    create_orders(postgres, pg_schema, 10)
    engine_cache.clear()
    first = open_source(job(pg_schema), settings)
    assert first.count_range(None, None) == (10, 10)
    first.close()
    second = open_source(job(pg_schema), settings)
    try:
        assert second.engine is first.engine  # compiled SQL (reflection, counts) is reused
        assert second.count_range(None, None) == (10, 10)  # usable after the first job disposed it
    finally:
        second.close()
    assert no_ingest_connections_within(postgres, seconds=10)


def no_ingest_connections_within(postgres, seconds: float) -> bool:
    """The server counts a connection until its backend has seen the client go; a connection
    left by another test's process that just ended (a job process, an activity child) lingers
    for a moment. One this process's engine still held would stay: it fails the test."""
    import time

    deadline = time.monotonic() + seconds
    while ingest_connections(postgres) != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_other_credentials_get_another_engine(postgres):
    engine_cache.clear()
    url = postgres.url()
    one = engine_cache.shared_engine(build_connection("a", SourceType.POSTGRES, url))
    same = engine_cache.shared_engine(build_connection("b", SourceType.POSTGRES, url))
    other = engine_cache.shared_engine(build_connection("a", SourceType.POSTGRES, url + "?sslmode=disable"))
    assert one is same and other is not one
    engine_cache.clear()
    assert engine_cache.shared_engine(build_connection("a", SourceType.POSTGRES, url)) is not one


def test_reflection_reads_columns_and_key_only(postgres, pg_schema):
    """Catalog queries for the columns and the primary key only (a full autoload ran 12 per
    job), plus the read plan's one query (what each column lands as,
    ingest/sources/postgres_types.py); what a load needs is all there: names, exact types, NOT
    NULL, the key."""
    import sqlalchemy as sa

    from ingest.sources.sql import reflect_table

    create_orders(postgres, pg_schema, 1)
    engine_cache.clear()
    engine = engine_cache.shared_engine(build_connection("pg", SourceType.POSTGRES, postgres.url()))
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    reflected = reflect_table(engine, job(pg_schema))
    engine.dispose()

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
