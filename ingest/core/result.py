"""JobResult: what one job's load reports. Small and JSON-serialisable (a Durable activity
output), never rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from ingest.core.errors import JobLockedError


class JobStatus(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INVALID = "invalid"  # the workbook row was rejected; nothing was loaded
    SKIPPED = "skipped"
    """Not started: a job it depends on did not succeed (ingest/config/dependencies.py), or
    another run is loading it (error_class JobLockedError)."""
    INTERRUPTED = "interrupted"
    """The run was stopped (SIGINT / SIGTERM: ingest/core/interrupts.py) before this job's commit
    began, or before the job started: nothing of it was committed (error_class JobInterruptedError).
    A job whose commit began when the signal came finishes it and is recorded as it ended."""
    RECOVERED = "recovered"
    """Not a job of this run: a load an earlier run committed to the lake and never recorded (it
    was killed in between), found in the lake and recorded with its rows (ingest/records/recovery.py)."""


def is_already_running(status: str | None, error_class: str | None) -> bool:
    """Skipped because another run holds the job's lock (ingest/lake/locks.py): not a failure
    of this run (no failure mail, exit code 0), counted apart from a dependency's skip."""
    return status == JobStatus.SKIPPED.value and error_class == JobLockedError.__name__


@dataclass
class JobResult:
    job_name: str
    status: JobStatus
    run_id: str
    table_name: str | None = None
    rows_processed: int = 0
    load_id: str | None = None
    partition_path: str | None = None
    files: list[str] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    watermark_before: Any = None
    watermark_after: Any = None
    workbook_watermark: Any = None
    """The workbook's last_watermark at plan time, for a conditional write-back."""
    watermark_note: str | None = None
    """Why a first INCREMENTAL load did not start at the workbook's last_watermark (it was
    written back from another lake: ingest/plan/load_modes.py first_load_start)."""
    error_class: str | None = None
    error_message: str | None = None
    attempts: int = 1
    rowcount: dict[str, Any] | None = None
    """The row-count check (ingest.checks.rowcount.RowCountCheck as a dict)."""
    values: dict[str, Any] | None = None
    """The value check (ingest.checks.values.ValueCheck as a dict)."""
    # --- table formats (ingest/lake/table_format_load.py) ---
    table_format: str = "parquet"
    delta_version: int | None = None
    """Delta: the table version this load wrote (the SCD2 table's for scd2 jobs)."""
    scd2: dict[str, Any] | None = None
    maintenance: dict[str, Any] | None = None
    """Delta: compaction / Z-order / vacuum report when it ran after this load."""
    # schema drift and data quality (ingest/checks/)
    drift: dict[str, Any] | None = None
    """The schema check (ingest.checks.schema_drift.DriftReport as a dict)."""
    quality: list[dict[str, Any]] = field(default_factory=list)
    """One ingest.checks.quality.RuleResult (as a dict) per rule of the job."""
    cdc: dict[str, Any] | None = None
    """load_type CDC: slot, LSN landed, changes by operation, retained WAL bytes
    (ingest/sources/postgres_cdc/connection_load.py)."""
    chunks: dict[str, Any] | None = None
    """A chunked load (README "Chunked loads"): {"total", "done", "split_column", "method",
    "rows": {chunk: rows}, "rowcount": {chunk: ok|mismatch}}; None for a plain load."""
    lineage_failures: int = 0
    """OpenLineage events of this job that could not be sent (ingest/records/lineage/); never a failure."""
    consents: list[str] = field(default_factory=list)
    """The recorded yeses of this load (README "What the app will not do without asking"): each
    guard that was overridden on purpose, in words (e.g. "took over lake table orders from job
    x"), written to the audit trail's `consents` column."""

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobResult":
        values = dict(data)
        values["status"] = JobStatus(values["status"])
        return cls(**values)


@dataclass(frozen=True)
class RunContext:
    """What every job of one run shares. `started_at` fixes the date partition for all jobs
    of the run (and makes a re-delivered Durable activity write to the same folder)."""

    run_id: str
    started_at: str
    """ISO-8601 UTC."""
    force_full: bool = False
    """Run parameter: INCREMENTAL jobs are reloaded in full (ingest/plan/load_modes.py)."""
    backfill: dict[str, Any] | None = None
    """Run parameter: {"start": ..., "end": ...}, a window [start, end) loaded without moving
    the jobs' watermarks (ingest/plan/load_modes.py)."""
    take_over: tuple[str, ...] = ()
    """Run parameter: lake tables (or jobs) this run may take from another job (ingest/lake/owners.py)."""
    allow_shrink: tuple[str, ...] = ()
    """Run parameter: jobs whose FULL load may shrink their lake table in this run, beyond their
    max_shrink_pct (ingest/checks/shrink.py); each such load is recorded in its consents."""

    @property
    def partition_datetime(self):  # -> pendulum.DateTime, as dlt's layout expects
        import pendulum

        return pendulum.parse(self.started_at).in_timezone("UTC")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunContext":
        values = dict(data)
        values["take_over"] = tuple(values.get("take_over") or ())
        values["allow_shrink"] = tuple(values.get("allow_shrink") or ())
        return cls(**values)
