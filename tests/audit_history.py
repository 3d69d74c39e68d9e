"""A realistic audit trail for the dashboard tests: two weeks of scheduled runs written by the
real fan-in step (ingest.drivers.finalize.finalize_run), so the CSV and the run summaries have exactly
the shape production writes. Some jobs fail (a rotated password, a dropped table, a source that
was down), a row-count check misses, a workbook row is rejected, and the summaries carry drift
and quality findings in the shape the checks' branch adds (`drift` / `quality` per job,
`drift_findings` / `quality_failures` per run)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ingest.drivers.finalize import finalize_run
from ingest.plan.planner import Plan
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.settings import Settings

JOBS = {"sales_orders": 120_000, "sales_customers": 8_000, "hr_people": 1_200, "finance_ledger": 40_000,
        "crm_accounts": 15_000, "coingecko_markets": 250}
SECRET = "Pw-Canary-7731!"
"""A password that reaches an error message of the history; it must never reach the dashboard."""


def _result(job: str, run: RunContext, started: datetime, day: int, rng: random.Random) -> JobResult:
    base = JOBS[job]
    rows = int(base * (0.8 + 0.4 * rng.random()) * (1 + day / 30))
    duration = round(rows / 9_000 + rng.random() * 3 + (6 if job == "sales_orders" and day > 9 else 0), 3)
    result = JobResult(job_name=job, status=JobStatus.SUCCEEDED, run_id=run.run_id, table_name=job,
                       rows_processed=rows, started_at=started.isoformat(),
                       finished_at=(started + timedelta(seconds=duration)).isoformat(), duration_s=duration,
                       load_id=f"{started.timestamp():.0f}", partition_path=f"raw/{job}/{started:%Y/%m/%d}",
                       rowcount={"status": "ok", "loaded_rows": rows, "landed_rows": rows, "source_min": rows,
                                 "source_max": rows, "tolerance_pct": 1.0, "diff_pct": 0.0, "message": ""})
    if job == "sales_customers" and day in (3, 4):
        _fail(result, "SourceAuthenticationError",
              f"connection to server failed: FATAL: password authentication failed for user \"ingest\""
              f" (postgresql://ingest:{SECRET}@10.0.4.12:5432/sales)")
    elif job == "hr_people" and day == 8:
        _fail(result, "SourceObjectNotFoundError", "job 'hr_people': table hr.people does not exist in connection 'hr_db'")
    elif job == "crm_accounts" and day == 11:
        _fail(result, "TransientSourceError", "could not connect to server: Connection refused (after 4 attempts)")
        result.attempts = 4
    elif job == "finance_ledger" and day == 6:
        result.rowcount.update(status="mismatch", source_min=rows + 900, source_max=rows + 900, diff_pct=2.2,
                               message=f"source has {rows + 900} rows for the window, {rows} landed (2.2% > 1%)")
    return result


def _fail(result: JobResult, error_class: str, message: str) -> None:
    result.status, result.rows_processed, result.rowcount = JobStatus.FAILED, 0, None
    result.error_class, result.error_message = error_class, message


def write_history(audit_dir: Path, days: int = 14, now: datetime | None = None, seed: int = 7) -> list[str]:
    """Two runs a day (02:00 and 14:00 UTC) for `days` days before `now`; returns the run ids."""
    from ingest.core.redact import register_secret

    register_secret(SECRET)
    now = now or datetime.now(timezone.utc)
    rng = random.Random(seed)
    settings = Settings(audit_dir=audit_dir, log_dir=audit_dir.parent / "logs")
    run_ids = []
    first = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days + 1):
        for hour in (2, 14):
            started = first + timedelta(days=day, hours=hour)
            if started >= now - timedelta(minutes=5):
                continue
            run = RunContext(run_id=f"{started:%Y%m%dT%H%M%SZ}-ingest-all", started_at=started.isoformat())
            results = [_result(job, run, started + timedelta(seconds=i), day, rng) for i, job in enumerate(JOBS)]
            plan = Plan(run=run)
            if day == 5 and hour == 2:
                plan.invalid = [JobResult(job_name="row_9", status=JobStatus.INVALID, run_id=run.run_id,
                                          started_at=run.started_at, finished_at=run.started_at,
                                          error_class="ConfigError",
                                          error_message="jobs!H9: load_type 'DAILY' is not one of FULL, INCREMENTAL, CDC")]
                plan.config_errors = ["jobs!H9: load_type 'DAILY' is not one of FULL, INCREMENTAL, CDC"]
            finalize_run(plan, results, settings)
            _add_check_findings(audit_dir / "runs" / f"{run.run_id}.json", day, hour)
            run_ids.append(run.run_id)
    return run_ids


def _add_check_findings(path: Path, day: int, hour: int) -> None:
    """What the drift and quality checks put into the summary, in the shapes the fan-in writes:
    each job's results (JobResult.quality, JobResult.drift) and the summary's own text lists
    (ingest/records/check_results.py findings)."""
    from ingest.checks.schema_drift import DriftReport

    summary = json.loads(path.read_text())
    rule = {"place": "quality_rules!B2", "rule": "not_null", "column": "amount", "argument": None,
            "severity": "warn", "observed": 3, "rows": 100}
    for job in summary["jobs"]:
        job["quality"] = [{**rule, "status": "passed", "detail": ""}]
        job["drift"] = DriftReport(status="unchanged").to_dict()
        if job["job_name"] == "sales_orders" and day == 10 and hour == 2:
            job["drift"] = DriftReport(status="changed", added=[{"name": "discount_pct", "type": "decimal"}]).to_dict()
        if job["job_name"] == "finance_ledger" and day in (12, 13):
            job["quality"] = [{**rule, "status": "failed", "detail": "3 rows with NULL"}]
    summary["drift_findings"] = (["sales_orders: column added: discount_pct (decimal) [warn]"]
                                 if day == 10 and hour == 2 else [])
    summary["quality_failures"] = (["finance_ledger: quality_rules!B2 not_null(amount) failed [warn]: 3 rows with NULL"]
                                   if day in (12, 13) else [])
    path.write_text(json.dumps(summary, indent=2))
