"""load_type CDC on a real PostgreSQL (wal_level=logical, tests/services.py): the lake equals
the source table after every step, Delta through its MERGE and parquet through the documented
DuckDB query over the change log (docs/cdc_current_state.sql)."""

from __future__ import annotations

import pytest

from tests.cdc_helpers import (cdc_job, change_right_after_the_slot, delta_rows, load, parquet_current, source_rows,
                               sql)

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


def test_a_transaction_over_two_tables_lands_in_one_load(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.a (id int PRIMARY KEY, v text); CREATE TABLE {schema}.b (id int PRIMARY KEY,"
                  f" a_id int); INSERT INTO {schema}.a VALUES (1, 'x')")
    jobs = [cdc_job("a", connection, schema, "a"), cdc_job("b", connection, schema, "b", "parquet")]
    assert all(r.succeeded for r in load(jobs, settings).values())
    sql(postgres, f"BEGIN; INSERT INTO {schema}.a VALUES (2, 'y'); INSERT INTO {schema}.b VALUES (10, 2);"
                  f" UPDATE {schema}.a SET v = 'z' WHERE id = 1; COMMIT")
    results = load(jobs, settings, 2)
    assert results["a"].succeeded and results["b"].succeeded, results["a"].error_message
    assert results["a"].load_id == results["b"].load_id is not None
    assert results["a"].cdc["changes"] == 2 and results["b"].cdc["changes"] == 1
    lake_equals_source(postgres, settings, schema, "a", "delta")
    lake_equals_source(postgres, settings, schema, "b", "parquet")


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_rows_changed_during_the_snapshot_land_once(postgres, settings, cdc, monkeypatch, fmt):
    """Changes committed after the slot exported its snapshot and before the snapshot is read
    come through the slot, not the snapshot: no gap, no duplicate."""
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int);"
                  f" INSERT INTO {schema}.t SELECT g, g FROM generate_series(1, 100) g")
    change_right_after_the_slot(monkeypatch, postgres, f"UPDATE {schema}.t SET v = -v WHERE id <= 10;"
                                f" DELETE FROM {schema}.t WHERE id > 90; INSERT INTO {schema}.t VALUES (500, 5)")
    job = cdc_job("t", connection, schema, "t", fmt)
    first = load([job], settings)["t"]
    assert first.succeeded, first.error_message
    assert first.cdc["snapshot_rows"] == 100  # the snapshot saw the table as it was
    assert (first.cdc["inserts"], first.cdc["updates"], first.cdc["deletes"]) == (1, 10, 10)
    lake_equals_source(postgres, settings, schema, "t", fmt)


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_truncate_reloads_from_a_new_snapshot(postgres, settings, cdc, fmt):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2)")
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"TRUNCATE {schema}.t; INSERT INTO {schema}.t VALUES (3, 3)")
    result = load([job], settings, 2)["t"]
    assert result.succeeded, result.error_message
    assert result.cdc["truncated"] == f"{schema}.t" and result.cdc["snapshot_rows"] == 1
    lake_equals_source(postgres, settings, schema, "t", fmt)
    sql(postgres, f"INSERT INTO {schema}.t VALUES (4, 4)")
    assert load([job], settings, 3)["t"].cdc["inserts"] == 1
    lake_equals_source(postgres, settings, schema, "t", fmt)


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_a_column_added_at_the_source_lands(postgres, settings, cdc, fmt):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1)")
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"ALTER TABLE {schema}.t ADD COLUMN label text; INSERT INTO {schema}.t VALUES (2, 2, 'two');"
                  f" UPDATE {schema}.t SET label = 'one' WHERE id = 1")
    result = load([job], settings, 2)["t"]
    assert result.succeeded, result.error_message
    rows = lake_equals_source(postgres, settings, schema, "t", fmt)
    assert rows == [(1, 1, "one"), (2, 2, "two")]


def test_a_table_without_key_or_replica_identity_full_is_refused(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.nokey (a int, b int)")
    result = load([cdc_job("nokey_job", connection, schema, "nokey", "parquet", key=())], settings)["nokey_job"]
    assert not result.succeeded and result.error_class == "CdcPrerequisiteError"
    assert "job 'nokey_job'" in result.error_message
    assert f"ALTER TABLE {schema}.nokey REPLICA IDENTITY FULL" in result.error_message
    sql(postgres, f"ALTER TABLE {schema}.nokey REPLICA IDENTITY FULL; INSERT INTO {schema}.nokey VALUES (1, 2)")
    assert load([cdc_job("nokey_job", connection, schema, "nokey", "parquet", key=())], settings)["nokey_job"].succeeded


def test_a_login_without_replication_is_refused(postgres, settings, cdc, monkeypatch):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY); CREATE ROLE norep_{schema} LOGIN PASSWORD 'pw-{schema}';"
                  f" GRANT USAGE ON SCHEMA {schema} TO norep_{schema}; GRANT SELECT ON {schema}.t TO norep_{schema}")
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS",
                       f"postgresql://norep_{schema}:pw-{schema}@127.0.0.1:{postgres.port}/{postgres.database}")
    result = load([cdc_job("t", connection, schema, "t")], settings)["t"]
    assert result.error_class == "CdcPrerequisiteError"
    assert f'ALTER ROLE "norep_{schema}" WITH REPLICATION' in result.error_message
    assert f"pw-{schema}" not in result.error_message


def test_slot_lag_is_reported_and_cdc_drop_removes_slot_and_publication(postgres, settings, cdc, capsys):
    from ingest.cli import main

    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text)")
    first = load([cdc_job("t", connection, schema, "t")], settings)["t"]
    assert first.succeeded and first.cdc["retained_wal_bytes"] >= 0 and first.cdc["lag_bytes"] >= 0
    sql(postgres, f"INSERT INTO {schema}.t SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g")
    assert main(["cdc", "lag", "--connection", connection, "--json"]) == 0
    import json

    lag = json.loads(capsys.readouterr().out)
    assert lag["exists"] and lag["lag_bytes"] > 1_000_000  # the insert's WAL is held for the slot
    assert main(["cdc", "drop", "--connection", connection, "--json"]) == 0
    dropped = json.loads(capsys.readouterr().out)
    assert dropped["slot_dropped"] and dropped["publication_dropped"]
    assert main(["cdc", "lag", "--connection", connection, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exists"] is False
    again = load([cdc_job("t", connection, schema, "t")], settings, 2)["t"]  # a new snapshot
    assert again.succeeded and again.cdc["snapshot_rows"] == 5000
    lake_equals_source(postgres, settings, schema, "t", "delta")


def test_the_slot_moves_once_before_the_first_batch_and_once_after_each(postgres, settings, cdc, monkeypatch):
    """Each batch ends with the slot at what the lake holds, so the next needs no move of its own."""
    from dataclasses import replace

    from ingest.sources.postgres_cdc import slot as slots

    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int)")
    job = cdc_job("t", connection, schema, "t", "parquet")
    assert load([job], settings)["t"].succeeded
    for start in (1, 101, 201):  # three transactions of 100 changes: three batches of 100
        sql(postgres, f"INSERT INTO {schema}.t SELECT g, g FROM generate_series({start}, {start + 99}) g")
    calls, original = [], slots.advance

    def counted(cur, slot, lsn):
        calls.append(lsn)
        return original(cur, slot, lsn)

    monkeypatch.setattr(slots, "advance", counted)
    result = load([job], replace(settings, cdc_batch_changes=100), 2)["t"]
    assert result.succeeded, result.error_message
    assert (result.cdc["batches"], result.cdc["changes"]) == (3, 300)
    assert len(calls) == 1 + 3 and calls == sorted(calls) and calls[0] < calls[1]
    lake_equals_source(postgres, settings, schema, "t", "parquet")
