"""The local driver: run a plan's jobs in a thread pool, then the shared fan-in step."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ingest import progress
from ingest.destination import prepare_lake
from ingest.finalize import RunSummary, file_watermark_writer, finalize_run
from ingest.load import run_job
from ingest.plan import Plan
from ingest.result import JobResult
from ingest.settings import Settings

log = logging.getLogger("ingest.runner")


def execute_plan(plan: Plan, settings: Settings) -> list[JobResult]:
    """Run every job of the plan; a failing job never stops the others."""
    if not plan.jobs:
        return []
    prepare_lake(settings)
    results: list[JobResult] = []
    progress.run_started(len(plan.jobs))  # console progress, when `run` turned it on (ingest/progress.py)
    workers = max(1, min(settings.max_workers, len(plan.jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job") as pool:
        futures = {pool.submit(run_job, job, plan.run, settings): job for job in plan.jobs}
        for future in as_completed(futures):
            result = future.result()  # run_job returns failures as values
            log.info("job %s %s: %d rows in %.2fs", result.job_name, result.status.value,
                     result.rows_processed, result.duration_s)
            results.append(result)
            progress.job_finished(result)
    order = {job.job_name: i for i, job in enumerate(plan.jobs)}
    return sorted(results, key=lambda r: order[r.job_name])


def run_local(plan: Plan, settings: Settings, config_path: Path | None, scheduled: bool = False) -> RunSummary:
    """`scheduled`: this is the run a scheduler (cron) starts; it may send the daily summary."""
    results = execute_plan(plan, settings)
    writer = file_watermark_writer(config_path) if config_path else None
    return finalize_run(plan, results, settings, write_watermarks=writer, scheduled=scheduled)
