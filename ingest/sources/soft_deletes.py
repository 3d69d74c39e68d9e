"""Soft deletes: rows the source deleted reach the lake as delete markers.

- Flag mode (`delete_flag_column`): every row lands with `_ingest_deleted`, true when the flag
  says deleted (true, a non-zero number, text other than '', 0, n, no, false, f, or any
  date/time for a `deleted_at` column).
- Key mode (`detect_deleted_keys`): each run reads every primary key of the source (with the
  job's filters) and the keys the lake holds for the table; each lake key the source no longer
  has lands once in `<table>_deleted_keys` as a marker row (key columns, `_ingest_deleted` =
  true, `_ingest_detected_at` = the run's start). The keys already marked are kept in the
  marker resource's dlt state, so a key is marked once; a key that comes back to the source is
  live again, and marked again if it goes again.

Parquet is append-only, so the markers are data: a reader (or the Delta merge, which the Delta
issue wires) applies them as deletes by key. Nothing here rewrites or removes lake files.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.config.dlt_names import DELETED_KEYS_SUFFIX

DELETED = "_ingest_deleted"
DETECTED_AT = "_ingest_detected_at"
FALSE_TEXT = ["", "0", "n", "no", "false", "f"]

log = logging.getLogger("ingest.soft_deletes")


def marker_table_name(table_name: str) -> str:
    """Where delete markers land; the workbook checks no other job writes it (config/dlt_names.py)."""
    return table_name + DELETED_KEYS_SUFFIX


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


def lake_keys(fs: Any, dataset_root: str, table_name: str, keys: list[str]) -> set[tuple]:
    """Every key the lake's files of the table hold (only the key columns are read)."""
    root = f"{dataset_root}/{table_name}"
    found: set[tuple] = set()
    if not fs.exists(root):
        return found
    for path in sorted(fs.find(root)):
        if path.endswith(".parquet"):
            with fs.open(path, "rb") as handle:
                table = pq.ParquetFile(handle).read(columns=keys)
            found.update(tuple(str(v) for v in row) for row in zip(*(table.column(k).to_pylist() for k in keys)))
    return found


def new_deletions(lake: set[tuple], source: set[tuple], state: dict[str, Any]) -> set[tuple]:
    """Keys to mark now. `state["marked"]` holds the keys marked by earlier runs; a marked key
    that is back in the source is live again (and is marked again when it goes again)."""
    marked = {tuple(k) for k in state.get("marked", [])}
    marked -= source
    missing = (lake - source) - marked
    state["marked"] = sorted(list(k) for k in marked | missing)
    return missing


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
        in_lake = lake_keys(client.fs_client, client.dataset_path.rstrip("/"), job.table_name, keys)
    key_types = {k: _arrow_type(table.c[k].type) for k in keys}
    name = marker_table_name(job.table_name)

    @dlt.resource(name=name, table_name=name, write_disposition="append", primary_key=keys)
    def deleted_keys():
        # the marked keys live in this resource's dlt state: committed with the markers
        missing = new_deletions(in_lake, snapshot, dlt.current.resource_state(name))
        if missing:
            log.info("job %s: %d key(s) in the lake are gone from the source: writing delete markers",
                     job.job_name, len(missing))
            yield deleted_key_markers(missing, keys, key_types, run_started_at)

    return deleted_keys()


def _arrow_type(kind: Any) -> pa.DataType:
    kind = getattr(kind, "wrapped", kind)
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Integer):
        return pa.int64() if not isinstance(kind, sa.SmallInteger) else pa.int32()
    return pa.string()
