"""ingest/lake/scd2.py merge_versions, the one MERGE of a plain SCD2 load and of a CDC batch
(ingest/lake/cdc_scd2.py), on a real local Delta table: one commit closes and opens versions,
a close row whose key has no current version (or is NULL) inserts nothing, odd column names are quoted."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from ingest.lake.scd2 import KEY_PREFIX, VALID_FROM, VALID_TO, merge_versions

TS = pa.timestamp("us", tz="UTC")
T0, T1 = datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 2, 1, tzinfo=timezone.utc)


def test_one_commit_closes_the_current_versions_and_inserts_the_new_ones(tmp_path):
    schema = pa.schema([pa.field("Order Id", pa.int64(), nullable=False), pa.field("v", pa.int64()),
                        pa.field(VALID_FROM, TS), pa.field(VALID_TO, TS)])
    write_deltalake(str(tmp_path), pa.table({"Order Id": [1, 2], "v": [10, 20], VALID_FROM: [T0, T0],
                                             VALID_TO: [None, None]}, schema=schema))
    target = DeltaTable(str(tmp_path))
    versions = pa.table({"Order Id": [1], "v": [11], VALID_FROM: [T1], VALID_TO: [None]}, schema=schema)
    closes = pa.table({KEY_PREFIX + "Order Id": pa.array([1, 99, None], pa.int64()),
                       VALID_TO: pa.array([T1, T1, T1], TS)})
    closed = merge_versions(target, versions, closes, ["Order Id"])
    assert closed == 1  # 99 and a NULL key have no current version: nothing closed or inserted for them
    assert target.version() == 1
    rows = sorted((r["Order Id"], r["v"], r[VALID_FROM], r[VALID_TO]) for r in target.to_pyarrow_table().to_pylist())
    assert rows == [(1, 10, T0, T1), (1, 11, T1, None), (2, 20, T0, None)]
