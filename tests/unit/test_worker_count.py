"""How many units the local runner keeps in flight (ingest/drivers/local/runner.py:
worker_count). It was capped at the number of jobs, so a run of one chunked job loaded its
chunks one at a time whatever INGEST_MAX_WORKERS said (found measuring the faster commit:
2 and 4 workers took the same time)."""

from __future__ import annotations

from dataclasses import replace

from ingest.config.model import ChunkSize, JobConfig, LoadType, SourceType
from ingest.core.result import RunContext
from ingest.core.settings import Settings
from ingest.drivers.local.runner import worker_count
from ingest.plan.planner import Plan

JOB = JobConfig(job_name="orders", enabled=True, source_type=SourceType.POSTGRES, connection="pg",
                source_schema="public", source_table="orders", target_table="orders", load_type=LoadType.FULL)
RUN = RunContext("20261202T000000Z-w", "2026-12-02T00:00:00+00:00")


def settings(workers: int) -> Settings:
    return replace(Settings.from_env({}), max_workers=workers)


def test_a_lone_chunked_job_gets_every_worker_for_its_chunks():
    plan = Plan(run=RUN, jobs=[replace(JOB, chunk_size=ChunkSize(8, "chunks"))])
    assert worker_count(plan, settings(4)) == 4


def test_plain_jobs_take_no_more_workers_than_there_are_jobs():
    plan = Plan(run=RUN, jobs=[JOB, replace(JOB, job_name="lines", target_table="lines")])
    assert worker_count(plan, settings(4)) == 2
    assert worker_count(plan, settings(1)) == 1
