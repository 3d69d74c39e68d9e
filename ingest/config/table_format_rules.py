"""Row rules of the table-format columns (table_format, full_mode, scd2, partition_columns,
partition_date_column, zorder_columns): which combinations a job may use. Each problem is
(column, message); the workbook reader turns it into a `jobs!<cell>` error."""

from __future__ import annotations

from typing import Any

from ingest.config.model import FullMode, LoadType, TableFormat

DELTA_ONLY = ("scd2", "partition_columns", "partition_date_column", "zorder_columns")


def table_format_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    table_format = values.get("table_format") or TableFormat.PARQUET
    load_type = values.get("load_type")
    problems: list[tuple[str, str]] = []
    if table_format is TableFormat.PARQUET:
        for column in DELTA_ONLY:
            if values.get(column):
                problems.append((column, f"{column} needs table_format delta (this job writes parquet)"))
    if values.get("full_mode") is FullMode.SNAPSHOT:
        if table_format is TableFormat.DELTA:
            problems.append(("full_mode", "full_mode snapshot is for parquet: a delta table keeps every"
                             " FULL load as a version (read an earlier one by version or timestamp)"))
        elif load_type is LoadType.INCREMENTAL:
            problems.append(("full_mode", "full_mode snapshot needs load_type FULL"))
    if table_format is TableFormat.DELTA and not values.get("primary_key"):
        if values.get("scd2"):
            problems.append(("primary_key", "primary_key is required with scd2 Y (versions of a row are"
                             " matched by their key)"))
        elif load_type is LoadType.INCREMENTAL:
            problems.append(("primary_key", "primary_key is required for INCREMENTAL on delta (the load"
                             " is a MERGE on the key)"))
    return problems
