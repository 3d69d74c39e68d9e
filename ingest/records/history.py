"""What earlier runs did, read back from the audit trail: the last successful run per job (for
schedules) and the jobs of a run that did not succeed (for re-runs).

The audit trail is what every driver writes and a fresh machine can read: the local CSV
(`INGEST_AUDIT_DIR/audit_trail.csv`, plus files set aside by a column change) here, and on
Azure the audit container's one CSV per run (ingest/drivers/azure/history.py). Both implement
`RunHistory`.

A run's time is the moment it was planned (the run's start), not a job's own start: a run
planned at 01:59:59 covers the slots up to then, even if its job starts at 02:00:03. Both
drivers make run ids that begin with that moment (`20260105T020000Z-...`); a row whose run id
does not is dated by its job's start.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Protocol

from ingest.records.audit import AUDIT_FILE
from ingest.core.errors import ConfigError
from ingest.core.result import JobStatus

RUN_TIME = re.compile(r"^(\d{8}T\d{6}Z)")
UNNAMED_ROW = re.compile(r"^row_\d+$")
"""How a rejected row without a readable job_name is audited (ingest/plan/planner.py)."""
RERUN_STATUSES = (JobStatus.FAILED.value, JobStatus.SKIPPED.value, JobStatus.INVALID.value,
                  JobStatus.INTERRUPTED.value)
"""What a re-run of failed jobs takes: failed, skipped after a failure, rejected rows, stopped
by a stop signal (`recovered` rows are not jobs of the run: not taken)."""


class RunNotFoundError(ConfigError):
    """`rerun_failed` names a run the audit trail does not know."""


@dataclass(frozen=True)
class AuditRecord:
    run_id: str
    job_name: str
    status: str
    run_at: datetime
    """When the run was planned (UTC)."""

    @classmethod
    def from_row(cls, row: dict[str, str]) -> "AuditRecord | None":
        run_at = run_time(row.get("run_id", "")) or _parse(row.get("started_at"))
        if run_at is None or not row.get("job_name"):
            return None
        return cls(run_id=row["run_id"], job_name=row["job_name"], status=row.get("status", ""), run_at=run_at)


def run_time(run_id: str) -> datetime | None:
    """The planned time encoded at the start of a run id, if any."""
    match = RUN_TIME.match(run_id or "")
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class RunHistory(Protocol):
    def records_since(self, since: datetime, until: datetime) -> Iterable[AuditRecord]:
        """Audit records of runs planned from `since` to `until` (at least those; more is fine)."""

    def run_records(self, run_id: str) -> list[AuditRecord]:
        """Every audit record of one run; [] if the audit trail has none."""


@dataclass
class FileRunHistory:
    """The local audit folder: `audit_trail.csv` and any older `audit_trail.<stamp>.csv` that
    a change of columns set aside (ingest/records/audit.py)."""

    audit_dir: Path

    def _records(self) -> Iterable[AuditRecord]:
        for path in sorted(self.audit_dir.glob(f"{Path(AUDIT_FILE).stem}*.csv")):
            with open(path, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    record = AuditRecord.from_row(row)
                    if record is not None:
                        yield record

    def records_since(self, since: datetime, until: datetime) -> Iterable[AuditRecord]:
        return [r for r in self._records() if since <= r.run_at <= until]

    def run_records(self, run_id: str) -> list[AuditRecord]:
        return [r for r in self._records() if r.run_id == run_id]


def last_successes(history: RunHistory, since: datetime, until: datetime) -> dict[str, datetime]:
    """job name -> the planned time of its latest successful run from `since` to `until`."""
    latest: dict[str, datetime] = {}
    for record in history.records_since(since, until):
        if record.status == JobStatus.SUCCEEDED.value and since <= record.run_at <= until:
            if record.job_name not in latest or record.run_at > latest[record.job_name]:
                latest[record.job_name] = record.run_at
    return latest


def jobs_to_rerun(history: RunHistory, run_id: str) -> list[str]:
    """The jobs of `run_id` that did not succeed, in audit order. Raises RunNotFoundError when
    the audit trail has no record of the run."""
    records = history.run_records(run_id)
    if not records:
        raise RunNotFoundError(f"rerun_failed: the audit trail has no run {run_id!r}")
    names = [r.job_name for r in records if r.status in RERUN_STATUSES
             and not (r.status == JobStatus.INVALID.value and UNNAMED_ROW.match(r.job_name))]
    return list(dict.fromkeys(names))
