"""What the mails say, as plain data built from run summaries (dicts as written to the audit).

Every text that came from a job, the workbook or an exception passes through `safe_text`
(redacted, one line, cut short) before it reaches a template."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterable

from ingest.core.redact import redact
from ingest.core.result import is_already_running
from ingest.records.cdc_slots import human_bytes

MESSAGE_CHARS = 300
FINDING_KINDS = ("validation", "cdc lag", "drift", "quality", "rowcount", "watermark", "alert delivery")
"""Known kinds of findings, in the order the daily summary shows them (others follow)."""


def safe_text(value: object, limit: int = MESSAGE_CHARS) -> str:
    """Redacted, on one line, at most `limit` characters."""
    if value is None:
        return ""
    text = " ".join(redact(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failed(job: dict[str, Any]) -> bool:
    """Not succeeded; a job skipped because another run was loading it is not a failure."""
    return job.get("status") != "succeeded" and not is_already_running(job.get("status"), job.get("error_class"))


@dataclass(frozen=True)
class JobLine:
    """One row of the failure mail's table."""

    job_name: str
    status: str
    rows: int
    duration_s: float
    error_class: str
    message: str

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> "JobLine":
        return cls(job_name=safe_text(job.get("job_name"), 80), status=safe_text(job.get("status"), 20),
                   rows=int(job.get("rows_processed") or 0), duration_s=float(job.get("duration_s") or 0.0),
                   error_class=safe_text(job.get("error_class"), 80), message=safe_text(job.get("error_message")))

    @property
    def failed(self) -> bool:
        return self.status != "succeeded"


@dataclass(frozen=True)
class FailureReport:
    """The failure mail of one run: every job of the run (failed first), or, for a job's own
    recipients, only the jobs they are listed for."""

    environment: str
    run_id: str
    started_at: str
    finished_at: str
    total: int
    succeeded: int
    failed: int
    rows: int
    jobs: list[JobLine]
    config_errors: list[str] = field(default_factory=list)
    only_listed_jobs: bool = False

    @classmethod
    def from_summary(cls, summary: dict[str, Any], environment: str,
                     only_jobs: set[str] | None = None) -> "FailureReport":
        jobs = [j for j in summary.get("jobs", []) if only_jobs is None or j.get("job_name") in only_jobs]
        lines = sorted((JobLine.from_job(j) for j in jobs), key=lambda line: (not line.failed,))
        return cls(environment=safe_text(environment, 40), run_id=safe_text(summary.get("run_id"), 120),
                   started_at=safe_text(summary.get("started_at"), 40),
                   finished_at=safe_text(summary.get("finished_at"), 40),
                   total=len(lines), succeeded=sum(1 for line in lines if not line.failed),
                   failed=sum(1 for line in lines if line.failed), rows=sum(line.rows for line in lines),
                   jobs=lines,
                   config_errors=[] if only_jobs is not None else
                   [safe_text(e) for e in summary.get("config_errors", [])],
                   only_listed_jobs=only_jobs is not None)


def needs_failure_mail(summary: dict[str, Any]) -> bool:
    """A job failed or was rejected, or the workbook has errors."""
    return any(_failed(j) for j in summary.get("jobs", [])) or bool(summary.get("config_errors"))


@dataclass
class JobDay:
    """One job over the day's runs."""

    job_name: str
    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    rows: int = 0
    last_status: str = ""
    last_run_at: str = ""
    last_error_class: str = ""
    last_message: str = ""


@dataclass(frozen=True)
class Finding:
    """A validation error, schema drift, a quality rule, a watermark not written back, a mail
    not sent... anything a person should look at, with the run it came from."""

    kind: str
    job_name: str
    message: str
    run_id: str


@dataclass
class DailyReport:
    environment: str
    date: str
    period_start: str
    period_end: str
    runs: int
    jobs: list[JobDay]
    findings: dict[str, list[Finding]]

    @property
    def succeeded(self) -> int:
        return sum(j.succeeded for j in self.jobs)

    @property
    def failed(self) -> int:
        return sum(j.failed for j in self.jobs)

    @property
    def rows(self) -> int:
        return sum(j.rows for j in self.jobs)

    @property
    def finding_count(self) -> int:
        return sum(len(items) for items in self.findings.values())


def _findings_of(summary: dict[str, Any]) -> Iterable[Finding]:
    run_id = str(summary.get("run_id", ""))
    for error in summary.get("config_errors", []):
        yield Finding("validation", "", safe_text(error), run_id)
    for conflict in summary.get("watermark_conflicts", []):
        yield Finding("watermark", "", safe_text(conflict), run_id)
    for warning in summary.get("validation_warnings", []) or []:  # row-count checks that did not pass
        yield Finding("rowcount", "", safe_text(warning), run_id)
    # what the fan-in writes (ingest/records/check_results.py `findings`): "job: what changed [severity]"
    for kind, key in (("drift", "drift_findings"), ("quality", "quality_failures")):
        for line in summary.get(key, []) or []:
            job_name, _, message = str(line).partition(": ")
            yield Finding(kind, safe_text(job_name, 80), safe_text(message or line), run_id)
    # structured findings: [{"kind": "drift" | "quality" | "rowcount" | ..., "job_name": ..., "message": ...}]
    for item in summary.get("findings", []) or []:
        if isinstance(item, dict):
            yield Finding(safe_text(item.get("kind") or "other", 40).lower(), safe_text(item.get("job_name"), 80),
                          safe_text(item.get("message")), run_id)
    for slot in summary.get("cdc_slots", []) or []:  # load_type CDC (ingest/records/cdc_slots.py)
        if isinstance(slot, dict) and slot.get("status") == "over_threshold":
            yield Finding("cdc lag", safe_text(", ".join(slot.get("jobs") or []), 80),
                          safe_text(f"slot {slot.get('slot')} retains {human_bytes(slot.get('retained_wal_bytes'))}"
                                    f" of WAL (threshold {human_bytes(slot.get('threshold_bytes'))})"), run_id)
    for outcome in summary.get("alerts", []) or []:
        if isinstance(outcome, dict) and outcome.get("status") == "failed":
            yield Finding("alert delivery", "", safe_text(f"{outcome.get('kind')} mail: {outcome.get('error_class')}:"
                                                          f" {outcome.get('error_message')}"), run_id)


def daily_report(summaries: list[dict[str, Any]], environment: str, date: str,
                 period_start: datetime, period_end: datetime) -> DailyReport:
    """Aggregate the runs of the period, oldest first. A finding repeated by several runs
    (the same workbook error every hour) is listed once, with the latest run."""
    ordered = sorted(summaries, key=lambda s: str(s.get("started_at", "")))
    days: dict[str, JobDay] = {}
    findings: dict[tuple[str, str, str], Finding] = {}
    for summary in ordered:
        for job in summary.get("jobs", []):
            name = safe_text(job.get("job_name"), 80)
            day = days.setdefault(name, JobDay(job_name=name))
            day.runs += 1
            day.rows += int(job.get("rows_processed") or 0)
            if _failed(job):
                day.failed += 1
            else:
                day.succeeded += 1
            day.last_status = safe_text(job.get("status"), 20)
            day.last_run_at = safe_text(job.get("started_at") or summary.get("started_at"), 40)
            day.last_error_class = safe_text(job.get("error_class"), 80)
            day.last_message = safe_text(job.get("error_message"))
        for finding in _findings_of(summary):
            findings.pop((finding.kind, finding.job_name, finding.message), None)
            findings[(finding.kind, finding.job_name, finding.message)] = finding
    by_kind: dict[str, list[Finding]] = {}
    kinds = sorted({f.kind for f in findings.values()},
                   key=lambda k: (FINDING_KINDS.index(k) if k in FINDING_KINDS else len(FINDING_KINDS), k))
    for kind in kinds:
        by_kind[kind] = [f for f in findings.values() if f.kind == kind]
    jobs = sorted(days.values(), key=lambda d: (d.failed == 0, d.job_name))
    return DailyReport(environment=safe_text(environment, 40), date=date,
                       period_start=period_start.isoformat(timespec="minutes"),
                       period_end=period_end.isoformat(timespec="minutes"), runs=len(ordered), jobs=jobs,
                       findings=by_kind)


@dataclass
class AlertOutcome:
    """What became of one mail: recorded in the run summary (the audit)."""

    kind: str
    """failure | daily_summary"""
    status: str
    """sent | failed | skipped"""
    recipients: list[str] = field(default_factory=list)
    detail: str = ""
    error_class: str | None = None
    error_message: str | None = None
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SlotLine:
    """One replication slot of the CDC lag mail."""

    slot: str
    connection: str
    jobs: str
    retained: str
    lag: str
    over: bool


@dataclass(frozen=True)
class CdcLagReport:
    """The CDC lag mail of one run: the slots retaining more WAL than INGEST_CDC_LAG_ALERT_BYTES
    (the run summary's `cdc_slots`, ingest.records.cdc_slots), over-threshold first."""

    environment: str
    run_id: str
    threshold: str
    slots: list[SlotLine]

    @property
    def over(self) -> list[SlotLine]:
        return [s for s in self.slots if s.over]

    @classmethod
    def from_summary(cls, summary: dict[str, Any], environment: str, threshold_bytes: int) -> "CdcLagReport":
        lines = [SlotLine(slot=safe_text(s.get("slot"), 80), connection=safe_text(s.get("connection"), 80),
                          jobs=safe_text(", ".join(s.get("jobs") or []), 200),
                          retained=human_bytes(s.get("retained_wal_bytes")), lag=human_bytes(s.get("lag_bytes")),
                          over=s.get("status") == "over_threshold")
                 for s in summary.get("cdc_slots") or []]
        return cls(environment=safe_text(environment, 40), run_id=safe_text(summary.get("run_id"), 120),
                   threshold=human_bytes(threshold_bytes), slots=sorted(lines, key=lambda line: (not line.over, line.slot)))
