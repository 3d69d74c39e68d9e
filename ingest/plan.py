"""Which jobs a run executes: enabled, valid, selected by the caller."""

from __future__ import annotations

import fnmatch
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ingest.config.model import JobConfig, WorkbookConfig
from ingest.errors import ConfigError
from ingest.result import RunContext


def new_run_context(now: datetime | None = None) -> RunContext:
    now = now or datetime.now(timezone.utc)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return RunContext(run_id=run_id, started_at=now.isoformat())


@dataclass
class Plan:
    run: RunContext
    jobs: list[JobConfig] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """job_name -> reason (disabled, not selected)."""


def make_plan(config: WorkbookConfig, run: RunContext, job_filter: list[str] | None = None) -> Plan:
    """Select the jobs to run. `job_filter` holds names or glob patterns (`sales_*`); a
    pattern that matches no job in the workbook is a ConfigError (a typo must not pass)."""
    plan = Plan(run=run)
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
