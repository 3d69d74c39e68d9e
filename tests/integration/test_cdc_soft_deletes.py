"""load_type CDC with `cdc_deletes` mark on a real PostgreSQL (wal_level=logical): after inserts,
updates, deletes, a delete right after an update, an insert and delete inside one batch, a
re-insert and a key update, the lake equals the source plus every deleted row with its last
values and `_ingest_deleted` true: Delta through the app's MERGE (ingest/lake/cdc_merge.py),
parquet through the documented DuckDB query (docs/cdc_current_state_soft_deletes.sql)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cdc_helpers import cdc_job, load, parquet_current, source_rows, sql

NAMES = ["id", "v", "note"]


def lake_with_marks(settings, table: str, fmt: str) -> list[tuple]:
    """(id, v, note, _ingest_deleted) of every row the lake keeps, sorted."""
    if fmt == "parquet":
        return parquet_current(settings, table, NAMES + ["_ingest_deleted"], soft=True)
    from deltalake import DeltaTable

    data = DeltaTable(str(Path(settings.destination) / settings.dataset / table)).to_pyarrow_table()
    return sorted(tuple(row[n] for n in NAMES + ["_ingest_deleted"]) for row in data.to_pylist())


def expected(postgres, schema: str, deleted: dict[int, tuple]) -> list[tuple]:
    _, live = source_rows(postgres, schema, "t")
    assert not {r[0] for r in live} & set(deleted)
    return sorted([(*r, False) for r in live] + [(*r, True) for r in deleted.values()])


@pytest.mark.parametrize("fmt", ["delta_mark", "parquet"])
def test_deleted_rows_stay_marked_with_their_last_values_and_a_reinsert_revives_them(postgres, settings, cdc, fmt):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int, note text);"
                  f" INSERT INTO {schema}.t VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c'), (4, 4, 'd'), (5, 5, 'e')")
    job = cdc_job("t", connection, schema, "t", fmt)
    table_format = fmt.split("_")[0]
    first = load([job], settings)["t"]
    assert first.succeeded, first.error_message
    assert lake_with_marks(settings, "t", table_format) == expected(postgres, schema, {})

    sql(postgres, f"INSERT INTO {schema}.t VALUES (6, 6, 'f'); UPDATE {schema}.t SET v = 20 WHERE id = 2;"
                  f" DELETE FROM {schema}.t WHERE id = 3;"
                  f" UPDATE {schema}.t SET v = 50 WHERE id = 5; DELETE FROM {schema}.t WHERE id = 5;"
                  f" INSERT INTO {schema}.t VALUES (7, 7, 'g'); DELETE FROM {schema}.t WHERE id = 7")
    second = load([job], settings, 2)["t"]
    assert second.succeeded, second.error_message
    assert (second.cdc["inserts"], second.cdc["updates"], second.cdc["deletes"]) == (2, 2, 3)
    deleted = {3: (3, 3, "c"), 5: (5, 50, "e"), 7: (7, 7, "g")}  # 5: the update's values, 7: never seen before
    assert lake_with_marks(settings, "t", table_format) == expected(postgres, schema, deleted)

    sql(postgres, f"INSERT INTO {schema}.t VALUES (3, 30, 'cc'); DELETE FROM {schema}.t WHERE id = 4;"
                  f" UPDATE {schema}.t SET id = 60 WHERE id = 6")  # a key update: 6 deleted, 60 inserted
    third = load([job], settings, 3)["t"]
    assert third.succeeded, third.error_message
    del deleted[3]  # revived with the new values
    deleted.update({4: (4, 4, "d"), 6: (6, 6, "f")})
    assert lake_with_marks(settings, "t", table_format) == expected(postgres, schema, deleted)

    again = load([job], settings, 4)["t"]  # nothing new: nothing changes
    assert again.succeeded and again.cdc["changes"] == 0
    assert lake_with_marks(settings, "t", table_format) == expected(postgres, schema, deleted)
    if table_format == "delta":
        assert third.cdc["merge"]["merged"] and third.cdc["merge"]["staged_rows"] == 4


@pytest.mark.parametrize("fmt", ["delta_mark", "delta_scd2"])
def test_a_table_empty_at_the_snapshot_starts_from_its_first_changes(postgres, settings, cdc, fmt):
    """dlt writes no Delta table for an empty snapshot: the first batch's merge creates it."""
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int, note text)")
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"INSERT INTO {schema}.t VALUES (1, 1, 'a'), (2, 2, 'b'); DELETE FROM {schema}.t WHERE id = 2")
    second = load([job], settings, 2)["t"]
    assert second.succeeded, second.error_message
    from deltalake import DeltaTable

    rows = DeltaTable(str(Path(settings.destination) / settings.dataset / "t")).to_pyarrow_table().to_pylist()
    if fmt == "delta_mark":
        assert sorted((r["id"], r["v"], r["_ingest_deleted"]) for r in rows) == [(1, 1, False), (2, 2, True)]
    else:
        assert sorted((r["id"], r["_valid_to"] is None) for r in rows) == [(1, True), (2, False)]
    sql(postgres, f"UPDATE {schema}.t SET v = 10 WHERE id = 1")
    assert load([job], settings, 3)["t"].succeeded
    rows = DeltaTable(str(Path(settings.destination) / settings.dataset / "t")).to_pyarrow_table().to_pylist()
    assert sorted(r["v"] for r in rows if r["id"] == 1) == ([10] if fmt == "delta_mark" else [1, 10])


def test_a_column_added_at_the_source_lands_with_deletes_marked(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2)")
    job = cdc_job("t", connection, schema, "t", "delta_mark")
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"ALTER TABLE {schema}.t ADD COLUMN label text; INSERT INTO {schema}.t VALUES (3, 3, 'three');"
                  f" UPDATE {schema}.t SET label = 'one' WHERE id = 1; DELETE FROM {schema}.t WHERE id = 2")
    result = load([job], settings, 2)["t"]
    assert result.succeeded, result.error_message
    from deltalake import DeltaTable

    rows = DeltaTable(str(Path(settings.destination) / settings.dataset / "t")).to_pyarrow_table().to_pylist()
    assert sorted((r["id"], r["v"], r["label"], r["_ingest_deleted"]) for r in rows) == \
        [(1, 1, "one", False), (2, 2, None, True), (3, 3, "three", False)]
