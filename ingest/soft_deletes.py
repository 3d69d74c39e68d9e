"""Soft deletes: rows the source deleted reach the lake as delete markers.

- Flag mode (`delete_flag_column`): every row lands with `_ingest_deleted`, true when the flag
  says deleted (true, a non-zero number, text other than '', 0, n, no, false, f, or any
  date/time for a `deleted_at` column).
- Key mode (`detect_deleted_keys`): each run reads every primary key of the source (with the
  job's filters) and the keys the lake holds for the table; each lake key the source no longer
  has lands once in `<table>_deleted_keys` as a marker row (key columns, `_ingest_deleted` =
  true, `_ingest_detected_at` = the run's start). A key that comes back later is live again
  (its newest load in the table is newer than its newest marker).

Parquet is append-only, so the markers are data: a reader (or the Delta merge, which the Delta
issue wires) applies them as deletes by key. Nothing here rewrites or removes lake files.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

DELETED = "_ingest_deleted"
DETECTED_AT = "_ingest_detected_at"
LOAD_ID = "_dlt_load_id"
FALSE_TEXT = ["", "0", "n", "no", "false", "f"]

log = logging.getLogger("ingest.soft_deletes")


def marker_table_name(table_name: str) -> str:
    return f"{table_name}_deleted_keys"


def flag_marker(flag_column: str) -> Callable[[Any], Any]:
    """A map step over arrow batches adding `_ingest_deleted` from the flag column."""

    def mark(batch: Any) -> Any:
        if not isinstance(batch, pa.Table):
            return batch
        flag = batch.column(flag_column)
        kind = flag.type
        if pa.types.is_boolean(kind):
            deleted = pc.fill_null(flag, False)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            deleted = pc.fill_null(pc.not_equal(flag, pa.scalar(0).cast(kind)), False)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            text = pc.utf8_lower(pc.utf8_trim_whitespace(flag))
            deleted = pc.fill_null(pc.invert(pc.is_in(text, value_set=pa.array(FALSE_TEXT))), False)
        else:  # a deleted_at date or timestamp: set means deleted
            deleted = pc.is_valid(flag)
        return batch.append_column(pa.field(DELETED, pa.bool_(), nullable=False), deleted)

    return mark


def source_keys(engine: Engine, table: sa.Table, key_columns: list[str], where: list[Any]) -> set[tuple]:
    """Every key the source holds (with the job's filters), as tuples of text."""
    query = sa.select(*[table.c[k] for k in key_columns]).where(*where)
    with engine.connect() as conn:
        return {tuple(str(v) for v in row) for row in conn.execute(query)}


def _newest_by_key(tables: Iterable[pa.Table], keys: list[str]) -> dict[tuple, str]:
    newest: dict[tuple, str] = {}
    for table in tables:
        for row in table.to_pylist():
            key = tuple(str(row[k]) for k in keys)
            if row[LOAD_ID] > newest.get(key, ""):
                newest[key] = row[LOAD_ID]
    return newest


def _read(fs: Any, root: str, columns: list[str]) -> list[pa.Table]:
    if not fs.exists(root):
        return []
    tables = []
    for path in sorted(fs.find(root)):
        if path.endswith(".parquet"):
            with fs.open(path, "rb") as handle:
                parquet = pq.ParquetFile(handle)
                present = [c for c in columns if c in parquet.schema_arrow.names]
                tables.append(parquet.read(columns=present))
    return tables


def live_lake_keys(fs: Any, dataset_root: str, table_name: str, keys: list[str]) -> set[tuple]:
    """Keys whose newest load in the table is newer than their newest delete marker (and, in
    flag mode, whose newest row is not flagged)."""
    rows = _read(fs, f"{dataset_root}/{table_name}", [*keys, LOAD_ID, DELETED])
    live_rows = []
    for table in rows:
        if DELETED in table.column_names:  # flag mode: a flagged newest row is not live
            table = table.filter(pc.invert(pc.fill_null(table.column(DELETED), False)))
        live_rows.append(table.select([*keys, LOAD_ID]))
    loaded = _newest_by_key(live_rows, keys)
    marked = _newest_by_key(_read(fs, f"{dataset_root}/{marker_table_name(table_name)}", [*keys, LOAD_ID]), keys)
    return {key for key, load_id in loaded.items() if load_id > marked.get(key, "")}


def deleted_key_markers(missing: set[tuple], key_columns: list[str], key_types: dict[str, pa.DataType],
                        detected_at: Any) -> pa.Table:
    """Marker rows for the missing keys, keys cast back to the column's arrow type."""
    ordered = sorted(missing)
    arrays = {k: pa.array([key[i] for key in ordered], pa.string()).cast(key_types.get(k, pa.string()))
              for i, k in enumerate(key_columns)}
    arrays[DELETED] = pa.array([True] * len(ordered), pa.bool_())
    arrays[DETECTED_AT] = pa.array([detected_at] * len(ordered), pa.timestamp("us", tz="UTC"))
    return pa.table(arrays)


def deleted_keys_resource(job: Any, engine: Engine, reflected: Any, strategies: Any, pipeline: Any,
                          run_started_at: Any) -> Any:
    """A dlt resource with this run's delete markers (read before the load: the snapshot and
    the lake's keys as they are now; the rows loaded in this run are in the snapshot anyway)."""
    import dlt

    table = reflected.table
    keys = list(reflected.primary_key)
    snapshot = source_keys(engine, table, keys, strategies.row_filters())
    with pipeline.destination_client() as client:
        live = live_lake_keys(client.fs_client, client.dataset_path.rstrip("/"), job.table_name, keys)
    missing = live - snapshot
    if missing:
        log.info("job %s: %d key(s) in the lake are gone from the source: writing delete markers",
                 job.job_name, len(missing))
    key_types = {k: _arrow_type(table.c[k].type) for k in keys}
    markers = deleted_key_markers(missing, keys, key_types, run_started_at)
    name = marker_table_name(job.table_name)

    @dlt.resource(name=name, table_name=name, write_disposition="append", primary_key=keys)
    def deleted_keys():
        if markers.num_rows:
            yield markers

    return deleted_keys()


def _arrow_type(kind: Any) -> pa.DataType:
    kind = getattr(kind, "wrapped", kind)
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Integer):
        return pa.int64() if not isinstance(kind, sa.SmallInteger) else pa.int32()
    return pa.string()
