"""A CDC batch's changes wait on disk, not in memory (ingest/sources/postgres_cdc/spill.py): a
transaction larger than the in-memory block lands exactly, the scratch folder is gone after the
load, and one a killed run left is removed by the next run (real PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from ingest.sources.postgres_cdc import landing
from ingest.sources.postgres_cdc.connection_load import scratch_dir
from tests.cdc_helpers import cdc_job, delta_rows, load, source_rows, sql
from tests.integration.test_cdc_kill import CHILD
from tests.integration.test_cdc_postgres import lake_equals_source

BLOCK = 7

ONE_TRANSACTION = """
    INSERT INTO {s}.t SELECT g, 'new ' || g, g * 0.25, '2024-02-01T00:00:00Z'::timestamptz + g * interval '1 minute'
      FROM generate_series(41, 100) g;
    UPDATE {s}.t SET v = 'again ' || id WHERE id <= 30;
    UPDATE {s}.t SET n = n + 1 WHERE id <= 10;
    DELETE FROM {s}.t WHERE id BETWEEN 50 AND 60;
    DELETE FROM {s}.t WHERE id = 3;
    UPDATE {s}.t SET id = 1000 WHERE id = 5;
    ALTER TABLE {s}.t ADD COLUMN w date;
    UPDATE {s}.t SET w = '2024-03-01' WHERE id BETWEEN 20 AND 25;
    INSERT INTO {s}.t VALUES (3, 'back', 1.5, now(), '2024-04-01')
"""
"""One transaction of 60 + 30 + 10 + 11 + 1 + 2 + 6 + 1 = 121 changes: 18 blocks of 7, two
column layouts (a column added half way)."""


def _table(postgres, schema):
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text, n numeric(10,2), at timestamptz);"
                  f" INSERT INTO {schema}.t SELECT g, 'v' || g, g * 1.5, '2024-01-01T00:00:00Z'::timestamptz"
                  f" + g * interval '1 hour' FROM generate_series(1, 40) g")


@pytest.mark.parametrize("fmt", ["delta", "parquet", "delta_mark"])
def test_a_transaction_larger_than_the_memory_block_lands_exactly(postgres, settings, cdc, monkeypatch, fmt):
    schema, connection = cdc
    small = replace(settings, cdc_spill_block_changes=BLOCK)
    _table(postgres, schema)
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], small)["t"].succeeded
    blocks = []
    original = landing.batch_data

    def counting(job, spill, key):  # what waits on disk when the batch lands
        assert scratch_dir(small, connection).is_dir()
        blocks.append((sum(1 for _ in spill.batches()), len(spill.files)))
        return original(job, spill, key)

    monkeypatch.setattr(landing, "batch_data", counting)
    sql(postgres, ONE_TRANSACTION.format(s=schema))
    result = load([job], small, 2)["t"]
    assert result.succeeded, result.error_message
    assert result.cdc["changes"] == 121 and result.cdc["deletes"] == 13
    assert blocks == [(18, 2)]  # 121 changes in blocks of 7, a file per column layout
    assert not scratch_dir(small, connection).exists()
    if fmt == "delta_mark":
        names, expected = source_rows(postgres, schema, "t")
        rows = delta_rows(small, "t", [*names, "_ingest_deleted"])
        assert [r[:-1] for r in rows if not r[-1]] == sorted(expected)
        assert sorted(r[0] for r in rows if r[-1]) == [5, *range(50, 61)]
    else:
        lake_equals_source(postgres, small, schema, "t", fmt)


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_the_scratch_folder_a_killed_run_left_is_removed_by_the_next(postgres, settings, cdc, tmp_path, fmt):
    schema, connection = cdc
    _table(postgres, schema)
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    sql(postgres, ONE_TRANSACTION.format(s=schema))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), schema, connection, fmt, "before_commit"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert child.returncode == -9, child.stderr[-2000:]
    left = scratch_dir(settings, connection)
    assert list(left.rglob("*.arrow")), "the killed run should have left its batch's files"
    again = load([job], settings, 3)["t"]
    assert again.succeeded, again.error_message
    assert not left.exists()
    lake_equals_source(postgres, settings, schema, "t", fmt)
