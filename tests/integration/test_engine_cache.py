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
    assert ingest_connections(postgres) == 0


def test_other_credentials_get_another_engine(postgres):
    engine_cache.clear()
    url = postgres.url()
    one = engine_cache.shared_engine(build_connection("a", SourceType.POSTGRES, url))
    same = engine_cache.shared_engine(build_connection("b", SourceType.POSTGRES, url))
    other = engine_cache.shared_engine(build_connection("a", SourceType.POSTGRES, url + "?sslmode=disable"))
    assert one is same and other is not one
    engine_cache.clear()
    assert engine_cache.shared_engine(build_connection("a", SourceType.POSTGRES, url)) is not one
