"""The fan-in step, shared by the local runner and the Durable orchestrator: turn the job
results into audit rows, workbook watermarks and the run summary."""

from __future__ import annotations

import logging
import signal
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ingest.alerts.send import send_run_alerts
from ingest.alerts.store import AlertStore, FileAlertStore
from ingest.records.audit import AuditSink, FileAuditSink
from ingest.records.recovery import Target, find_unrecorded
from ingest.records.cdc_slots import SlotReport, slot_reports
from ingest.records.check_results import findings as check_findings
from ingest.records.lineage.runs import emit_run_end  # OpenLineage (issue 25)
from ingest.config.writeback import WatermarkUpdate, WritebackOutcome, write_watermarks_to_file
from ingest.lake.identity import lake_identity
from ingest.plan.planner import Plan
from ingest.core.redact import redact
from ingest.core import interrupts
from ingest.core.result import JobResult, JobStatus, is_already_running
from ingest.core.settings import Settings
from ingest.alerts.telemetry import emit_run as emit_run_telemetry

log = logging.getLogger("ingest.finalize")

WatermarkWriter = Callable[[list[WatermarkUpdate]], WritebackOutcome]


@dataclass
class RunSummary:
    run_id: str
    started_at: str
    finished_at: str
    total: int
    succeeded: int
    failed: int
    rows_processed: int
    jobs: list[dict[str, Any]]
    skipped: dict[str, str] = field(default_factory=dict)
    config_errors: list[str] = field(default_factory=list)
    watermark_conflicts: list[str] = field(default_factory=list)
    validation_warnings: list[str] = field(default_factory=list)
    """Row-count checks that did not pass (the job still succeeded; its data is flagged)."""
    audit_path: str | None = None
    lake: str | None = None
    """Where the data went: the lake's dataset folder (absolute) or URL."""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    """What became of each alert mail (ingest.alerts.model.AlertOutcome); a failed send is here."""
    # orchestration (ingest/config/dependencies.py, ingest/plan/request.py)
    dependency_skipped: int = 0
    already_running: int = 0
    """Jobs skipped because another run was loading them (their lock was held): not failures."""
    """Jobs of the run not started because a job they depend on did not succeed (status
    `skipped` in `jobs`); neither succeeded nor failed."""
    waves: list[list[str]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    """The run's parameters: jobs, tags, rerun_failed, force_full, backfill, apply_schedules."""
    # schema drift and data quality (ingest/records/check_results.py)
    quality_failures: list[str] = field(default_factory=list)
    """Every quality rule that did not pass, with its place and severity."""
    drift_findings: list[str] = field(default_factory=list)
    """Every schema change since the previous run (and what a contract kept out of the lake)."""
    checks_path: str | None = None
    """Where the run's check results are (check_results.csv)."""
    cdc_slots: list[dict[str, Any]] = field(default_factory=list)
    """load_type CDC: each replication slot's retained WAL against INGEST_CDC_LAG_ALERT_BYTES
    (ingest.records.cdc_slots.SlotReport)."""
    lineage_failures: int = 0
    """OpenLineage events (the jobs' and the run's) that could not be sent; never a failure."""
    interrupted: int = 0
    """Jobs stopped by a stop signal before their commit, or never started (status `interrupted`)."""
    interrupted_by: str | None = None
    """SIGINT or SIGTERM when the run was asked to stop (ingest/core/interrupts.py)."""
    recovered: list[dict[str, Any]] = field(default_factory=list)
    """Loads of earlier runs found in the lake without an audit row, recorded by this run as
    `recovered` (ingest/records/recovery.py); not jobs of this run."""

    @property
    def exit_code(self) -> int:
        """0 all succeeded, 1 a job failed, 2 the workbook has errors (valid rows still ran);
        interrupted: 128 + the signal (130 SIGINT, 143 SIGTERM), whatever else happened."""
        if self.interrupted_by:
            return interrupts.exit_code(getattr(signal, self.interrupted_by))
        if self.config_errors:
            return 2
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _absolute(place: str) -> str:
    """A local path made absolute (so a reader knows where it is); a URL as it is."""
    return place if "://" in place else str(Path(place).resolve())


def watermark_updates(results: list[JobResult], lake: str | None = None) -> list[WatermarkUpdate]:
    """Not for load_type CDC: its position (the LSN, in watermark_after for the audit) lives in the
    lake's dlt state, and the workbook refuses a last_watermark on a CDC row. `lake`: where the
    values come from (written beside them); a first load that ignored another lake's value
    writes even an equal value, so the workbook names this lake."""
    return [WatermarkUpdate(r.job_name, r.workbook_watermark, r.watermark_after, lake)
            for r in results
            if r.succeeded and r.cdc is None and r.watermark_after is not None
            and (r.watermark_after != r.workbook_watermark or r.watermark_note is not None)]


def file_watermark_writer(path: str | Path) -> WatermarkWriter:
    return lambda updates: write_watermarks_to_file(path, updates)


def finalize_run(plan: Plan, results: list[JobResult], settings: Settings,
                 write_watermarks: WatermarkWriter | None = None,
                 audit: AuditSink | None = None, alert_store: AlertStore | None = None,
                 scheduled: bool = False) -> RunSummary:
    """Audit rows, watermark write-back, alert mails and the run summary. Safe to call twice for one run (a
    re-delivered Durable activity): audit rows are keyed by run and job, the failure mail by run. `scheduled`:
    the run may send the daily summary (ingest.alerts.send)."""
    audit = audit or FileAuditSink(settings.audit_dir)
    recovered = record_recovered(plan, settings, audit)  # loads of killed runs (ingest/records/recovery.py)
    all_results = list(results) + list(plan.invalid)
    execution_date = plan.run.started_at[:10]
    audit_path = audit.record(plan.run.run_id, all_results, execution_date)
    conflicts: list[str] = []
    updates = watermark_updates(results, lake_identity(settings))
    if write_watermarks and updates:
        try:
            outcome = write_watermarks(updates)
            conflicts = outcome.conflicts
            for conflict in conflicts:
                log.warning("workbook watermark not written: %s", conflict)
        except Exception as exc:  # the load is done; a write-back failure must not undo it
            conflicts = [f"workbook could not be updated: {redact(exc)}"]
            log.error(conflicts[0])
    summary = RunSummary(
        run_id=plan.run.run_id,
        started_at=plan.run.started_at,
        finished_at=datetime.now(timezone.utc).isoformat(),
        total=len(all_results),
        succeeded=sum(1 for r in all_results if r.succeeded),
        failed=sum(1 for r in all_results if r.status in (JobStatus.FAILED, JobStatus.INVALID)),
        rows_processed=sum(r.rows_processed for r in all_results),
        jobs=[r.to_dict() for r in all_results],
        skipped=dict(plan.skipped),
        config_errors=list(plan.config_errors),
        watermark_conflicts=conflicts,
        validation_warnings=[f"{r.job_name}: row count {r.rowcount['status']}: {r.rowcount['message']}"
                             for r in all_results if r.rowcount and r.rowcount["status"] != "ok"],
        audit_path=_absolute(str(audit_path)),
        lake=_absolute(f"{settings.destination.rstrip('/')}/{settings.dataset}"),
        dependency_skipped=sum(1 for r in all_results
                               if r.status is JobStatus.SKIPPED and not is_already_running(r.status.value, r.error_class)),
        already_running=sum(1 for r in all_results if is_already_running(r.status.value, r.error_class)),
        waves=[list(w) for w in plan.waves],
        parameters=dict(plan.request), recovered=recovered, **_interrupted(all_results))
    # schema drift and data quality (ingest/records/check_results.py)
    summary.quality_failures, summary.drift_findings = check_findings(all_results)
    summary.checks_path = str(audit.record_checks(plan.run.run_id, all_results, execution_date))
    summary.cdc_slots = [r.to_dict() for r in slot_reports(all_results, settings.cdc_lag_alert_bytes)]
    # alerts: after the summary is built, before it is stored, so what became of each mail is in
    # the audit; send_run_alerts never raises (a send failure is logged and recorded)
    outcomes = send_run_alerts(summary.to_dict(), plan, settings,
                               alert_store or FileAlertStore(settings.audit_dir), scheduled)
    summary.alerts = [o.to_dict() for o in outcomes]
    summary.lineage_failures = (sum(r.lineage_failures for r in all_results) + plan.lineage_start_failures
                                + emit_run_end(plan.run, summary.to_dict(), settings))  # never raises
    audit.write_summary(plan.run.run_id, summary.to_dict())
    # telemetry (ingest/alerts/telemetry.py): a record per job and per run with custom dimensions; never raises
    emit_run_telemetry(summary.to_dict())
    return summary


def _interrupted(results: list[JobResult]) -> dict[str, Any]:
    """The summary's `interrupted` and `interrupted_by` (ingest/core/interrupts.py)."""
    signum = interrupts.requested()
    return {"interrupted": sum(1 for r in results if r.status is JobStatus.INTERRUPTED),
            "interrupted_by": interrupts.signal_name(signum) if signum else None}


def record_recovered(plan: Plan, settings: Settings, audit: AuditSink) -> list[dict[str, Any]]:
    """Record the loads of this run's jobs that earlier runs committed and never recorded (each
    under its own run id); never raises: a lake that cannot be read now is looked at next run."""
    from ingest.config.model import TableFormat
    from ingest.load import pipeline_name

    targets = [Target(job.job_name, pipeline_name(job), job.table_name) for job in plan.jobs
               if job.table_format is TableFormat.PARQUET and not job.is_cdc]
    started = datetime.fromisoformat(plan.run.started_at.replace("Z", "+00:00"))
    try:
        found = find_unrecorded(settings, targets, audit.recorded_load_ids, plan.run.run_id, started)
        for result in found:
            audit.record(result.run_id, [result], plan.run.started_at[:10])
    except Exception as exc:  # the run's own records come first
        log.warning("loads committed without an audit row could not be looked for: %s", redact(exc))
        return []
    return [r.to_dict() for r in found]


def format_summary(summary: RunSummary) -> str:
    """The text printed at the end of a run."""
    lines = [f"Run {summary.run_id}"
             + (f" interrupted by {summary.interrupted_by}: no new job started; jobs whose commit had begun"
                " finished it" if summary.interrupted_by else ""),
             f"Total: {summary.total}  Successful: {summary.succeeded}  Failed: {summary.failed}"
             f"  Rows: {summary.rows_processed}"
             + (f"  Skipped after a failure: {summary.dependency_skipped}" if summary.dependency_skipped else "")
             + (f"  Already running elsewhere: {summary.already_running}" if summary.already_running else "")
             + (f"  Interrupted: {summary.interrupted}" if summary.interrupted else "")]
    width = max([len(j["job_name"]) for j in summary.jobs] + [len(name) for name in summary.skipped] + [8])
    lines.append(f"  {'job':<{width}}  {'status':<9} {'rows':>10} {'seconds':>8} {'count':<8}  error")
    for job in summary.jobs:
        error = f"{job['error_class']}: {job['error_message']}" if job["error_class"] else ""
        if job["status"] == JobStatus.SKIPPED.value:
            error = job["error_message"] or ""
        check = (job.get("rowcount") or {}).get("status", "")
        lines.append(f"  {job['job_name']:<{width}}  {job['status']:<9} {job['rows_processed']:>10}"
                     f" {job['duration_s']:>8.2f} {check:<8}  {error}")
    for name, reason in summary.skipped.items():
        lines.append(f"  {name:<{width}}  skipped   {reason}")
    lines.extend(f"  watermark: {job['job_name']}: {job['watermark_note']}" for job in summary.jobs
                 if job.get("watermark_note"))
    for warning in summary.validation_warnings:
        lines.append(f"  check: {warning}")
    for load in summary.recovered:
        lines.append(f"  recovered: load {load['load_id']} of {load['job_name']} ({load['rows_processed']} rows),"
                     f" committed by a run that ended before recording it; recorded as {load['run_id']}")
    for conflict in summary.watermark_conflicts:
        lines.append(f"  watermark not written back: {conflict}")
    lines.extend(f"  quality: {failure}" for failure in summary.quality_failures)
    lines.extend(f"  schema: {finding}" for finding in summary.drift_findings)
    lines.extend(f"  cdc: {SlotReport(**slot).text()}" for slot in summary.cdc_slots)
    if summary.lineage_failures:
        lines.append(f"  lineage: {summary.lineage_failures} OpenLineage event(s) not sent (see the log)")
    for alert in summary.alerts:
        if alert["status"] == "failed":
            lines.append(f"  {alert['kind']} mail not sent: {alert['error_class']}: {alert['error_message']}")
        elif alert["status"] == "sent":
            lines.append(f"  {alert['kind']} mail sent to {', '.join(alert['recipients'])}")
    if not summary.jobs:
        why = ("every job row is disabled, not due, or not selected (listed above)" if summary.skipped else
               "its rows have errors (see above)" if summary.config_errors else "it has no job rows")
        lines.append(f"  No job ran: the workbook has no enabled job rows to run: {why}")
    else:
        lines.append("  (count: the row-count check against the source; seconds: the job's wall time)")
    lines.append(f"Data: {summary.lake}")
    lines.append(f"Audit trail: {summary.audit_path}")
    return redact("\n".join(lines))
