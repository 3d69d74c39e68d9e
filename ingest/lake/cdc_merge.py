"""load_type CDC on Delta with `cdc_deletes` mark: deleted rows stay, marked.

dlt's upsert can delete a row (a hard-delete column) but cannot keep a deleted row's values
while marking it: the log's delete carries the key only (unless REPLICA IDENTITY FULL), so an
upsert would overwrite the row's values with NULLs. So, per batch:
1. dlt replaces the staging Delta table `<table>__cdc_stage` with the batch's net change per
   key (ingest/sources/postgres_cdc/changes.py `soft_net_change`), its state committed with it;
2. here, ONE Delta MERGE on the key into `<table>`: an insert or update sets every column and
   `_ingest_deleted = false` (a re-inserted key is revived); a delete sets `_ingest_deleted =
   true` and the `_cdc_*` columns and keeps the row's last values (taken from the batch when an
   earlier change of the key in it carried them, else the lake's); a delete of a key the lake
   never held and the batch gave no values for is not inserted.
The MERGE commit carries a Delta app transaction (`ingest_cdc`, version = the batch's commit
LSN), so a batch already merged is recognised and not merged twice; merging a batch again is
harmless anyway (each row ends as the batch says).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from ingest.config.dlt_names import cdc_stage_table
from ingest.config.model import JobConfig
from ingest.lake.cdc_columns import CHANGE_COLUMNS, HAS_VALUES, INGEST_DELETED
from ingest.lake.scd2 import _keys, quoted
from ingest.lake.table_formats import delta_location, open_delta

log = logging.getLogger("ingest.cdc_merge")
APP_ID = "ingest_cdc"
"""The Delta app transaction id of the CDC merges; its version is the commit LSN merged."""
MARK_COLUMNS = (*CHANGE_COLUMNS, INGEST_DELETED, "_dlt_load_id", "_dlt_id")
"""What a delete without values sets on the row it marks."""


@dataclass
class CdcMergeReport:
    staged_rows: int = 0
    merged: bool = False
    """False when there was nothing to merge or the lake already held this batch."""
    lsn: int | None = None
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merged_lsn(table: Any) -> int | None:
    """The commit LSN of the last batch merged into `table` (its Delta app transaction)."""
    return table.transaction_version(APP_ID) if table is not None else None


def already_merged(table: Any, lsn: int) -> bool:
    """Whether `table` holds the batch of commit LSN `lsn`: its last merge was of that batch or
    of a later one (a slower holder that lost its lock must not merge an older batch again)."""
    merged = merged_lsn(table)
    return merged is not None and merged >= int(lsn)


def commit_properties(lsn: int) -> Any:
    from deltalake import CommitProperties, Transaction

    return CommitProperties(app_transactions=[Transaction(APP_ID, int(lsn))])


def merge_soft_deletes(pipeline: Any, job: JobConfig, lsn: int) -> CdcMergeReport:
    """Merge `<table>__cdc_stage` (the batch of commit LSN `lsn`) into `<table>`; see the module
    docstring."""
    from dlt.common.libs.deltalake import evolve_delta_table_schema

    report = CdcMergeReport(lsn=lsn)
    stage = open_delta(pipeline, cdc_stage_table(job))
    target = open_delta(pipeline, job.table_name)
    if stage is None or (target is not None and already_merged(target, lsn)):
        return report
    staged = stage.to_pyarrow_table()
    report.staged_rows = staged.num_rows
    if not staged.num_rows:
        return report
    columns = [c for c in staged.column_names if c != HAS_VALUES]
    keys = _keys(job, columns)
    if target is None:  # the snapshot was empty, so dlt wrote no table: the batch's rows start it
        return _create(pipeline, job, staged, columns, report)
    evolve_delta_table_schema(target, staged.select(columns).schema)
    every = {quoted(c): f"source.{quoted(c)}" for c in columns}
    marks = {quoted(c): f"source.{quoted(c)}" for c in MARK_COLUMNS if c in columns}
    predicate = " AND ".join(f"target.{quoted(k)} = source.{quoted(k)}" for k in keys)
    (target.merge(source=staged, predicate=predicate, source_alias="source", target_alias="target",
                  commit_properties=commit_properties(lsn))
     .when_matched_update(updates=every, predicate=f"source.{quoted(HAS_VALUES)}")
     .when_matched_update(updates=marks)
     .when_not_matched_insert(updates=every, predicate=f"source.{quoted(HAS_VALUES)}")
     .execute())
    target.update_incremental()
    report.merged, report.version = True, target.version()
    log.info("cdc %s: merged %d changes (deletes marked), version %s", job.table_name, staged.num_rows,
             report.version)
    return report


def _create(pipeline: Any, job: JobConfig, staged: Any, columns: list[str], report: CdcMergeReport) -> CdcMergeReport:
    import pyarrow.compute as pc
    from deltalake import write_deltalake

    rows = staged.filter(pc.field(HAS_VALUES)).select(columns)
    uri, options = delta_location(pipeline, job.table_name)
    write_deltalake(uri, rows, storage_options=options or None, commit_properties=commit_properties(int(report.lsn or 0)))
    report.merged, report.version = True, 0
    log.info("cdc %s: created with %d rows (deletes marked)", job.table_name, rows.num_rows)
    return report


LATEST = ("lsn", "version")
"""Report fields that say where the merges ended (the last merge's value when it has one)."""


def combined(total: dict[str, Any] | None, report: dict[str, Any]) -> dict[str, Any]:
    """Two merge reports of one load (a CdcMergeReport's or an Scd2Report's dict: one per batch)
    as one: counts summed, `merged` true when either merged, lsn and version the latest known."""
    if not total:
        return dict(report)
    out = dict(total)
    for name, value in report.items():
        if name in LATEST:
            out[name] = value if value is not None else out.get(name)
        elif isinstance(value, bool):
            out[name] = bool(out.get(name)) or value
        elif isinstance(value, int):
            out[name] = int(out.get(name) or 0) + value
        else:
            out[name] = value
    return out
