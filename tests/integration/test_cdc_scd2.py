"""load_type CDC with scd2 on Delta on a real PostgreSQL (wal_level=logical): every change opens
or closes a version in commit order (ingest/lake/cdc_scd2.py), not only the net change of a
load: two updates of one key in one transaction give two versions, a delete closes the current
version without a new one, a key update closes the old key and opens the new one, a re-insert
opens a new version. `_valid_to` of a version is the commit time of the key's next change."""

from __future__ import annotations

from pathlib import Path

from tests.cdc_helpers import cdc_job, load, source_rows, sql


def versions(settings, table: str = "t") -> dict[int, list[dict]]:
    """Each key's versions in the order they were opened."""
    from deltalake import DeltaTable

    rows = DeltaTable(str(Path(settings.destination) / settings.dataset / table)).to_pyarrow_table().to_pylist()
    by_key: dict[int, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["_valid_from"], r["_cdc_lsn"], r["_cdc_seq"])):
        by_key.setdefault(row["id"], []).append(row)
    return by_key


def current_equals_source(postgres, settings, schema):
    names, expected = source_rows(postgres, schema, "t")
    current = sorted(tuple(r[n] for n in names) for vs in versions(settings).values() for r in vs
                     if r["_valid_to"] is None)
    assert current == sorted(expected)


def chained(history: list[dict]) -> bool:
    """Each version ends when the next one starts."""
    return all(a["_valid_to"] == b["_valid_from"] for a, b in zip(history, history[1:]))


def test_every_change_opens_or_closes_a_version_in_commit_order(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2), (3, 3)")
    job = cdc_job("t", connection, schema, "t", "delta_scd2")
    first = load([job], settings)["t"]
    assert first.succeeded, first.error_message
    snapshot = versions(settings)
    assert {k: [(r["v"], r["_valid_to"]) for r in vs] for k, vs in snapshot.items()} == \
        {1: [(1, None)], 2: [(2, None)], 3: [(3, None)]}
    opened_at = snapshot[1][0]["_valid_from"]

    sql(postgres, f"BEGIN; UPDATE {schema}.t SET v = 10 WHERE id = 1; UPDATE {schema}.t SET v = 11 WHERE id = 1; COMMIT;"
                  f" BEGIN; DELETE FROM {schema}.t WHERE id = 2; INSERT INTO {schema}.t VALUES (4, 4); COMMIT;"
                  f" UPDATE {schema}.t SET id = 30 WHERE id = 3")  # a key update: 3 closes, 30 opens
    second = load([job], settings, 2)["t"]
    assert second.succeeded, second.error_message
    assert (second.scd2["inserted_versions"], second.scd2["closed_versions"]) == (4, 3)
    history = versions(settings)
    assert [r["v"] for r in history[1]] == [1, 10, 11] and chained(history[1])
    one_tx = history[1][1]  # two updates in one transaction: a version that starts and ends at its commit
    assert one_tx["_valid_from"] == one_tx["_valid_to"] == one_tx["_cdc_commit_ts"] == history[1][2]["_valid_from"]
    assert history[1][0]["_valid_from"] == opened_at and history[1][2]["_valid_to"] is None
    assert [r["v"] for r in history[2]] == [2] and history[2][0]["_valid_to"] == history[4][0]["_valid_from"]
    assert history[2][0]["_valid_to"] > opened_at  # closed at the delete's commit, same transaction as 4's insert
    assert history[3][0]["_valid_to"] == history[30][0]["_valid_from"] and history[30][0]["v"] == 3
    current_equals_source(postgres, settings, schema)

    sql(postgres, f"INSERT INTO {schema}.t VALUES (2, 20); DELETE FROM {schema}.t WHERE id = 30")
    third = load([job], settings, 3)["t"]
    assert third.succeeded, third.error_message
    history = versions(settings)
    assert [(r["v"], r["_valid_to"] is None) for r in history[2]] == [(2, False), (20, True)]
    assert history[30][0]["_valid_to"] is not None
    current_equals_source(postgres, settings, schema)
    count = sum(len(vs) for vs in history.values())

    again = load([job], settings, 4)["t"]  # nothing new: no version added or closed
    assert again.succeeded and again.cdc["changes"] == 0
    assert sum(len(vs) for vs in versions(settings).values()) == count == 8  # 1: 3, 2: 2, 3, 30, 4: 1 each


def test_a_truncate_reloads_the_snapshot_as_a_full_scd2_load(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2)")
    job = cdc_job("t", connection, schema, "t", "delta_scd2")
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"TRUNCATE {schema}.t; INSERT INTO {schema}.t VALUES (2, 2), (3, 3)")
    result = load([job], settings, 2)["t"]
    assert result.succeeded and result.cdc["truncated"] == f"{schema}.t", result.error_message
    history = versions(settings)
    # the reloaded snapshot is merged as a FULL SCD2 load: 1 retired, 2 unchanged, 3 opened
    assert {k: [r["_valid_to"] is None for r in vs] for k, vs in history.items()} == \
        {1: [False], 2: [True], 3: [True]}
    current_equals_source(postgres, settings, schema)


def test_a_column_added_at_the_source_lands_in_the_versions(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1)")
    job = cdc_job("t", connection, schema, "t", "delta_scd2")
    assert load([job], settings)["t"].succeeded
    sql(postgres, f"ALTER TABLE {schema}.t ADD COLUMN label text; INSERT INTO {schema}.t VALUES (2, 2, 'two');"
                  f" UPDATE {schema}.t SET label = 'one' WHERE id = 1")
    result = load([job], settings, 2)["t"]
    assert result.succeeded, result.error_message
    history = versions(settings)
    assert [r["label"] for r in history[1]] == [None, "one"] and [r["label"] for r in history[2]] == ["two"]
    current_equals_source(postgres, settings, schema)
