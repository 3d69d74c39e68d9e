"""A CDC load of several batches on a real PostgreSQL (wal_level=logical): the job's merge report
(`JobResult.scd2` for scd2, `JobResult.cdc["merge"]` for cdc_deletes mark) counts what every
batch's MERGE did, not only the last batch's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest.sources.postgres_cdc.pgoutput import lsn_text
from tests.cdc_helpers import cdc_job, load, sql


@pytest.mark.parametrize("fmt", ["delta_mark", "delta_scd2"])
def test_the_merge_report_of_a_multi_batch_load_sums_every_batch(postgres, settings, cdc, fmt):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1), (2, 2)")
    job = cdc_job("t", connection, schema, "t", fmt)
    assert load([job], settings)["t"].succeeded
    for i in range(3):  # three transactions of two changes: with batches of one change, a batch each
        sql(postgres, f"UPDATE {schema}.t SET v = v + 10 WHERE id = 1; INSERT INTO {schema}.t VALUES ({10 + i}, {i})")
    result = load([job], replace(settings, cdc_batch_changes=1), 2)["t"]
    assert result.succeeded, result.error_message
    assert (result.cdc["batches"], result.cdc["changes"]) == (3, 6)
    last_version = result.delta_version
    if fmt == "delta_scd2":
        # every change opens a version; each update closes the version before it
        assert (result.scd2["staged_rows"], result.scd2["inserted_versions"], result.scd2["closed_versions"]) == (6, 6, 3)
        assert result.scd2["version"] == last_version
    else:
        merge = result.cdc["merge"]
        # each batch stages its net change per key: 2 rows
        assert (merge["staged_rows"], merge["merged"], merge["version"]) == (6, True, last_version)
        assert lsn_text(merge["lsn"]) == result.cdc["lsn"]  # the last batch's
