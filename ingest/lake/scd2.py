"""SCD Type 2 on Delta tables, done by this app because dlt 1.31 cannot: its filesystem
destination offers the merge strategies upsert, insert-only and cdc, not scd2 (scd2 is
implemented in SQL for the SQL destinations only).

What is done instead, per load:
1. dlt replaces the staging Delta table `<table>__scd2_stage` with the rows read (FULL: the
   whole source; INCREMENTAL: rows changed since the watermark).
2. Here, one Delta MERGE into `<table>` (a single commit, so readers never see half of it):
   every staged row gets `_row_hash` (a hash of its data columns); a key whose current
   version (`_valid_to IS NULL`) has another hash gets that version closed (`_valid_to` = the
   run's start) and a new version inserted (`_valid_from` = the run's start); a new key gets a
   version inserted; on FULL loads a current key absent from the source is closed (retired).
   INCREMENTAL loads retire nothing: absent rows are only unchanged ones.
The step is idempotent (a staged row equal to its current version changes nothing), so it is
also run before each load: a MERGE interrupted after dlt committed the stage is completed then.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ingest.config.model import JobConfig
from ingest.lake.cdc_columns import PREFIX as CDC_PREFIX
from ingest.lake.table_formats import delta_location, dlt_table_name, open_delta

log = logging.getLogger("ingest.scd2")
VALID_FROM, VALID_TO, ROW_HASH = "_valid_from", "_valid_to", "_row_hash"
KEY_PREFIX, ACTION = "__key_", "__action"
NOT_HASHED = ("_dlt_", CDC_PREFIX)
"""Columns a row's hash leaves out: dlt's, and the change-data-capture columns of a CDC job
(ingest/lake/cdc_scd2.py), which say when a row changed, not what it holds."""


def hashed_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if not c.startswith(NOT_HASHED)]


@dataclass
class Scd2Report:
    staged_rows: int = 0
    inserted_versions: int = 0
    closed_versions: int = 0
    """Current versions closed because their row changed or (FULL) disappeared."""
    retired_keys: int = 0
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row_hashes(table: Any) -> Any:
    import pyarrow as pa

    return pa.array([hashlib.sha256(repr(tuple(row.values())).encode()).hexdigest()
                     for row in table.to_pylist()], pa.string())


def _keys(job: JobConfig, columns: list[str]) -> list[str]:
    by_lower = {c.lower(): c for c in columns}
    missing = [k for k in job.primary_key if k.lower() not in by_lower]
    if missing:
        raise KeyError(f"primary_key {', '.join(missing)} is not a column of the staged rows")
    return [by_lower[k.lower()] for k in job.primary_key]


def apply_scd2(pipeline: Any, job: JobConfig, valid_at: datetime) -> Scd2Report:
    """Merge the staging table into the job's SCD2 table; see the module docstring."""
    import pyarrow as pa

    report = Scd2Report()
    stage = open_delta(pipeline, dlt_table_name(job))
    if stage is None:
        return report
    staged = stage.to_pyarrow_table()
    data_columns = [c for c in staged.column_names if not c.startswith("_dlt_")]
    staged = staged.select(data_columns).append_column(ROW_HASH,
                                                        _row_hashes(staged.select(hashed_columns(data_columns))))
    report.staged_rows = staged.num_rows
    keys = _keys(job, data_columns)
    at = pa.scalar(valid_at, pa.timestamp("us", tz="UTC"))
    target = open_delta(pipeline, job.table_name)
    if target is None:
        return _create_table(pipeline, job, staged, data_columns, at, report)
    changed, to_close, retired = _changes(job, target, staged, keys)
    report.retired_keys = retired
    report.closed_versions = to_close.num_rows
    report.inserted_versions = changed.num_rows
    if not changed.num_rows and not to_close.num_rows:
        report.version = target.version()
        return report
    merge_versions(target, *_at(changed, to_close, keys, at), keys)
    report.version = target.version()
    log.info("scd2 %s: %d new versions, %d closed (%d keys retired), version %s", job.table_name,
             report.inserted_versions, report.closed_versions, report.retired_keys, report.version)
    return report


def _create_table(pipeline: Any, job: JobConfig, staged: Any, data_columns: list[str], at: Any,
                  report: Scd2Report) -> Scd2Report:
    """The first load: every staged row is a current version from `at`."""
    import pyarrow as pa
    from deltalake import write_deltalake

    if staged.num_rows == 0:
        return report
    first = staged.append_column(VALID_FROM, pa.array([at.as_py()] * staged.num_rows, at.type))
    first = first.append_column(VALID_TO, pa.nulls(staged.num_rows, at.type))
    uri, options = delta_location(pipeline, job.table_name)
    partitions = [c for c in data_columns if c in _partition_names(job)]
    write_deltalake(uri, first, partition_by=partitions or None, storage_options=options)
    report.inserted_versions = staged.num_rows
    report.version = 0
    log.info("scd2 %s: created with %d current rows", job.table_name, staged.num_rows)
    return report


def _changes(job: JobConfig, target: Any, staged: Any, keys: list[str]) -> tuple[Any, Any, int]:
    """(staged rows that are new versions, keys whose current version closes, how many of
    those keys left the source): a FULL load retires the keys it no longer holds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    current = target.to_pyarrow_dataset().to_table(columns=keys + [ROW_HASH],
                                                    filter=pc.field(VALID_TO).is_null())
    if current.num_rows:
        current = current.cast(pa.schema([staged.schema.field(k) for k in keys] + [pa.field(ROW_HASH, pa.string())]))
    changed = staged.join(current, keys=keys + [ROW_HASH], join_type="left anti")
    closing = current.select(keys).join(changed.select(keys), keys=keys, join_type="left semi")
    retired = current.select(keys).join(staged.select(keys), keys=keys, join_type="left anti") \
        if not job.is_incremental else current.select(keys).slice(0, 0)
    return changed, pa.concat_tables([closing, retired]), retired.num_rows


def _at(changed: Any, to_close: Any, keys: list[str], at: Any) -> tuple[Any, Any]:
    """(the new versions, open from `at`; the keys whose current version closes at `at`), as
    `merge_versions` takes them."""
    import pyarrow as pa

    def times(rows: int) -> Any:
        return pa.array([at.as_py()] * rows, at.type)

    versions = changed.append_column(VALID_FROM, times(changed.num_rows))
    versions = versions.append_column(VALID_TO, pa.nulls(changed.num_rows, at.type))
    closes = pa.table({**{KEY_PREFIX + k: to_close.column(k) for k in keys}, VALID_TO: times(to_close.num_rows)})
    return versions, closes


def quoted(name: str) -> str:
    """A column name as Delta's MERGE SQL reads it whatever its characters."""
    return '"' + name.replace('"', '""') + '"'


def merge_versions(target: Any, versions: Any, closes: Any, keys: list[str], commit: Any = None) -> int:
    """One MERGE (one commit) into an SCD2 table, for a plain SCD2 load and a CDC batch
    (ingest/lake/cdc_scd2.py): each row of `closes` (`__key_<k>` per key column, `_valid_to`)
    sets the `_valid_to` of its key's current version; each row of `versions` (every column of
    the table, `_valid_from` and `_valid_to` included) is inserted. Close rows carry the key to
    match and an action `close`, version rows a NULL key and `insert`. `commit`: the commit's
    properties (a CDC batch: its app transaction). Returns the versions closed."""
    import pyarrow as pa
    from dlt.common.libs.deltalake import evolve_delta_table_schema

    evolve_delta_table_schema(target, versions.schema)
    versions = versions.cast(pa.schema([f.with_nullable(True) for f in versions.schema]))  # close rows hold NULLs
    close_rows = pa.table({**{c: pa.nulls(closes.num_rows, versions.schema.field(c).type)
                              for c in versions.column_names if c != VALID_TO},
                           VALID_TO: closes.column(VALID_TO),
                           **{KEY_PREFIX + k: closes.column(KEY_PREFIX + k) for k in keys}})
    insert_rows = versions
    for k in keys:
        insert_rows = insert_rows.append_column(KEY_PREFIX + k, pa.nulls(versions.num_rows, versions.schema.field(k).type))
    source = pa.concat_tables([close_rows.select(insert_rows.column_names), insert_rows])
    source = source.append_column(ACTION, pa.array(["close"] * close_rows.num_rows + ["insert"] * insert_rows.num_rows))
    predicate = " AND ".join([f"target.{quoted(k)} = source.{quoted(KEY_PREFIX + k)}" for k in keys]
                             + [f"target.{quoted(VALID_TO)} IS NULL"])
    inserts = {quoted(c): f"source.{quoted(c)}" for c in versions.column_names}
    metrics = (target.merge(source=source, predicate=predicate, source_alias="source", target_alias="target",
                            commit_properties=commit)
               .when_matched_update(updates={quoted(VALID_TO): f"source.{quoted(VALID_TO)}"},
                                    predicate=f"source.{quoted(ACTION)} = 'close'")
               .when_not_matched_insert(updates=inserts, predicate=f"source.{quoted(ACTION)} = 'insert'")
               .execute())
    target.update_incremental()
    return int(metrics.get("num_target_rows_updated", 0))


def _partition_names(job: JobConfig) -> set[str]:
    from ingest.lake.table_formats import date_column_name

    names = {c.lower() for c in job.partition_columns}
    date_column = date_column_name(job)
    return names | ({date_column} if date_column else set())
