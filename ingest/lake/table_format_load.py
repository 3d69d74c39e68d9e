"""The table-format steps around one dlt load (called from ingest/load.py):

- delta: before the load, finish a pending SCD2 merge and note the table's version; after
  it, read the version written, the files it added and the rows it wrote from the Delta log
  (a Delta table has no date layout, so nothing is derived from file names), run the SCD2
  merge, and maintain the table when due (ingest/lake/maintenance.py).
- parquet snapshot: after the load, replace that day's earlier copy (ingest/lake/snapshots.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ingest.config.model import JobConfig
from ingest.core.result import JobResult, RunContext
from ingest.core.settings import Settings
from ingest.lake.table_formats import describe_load, dlt_table_name, is_delta, is_snapshot, open_delta

log = logging.getLogger("ingest.table_format_load")


@dataclass
class TableFormatStep:
    job: JobConfig
    run: RunContext
    settings: Settings
    pipeline: Any
    version_before: int | None = None

    @classmethod
    def before_load(cls, job: JobConfig, run: RunContext, settings: Settings, pipeline: Any) -> "TableFormatStep":
        step = cls(job, run, settings, pipeline)
        if is_snapshot(job):
            from ingest.lake.snapshots import check_layout

            check_layout(settings.layout)
        if is_delta(job):
            if job.scd2:
                from ingest.lake.scd2 import apply_scd2

                apply_scd2(pipeline, job, run.partition_datetime)  # no-op unless a merge was cut short
            table = open_delta(pipeline, dlt_table_name(job))
            step.version_before = table.version() if table is not None else None
        return step

    def after_load(self, result: JobResult) -> int | None:
        """Fill the format's fields of `result`; returns the rows landed (for the row-count
        check) when the format knows them better than the parquet footers, else None."""
        job = self.job
        result.table_format = job.table_format.value
        if is_snapshot(job):
            self._prune_snapshot(result)
            return None
        if not is_delta(job):
            return None
        loaded = describe_load(open_delta(self.pipeline, dlt_table_name(job)), self.version_before)
        root = f"{self.settings.dataset}/{dlt_table_name(job)}"
        result.files = [f"{root}/{f}" for f in loaded.files]
        result.partition_path = root
        result.delta_version = loaded.version
        if job.scd2:
            from ingest.lake.scd2 import apply_scd2

            report = apply_scd2(self.pipeline, job, self.run.partition_datetime)
            result.scd2 = report.to_dict()
            result.delta_version = report.version
        self._maintain(result)
        return loaded.rows_written

    def _prune_snapshot(self, result: JobResult) -> None:
        from ingest.lake.snapshots import prune_same_day

        if not result.files or not result.load_id:
            return
        with self.pipeline.destination_client() as client:
            root = client.bucket_path.rstrip("/")
            prune_same_day(client.fs_client, root, str(result.partition_path), result.load_id)

    def _maintain(self, result: JobResult) -> None:
        from ingest.lake.maintenance import is_due, maintain

        table = open_delta(self.pipeline, self.job.table_name)
        if table is None or not is_due(table, self.settings.delta_maintenance_every):
            return
        try:
            report = maintain(table, self.job.table_name, self.job.zorder_columns,
                              self.settings.delta_vacuum_retention_hours)
            result.maintenance = report.to_dict()
        except Exception as exc:  # maintenance is housekeeping: it never fails a load that landed
            from ingest.core.classify import safe_message

            log.warning("delta table %s: maintenance failed: %s: %s", self.job.table_name,
                        type(exc).__name__, safe_message(exc))
            result.maintenance = {"table": self.job.table_name, "error": f"{type(exc).__name__}: {safe_message(exc)}"}
