"""How a CDC job's rows land, by its table format, `cdc_deletes` and `scd2` (README "Change
data capture"):

| landing | snapshot | each batch |
|---|---|---|
| parquet | replace `<table>` | change rows appended |
| delta, deletes delete | replace `<table>` | dlt upsert of the net change per key; a delete deletes (`_cdc_deleted` is dlt's hard-delete column) |
| delta, `cdc_deletes` mark | replace `<table>` (`_ingest_deleted` false) | dlt replaces `<table>__cdc_stage` with the net change per key, then one MERGE marks deletes (ingest/lake/cdc_merge.py) |
| delta, `scd2` | dlt replaces `<table>__scd2_stage`, merged as a FULL SCD2 load (ingest/lake/scd2.py) | dlt replaces the stage with every change in commit order, then one MERGE closes and opens versions (ingest/lake/cdc_scd2.py) |

A staged table's merge runs right after dlt committed the stage, and again before the next
batch is read when a run was killed in between (the dlt state names what is staged; the merge
recognises a batch it already merged by its Delta app transaction).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Iterator

import dlt

from ingest.config.dlt_names import SCD2_STAGE_SUFFIX, cdc_stage_table
from ingest.config.model import CdcDeletes, JobConfig, TableFormat
from ingest.lake.cdc_columns import DELETED, HAS_VALUES, INGEST_DELETED
from ingest.sources.postgres_cdc.changes import META_HINTS
from ingest.sources.postgres_cdc.net_change import net_change, soft_net_change
from ingest.sources.postgres_cdc.spill import TableSpill
from ingest.sources.postgres_cdc.values import TypedColumn


class Landing(str, Enum):
    PARQUET = "parquet"
    DELETE = "delete"
    MARK = "mark"
    SCD2 = "scd2"


def landing_of(job: JobConfig) -> Landing:
    if job.table_format is not TableFormat.DELTA:
        return Landing.PARQUET
    if job.scd2:
        return Landing.SCD2
    return Landing.MARK if job.cdc_deletes is CdcDeletes.MARK else Landing.DELETE


def batch_data(job: JobConfig, spill: TableSpill, key: list[str]) -> Iterator[Any]:
    """What one batch writes for the job, arrow blocks read from its scratch files: the net
    change per key, or every change in order."""
    landing = landing_of(job)
    if landing is Landing.DELETE:
        return net_change(spill, key)
    if landing is Landing.MARK:
        return soft_net_change(spill, key)
    return spill.batches()


def snapshot_columns(job: JobConfig) -> dict[str, Any]:
    """Columns every snapshot row of the job gets besides its data and `_cdc_*`."""
    landing = landing_of(job)
    if landing is Landing.DELETE:
        return {DELETED: False}
    if landing is Landing.MARK:
        return {INGEST_DELETED: False}
    return {}


def staged(job: JobConfig, snapshot: bool) -> bool:
    """Whether dlt writes the job's stage (merged by the app afterwards) rather than its table."""
    landing = landing_of(job)
    return landing is Landing.SCD2 or (landing is Landing.MARK and not snapshot)


def stage_tables(job: JobConfig) -> tuple[str, ...]:
    """The staging tables dlt writes for the job (their rows count as the job's)."""
    landing = landing_of(job)
    if landing is Landing.SCD2:
        return (job.table_name + SCD2_STAGE_SUFFIX,)
    return (cdc_stage_table(job),) if landing is Landing.MARK else ()


def column_hints(job: JobConfig, columns: list[TypedColumn], snapshot: bool) -> dict[str, dict[str, Any]]:
    """dlt's column hints of the job's snapshot or batch rows: the data, `_cdc_*`, the landing's
    delete flag."""
    hints: dict[str, Any] = {c.name: dict(c.hint) for c in columns}
    hints.update({k: dict(v) for k, v in META_HINTS.items()})
    landing = landing_of(job)
    if landing is Landing.DELETE:
        hints[DELETED] = {"name": DELETED, "data_type": "bool", "nullable": True, "hard_delete": True}
    elif landing is Landing.MARK:
        hints[INGEST_DELETED] = {"name": INGEST_DELETED, "data_type": "bool", "nullable": True}
        if not snapshot:
            hints[HAS_VALUES] = {"name": HAS_VALUES, "data_type": "bool", "nullable": False}
    return hints


def resource(job: JobConfig, data: Any, columns: list[TypedColumn], snapshot: bool) -> Any:
    """The dlt resource of a job's snapshot or batch rows (Python rows or arrow batches); see
    the module docstring."""
    hints = column_hints(job, columns, snapshot)
    landing = landing_of(job)
    table, disposition = job.table_name, "replace" if snapshot else "append"
    if landing is Landing.DELETE and not snapshot:
        disposition = {"disposition": "merge", "strategy": "upsert"}
    elif landing is Landing.MARK and not snapshot:
        table, disposition = cdc_stage_table(job), "replace"
    elif landing is Landing.SCD2:
        table, disposition = job.table_name + SCD2_STAGE_SUFFIX, "replace"
    made = dlt.resource(data, name=table, table_name=table, write_disposition=disposition,
                        columns=list(hints.values()), max_table_nesting=0)
    if landing is not Landing.PARQUET:
        extra: dict[str, Any] = {"table_format": "delta"}
        if job.primary_key and table == job.table_name:
            extra["primary_key"] = list(job.primary_key)
        made.apply_hints(**extra)
    return made


def apply_staged(pipeline: Any, job: JobConfig, entry: dict[str, Any], valid_at: datetime) -> dict[str, Any]:
    """Merge the job's stage into its table (`entry`: {"kind": "snapshot" | "changes", "lsn"},
    from the dlt state committed with the stage). Returns the merge's report."""
    from ingest.lake import cdc_scd2
    from ingest.lake.cdc_merge import merge_soft_deletes

    lsn = int(entry["lsn"])
    if landing_of(job) is Landing.MARK:
        return merge_soft_deletes(pipeline, job, lsn).to_dict()
    if entry.get("kind") == "snapshot":
        return cdc_scd2.apply_snapshot(pipeline, job, lsn, valid_at).to_dict()
    return cdc_scd2.merge_changes(pipeline, job, lsn).to_dict()
