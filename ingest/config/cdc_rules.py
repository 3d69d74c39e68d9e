"""Row rules of `load_type` CDC (log-based change data capture, ingest/sources/postgres_cdc/):
which columns a CDC row may combine. Each problem is (column, message); the workbook reader
turns it into a `jobs!<cell>` error. What the database itself must allow (wal_level, the
REPLICATION attribute, a key or REPLICA IDENTITY FULL) is checked against the server before any
load (ingest/sources/postgres_cdc/prerequisites.py)."""

from __future__ import annotations

from typing import Any

from ingest.config.model import CdcDeletes, FullMode, LoadType, SourceType

WATERMARK_ONLY = ("watermark_column", "last_watermark", "lookback", "delete_flag_column", "detect_deleted_keys")
"""Columns of a watermark load that a CDC job has no use for: the log gives every change."""
NOT_APPLIED = ("partition_columns", "partition_date_column")
"""Delta columns the CDC landing does not apply (ingest/sources/postgres_cdc/landing.py sets no
partition hints): refused rather than silently ignored."""


def cdc_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    if values.get("load_type") is not LoadType.CDC:
        if values.get("cdc_deletes"):
            return [("cdc_deletes", "cdc_deletes applies to load_type CDC only; leave it empty (a watermark load"
                                    " marks deletes with delete_flag_column or detect_deleted_keys)")]
        return []
    problems: list[tuple[str, str]] = []
    source_type = values.get("source_type")
    if source_type is not None and source_type is not SourceType.POSTGRES:
        problems.append(("load_type", f"load_type CDC is for source_type postgres only, not"
                                      f" {source_type.value} (use INCREMENTAL, or FULL with detect_deleted_keys)"))
    for column in WATERMARK_ONLY:
        if values.get(column):
            problems.append((column, f"{column} does not apply to load_type CDC: every insert, update and"
                                     " delete is read from the database's log; leave it empty"))
    for column in NOT_APPLIED:
        if values.get(column):
            problems.append((column, f"{column} is not applied to load_type CDC tables yet; leave it empty"))
    if values.get("full_mode") is FullMode.SNAPSHOT:
        problems.append(("full_mode", "full_mode snapshot does not apply to load_type CDC"))
    if values.get("cdc_deletes") is CdcDeletes.MARK and not values.get("primary_key"):
        problems.append(("cdc_deletes", "cdc_deletes mark needs primary_key: a deleted row is found and marked"
                                        " by its key"))
    if values.get("scd2") and values.get("cdc_deletes") is CdcDeletes.MARK:
        problems.append(("cdc_deletes", "cdc_deletes mark does not apply with scd2 Y: a delete already keeps"
                                        " the row's versions, the last one closed (_valid_to); leave it empty"))
    return problems
