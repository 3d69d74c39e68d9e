"""Run ONE job end to end: lock -> credentials -> dlt sql_table -> pipeline -> lake ->
row-count check -> JobResult.

A job's failure is returned as a failed JobResult (error class and a redacted message); this
function never raises for a job-level problem, so one job cannot take a run down. Transient
failures are retried first (ingest/core/retry.py).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, Callable

import dlt
from dlt.destinations.path_utils import create_path

from ingest.checks import post_load
from ingest.checks.rowcount import DEFAULT_TOLERANCE_PCT, RowCountCheck, evaluate, parquet_rows
from ingest.checks.shrink import guard_shrink, replaces_table
from ingest.checks.values import ValueCheck, compare as compare_values, lake_stats
from ingest.core.classify import classify, safe_message
from ingest.config.model import JobConfig, TableFormat
from ingest.lake.destination import lake_container, make_destination, working_dir
from ingest.core.errors import JobLockedError, SourceAuthenticationError, ValueCheckError
from ingest.core import fork_safety
from ingest.core.keyvault.audit import job_scope
from ingest.core.keyvault.registration import refresh_rotated_credentials
from ingest.core import progress
from ingest.lake import load_wakeup, parquet_encoding
from ingest.lake.client import lake_client
from ingest.lake.owners import claim_pipeline_tables
from ingest.lake.repair import repair_pipeline
from ingest.lake.identity import lake_identity
from ingest.plan.load_modes import NORMAL, FirstLoadStart, LoadMode, first_load_start, for_lake, load_mode
from ingest.lake.locks import BlobLeaseJobLock, FileJobLock, JobLock, LockHandle
from ingest.lake.pipeline_hooks import fence_commit, synced_for_this_run
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.retry import call_with_retry
from ingest.core.settings import Settings
from ingest.sources.credential_source import credentials_key
from ingest.records.lineage.jobs import JobLineage  # OpenLineage events (issue 25)
from ingest.sources.lineage_names import source_dataset
from ingest.sources.job_source import JobSource, open_source
from ingest.lake.table_format_load import TableFormatStep
from ingest.lake.table_formats import apply_table_format, dlt_table_name

log = logging.getLogger("ingest.load")

parquet_encoding.install()  # before any load writes parquet: dictionary columns only where they pay
load_wakeup.install()  # dlt's loader no longer sleeps 1 s on a job finished on creation (a state-only load)


def pipeline_name(job: JobConfig) -> str:
    return f"ingest_{job.job_name}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def unfinished_result(job: JobConfig, run: RunContext, started_at: str) -> JobResult:
    """A job's result from the moment it starts: failed until its load succeeds. A job's own
    process fills it in; the runner does when that process died (ingest/drivers/local/job_processes.py)."""
    return JobResult(job_name=job.job_name, status=JobStatus.FAILED, run_id=run.run_id,
                     table_name=job.table_name, started_at=started_at, workbook_watermark=job.last_watermark)


def watermark_text(value: Any) -> Any:
    """A watermark as stored in the audit and workbook: ISO text for dates, str for decimals."""
    if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
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
            names = {job.table_name, (job.source_table or "").lower()}
            if cursor and resource_name.lower() in names:
                return cursor.get("last_value")
    # --- watermarks issue: a composite watermark keeps its last tuple (ingest/sources/composite.py)
    from ingest.sources.composite import last_first_value

    return last_first_value(pipeline.state, {job.table_name, (job.source_table or "").lower()})


def lake_last_value(job: JobConfig, settings: Settings) -> Any:
    """The job's incremental cursor as the lake's dlt state holds it, or None: the state is
    synced into a throw-away working folder, so no pipeline in use is touched. Read by the dry
    run (where a load would start) and by a chunked load's split (a job with state loads plainly)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ingest-lake-state-") as workdir:
        pipeline = dlt.pipeline(pipeline_name=pipeline_name(job), pipelines_dir=workdir,
                                destination=make_destination(settings), dataset_name=settings.dataset)
        pipeline.sync_destination()
        return _incremental_last_value(pipeline, job)


def _for_this_lake(job: JobConfig, settings: Settings) -> tuple[JobConfig, FirstLoadStart]:
    """The job as this lake loads it (ingest/plan/load_modes.py first_load_start decides)."""
    lake = lake_identity(settings)
    return for_lake(job, lake), first_load_start(job, lake)


def _note_first_start(job: JobConfig, mode: LoadMode, before: Any, start: FirstLoadStart,
                      result: JobResult) -> None:
    """A first load that does not start at the workbook's last_watermark says why (run summary)."""
    if before is None and start.why is not None and mode.kind == NORMAL:
        result.watermark_note = f"INCREMENTAL from the beginning: {start.why}"
        log.warning("job %s: %s", job.job_name, result.watermark_note)


def _extra_resources(source: JobSource, pipeline: dlt.Pipeline, run: RunContext) -> list[Any]:
    """Resources loaded with the job's data (detect_deleted_keys: its delete markers)."""
    extra = getattr(source, "extra_resources", None)
    return extra(pipeline, datetime.fromisoformat(run.started_at.replace("Z", "+00:00"))) if extra else []


Feed = Callable[[Any], None]
"""Given the job's dlt resource, makes it read other data (a chunked load's commit feeds the
staged chunks through the very resource, incremental and maps the plain load uses:
ingest/drivers/chunks/tasks.py)."""


def run_job(job: JobConfig, run: RunContext, settings: Settings, lock: JobLock | None = None,
            feed: Feed | None = None) -> JobResult:
    """Run the job; secret accesses are audited under its name. When the source rejected
    credentials served by Key Vault and the vault now holds a newer version (a rotation), the
    job runs once more with it. `feed`: see Feed."""
    fork_safety.note_job_ran_here()  # source drivers may now hold native threads in this process
    lineage = JobLineage(job, run, settings, lambda: source_dataset(job), pipeline_name(job))
    with job_scope(job.job_name):
        lineage.started()
        result = _run_job_once(job, run, settings, lock, feed)
        if (result.error_class == SourceAuthenticationError.__name__
                and refresh_rotated_credentials(credentials_key(job.connection))):
            log.warning("job %s: credentials rejected, Key Vault has a new version: running once more",
                        job.job_name)
            first = result
            result = _run_job_once(job, run, settings, lock, feed)
            result.started_at = first.started_at
            result.duration_s = round(first.duration_s + result.duration_s, 3)
        lineage.finished(result)
    return result


def run_cdc_connection(jobs: list[JobConfig], run: RunContext, settings: Settings,
                       lock: JobLock | None = None) -> list[JobResult]:
    """The CDC jobs of one connection, together: one slot read feeds them all
    (ingest/sources/postgres_cdc/connection_load.py); one result per job."""
    from ingest.sources.postgres_cdc.connection_load import load_connection
    from ingest.sources.postgres_cdc.names import pipeline_name as cdc_pipeline

    fork_safety.note_job_ran_here()
    lineages = {job.job_name: JobLineage(job, run, settings, lambda j=job: source_dataset(j),
                                         cdc_pipeline(job.connection)) for job in jobs}
    for lineage in lineages.values():
        lineage.started()
    results = load_connection(jobs, run, settings, lock or default_lock(settings))
    for result in results:
        if result.job_name in lineages:
            lineages[result.job_name].finished(result)
    return results


def _run_job_once(job: JobConfig, run: RunContext, settings: Settings, lock: JobLock | None = None,
                  feed: Feed | None = None) -> JobResult:
    started = _utc_now()
    clock = time.perf_counter()
    result = unfinished_result(job, run, started.isoformat())
    lock = lock or default_lock(settings)

    def count_retry(attempt: int, error: BaseException) -> None:
        result.attempts = attempt + 1

    try:
        with lock.hold(job.job_name, holder=f"run {run.run_id} since {started.isoformat(timespec='seconds')}") as held:
            call_with_retry(lambda: _load_once(job, run, settings, result, held, feed), settings.retry_policy,
                            f"job {job.job_name}", on_retry=count_retry)
        result.status = JobStatus.SUCCEEDED
    except JobLockedError as exc:  # another run is loading it: not a failure of this one
        result.status = JobStatus.SKIPPED
        result.error_class, result.error_message = type(exc).__name__, f"skipped: {exc}"
        log.warning("job %s %s", job.job_name, result.error_message)
    except Exception as exc:  # every failure becomes a value; see module docstring
        error = classify(exc)
        result.error_class = type(error).__name__
        result.error_message = str(error)
        log.error("job %s failed after %d attempt(s): %s: %s", job.job_name, result.attempts,
                  result.error_class, result.error_message)
    finally:
        result.finished_at = _utc_now().isoformat()
        result.duration_s = round(time.perf_counter() - clock, 3)
    return result


def default_lock(settings: Settings) -> JobLock:
    """The job lock a run takes when its driver gives none: the audit container's blob lease
    when one is set (shared with the Azure app), a lease in the lake's container when the lake
    is on Azure (a file lock there would not see another machine), else a file lock."""
    if settings.audit_url:
        from ingest.records.blob_sink import audit_container

        return BlobLeaseJobLock(audit_container(settings))
    container = lake_container(settings)
    if container is not None:
        return BlobLeaseJobLock(container)
    return FileJobLock(settings.pipelines_dir / "locks")


def _load_once(job: JobConfig, run: RunContext, settings: Settings, result: JobResult,
               held: LockHandle | None = None, feed: Feed | None = None) -> None:
    """One attempt; raises on any failure (the caller classifies and maybe retries)."""
    mode = load_mode(job, run)  # force FULL / backfill: ingest/plan/load_modes.py
    job, first_start = _for_this_lake(job, settings)  # a watermark from another lake starts nothing
    source = open_source(job, settings, datetime.fromisoformat(run.started_at.replace("Z", "+00:00")))
    scan: Future | None = None
    try:
        pipeline = _guarded_pipeline(job, run, settings, result, mode, held, feed)
        before = None
        if job.is_incremental:
            pipeline.sync_destination()  # a fresh machine continues from the lake's state
            synced_for_this_run(pipeline)
            before = _incremental_last_value(pipeline, job)
            _note_first_start(job, mode, before, first_start, result)
            result.watermark_before = watermark_text(before if before is not None else job.last_watermark)
        resource = source.resource(mode.window)
        if feed is not None:
            feed(resource)
        apply_table_format(resource, job, run.partition_datetime.date())  # parquet | delta hints
        source_columns = post_load.before_load(job, pipeline, resource, run, result)  # schema contract, drift
        if mode.is_full_refresh:  # the state is dropped: the load starts from the beginning
            before = result.watermark_before = None
        elif before is None and job.is_incremental:
            before = source.initial_watermark()
        format_step = TableFormatStep.before_load(job, run, settings, pipeline)
        scan = _start_full_load_stats(job, source, mode, settings, feed)  # beside the load: one scan, no wait
        resources = [resource, *_extra_resources(source, pipeline, run)]  # watermarks issue: delete markers
        load_info = pipeline.run(resources if len(resources) > 1 else resource, loader_file_format="parquet",
                                 schema=dlt.Schema(pipeline_name(job)), refresh=mode.refresh)
        normalize_info = pipeline.last_trace.last_normalize_info
        row_counts = normalize_info.row_counts if normalize_info else {}
        result.rows_processed = int(row_counts.get(dlt_table_name(job), 0))
        result.load_id = load_info.loads_ids[-1] if load_info.loads_ids else None
        result.files = _landed_files(load_info, dlt_table_name(job), settings, run)
        result.partition_path = str(PurePosixPath(result.files[0]).parent) if result.files else None
        landed = format_step.after_load(result)  # delta: version, files, scd2, maintenance
        after = _incremental_last_value(pipeline, job) if job.is_incremental else None
        if job.is_incremental:
            result.watermark_after = watermark_text(after) if after is not None else result.watermark_before
        full_stats = _full_load_stats_result(job, scan)
        counted = (full_stats[0], full_stats[0]) if full_stats is not None else None
        result.rowcount = _check_rowcount(job, source, pipeline, result, before, after, mode, landed,
                                          counted).to_dict()
        result.values = _check_values(job, source, pipeline, result, before, after, mode, settings,
                                      full_stats).to_dict()
        post_load.after_load(job, pipeline, source_columns, run, result)  # drift, quality; may fail the job
        _raise_for_values(job, result, settings)
    finally:
        _close_after_scan(source, scan)


def _guarded_pipeline(job: JobConfig, run: RunContext, settings: Settings, result: JobResult, mode: LoadMode,
                      held: LockHandle | None, feed: Feed | None) -> dlt.Pipeline:
    """The job's pipeline with its guards in place before anything loads: the lock's fence and
    the shrink guard right before dlt's commit, a killed load repaired, the lake tables claimed
    (another job's table: TableOwnedError)."""
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name(job),
        pipelines_dir=str(working_dir(settings)),
        destination=make_destination(settings, current_datetime=run.partition_datetime),
        dataset_name=settings.dataset,
        # console progress (ingest/core/progress.py); a chunked load's commit re-reads rows its
        # chunks already counted
        progress=progress.collector(job.job_name, job.table_name) if feed is None else None,
    )
    fence_commit(pipeline, held)
    if replaces_table(job, mode.is_full_refresh):  # a shrinking copy is refused before it commits
        guard_shrink(pipeline, job, run, result)
    _repair_lake(pipeline, job)
    result.consents += claim_pipeline_tables(pipeline, [job], run)[job.job_name]  # another job's table: refused
    return pipeline


def _close_after_scan(source: JobSource, scan: Future | None) -> None:
    """Close the source once the value scan beside the load is done: a load that failed first
    leaves the scan running on one of the source's connections, which closing now would orphan
    (ingest/sources/engine_cache.py)."""
    if scan is None or scan.done():
        source.close()
    else:
        scan.add_done_callback(lambda _: source.close())


def _repair_lake(pipeline: dlt.Pipeline, job: JobConfig) -> None:
    """See ingest/lake/repair.py: half-written dlt files from a killed load."""
    repair_pipeline(pipeline, pipeline_name(job), [job.table_name])


def _check_rowcount(job: JobConfig, source: JobSource, pipeline: dlt.Pipeline, result: JobResult,
                    before: Any, after: Any, mode: LoadMode = LoadMode(),
                    landed: int | None = None, counted: tuple[int, int] | None = None) -> RowCountCheck:
    """`landed`: rows the table format counted (delta: from its log); None: parquet footers.
    `counted`: the source's count when the value check's scan already made it."""
    tolerance = job.rowcount_tolerance_pct if job.rowcount_tolerance_pct is not None else DEFAULT_TOLERANCE_PCT
    try:
        if landed is not None:
            pass
        elif result.files:
            with lake_client(pipeline) as client:
                root = client.bucket_path.rstrip("/")
                landed = parquet_rows(client.fs_client, [f"{root}/{f}" for f in result.files])
        elif result.rows_processed == 0:
            landed = 0
        if counted is not None:
            pass
        elif mode.is_backfill:  # the window [start, end) itself, not the state's
            in_window = source.count_window(mode.window.start, mode.window.end)
            counted = None if in_window is None else (in_window, in_window)
        else:
            counted = source.count_range(before, after)
        if counted is None:  # the source cannot count: compare dlt's count with the files only
            low = high = result.rows_processed
        else:
            low, high = counted
        if job.is_incremental and after is None and not mode.is_backfill:  # nothing ever loaded: the window is empty
            low = high = 0
        check = evaluate(result.rows_processed, landed, low, high, tolerance)
        if counted is None:
            check.source_min = check.source_max = None
    except Exception as exc:  # a failing check must not fail a load that succeeded
        check = RowCountCheck(status="skipped", loaded_rows=result.rows_processed, tolerance_pct=tolerance,
                              message=f"count failed: {type(exc).__name__}: {safe_message(exc)}")
    if check.status != "ok":
        log.warning("job %s: row count %s: %s", job.job_name, check.status, check.message)
    return check


def _start_full_load_stats(job: JobConfig, source: JobSource, mode: LoadMode, settings: Settings,
                           feed: Feed | None = None) -> Future | None:
    """A FULL load's source side of the value check, whose row count also serves the row-count
    check (one scan of the table instead of two), asked on its own connection while the load
    reads: the scan then costs no wall time of its own (it added ~0.6 s at 5M rows after the
    load; bench/). Rows changed meanwhile show as a row-count difference, as before. A chunked
    load's chunks scanned their own ranges: their sum comes with the feed (`source_stats`)."""
    known = getattr(feed, "source_stats", None)
    if known is not None:
        done: Future = Future()
        done.set_result(known)
        return done
    if job.is_incremental or _why_the_job_is_not_checked(job, mode, settings):
        return None
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"values-{job.job_name}")
    future = executor.submit(source.value_stats, None, None, True)
    executor.shutdown(wait=False)
    return future


def _full_load_stats_result(job: JobConfig, future: Future | None) -> Any:
    """The scan's result; None when it did not run or failed (the row count then asks itself)."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception as exc:  # the value check then says skipped
        log.warning("job %s: value check scan failed: %s: %s", job.job_name, type(exc).__name__, safe_message(exc))
        return None


def _check_values(job: JobConfig, source: JobSource, pipeline: dlt.Pipeline, result: JobResult,
                  before: Any, after: Any, mode: LoadMode, settings: Settings, stats: Any = None) -> ValueCheck:
    """See ingest/checks/values.py; a check that breaks is `skipped` with why, never a failure."""
    skipped = _why_no_value_check(job, result, mode, settings)
    if skipped:
        return ValueCheck(status="skipped", message=skipped)
    rowcount = result.rowcount or {}
    include_before = rowcount.get("source_max") == result.rows_processed
    if not include_before and (not job.is_incremental or rowcount.get("source_min") != result.rows_processed):
        return ValueCheck(status="skipped", message="the source holds other rows than were loaded (changed"
                                                    " during the load, or boundary rows dlt had seen)")
    try:
        stats = stats if stats is not None else source.value_stats(before, after, include_before)
        if stats is None:
            return ValueCheck(status="skipped", message="the source cannot be asked for each column's values")
        _, source_side, ranged = stats
        with lake_client(pipeline) as client:
            root = client.bucket_path.rstrip("/")
            normalize = post_load.column_normalizer(pipeline)
            names = {name: normalize(name) for name in source_side}
            lake_side = lake_stats(client.fs_client, [f"{root}/{f}" for f in result.files], names.values())
        check = compare_values(source_side, lake_side, ranged, names)
    except Exception as exc:  # a failing check must not fail a load that succeeded
        return ValueCheck(status="skipped", message=f"check failed: {type(exc).__name__}: {safe_message(exc)}")
    if check.status != "ok":
        log.warning("job %s: value check %s: %s", job.job_name, check.status, check.message)
    return check


def _why_the_job_is_not_checked(job: JobConfig, mode: LoadMode, settings: Settings) -> str:
    """Why the value check does not apply to this job's load at all ("" when it does)."""
    if settings.value_check == "off":
        return "INGEST_VALUE_CHECK=off"
    if job.table_format is not TableFormat.PARQUET:
        return "only parquet files just written are checked"
    if mode.is_backfill or job.lookback:
        return "the rows the load read are not one known window (backfill, lookback, or a row-count difference)"
    return ""


def _why_no_value_check(job: JobConfig, result: JobResult, mode: LoadMode, settings: Settings) -> str:
    """Why this load is not checked: the job's reasons, then what the load left (no new file,
    a row count that differs from the source's)."""
    if why := _why_the_job_is_not_checked(job, mode, settings):
        return why
    if not result.files:
        return "only parquet files just written are checked"
    if (result.rowcount or {}).get("status") != "ok":
        return "the rows the load read are not one known window (backfill, lookback, or a row-count difference)"
    return ""


def _raise_for_values(job: JobConfig, result: JobResult, settings: Settings) -> None:
    if settings.value_check == "fail" and (result.values or {}).get("status") == "mismatch":
        raise ValueCheckError(f"job '{job.job_name}': the loaded values differ from the source's (the load is"
                              f" committed): {result.values['message']}")


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
