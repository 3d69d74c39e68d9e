"""The local driver: run a plan's waves in order, each wave's jobs in forked worker processes
(ingest/drivers/local/job_processes.py; threads with INGEST_WORKER_MODE=thread), then the shared fan-in step.
Jobs whose dependencies did not succeed are skipped (ingest/config/dependencies.py)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ingest.core import progress
from ingest.config.model import JobConfig
from ingest.config.dependencies import skipped_result, split_wave
from ingest.lake.destination import prepare_lake
from ingest.drivers.finalize import RunSummary, file_watermark_writer, finalize_run
from ingest.drivers.local.job_processes import run_in_processes, worker_mode
from ingest.load import run_cdc_connection, run_job
from ingest.plan.planner import Plan
from ingest.core.result import JobResult, RunContext
from ingest.core.settings import Settings

log = logging.getLogger("ingest.runner")


def execute_plan(plan: Plan, settings: Settings) -> list[JobResult]:
    """Run every job of the plan, wave after wave; a failing job never stops the others, but
    the jobs that depend on it are skipped."""
    if not plan.jobs:
        return []
    prepare_lake(settings)
    jobs = {job.job_name: job for job in plan.jobs}
    outcomes = {r.job_name: r.status.value for r in plan.invalid}
    results: list[JobResult] = []
    progress.run_started(len(plan.jobs))  # console progress, when `run` turned it on (ingest/core/progress.py)
    workers = max(1, min(settings.max_workers, len(plan.jobs)))
    mode = worker_mode(settings)
    log.info("running %d job(s), %d at a time, each in a %s", len(plan.jobs), workers, mode)
    for number, wave in enumerate(plan.wave_names(), start=1):
        start, skip = split_wave(wave, plan.depends(), outcomes)
        now = datetime.now(timezone.utc).isoformat()
        for name, reason in skip.items():
            log.warning("job %s skipped: %s", name, reason)
            job = jobs[name]
            results.append(skipped_result(name, job.table_name, plan.run, reason, now, job.last_watermark))
        wave_jobs = cdc_units([jobs[name] for name in start])  # one unit per connection's CDC jobs
        finished = (run_in_processes(wave_jobs, plan.run, settings, workers) if mode == "process"
                    else _run_in_threads(wave_jobs, plan.run, settings, workers))
        for result in finished:
            log.info("wave %d: job %s %s: %d rows in %.2fs", number, result.job_name, result.status.value,
                     result.rows_processed, result.duration_s)
            results.append(result)
            progress.job_finished(result)
        outcomes.update({r.job_name: r.status.value for r in results})
    order = {job.job_name: i for i, job in enumerate(plan.jobs)}
    return sorted(results, key=lambda r: order[r.job_name])


def cdc_units(jobs: list[JobConfig]) -> list[JobConfig | list[JobConfig]]:
    """The wave's jobs, each CDC connection's jobs gathered in one list (its slot has one
    reader, and one read feeds all its tables)."""
    units: list[JobConfig | list[JobConfig]] = []
    groups: dict[str, list[JobConfig]] = {}
    for job in jobs:
        if not job.is_cdc:
            units.append(job)
        elif job.connection in groups:
            groups[job.connection].append(job)
        else:
            groups[job.connection] = [job]
            units.append(groups[job.connection])
    return units


def _run_in_threads(jobs: list[JobConfig | list[JobConfig]], run: RunContext, settings: Settings,
                    workers: int) -> Iterator[JobResult]:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job") as pool:
        futures = [pool.submit(run_cdc_connection, job, run, settings) if isinstance(job, list)
                   else pool.submit(lambda j: [run_job(j, run, settings)], job) for job in jobs]
        for future in as_completed(futures):
            yield from future.result()  # run_job returns failures as values


def run_local(plan: Plan, settings: Settings, config_path: Path | None, scheduled: bool = False) -> RunSummary:
    """`scheduled`: this is the run a scheduler (cron) starts; it may send the daily summary."""
    results = execute_plan(plan, settings)
    writer = file_watermark_writer(config_path) if config_path else None
    return finalize_run(plan, results, settings, write_watermarks=writer, scheduled=scheduled)
