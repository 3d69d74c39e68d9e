"""The local driver: run a plan's waves in order, each wave's jobs in forked worker processes
(ingest/drivers/local/job_processes.py; threads with INGEST_WORKER_MODE=thread), then the shared fan-in step.
Jobs whose dependencies did not succeed are skipped (ingest/config/dependencies.py).

A wave is a set of units (ingest/plan/flow.py): a plain job is one, a chunked job is its
split, its chunks and its commit, one connection's CDC jobs are one together. At most
INGEST_MAX_WORKERS units run at once, and the next starts as soon as one ends, so a long job
never holds back the others."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ingest.core import interrupts, progress
from ingest.config.model import JobConfig
from ingest.config.dependencies import skipped_result, split_wave
from ingest.lake.destination import prepare_lake
from ingest.records.lineage.runs import emit_run_start  # OpenLineage (issue 25): the run's START
from ingest.drivers.finalize import RunSummary, file_watermark_writer, finalize_run
from ingest.drivers.local.job_processes import Task, cdc_task, job_task, run_tasks, worker_mode
from ingest.load import unfinished_result
from ingest.plan.flow import CDC, CHUNK, COMMIT, SPLIT, Unit, WaveFlows
from ingest.plan.planner import Plan
from ingest.core.errors import JobInterruptedError
from ingest.core.result import JobResult, JobStatus, RunContext
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
    workers = worker_count(plan, settings)
    mode = worker_mode(settings)
    log.info("running %d job(s), %d at a time, each in a %s", len(plan.jobs), workers, mode)
    for number, wave in enumerate(plan.wave_names(), start=1):
        if interrupts.requested():  # a stop: no later wave starts
            break
        start, skip = split_wave(wave, plan.depends(), outcomes)
        now = datetime.now(timezone.utc).isoformat()
        for name, reason in skip.items():
            log.warning("job %s skipped: %s", name, reason)
            job = jobs[name]
            results.append(skipped_result(name, job.table_name, plan.run, reason, now, job.last_watermark))
        wave_jobs = [jobs[name] for name in start]
        for result in run_wave(wave_jobs, plan.run, settings, workers, mode):
            log.info("wave %d: job %s %s: %d rows in %.2fs", number, result.job_name, result.status.value,
                     result.rows_processed, result.duration_s)
            results.append(result)
            progress.job_finished(result)
        outcomes.update({r.job_name: r.status.value for r in results})
    results += not_started(plan, {r.job_name for r in results})
    order = {job.job_name: i for i, job in enumerate(plan.jobs)}
    return sorted(results, key=lambda r: order[r.job_name])


def not_started(plan: Plan, ended: set[str]) -> list[JobResult]:
    """After a stop signal: an `interrupted` result for each job of the plan that never started
    (or, a chunked job, never ended), nothing of it committed by this run."""
    signum = interrupts.requested()
    if not signum:
        return []
    now = datetime.now(timezone.utc).isoformat()
    results = []
    for job in plan.jobs:
        if job.job_name not in ended:
            result = unfinished_result(job, plan.run, now)
            result.status, result.finished_at = JobStatus.INTERRUPTED, now
            result.error_class, result.error_message = JobInterruptedError.__name__, interrupts.stop_message(signum)
            results.append(result)
    return results


def worker_count(plan: Plan, settings: Settings) -> int:
    """How many units run at once: INGEST_MAX_WORKERS, or fewer when the plan has fewer jobs
    and none of them is chunked (a chunked job's chunks are units of their own: capping at the
    number of jobs ran a lone chunked job's chunks one at a time)."""
    if any(job.chunk_size for job in plan.jobs):
        return max(1, settings.max_workers)
    return max(1, min(settings.max_workers, len(plan.jobs)))


def run_wave(wave_jobs: list[JobConfig], run: RunContext, settings: Settings, workers: int,
             mode: str) -> Iterator[JobResult]:
    """The wave's units, at most `workers` at a time (a sliding window); yield each job's
    result as its last unit ends."""
    jobs = {job.job_name: job for job in wave_jobs}

    def failed(job: dict, error_class: str, message: str) -> dict:
        result = unfinished_result(jobs[job["job_name"]], run, datetime.now(timezone.utc).isoformat())
        result.error_class, result.error_message = error_class, message
        return result.to_dict()

    flows = WaveFlows([job.to_dict() for job in wave_jobs], failed)
    waiting: list[Task] = []

    def refill() -> None:
        while (unit := flows.take()) is not None:
            waiting.append(_task(unit, jobs, run, settings))

    refill()
    finished = (run_tasks(waiting, run, settings, workers, warm=len(waiting) > 1 or any(j.chunk_size for j in wave_jobs))
                if mode == "process" else _run_in_threads(waiting, workers))
    for task, outcome in finished:
        # a CDC connection's jobs: one result each ({"results": [...]}, job_processes.cdc_task)
        results = flows.ended(task.unit, outcome["results"] if task.unit.kind == CDC else outcome)
        if task.unit.kind == CHUNK:
            flow = flows.flows[task.unit.job_name]
            progress.chunk_finished(task.unit.job_name, flow.done, flow.total)
        refill()
        yield from (JobResult.from_dict(result) for result in results)


def _task(unit: Unit, jobs: dict[str, JobConfig], run: RunContext, settings: Settings) -> Task:
    """What a unit runs (ingest/drivers/chunks/tasks.py for a chunked job's steps, imported when
    a run has one)."""
    job = jobs[unit.job_name]
    if unit.kind == CDC:
        return replace(cdc_task([jobs[name] for name in unit.jobs], run, settings), unit=unit)
    if unit.kind not in (SPLIT, CHUNK, COMMIT):
        return Task(unit.key, job, job_task(job, run, settings).call, unit)
    from ingest.drivers.chunks import tasks as chunk_tasks

    if unit.kind == SPLIT:
        call = lambda: chunk_tasks.split_task(job, run, settings)  # noqa: E731
    elif unit.kind == CHUNK:
        call = lambda: chunk_tasks.chunk_task(job, run, settings, unit.chunk or "")  # noqa: E731
    else:
        call = lambda: chunk_tasks.commit_task(job, run, settings)  # noqa: E731
    return Task(unit.key, job, call, unit)


def _run_in_threads(waiting: list[Task], workers: int) -> Iterator[tuple[Task, dict]]:
    """As job_processes.run_tasks, in threads (INGEST_WORKER_MODE=thread)."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job") as pool:
        running: dict[Future, Task] = {}
        while running or (waiting and not interrupts.requested()):  # a stop: no new unit starts
            while waiting and len(running) < workers and not interrupts.requested():
                task = waiting.pop(0)
                running[pool.submit(task.call)] = task
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), interrupts.interrupted_outcome(future.result())  # failures are values


def run_local(plan: Plan, settings: Settings, config_path: Path | None, scheduled: bool = False) -> RunSummary:
    """`scheduled`: this is the run a scheduler (cron) starts; it may send the daily summary.
    SIGINT / SIGTERM during it stop the run cleanly (ingest/core/interrupts.py)."""
    with interrupts.handling():
        plan.lineage_start_failures += emit_run_start(plan.run, settings)  # never raises
        results = execute_plan(plan, settings)
        writer = file_watermark_writer(config_path) if config_path else None
        return finalize_run(plan, results, settings, write_watermarks=writer, scheduled=scheduled)
