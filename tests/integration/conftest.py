from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest

BASE_TIME = datetime(2024, 3, 1, 12, 0, 0, 123456)


@pytest.fixture
def pg_schema(postgres, monkeypatch):
    """A fresh schema in the test database, and connection `pg` pointing at the server."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    con = psycopg2.connect(postgres.url())
    con.autocommit = True
    con.cursor().execute(f"CREATE SCHEMA {schema}")
    monkeypatch.setenv("SOURCES__PG__CREDENTIALS", postgres.url())
    yield schema
    con.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    con.close()


def sql(postgres, statement: str, params=None) -> None:
    con = psycopg2.connect(postgres.url())
    with con, con.cursor() as cur:
        cur.execute(statement, params)
    con.close()


def create_orders(postgres, schema: str, rows: int, table: str = "orders") -> None:
    """Orders with every type the load must keep exact: bigint, int, numeric(12,2), unicode
    text, NULLs, timestamptz and timestamp (with microseconds)."""
    sql(postgres, f"""
        CREATE TABLE {schema}.{table} (
            id bigint PRIMARY KEY, qty integer NOT NULL, amount numeric(12,2), name text NOT NULL,
            note text, created_at timestamptz NOT NULL, updated_at timestamp NOT NULL);
        INSERT INTO {schema}.{table}
        SELECT g, g %% 1000, (g * 12.34) %% 1000000, 'Zoë-李雷-' || g,
               CASE WHEN g %% 3 = 0 THEN NULL ELSE 'note ✓ ' || g END,
               %(base)s::timestamptz + g * interval '1 second',
               %(base)s::timestamp + g * interval '1 second'
        FROM generate_series(1, %(rows)s) g;
    """, {"base": BASE_TIME.replace(tzinfo=timezone.utc), "rows": rows})


def updated_at_of(row_id: int) -> datetime:
    return BASE_TIME + timedelta(seconds=row_id)


def live_process(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, session, ...)
    while the process runs; None once it is gone or a zombie waiting to be reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] == "Z" else fields


@pytest.fixture
def app_env(azurite, pg_schema, monkeypatch, tmp_path):
    """App settings as on Azure, pointing at Azurite; returns (blob service, config container,
    suffix of the containers' names)."""
    from azure.storage.blob import BlobServiceClient

    from ingest.drivers.azure import blueprint

    suffix = uuid.uuid4().hex[:8]
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    config = service.create_container(f"config{suffix}")
    base = f"http://127.0.0.1:{azurite.port}/devstoreaccount1"
    env = {
        "INGEST_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "INGEST_CONFIG_URL": f"{base}/config{suffix}/ingestion_config.xlsx",
        "INGEST_AUDIT_URL": f"{base}/audit{suffix}",
        "INGEST_DESTINATION": f"az://lake{suffix}",
        "INGEST_PIPELINES_DIR": str(tmp_path / "pipelines"),
        "INGEST_MAX_PARALLEL_JOBS": "2",
        "INGEST_JOB_RETRY_FIRST_INTERVAL_S": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    blueprint.settings.cache_clear()
    yield service, config, suffix
    blueprint.settings.cache_clear()


_cdc_counter = itertools.count()


@pytest.fixture
def cdc(postgres, monkeypatch):
    """A fresh schema and a connection name of its own (so its own slot and publication)."""
    from tests.cdc_helpers import sql

    number = next(_cdc_counter)
    schema, connection = f"cdc{number}", f"cdc_conn{number}"
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS", postgres.url())
    sql(postgres, f"CREATE SCHEMA {schema}")
    yield schema, connection
    sql(postgres, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                  f" WHERE slot_name LIKE 'ingest_cdc_{connection}%'")
