"""Which jobs a run executes: enabled, valid, selected by the caller."""

from __future__ import annotations

import fnmatch
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ingest.config.model import JobConfig, WorkbookConfig
from ingest.errors import ConfigError
from ingest.result import JobResult, JobStatus, RunContext


def new_run_context(now: datetime | None = None) -> RunContext:
    now = now or datetime.now(timezone.utc)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return RunContext(run_id=run_id, started_at=now.isoformat())


@dataclass
class Plan:
    """Everything a run needs, as small JSON (it is the Durable `plan` activity's output)."""

    run: RunContext
    jobs: list[JobConfig] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """job_name -> reason (disabled, not selected)."""
    invalid: list[JobResult] = field(default_factory=list)
    """A failed result per rejected workbook row in the selection."""
    config_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run.to_dict(), "jobs": [j.to_dict() for j in self.jobs],
                "skipped": dict(self.skipped), "invalid": [r.to_dict() for r in self.invalid],
                "config_errors": list(self.config_errors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        return cls(run=RunContext.from_dict(data["run"]),
                   jobs=[JobConfig.from_dict(j) for j in data["jobs"]],
                   skipped=dict(data.get("skipped") or {}),
                   invalid=[JobResult.from_dict(r) for r in data.get("invalid") or []],
                   config_errors=list(data.get("config_errors") or []))


def make_plan(config: WorkbookConfig, run: RunContext, job_filter: list[str] | None = None) -> Plan:
    """Select the jobs to run. `job_filter` holds names or glob patterns (`sales_*`); a
    pattern that matches no job in the workbook is a ConfigError (a typo must not pass)."""
    plan = Plan(run=run, config_errors=[str(i) for i in config.errors])
    plan.invalid = _invalid_results(config, run, job_filter)
    patterns = [p.strip() for p in (job_filter or []) if p.strip()]
    if patterns:
        known = [j.job_name for j in config.jobs] + [n for n in config.invalid_rows.values() if n]
        unmatched = [p for p in patterns if not fnmatch.filter(known, p)]
        if unmatched:
            raise ConfigError("--jobs: no job in the workbook matches " + ", ".join(repr(p) for p in unmatched))
    for job in config.jobs:
        if patterns and not any(fnmatch.fnmatchcase(job.job_name, p) for p in patterns):
            plan.skipped[job.job_name] = "not selected"
        elif not job.enabled:
            plan.skipped[job.job_name] = "disabled (enabled = N)"
        else:
            plan.jobs.append(job)
    return plan


def selected(name: str | None, job_filter: list[str] | None) -> bool:
    patterns = [p.strip() for p in (job_filter or []) if p.strip()]
    if not patterns:
        return True
    return name is not None and any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _invalid_results(config: WorkbookConfig, run: RunContext, job_filter: list[str] | None) -> list[JobResult]:
    """A failed result per rejected workbook row (in the caller's selection), so it shows in
    the summary and the audit beside the jobs that ran."""
    results = []
    for row, name in sorted(config.invalid_rows.items()):
        if not selected(name, job_filter):
            continue
        messages = [str(i) for i in config.errors
                    if (i.sheet == "jobs" and i.row == row) or (name and i.job_name == name)]
        results.append(JobResult(job_name=name or f"row_{row}", status=JobStatus.INVALID,
                                 run_id=run.run_id, started_at=run.started_at,
                                 finished_at=run.started_at, error_class="ConfigError",
                                 error_message="; ".join(messages)))
    return results
