"""Run ONE job end to end: credentials -> dlt sql_table -> pipeline -> lake -> JobResult.

A job's failure is returned as a failed JobResult (error class and a redacted message);
this function never raises for a job-level problem, so one job cannot take a run down.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import dlt
from dlt.destinations.path_utils import create_path

from ingest.classify import classify
from ingest.config.model import JobConfig
from ingest.destination import make_destination
from ingest.result import JobResult, JobStatus, RunContext
from ingest.settings import Settings
from ingest.sources.connections import resolve_connection
from ingest.sources.sql import build_resource, make_engine, reflect_table

log = logging.getLogger("ingest.load")


def pipeline_name(job: JobConfig) -> str:
    return f"ingest_{job.job_name}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def watermark_text(value: Any) -> Any:
    """A watermark as stored in the audit and workbook: ISO text for dates, str for decimals."""
    if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _incremental_last_value(pipeline: dlt.Pipeline, job: JobConfig) -> Any:
    """The cursor's last value from the pipeline state (committed with the data)."""
    if not job.watermark_column:
        return None
    sources = pipeline.state.get("sources", {})
    for source_state in sources.values():
        for resource_name, resource_state in source_state.get("resources", {}).items():
            # case-insensitive: the source may spell names differently (Oracle: lower case)
            cursors = {k.lower(): v for k, v in resource_state.get("incremental", {}).items()}
            cursor = cursors.get(job.watermark_column.lower())
            if cursor and resource_name.lower() in (job.source_table.lower(), job.table_name):
                return cursor.get("last_value")
    return None


def run_job(job: JobConfig, run: RunContext, settings: Settings) -> JobResult:
    run_id = run.run_id
    started = _utc_now()
    clock = time.perf_counter()
    result = JobResult(job_name=job.job_name, status=JobStatus.FAILED, run_id=run_id,
                       table_name=job.table_name, started_at=started.isoformat(),
                       workbook_watermark=job.last_watermark)
    engine = None
    try:
        engine = make_engine(resolve_connection(job))
        reflected = reflect_table(engine, job)
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name(job),
            pipelines_dir=str(settings.pipelines_dir),
            destination=make_destination(settings, current_datetime=run.partition_datetime),
            dataset_name=settings.dataset,
        )
        if job.is_incremental:
            pipeline.sync_destination()  # a fresh machine continues from the lake's state
            result.watermark_before = watermark_text(_incremental_last_value(pipeline, job)
                                                     or job.last_watermark)
        resource = build_resource(job, engine, reflected, settings.chunk_size, settings.sql_backend)
        load_info = pipeline.run(resource, loader_file_format="parquet",
                                 schema=dlt.Schema(pipeline_name(job)))
        normalize_info = pipeline.last_trace.last_normalize_info
        row_counts = normalize_info.row_counts if normalize_info else {}
        result.rows_processed = int(row_counts.get(job.table_name, 0))
        result.load_id = load_info.loads_ids[-1] if load_info.loads_ids else None
        result.files = _landed_files(load_info, job.table_name, settings, run)
        if result.files:
            result.partition_path = str(PurePosixPath(result.files[0]).parent)
        if job.is_incremental:
            result.watermark_after = watermark_text(_incremental_last_value(pipeline, job)) \
                or result.watermark_before
        result.status = JobStatus.SUCCEEDED
    except Exception as exc:  # every failure becomes a value; see module docstring
        error = classify(exc)
        result.error_class = type(error).__name__
        result.error_message = str(error)
        log.error("job %s failed: %s: %s", job.job_name, result.error_class, result.error_message)
    finally:
        if engine is not None:
            engine.dispose()
        result.finished_at = _utc_now().isoformat()
        result.duration_s = round(time.perf_counter() - clock, 3)
    return result


def _landed_files(load_info: Any, table_name: str, settings: Settings, run: RunContext) -> list[str]:
    """Paths (relative to the lake) of the data files this load wrote for the table, computed
    with dlt's own layout function and the same partition datetime the destination used."""
    files: list[str] = []
    for package in load_info.load_packages:
        for job_info in package.jobs.get("completed_jobs", []):
            if job_info.job_file_info.table_name != table_name:
                continue
            path = create_path(settings.layout, PurePosixPath(job_info.file_path).name,
                               package.schema_name, package.load_id,
                               current_datetime=run.partition_datetime)
            files.append(f"{settings.dataset}/{path}")
    return sorted(files)
