"""SCD Type 2 for load_type CDC on Delta: one version per change, in commit order.

The stage `<table>__scd2_stage` (dlt replaces it each batch, ingest/lake/scd2.py's stage) holds:
- after a snapshot: the table as the slot's snapshot saw it. It is merged as a FULL SCD2 load
  (`apply_scd2`: changed rows get a new version from the run's start, keys gone are retired);
- after a batch: every change of the batch, `_cdc_lsn` / `_cdc_seq` giving commit order. Here,
  one Delta MERGE: each key's current version is closed at the commit time of its first change
  (`_valid_to` = `_cdc_commit_ts`), each insert or update opens a version (`_valid_from` = its
  commit time, `_valid_to` = the commit time of the key's next change in the batch, else open),
  a delete opens none. Two changes of a key in one transaction give a version whose
  `_valid_from` equals its `_valid_to` (same commit time), in `_cdc_seq` order.
Versions keep `_cdc_lsn` / `_cdc_seq` of the change that opened them, so a change the table
already has a version for is never applied again; the merge commit also carries the Delta app
transaction of ingest/lake/cdc_merge.py (the batch's commit LSN), so a merged batch is skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ingest.config.model import JobConfig, LoadType
from ingest.lake.cdc_columns import COMMIT_TS, LSN, OP, SEQ
from ingest.lake.cdc_merge import already_merged, commit_properties
from ingest.lake.scd2 import KEY_PREFIX, ROW_HASH, VALID_FROM, VALID_TO, Scd2Report, _keys, _row_hashes, \
    apply_scd2, hashed_columns, merge_versions
from ingest.lake.table_formats import delta_location, dlt_table_name, open_delta

log = logging.getLogger("ingest.cdc_scd2")


def apply_snapshot(pipeline: Any, job: JobConfig, lsn: int, valid_at: datetime) -> Scd2Report:
    """The staged snapshot merged as a FULL SCD2 load; then the batch is marked merged."""
    import pyarrow as pa
    from deltalake import write_deltalake

    target = open_delta(pipeline, job.table_name)
    if already_merged(target, lsn):
        return Scd2Report(version=target.version())
    from dataclasses import replace

    report = apply_scd2(pipeline, replace(job, load_type=LoadType.FULL), valid_at)
    target = open_delta(pipeline, job.table_name)
    if target is not None:  # an empty commit carrying the app transaction: this snapshot is merged
        write_deltalake(target, pa.schema(target.schema().to_arrow()).empty_table(), mode="append",
                        commit_properties=commit_properties(lsn))
        report.version = target.version()
    return report


def merge_changes(pipeline: Any, job: JobConfig, lsn: int) -> Scd2Report:
    """Merge a staged batch of changes into the SCD2 table; see the module docstring."""
    report = Scd2Report()
    stage = open_delta(pipeline, dlt_table_name(job))
    target = open_delta(pipeline, job.table_name)
    if stage is None or already_merged(target, lsn):
        return report
    staged = stage.to_pyarrow_table()
    staged = staged.select([c for c in staged.column_names if not c.startswith("_dlt_")])
    staged = staged.sort_by([(LSN, "ascending"), (SEQ, "ascending")])
    report.staged_rows = staged.num_rows
    keys = _keys(job, staged.column_names)
    versions, closes = _versions(staged, keys, _opened(target, keys, staged))
    report.inserted_versions = versions.num_rows
    if target is None:
        from deltalake import write_deltalake

        uri, options = delta_location(pipeline, job.table_name)
        write_deltalake(uri, versions, storage_options=options or None, commit_properties=commit_properties(lsn))
        report.version = 0
        return report
    report.closed_versions = merge_versions(target, versions, closes, keys, commit_properties(lsn))
    report.version = target.version()
    log.info("cdc scd2 %s: %d versions opened, %d closed, version %s", job.table_name,
             report.inserted_versions, report.closed_versions, report.version)
    return report


def _opened(target: Any, keys: list[str], staged: Any) -> dict[tuple, tuple[int, int]]:
    """Per key of `staged`, the (lsn, seq) of the newest change the table has a version for
    (versions of other keys are filtered out in the scan, by the first key column)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if target is None or not staged.num_rows:
        return {}
    names = set(pa.schema(target.schema().to_arrow()).names)
    if LSN not in names or SEQ not in names:
        return {}
    wanted = pc.field(keys[0]).isin(pc.unique(staged.column(keys[0]))) & pc.field(LSN).is_valid()
    opened: dict[tuple, tuple[int, int]] = {}
    for row in target.to_pyarrow_dataset().to_table(columns=keys + [LSN, SEQ], filter=wanted).to_pylist():
        key = tuple(row[k] for k in keys)
        opened[key] = max(opened.get(key, (-1, -1)), (row[LSN], row[SEQ] or 0))
    return opened


def _versions(staged: Any, keys: list[str], opened: dict[tuple, tuple[int, int]]) -> tuple[Any, Any]:
    """(new versions, keys whose current version closes and when) from the changes in order,
    leaving out changes the table already has."""
    import pyarrow as pa

    by_key: dict[tuple, list[dict[str, Any]]] = {}
    for row in staged.to_pylist():
        key = tuple(row[k] for k in keys)
        if (row[LSN], row[SEQ]) > opened.get(key, (-1, -1)):
            by_key.setdefault(key, []).append(row)
    rows, closes = [], []
    for key, changes in by_key.items():
        closes.append({**{KEY_PREFIX + k: v for k, v in zip(keys, key)}, VALID_TO: changes[0][COMMIT_TS]})
        for i, change in enumerate(changes):
            if change[OP] != "D":
                following = changes[i + 1][COMMIT_TS] if i + 1 < len(changes) else None
                rows.append({**change, VALID_FROM: change[COMMIT_TS], VALID_TO: following})
    data = pa.Table.from_pylist(rows, schema=staged.schema) if rows else staged.slice(0, 0)
    data = data.append_column(ROW_HASH, _row_hashes(data.select(hashed_columns(data.column_names))))
    ts = pa.timestamp("us", tz="UTC")
    data = data.append_column(VALID_FROM, pa.array([r[VALID_FROM] for r in rows], ts))
    data = data.append_column(VALID_TO, pa.array([r[VALID_TO] for r in rows], ts))
    data = data.cast(pa.schema([f.with_nullable(True) for f in data.schema]))  # close rows hold NULLs in them
    close_schema = pa.schema([pa.field(KEY_PREFIX + k, staged.schema.field(k).type) for k in keys]
                             + [pa.field(VALID_TO, ts)])
    return data, pa.Table.from_pylist(closes, schema=close_schema)
