"""The bodies of the Durable activities: payload (small JSON) in, small JSON out. Each calls
the same core functions as the local runner; nothing here decides anything about data.

The load activities (a job, a chunk, a chunked job's commit, a CDC unit) run their body in a
child process of the worker unless INGEST_ACTIVITY_ISOLATION=inline (ingest/drivers/azure/isolation.py):
a child that dies fails its jobs with the cause, the worker and its other activities run on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable

from ingest.alerts.blob_store import BlobAlertStore
from ingest.drivers.azure.history import BlobRunHistory
from ingest.drivers.azure.isolation import DeadChild, run_isolated
from ingest.config.workbook_blob import read_workbook_blob, write_watermarks_blob
from ingest.records.blob_sink import BlobAuditSink, audit_container
from ingest.records.lineage.runs import emit_run_start
from ingest.lake.locks import BlobLeaseJobLock
from ingest.config.model import JobConfig, WorkbookConfig
from ingest.config.workbook import read_workbook
from ingest.lake.destination import prepare_lake
from ingest.drivers.finalize import finalize_run
from ingest.drivers.local.worker_exit import next_run
from ingest.load import run_cdc_connection, run_job
from ingest.plan.planner import Plan, make_plan
from ingest.plan.request import RunRequest
from ingest.core.errors import ConfigError
from ingest.core.redact import redact
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.settings import Settings


def run_id_for(instance_id: str, started_at: str) -> str:
    """Unique per run even though singleton instance ids repeat across runs."""
    return f"{datetime.fromisoformat(started_at):%Y%m%dT%H%M%SZ}-{instance_id}"


def run_request(payload: dict[str, Any]) -> RunRequest:
    """The run's parameters from the orchestration input; an input of an older version held
    only {"jobs": [...]}."""
    if payload.get("request") is not None:
        return RunRequest.from_dict(payload["request"])
    return RunRequest(jobs=tuple(payload.get("jobs") or ()))


def _plan_from_blobs(request: RunRequest, run: RunContext, settings: Settings) -> Plan:
    """The workbook from blob storage; the audit container as the run history (schedules and
    re-runs read it)."""
    data, _etag = read_workbook_blob(settings)
    config = read_workbook(data, label=settings.config_url)
    history = BlobRunHistory.from_settings(settings) if settings.audit_url else None
    return make_plan(config, run, request=request, history=history)


def plan_activity(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Read the workbook from blob storage; return the plan (no secrets, no rows). The
    orchestration's start time is the plan's clock (schedules are due relative to it)."""
    run = RunContext(run_id=run_id_for(payload["instance_id"], payload["started_at"]),
                     started_at=payload["started_at"])
    plan = _plan_from_blobs(run_request(payload), run, settings)
    if plan.jobs:
        prepare_lake(settings)
    plan.lineage_start_failures += emit_run_start(run, settings)  # never raises; the end goes from finalize
    return {"plan": plan.to_dict(), "max_parallel": settings.max_parallel_jobs,
            "retry": {"attempts": settings.job_retry_attempts,
                      "first_interval_ms": settings.job_retry_first_interval_s * 1000}}


def dry_run_report(request: RunRequest, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """POST /api/runs with dry_run: the plan as the run would make it now, with the watermark
    each INCREMENTAL job would start from (dlt state in the lake); nothing is started or loaded."""
    from ingest.drivers.dry_run import describe_plan
    from ingest.plan.planner import new_run_context

    plan = _plan_from_blobs(request, new_run_context(now or datetime.now(timezone.utc)), settings)
    return describe_plan(plan, settings).to_dict()


def _isolated(activity: str, payload: dict[str, Any], settings: Settings,
              when_dead: Callable[[DeadChild], Any]) -> Any:
    """The activity's body (INLINE) in a child process, or here when isolation is `inline`."""
    if settings.activity_isolation == "inline":
        return INLINE[activity](payload, settings)
    return run_isolated(activity, payload, settings, when_dead)


def _dead_job(payload: dict[str, Any]) -> Callable[[DeadChild], dict[str, Any]]:
    return lambda dead: dead.job_result(JobConfig.from_dict(payload["job"]), RunContext.from_dict(payload["run"]))


def load_job_activity(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Load one job, as the workbook defines it now: the job in the payload is only a request
    to run that job (activities re-validate what they are given, docs/security.md)."""
    return _isolated("load_job", payload, settings, _dead_job(payload))


def _load_job(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    job, run, refused = _checked(payload, settings)
    if job is None:
        return refused
    lock = BlobLeaseJobLock(audit_container(settings)) if settings.audit_url else None
    return run_job(job, run, settings, lock=lock).to_dict()


def _checked(payload: dict[str, Any], settings: Settings) -> tuple[JobConfig | None, RunContext, dict | None]:
    """The job as the workbook defines it now, or the failed result when it does not."""
    given = JobConfig.from_dict(payload["job"])
    run = RunContext.from_dict(payload["run"])
    try:
        return job_as_the_workbook_says(given, settings), run, None
    except ConfigError as exc:
        result = JobResult(job_name=given.job_name, status=JobStatus.FAILED, run_id=run.run_id,
                           table_name=given.table_name, started_at=run.started_at,
                           error_class=type(exc).__name__, error_message=redact(str(exc)))
        return None, run, result.to_dict()


def split_chunks_activity(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A chunked job's first step (ingest/drivers/chunks/tasks.py)."""
    from ingest.drivers.chunks.tasks import split_task

    job, run, refused = _checked(payload, settings)
    return refused if job is None else split_task(job, run, settings)


def load_chunk_activity(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """One chunk of a chunked job; the chunk id must be one of its staged manifest's."""
    def dead_chunk(dead: DeadChild) -> dict[str, Any]:
        failed = dead.job_result(JobConfig.from_dict(payload["job"]), RunContext.from_dict(payload["run"]))
        return {"status": "failed", "chunk": payload.get("chunk"), "error_class": failed["error_class"],
                "error_message": failed["error_message"]}

    return _isolated("load_chunk", payload, settings, dead_chunk)


def _load_chunk(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from ingest.drivers.chunks.tasks import chunk_task

    job, run, refused = _checked(payload, settings)
    if job is None:
        return {**refused, "chunk": payload.get("chunk")}
    return chunk_task(job, run, settings, str(payload["chunk"]))


def commit_chunks_activity(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Publish a chunked job's staged chunks, under the job's lock."""
    return _isolated("commit_chunks", payload, settings, _dead_job(payload))


def _commit_chunks(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from ingest.drivers.chunks.tasks import commit_task

    job, run, refused = _checked(payload, settings)
    if job is None:
        return refused
    lock = BlobLeaseJobLock(audit_container(settings)) if settings.audit_url else None
    return commit_task(job, run, settings, lock)


def load_cdc_activity(payload: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """Load one connection's CDC jobs together (load.run_cdc_connection: one slot read feeds
    them all; the lock `cdc_<connection>` keeps a second reader off the slot), each job as the
    workbook defines it now. A payload whose jobs are not the workbook's, not all CDC or not all
    of one connection is refused whole: nothing is read from the slot."""
    def dead_unit(dead: DeadChild) -> list[dict[str, Any]]:
        run = RunContext.from_dict(payload["run"])
        return [dead.job_result(JobConfig.from_dict(job), run) for job in payload["jobs"]]

    return _isolated("load_cdc_connection", payload, settings, dead_unit)


def _load_cdc(payload: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    given = [JobConfig.from_dict(job) for job in payload["jobs"]]
    run = RunContext.from_dict(payload["run"])
    try:
        jobs = cdc_jobs_as_the_workbook_says(given, settings)
    except ConfigError as exc:
        return [JobResult(job_name=job.job_name, status=JobStatus.FAILED, run_id=run.run_id,
                          table_name=job.table_name, started_at=run.started_at, error_class=type(exc).__name__,
                          error_message=redact(str(exc))).to_dict() for job in given]
    lock = BlobLeaseJobLock(audit_container(settings)) if settings.audit_url else None
    return [result.to_dict() for result in run_cdc_connection(jobs, run, settings, lock=lock)]


INLINE: dict[str, Callable[[dict[str, Any], Settings], Any]] = {
    "load_job": _load_job, "load_chunk": _load_chunk, "commit_chunks": _commit_chunks,
    "load_cdc_connection": _load_cdc,
}
"""The isolated activities' bodies by name (ingest/drivers/azure/activity_child.py runs them)."""


def cdc_jobs_as_the_workbook_says(given: list[JobConfig], settings: Settings) -> list[JobConfig]:
    """`job_as_the_workbook_says` for each job of a CDC unit (the workbook read once), which must
    be CDC jobs of one connection."""
    if not given:
        raise ConfigError("a CDC unit without jobs; nothing loaded")
    data, _etag = read_workbook_blob(settings)
    config = read_workbook(data, label=settings.config_url)
    jobs = [job_as_the_workbook_says(job, settings, config) for job in given]
    connections = {job.connection for job in jobs}
    if not all(job.is_cdc for job in jobs) or len(connections) != 1:
        names = ", ".join(job.job_name for job in jobs)
        raise ConfigError(f"jobs {names}: a CDC unit must be load_type CDC jobs of one connection; not loaded")
    return jobs


def job_as_the_workbook_says(given: JobConfig, settings: Settings, config: WorkbookConfig | None = None) -> JobConfig:
    """The workbook's own, validated definition of `given`'s job, read again from its blob;
    ConfigError when the workbook has no such valid job or defines it otherwise than `given`
    (its row number, last_watermark and watermark_lake may differ: rows move, and a finished run
    writes watermarks back)."""
    if config is None:
        data, _etag = read_workbook_blob(settings)
        config = read_workbook(data, label=settings.config_url)
    try:
        current = config.job(given.job_name)
    except KeyError:
        raise ConfigError(f"job '{given.job_name}': not a valid job of the workbook now; not loaded") from None
    if replace(current, row=given.row, last_watermark=given.last_watermark, watermark_lake=given.watermark_lake) != given:
        raise ConfigError(f"job '{given.job_name}': the job this run was given differs from the workbook's"
                          f" row {current.row}; not loaded (the workbook changed since the run was planned,"
                          " or the run's input was not the app's own)")
    return current


def finalize_activity(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Audit, watermarks and alert mails; the timer's run (trigger "timer") is the scheduled
    path that may send the daily summary. Alert markers live in the audit container."""
    plan = Plan.from_dict(payload["plan"])
    results = [JobResult.from_dict(r) for r in payload["results"]]
    audit = BlobAuditSink.from_settings(settings)
    summary = finalize_run(plan, results, settings,
                           write_watermarks=lambda updates: write_watermarks_blob(settings, updates),
                           audit=audit, alert_store=BlobAlertStore(audit.container),
                           scheduled=payload.get("trigger") == "timer")
    return summary.to_dict()


def crashed_job_result(payload: dict[str, Any], message: str, finished_at: str,
                       error_class: str) -> dict[str, Any]:
    """The result recorded when a job's activity failed after every Durable retry (the worker
    crashed or timed out: run_job itself returns failures as values); also a chunked job's
    failure when one of its chunks failed (ingest/plan/flow.py). A crashed activity's
    message ends with what the next run does for this job's load type."""
    job = payload["job"]
    config = JobConfig.from_dict(job)
    return JobResult(job_name=job["job_name"], status=JobStatus.FAILED, run_id=payload["run"]["run_id"],
                     table_name=config.table_name,  # rest_api jobs have no source_table
                     started_at=payload["run"]["started_at"], finished_at=finished_at,
                     workbook_watermark=job.get("last_watermark"), error_class=error_class,
                     error_message=f"{message}; {next_run(config)}" if error_class == "ActivityFailedError"
                     else message).to_dict()
