"""The audit trail: one CSV row per job per run, plus one JSON summary per run."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Protocol

from ingest.core.redact import redact
from ingest.core.result import JobResult
from ingest.records.check_results import append_check_rows
from ingest.records.csv_files import append_csv_rows, csv_text, read_csv_rows

AUDIT_FILE = "audit_trail.csv"
AUDIT_COLUMNS = ["run_id", "job_name", "execution_date", "status", "rows_processed", "partition_path",
                 "load_id", "started_at", "finished_at", "duration_s", "watermark_before",
                 "watermark_after", "error_class", "error_message", "attempts", "source_rows",
                 "landed_rows", "rowcount_status", "chunks", "consents"]


def audit_row(result: JobResult, execution_date: str) -> dict[str, object]:
    return {
        "run_id": result.run_id,
        "job_name": result.job_name,
        "execution_date": execution_date,
        "status": result.status.value,
        "rows_processed": result.rows_processed,
        "partition_path": result.partition_path or "",
        "load_id": result.load_id or "",
        "started_at": result.started_at or "",
        "finished_at": result.finished_at or "",
        "duration_s": result.duration_s,
        "watermark_before": "" if result.watermark_before is None else result.watermark_before,
        "watermark_after": "" if result.watermark_after is None else result.watermark_after,
        "error_class": result.error_class or "",
        "error_message": redact(result.error_message) if result.error_message else "",
        "attempts": result.attempts,
        "source_rows": _source_rows(result),
        "landed_rows": "" if not result.rowcount or result.rowcount.get("landed_rows") is None
        else result.rowcount["landed_rows"],
        "rowcount_status": (result.rowcount or {}).get("status", ""),
        # a chunked load (README "Chunked loads"): chunks landed / planned, e.g. 7/8
        "chunks": f"{result.chunks['done']}/{result.chunks['total']}" if result.chunks else "",
        # the guards overridden on purpose for this load, "; "-separated (README "What the app will not do without asking")
        "consents": redact("; ".join(result.consents)) if result.consents else "",
    }


def _source_rows(result: JobResult) -> str:
    check = result.rowcount or {}
    low, high = check.get("source_min"), check.get("source_max")
    if low is None:
        return ""
    return str(low) if low == high else f"{low}-{high}"


def append_audit_rows(audit_dir: Path, results: Iterable[JobResult], execution_date: str) -> Path:
    """Append rows, skipping (run_id, job_name) pairs already present so a repeated
    finalize (a re-delivered activity) never duplicates them."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    path = audit_dir / AUDIT_FILE
    _rotate_if_columns_changed(path)
    return append_csv_rows(path, AUDIT_COLUMNS, (audit_row(result, execution_date) for result in results))


def _rotate_if_columns_changed(path: Path) -> None:
    """An audit file written by an older version (other columns) is kept aside, not mixed."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    if header != AUDIT_COLUMNS:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path.rename(path.with_name(f"{path.stem}.{stamp}{path.suffix}"))


def write_run_summary(audit_dir: Path, run_id: str, summary: dict) -> Path:
    runs = audit_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / f"{run_id}.json"
    path.write_text(redact(json.dumps(summary, indent=2, default=str)), encoding="utf-8")
    return path


def read_audit(audit_dir: Path) -> list[dict[str, str]]:
    return read_csv_rows(audit_dir / AUDIT_FILE)


def recorded_load_ids(audit_dir: Path) -> set[str]:
    """Every load id the local audit trail holds (`audit_trail.csv` and the files a change of
    columns set aside): what ingest/records/recovery.py does not record again."""
    ids: set[str] = set()
    for path in sorted(audit_dir.glob(f"{Path(AUDIT_FILE).stem}*.csv")):
        ids.update(row["load_id"] for row in read_csv_rows(path) if row.get("load_id"))
    return ids


def audit_csv(results: Iterable[JobResult], execution_date: str) -> str:
    """One run's audit rows as CSV text with a header."""
    return csv_text(AUDIT_COLUMNS, (audit_row(result, execution_date) for result in results))


class AuditSink(Protocol):
    """Where a run's audit rows and summary go (a local folder, or blob storage)."""

    def record(self, run_id: str, results: list[JobResult], execution_date: str) -> str:
        """Store the rows (idempotent per run and job); return where they are."""

    def write_summary(self, run_id: str, summary: dict) -> str:
        ...

    def record_checks(self, run_id: str, results: list[JobResult], execution_date: str) -> str:
        """Store the run's check results (ingest/records/check_results.py); return where they are."""

    def recorded_load_ids(self, since: datetime) -> set[str]:
        """The load ids of the audit rows of runs since `since` (at least those)."""


@dataclass
class FileAuditSink:
    audit_dir: Path

    def record(self, run_id: str, results: list[JobResult], execution_date: str) -> str:
        return str(append_audit_rows(self.audit_dir, results, execution_date))

    def write_summary(self, run_id: str, summary: dict) -> str:
        return str(write_run_summary(self.audit_dir, run_id, summary))

    def record_checks(self, run_id: str, results: list[JobResult], execution_date: str) -> str:
        return str(append_check_rows(self.audit_dir, results, execution_date))

    def recorded_load_ids(self, since: datetime) -> set[str]:
        return recorded_load_ids(self.audit_dir)
