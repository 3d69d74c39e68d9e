"""Parquet or Delta: what a job's table format changes in the dlt resource, and what a
Delta load reports (version written, files, rows).

- parquet FULL replace: dlt's replace (only the newest copy stays).
- parquet FULL snapshot: append plus a `_snapshot_date` column; ingest/lake/snapshots.py keeps one
  copy per day.
- delta INCREMENTAL: dlt merge with the upsert strategy on the primary key (a Delta MERGE).
- delta FULL: dlt replace, an overwrite commit; earlier versions stay readable (time travel).
- delta scd2: dlt replaces a staging table `<table>__scd2_stage`; ingest/lake/scd2.py merges it
  into `<table>` (dlt 1.31 offers scd2 only for SQL destinations, see that module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from ingest.config.dlt_names import SCD2_STAGE_SUFFIX
from ingest.config.model import FullMode, JobConfig, TableFormat

SNAPSHOT_COLUMN = "_snapshot_date"
DELTA_WRITE_OPERATIONS = {"WRITE": "num_added_rows", "MERGE": "num_source_rows"}


def is_delta(job: JobConfig) -> bool:
    return job.table_format is TableFormat.DELTA


def is_snapshot(job: JobConfig) -> bool:
    return job.table_format is TableFormat.PARQUET and job.full_mode is FullMode.SNAPSHOT


def dlt_table_name(job: JobConfig) -> str:
    """The table dlt writes: the job's table, or the SCD2 staging table."""
    return job.table_name + SCD2_STAGE_SUFFIX if is_delta(job) and job.scd2 else job.table_name


def date_column_name(job: JobConfig) -> str | None:
    return f"{job.partition_date_column.lower()}_date" if job.partition_date_column else None


def apply_table_format(resource: Any, job: JobConfig, run_date: date) -> Any:
    """Set dlt's hints for the job's table format on `resource` (built by sources/)."""
    if is_snapshot(job):
        resource.add_map(_with_column(SNAPSHOT_COLUMN, lambda item: _constant(item, run_date)))
        resource.apply_hints(write_disposition="append")
        return resource
    if not is_delta(job):
        return resource
    disposition: Any = "replace"
    if job.is_incremental and not job.scd2:
        disposition = {"disposition": "merge", "strategy": "upsert"}
    columns: dict[str, Any] = {c: {"name": c, "partition": True} for c in job.partition_columns}
    date_column = date_column_name(job)
    if date_column:
        source_column = job.partition_date_column
        resource.add_map(_with_column(date_column, lambda item: _dates_of(item, source_column)))
        columns[date_column] = {"name": date_column, "data_type": "date", "partition": True}
    hints: dict[str, Any] = {"table_format": "delta", "write_disposition": disposition,
                             "table_name": dlt_table_name(job)}
    if job.primary_key and disposition != "replace":
        hints["primary_key"] = list(job.primary_key)
    if columns:
        hints["columns"] = columns
    resource.apply_hints(**hints)
    return resource


def _with_column(name: str, values: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A dlt map step adding column `name` to arrow tables/batches and to dict rows."""
    import pyarrow as pa

    def add(item: Any) -> Any:
        if isinstance(item, pa.RecordBatch):
            item = pa.Table.from_batches([item])
        if isinstance(item, pa.Table):
            if name in item.column_names:
                item = item.drop_columns([name])
            return item.append_column(name, values(item))
        if isinstance(item, dict):
            return {**item, name: values(item)}
        return item

    return add


def _constant(item: Any, value: date) -> Any:
    import pyarrow as pa

    if isinstance(item, pa.Table):
        return pa.array([value] * item.num_rows, pa.date32())
    return value


def _dates_of(item: Any, column: str) -> Any:
    """The date of `column` (UTC date for zoned timestamps); case-insensitive column match."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(item, pa.Table):
        names = {n.lower(): n for n in item.column_names}
        if column.lower() not in names:
            raise KeyError(f"partition_date_column '{column}' is not a column of the data")
        values = item.column(names[column.lower()])
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            values = pc.cast(pc.utf8_slice_codeunits(values, 0, 10), pa.date32())
        return pc.cast(values, pa.date32())
    names = {n.lower(): n for n in item}
    value = item.get(names.get(column.lower(), column))
    if value is None:
        return None
    if hasattr(value, "date") and callable(value.date):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- reading what a Delta load did ---------------------------------------------------------

@dataclass
class DeltaLoad:
    """What one load committed to a Delta table."""

    version_before: int | None
    version: int | None
    rows_written: int = 0
    """Rows of the source written by the load's WRITE / MERGE commits (their operationMetrics)."""
    files: list[str] = field(default_factory=list)
    """Data files added by the load (relative to the table)."""
    file_count: int = 0
    """Data files of the table at `version`."""
    table_rows: int = 0
    """Rows of the table at `version` (from the add actions' statistics)."""


def open_delta(pipeline: Any, table: str) -> Any:
    """The Delta table `table` of the pipeline's dataset, or None when it does not exist yet.
    Opened by location (not through dlt's schema: the SCD2 table is not a dlt table)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri, options = delta_location(pipeline, table)
    try:
        return DeltaTable(uri, storage_options=options or None)
    except TableNotFoundError:
        return None


def delta_location(pipeline: Any, table: str) -> tuple[str, dict[str, str]]:
    """URI of a Delta table in the dataset and the storage options dlt uses for it."""
    from dlt.common.libs.deltalake import deltalake_storage_options

    with pipeline.destination_client() as client:
        uri = client.get_open_table_location("delta", table)
        return uri, deltalake_storage_options(client.config.credentials, client.config.deltalake_storage_options)


def add_actions(table: Any) -> dict[str, list[Any]]:
    import pyarrow as pa

    return pa.table(table.get_add_actions(flatten=True)).to_pydict()


def describe_load(table: Any, version_before: int | None) -> DeltaLoad:
    """Version, rows and files a load wrote, read from the table's log (not from file names:
    a Delta table has no date layout)."""
    if table is None:
        return DeltaLoad(version_before=version_before, version=None)
    table.update_incremental()
    version = table.version()
    actions = add_actions(table)
    load = DeltaLoad(version_before=version_before, version=version, file_count=len(actions["path"]),
                     table_rows=sum(n or 0 for n in actions.get("num_records", [])))
    if version_before is not None and version == version_before:
        return load
    first = -1 if version_before is None else version_before
    for commit in table.history(limit=version - first):
        metric = DELTA_WRITE_OPERATIONS.get(commit.get("operation", ""))
        if metric and commit.get("version", -1) > first:
            load.rows_written += int((commit.get("operationMetrics") or {}).get(metric, 0))
    if version_before is None:
        load.files = sorted(actions["path"])
    else:
        import deltalake

        earlier = deltalake.DeltaTable(table.table_uri, version=version_before,
                                       storage_options=getattr(table, "_storage_options", None))
        load.files = sorted(set(actions["path"]) - set(add_actions(earlier)["path"]))
    return load
