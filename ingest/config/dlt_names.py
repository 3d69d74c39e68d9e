"""Names as dlt sees them. dlt normalises every table name (snake_case: `Orders` -> `orders`,
`sales_` -> `salesx`), so two workbook names that normalise alike are one table for dlt, and
a name in one sheet that normalises like a job's name could have been meant for that job.
This asks dlt's own naming convention rather than copying its rules. It is imported on the
first name asked (importing any part of dlt imports all of dlt, ~0.5 s): commands that name no
table (template, dashboard) never load dlt (tests/unit/test_cli_imports.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.config.model import CdcDeletes, JobConfig, TableFormat

SCD2_STAGE_SUFFIX = "__scd2_stage"
"""delta scd2: dlt replaces `<table>__scd2_stage`, merged into `<table>` (ingest/lake/scd2.py)."""
CDC_STAGE_SUFFIX = "__cdc_stage"
"""load_type CDC on delta with cdc_deletes mark: dlt replaces `<table>__cdc_stage` with each batch,
merged into `<table>` (ingest/lake/cdc_merge.py). Its name comes from `cdc_stage_table`."""
DELETED_KEYS_SUFFIX = "_deleted_keys"
"""detect_deleted_keys: delete markers land in `<table>_deleted_keys` (ingest/sources/soft_deletes.py)."""


def cdc_stage_table(job: JobConfig) -> str:
    """The staging table of a CDC job with cdc_deletes mark on delta: `<table>__cdc_stage`."""
    return job.table_name + CDC_STAGE_SUFFIX


def dlt_name(text: str) -> str:
    """`text` as dlt names a table; empty text stays empty."""
    text = text.strip()
    return _naming().normalize_table_identifier(text) if text else ""


@lru_cache(maxsize=1)
def _naming() -> Any:  # -> dlt's snake_case NamingConvention
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


def same_for_dlt(a: str, b: str) -> bool:
    """Whether two names are one name ignoring case or as dlt normalises them."""
    return a.strip().lower() == b.strip().lower() or (bool(a.strip()) and dlt_name(a) == dlt_name(b))


@dataclass(frozen=True)
class LakeTable:
    """A table a job writes: its own (`role` empty) or one it derives, and the jobs column
    whose cell makes the job write it."""

    name: str
    role: str = ""
    column: str = ""


def lake_tables(job: JobConfig) -> list[LakeTable]:
    """Every lake table the job writes (a parquet snapshot writes date folders of its own
    table, so nothing more); the names the lake stage uses, from the constants above."""
    tables = [LakeTable(job.table_name)]
    if job.table_format is TableFormat.DELTA and job.scd2:
        tables.append(LakeTable(job.table_name + SCD2_STAGE_SUFFIX, "SCD2 staging table", "scd2"))
    if job.table_format is TableFormat.DELTA and job.is_cdc and job.cdc_deletes is CdcDeletes.MARK:
        tables.append(LakeTable(cdc_stage_table(job), "CDC staging table", "cdc_deletes"))
    if job.detect_deleted_keys:
        tables.append(LakeTable(job.table_name + DELETED_KEYS_SUFFIX, "deleted-keys table", "detect_deleted_keys"))
    return tables
