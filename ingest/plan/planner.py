"""Which jobs a run executes: enabled, valid, selected by the caller (names, globs, tags, or
the failed jobs of an earlier run), due by their schedule when schedules apply, ordered in
dependency waves."""

from __future__ import annotations

import fnmatch
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ingest.config.model import JobConfig, WorkbookConfig
from ingest.config.dependencies import waves as dependency_waves
from ingest.core.errors import ConfigError
from ingest.core.redact import redact
from ingest.records.history import RunHistory, jobs_to_rerun, last_successes
from ingest.plan.request import RunRequest
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.config.schedule import due_status, parse_schedule

MAX_LOOKBACK = timedelta(days=400)
"""How far back the audit trail is read for a job's last success (a yearly cron's slot)."""


def new_run_context(now: datetime | None = None) -> RunContext:
    now = now or datetime.now(timezone.utc)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return RunContext(run_id=run_id, started_at=now.isoformat())


@dataclass
class Plan:
    """Everything a run needs, as small JSON (it is the Durable `plan` activity's output, kept in
    the task hub's history): workbook messages in it are redacted, since they quote cells."""

    run: RunContext
    jobs: list[JobConfig] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """job_name -> reason (disabled, not selected)."""
    invalid: list[JobResult] = field(default_factory=list)
    """A failed result per rejected workbook row in the selection."""
    config_errors: list[str] = field(default_factory=list)
    waves: list[list[str]] = field(default_factory=list)
    """Job names in dependency order: every job of a wave after the jobs of earlier waves."""
    reasons: dict[str, str] = field(default_factory=dict)
    """job_name -> why it is in this run (due by its schedule, no schedule, selected, re-run)."""
    request: dict[str, Any] = field(default_factory=dict)
    """The run's parameters (ingest.plan.request.RunRequest.to_dict)."""
    lineage_start_failures: int = 0
    """The run's OpenLineage START not sent when the run began (ingest/records/lineage/runs.py)."""

    def wave_names(self) -> list[list[str]]:
        """The waves; a plan built without them (bench, old inputs) is one wave."""
        if self.waves:
            return self.waves
        return [[j.job_name for j in self.jobs]] if self.jobs else []

    def depends(self) -> dict[str, tuple[str, ...]]:
        return {j.job_name: j.depends_on for j in self.jobs}

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run.to_dict(), "jobs": [j.to_dict() for j in self.jobs],
                "skipped": dict(self.skipped), "invalid": [r.to_dict() for r in self.invalid],
                "config_errors": list(self.config_errors), "waves": [list(w) for w in self.waves],
                "reasons": dict(self.reasons), "request": dict(self.request),
                "lineage_start_failures": self.lineage_start_failures}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        return cls(run=RunContext.from_dict(data["run"]),
                   jobs=[JobConfig.from_dict(j) for j in data["jobs"]],
                   skipped=dict(data.get("skipped") or {}),
                   invalid=[JobResult.from_dict(r) for r in data.get("invalid") or []],
                   config_errors=list(data.get("config_errors") or []),
                   waves=[list(w) for w in data.get("waves") or []],
                   reasons=dict(data.get("reasons") or {}),
                   request=dict(data.get("request") or {}),
                   lineage_start_failures=int(data.get("lineage_start_failures") or 0))


def _allowed_to_shrink(config: WorkbookConfig, request: RunRequest) -> tuple[str, ...]:
    """The request's allow_shrink, each a job of the workbook (a typo must not pass unseen)."""
    known = {job.job_name for job in config.jobs}
    unknown = [name for name in request.allow_shrink if name not in known]
    if unknown:
        raise ConfigError(f"allow_shrink: {', '.join(unknown)} is not a job of the workbook")
    return request.allow_shrink


def make_plan(config: WorkbookConfig, run: RunContext, job_filter: list[str] | None = None,
              request: RunRequest | None = None, history: RunHistory | None = None) -> Plan:
    """Select the jobs to run and order them in waves.

    `job_filter` (names or globs) is the short form of `request.jobs`. A pattern or tag that
    matches no job in the workbook is a ConfigError (a typo must not pass). `history` (the
    audit trail) is needed when the request applies schedules or re-runs an earlier run."""
    request = request or RunRequest(jobs=tuple(p.strip() for p in job_filter or () if p.strip()))
    run = replace(run, force_full=request.force_full, take_over=request.take_over,
                allow_shrink=_allowed_to_shrink(config, request),
                  backfill=request.backfill.to_dict() if request.backfill else None)
    plan = Plan(run=run, config_errors=[redact(str(i)) for i in config.errors], request=request.to_dict())
    rerun: list[str] | None = None
    if request.rerun_failed:
        if history is None:
            raise ConfigError("rerun_failed needs the audit trail, which this caller did not give")
        rerun = jobs_to_rerun(history, request.rerun_failed)
    chosen = _selection(config, request, rerun)
    plan.invalid = _invalid_results(config, run, chosen)
    now = _parse_time(run.started_at)
    successes = _successes(config, request, history, now, chosen)
    for job in config.jobs:
        if not chosen(job.job_name, job.tags):
            plan.skipped[job.job_name] = "not selected"
        elif not job.enabled:
            plan.skipped[job.job_name] = "disabled (enabled = N)"
        elif request.backfill and not (job.is_incremental and job.source_type.is_sql):
            plan.skipped[job.job_name] = "backfill: only INCREMENTAL database jobs load a window"
        else:
            runs, reason = _why(job, request, now, successes)
            if runs:
                plan.jobs.append(job)
                plan.reasons[job.job_name] = reason
            else:
                plan.skipped[job.job_name] = reason
    for name in rerun or ():
        if name not in plan.skipped and name not in plan.reasons and name not in {r.job_name for r in plan.invalid}:
            plan.skipped[name] = f"in run {request.rerun_failed} but no longer in the workbook"
    plan.waves = dependency_waves([j.job_name for j in plan.jobs], plan.depends())
    return plan


Chooser = Callable[[str | None, tuple[str, ...]], bool]


def _selection(config: WorkbookConfig, request: RunRequest, rerun: list[str] | None) -> Chooser:
    """The caller's selection as a predicate over (job name, tags); checks every pattern and tag
    matches something."""
    patterns = list(request.jobs)
    tags = set(request.tags)
    if patterns:
        known = [j.job_name for j in config.jobs] + [n for n in config.invalid_rows.values() if n]
        unmatched = [p for p in patterns if not fnmatch.filter(known, p)]
        if unmatched:
            raise ConfigError("--jobs: no job in the workbook matches " + ", ".join(repr(p) for p in unmatched))
    if tags:
        present = {t for j in config.jobs for t in j.tags}
        missing = sorted(tags - present)
        if missing:
            raise ConfigError("--tags: no job in the workbook has the tag " + ", ".join(repr(t) for t in missing))
    wanted = set(rerun) if rerun is not None else None

    def chosen(name: str | None, job_tags: tuple[str, ...] = ()) -> bool:
        if wanted is not None:
            return name in wanted
        if patterns and not (name is not None and any(fnmatch.fnmatchcase(name, p) for p in patterns)):
            return False
        # a rejected row's tags are unknown: a tag selection leaves it out
        return not tags or bool(tags & set(job_tags))

    return chosen


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _successes(config: WorkbookConfig, request: RunRequest, history: RunHistory | None, now: datetime,
               chosen: Chooser) -> dict[str, datetime]:
    """Last successful run per scheduled job, read back only as far as the earliest current slot."""
    if not request.apply_schedules:
        return {}
    slots = [parse_schedule(j.schedule).previous_slot(now) for j in config.jobs
             if j.schedule and j.enabled and chosen(j.job_name, j.tags)]
    if not slots:
        return {}
    if history is None:
        raise ConfigError("schedules need the audit trail (last successful runs), which this caller did not give")
    return last_successes(history, max(min(slots), now - MAX_LOOKBACK), now)


def _why(job: JobConfig, request: RunRequest, now: datetime, successes: dict[str, datetime]) -> tuple[bool, str]:
    """(whether the job runs, why)."""
    if request.apply_schedules:
        status = due_status(job.schedule, now, successes.get(job.job_name))
        return status.due, status.reason
    if request.rerun_failed:
        return True, f"re-run: did not succeed in run {request.rerun_failed}"
    unscheduled = " (schedule not applied: manual run)" if job.schedule else ""
    if request.jobs or request.tags:
        return True, "selected" + unscheduled
    return True, "every enabled job" + unscheduled


def _invalid_results(config: WorkbookConfig, run: RunContext, chosen: Chooser) -> list[JobResult]:
    """A failed result per rejected workbook row (in the caller's selection), so it shows in
    the summary and the audit beside the jobs that ran."""
    results = []
    for row, name in sorted(config.invalid_rows.items()):
        if not chosen(name, ()):
            continue
        messages = [str(i) for i in config.errors
                    if (i.sheet == "jobs" and i.row == row) or (name and i.job_name == name)]
        results.append(JobResult(job_name=name or f"row_{row}", status=JobStatus.INVALID,
                                 run_id=run.run_id, started_at=run.started_at,
                                 finished_at=run.started_at, error_class="ConfigError",
                                 error_message=redact("; ".join(messages))))
    return results
