"""load_type CDC on a real PostgreSQL (wal_level=logical, tests/services.py): the lake equals
the source table after every step, Delta through its MERGE and parquet through the documented
DuckDB query over the change log (docs/cdc_current_state.sql)."""

from __future__ import annotations

import itertools

import pytest

from tests.cdc_helpers import cdc_job, delta_rows, load, parquet_current, source_rows, sql

_counter = itertools.count()


@pytest.fixture
def cdc(postgres, monkeypatch):
    """A fresh schema and a connection name of its own (so its own slot and publication)."""
    number = next(_counter)
    schema, connection = f"cdc{number}", f"cdc_conn{number}"
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS", postgres.url())
    sql(postgres, f"CREATE SCHEMA {schema}")
    yield schema, connection
    sql(postgres, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                  f" WHERE slot_name LIKE 'ingest_cdc_{connection}%'")


def lake_equals_source(postgres, settings, schema, table, fmt):
    names, expected = source_rows(postgres, schema, table)
    got = (delta_rows(settings, table, names) if fmt == "delta" else parquet_current(settings, table, names))
    assert got == sorted(expected)
    return expected


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_inserts_updates_deletes_and_key_update_land_as_the_source_holds(postgres, settings, cdc, fmt):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.orders (id int PRIMARY KEY, amount numeric(12,2), note text,"
                  f" at timestamptz); INSERT INTO {schema}.orders SELECT g, g * 1.5, 'n' || g,"
                  f" '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 hour' FROM generate_series(1, 50) g")
    job = cdc_job("orders", connection, schema, "orders", fmt)
    first = load([job], settings)["orders"]
    assert first.succeeded, first.error_message
    assert first.cdc["snapshot_rows"] == 50
    lake_equals_source(postgres, settings, schema, "orders", fmt)

    sql(postgres, f"INSERT INTO {schema}.orders VALUES (51, 9.99, 'new', now());"
                  f" UPDATE {schema}.orders SET amount = amount + 1 WHERE id <= 10;"
                  f" DELETE FROM {schema}.orders WHERE id BETWEEN 20 AND 24;"
                  f" UPDATE {schema}.orders SET id = 1000 WHERE id = 30;"  # a key update
                  f" UPDATE {schema}.orders SET note = NULL WHERE id = 1000")
    second = load([job], settings, 2)["orders"]
    assert second.succeeded, second.error_message
    assert (second.cdc["inserts"], second.cdc["updates"], second.cdc["deletes"]) == (2, 11, 6)
    rows = lake_equals_source(postgres, settings, schema, "orders", fmt)
    assert 30 not in [r[0] for r in rows] and 1000 in [r[0] for r in rows]

    third = load([job], settings, 3)["orders"]  # nothing new: nothing changes
    assert third.succeeded and third.cdc["changes"] == 0
    lake_equals_source(postgres, settings, schema, "orders", fmt)
