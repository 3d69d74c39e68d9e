"""A FULL load that would shrink its lake table is stopped before it publishes (README "What
the app will not do without asking").

A load that replaces its table (FULL: parquet replace, snapshot, Delta overwrite, the SCD2
stage; force FULL of an INCREMENTAL job) is checked right before dlt's load step commits
anything: the rows it would publish are read from the parquet footers of the normalized load
package (what was extracted: no scan of the source), the rows the table holds now from the
lake's own metadata (parquet footers; a Delta table's log; a snapshot's newest day folder).
When the table is not empty and the load would keep fewer than (100 - max_shrink_pct)% of its
rows, the pending package is dropped (dlt's local state rewinds with it, so no later run
publishes it) and ShrinkRefusedError names both counts and the two ways to allow it: the
workbook column `max_shrink_pct`, or the run option `--allow-shrink <job>` for one run. An
allowed shrink beyond the default share is recorded in the job's `consents`.
"""

from __future__ import annotations

import logging
import posixpath
from typing import Any, Iterable

from dlt.common.destination.exceptions import DestinationUndefinedEntity

from ingest.checks.rowcount import parquet_rows
from ingest.config.model import JobConfig, LoadType
from ingest.core.errors import ShrinkRefusedError
from ingest.core.result import JobResult, RunContext
from ingest.lake.client import lake_client
from ingest.lake.table_formats import add_actions, dlt_table_name, is_delta, is_snapshot, open_delta

log = logging.getLogger("ingest.shrink")

DEFAULT_MAX_SHRINK_PCT = 50.0
"""A load may drop at most half of a table's rows unless the job or the run allows more; an
empty load of a non-empty table is refused unless max_shrink_pct is 100."""
SETTING, RUN_OPTION = "max_shrink_pct", "--allow-shrink"


def replaces_table(job: JobConfig, full_refresh: bool) -> bool:
    """Whether this load publishes a new copy of the job's table in place of the old one."""
    return job.load_type is LoadType.FULL or full_refresh


def is_refused(current: int, new: int, max_shrink_pct: float) -> bool:
    """A load of `new` rows over a table of `current` rows drops more than allowed."""
    return current > 0 and new < current * (100.0 - max_shrink_pct) / 100.0


def guard_shrink(pipeline: Any, job: JobConfig, run: RunContext, result: JobResult) -> None:
    """Check every load of `pipeline` right before dlt's load step (as fence_commit does,
    ingest/lake/pipeline_hooks.py): see the module docstring."""
    load_step = pipeline.load

    def guarded_load(*args: Any, **kwargs: Any) -> Any:
        table = dlt_table_name(job)
        new = sum(package_rows(pipeline, load_id, table) for load_id in pipeline.list_normalized_load_packages())
        current = lake_rows(pipeline, job)
        _decide(pipeline, job, run, result, current, new)
        return load_step(*args, **kwargs)

    pipeline.load = guarded_load


def _decide(pipeline: Any, job: JobConfig, run: RunContext, result: JobResult, current: int, new: int) -> None:
    share = job.max_shrink_pct if job.max_shrink_pct is not None else DEFAULT_MAX_SHRINK_PCT
    refused, beyond_default = is_refused(current, new, share), is_refused(current, new, DEFAULT_MAX_SHRINK_PCT)
    if not refused and not beyond_default:
        return
    what = f"lake table {job.table_name}, which holds {current} rows, with {new} rows"
    once = job.job_name in (run.allow_shrink or ())
    if once or not refused:
        how = f"the run option {RUN_OPTION} {job.job_name}" if once else f"the job's {SETTING} {share:g}"
        consent = f"replaced {what}, allowed by {how}"
        if consent not in result.consents:  # once per load, whatever the retries
            result.consents.append(consent)
        log.warning("job %s: %s", job.job_name, consent)
        return
    drop_pending_packages(pipeline)
    dropped = 100.0 * (current - new) / current
    raise ShrinkRefusedError(
        f"job '{job.job_name}': the FULL load would replace {what} (a drop of {dropped:.4g}%, beyond"
        f" {SETTING} {share:g}); nothing was published. To allow it: set the workbook column {SETTING}"
        f" (100 allows any drop), or once: run {RUN_OPTION} {job.job_name}")


def package_rows(pipeline: Any, load_id: str, table: str) -> int:
    """Rows of `table` in a normalized load package, from its parquet files' footers (local);
    a package an interrupted load had begun counts its started and completed files too."""
    import pyarrow.parquet as pq

    info = pipeline.get_load_package_info(load_id)
    total = 0
    for state in ("new_jobs", "started_jobs", "completed_jobs"):
        for job_info in info.jobs.get(state, []):
            if job_info.job_file_info.table_name == table and job_info.file_path.endswith(".parquet"):
                total += pq.ParquetFile(job_info.file_path).metadata.num_rows
    return total


def lake_rows(pipeline: Any, job: JobConfig) -> int:
    """Rows the job's table holds in the lake now (0 when it does not exist yet)."""
    table = dlt_table_name(job)
    if is_delta(job):
        delta = open_delta(pipeline, table)
        return 0 if delta is None else sum(n or 0 for n in add_actions(delta).get("num_records", []))
    with lake_client(pipeline) as client:
        try:  # the files dlt's replace would delete
            files = [f for f in client.list_table_files(table) if f.endswith(".parquet")]
        except (DestinationUndefinedEntity, FileNotFoundError):  # no table yet
            return 0
        if is_snapshot(job):
            files = newest_folder(files)
        return parquet_rows(client.fs_client, files)


def newest_folder(files: Iterable[str]) -> list[str]:
    """The files of the newest day folder (`{table}/{YYYY}/{MM}/{DD}/`: the latest snapshot)."""
    by_folder: dict[str, list[str]] = {}
    for path in files:
        by_folder.setdefault(posixpath.dirname(path), []).append(path)
    return by_folder[max(by_folder)] if by_folder else []


def drop_pending_packages(pipeline: Any) -> None:
    """Delete the pipeline's pending load packages and rewind its local state and schemas to
    before them, without loading anything: dlt's `abort_packages` would finish the oldest one
    through `load()` with a record. dlt 1.31 (pinned): `_apply_abort_plan` is what
    `abort_packages` runs for packages that never started loading."""
    plan = pipeline.abort_packages(dry_run=True)
    if plan is None:
        return
    aborted = plan["package_to_abort"]
    if aborted is not None:
        plan["packages_to_delete"] = [aborted["load_id"], *plan["packages_to_delete"]]
        plan["package_to_abort"] = None
    pipeline._apply_abort_plan(plan)
