"""Loads the lake holds that the audit trail does not: a run killed (SIGKILL, the OOM killer, a
lost machine) after a job's commit and before the run recorded it. Every run looks for them
for its own jobs and records each one found with its rows, status `recovered` (README
"Interrupting a run"), so the audit trail accounts for every row in the lake.

What counts as committed is dlt's own record: a `_dlt_loads/{schema}__{load_id}...` marker of
the job's schema (`ingest_<job_name>`); its rows are those of the job table's data files named
by that load (`{table}/.../{load_id}.{file_id}.parquet`: the default layout), read from the
parquet footers. Looked at: loads from RECOVERY_LOOKBACK_DAYS before the run's start up to the
run's start (a later load is this run's own, or another run's still being recorded). Loads
without rows in the job's table (a state-only load of an INCREMENTAL job with nothing new) are
not recorded. Delta tables (files not named by load) and CDC pipelines are not looked at.

The names of the lake's folders alone are listed on every run; data files only when a load
is found unrecorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable

from ingest.checks.rowcount import parquet_rows
from ingest.core.result import JobResult, JobStatus
from ingest.core.settings import Settings
from ingest.lake.repair import LOAD_ID_FILE, LOADS_DIR

log = logging.getLogger("ingest.recovery")
RECOVERY_LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class Target:
    """A job whose loads are looked at: its dlt schema's name and its lake table."""

    job_name: str
    schema_name: str
    table_name: str


RecordedLoadIds = Callable[[datetime], set[str]]
"""(since) -> the load ids the audit trail holds for runs since then (at least those)."""


def load_time(load_id: str) -> datetime | None:
    """dlt's load ids are the Unix time of the load's start."""
    try:
        return datetime.fromtimestamp(float(load_id), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def lake_filesystem(settings: Settings) -> tuple[Any, str]:
    """The lake's fsspec filesystem and dataset folder, through dlt's own client (no pipeline)."""
    from dlt.common.schema import Schema
    from dlt.dataset.utils import get_destination_clients

    from ingest.lake.destination import make_destination

    client, _ = get_destination_clients(Schema("ingest_recovery"), make_destination(settings),
                                        destination_dataset_name=settings.dataset)
    return client.fs_client, client.dataset_path.rstrip("/")


def committed_loads(fs: Any, root: str, schema_names: set[str], since: datetime,
                    until: datetime) -> dict[str, str]:
    """load id -> schema name, of the `_dlt_loads` markers of `schema_names` from `since` to `until`."""
    directory = f"{root}/{LOADS_DIR}"
    if not fs.exists(directory):
        return {}
    found: dict[str, str] = {}
    for path in fs.ls(directory, detail=False):
        schema, _, rest = str(path).rsplit("/", 1)[-1].partition("__")
        load_id = rest.split("__", 1)[0].removesuffix(".jsonl")
        moment = load_time(load_id)
        if schema in schema_names and moment is not None and since <= moment < until:
            found[load_id] = schema
    return found


def load_files(fs: Any, table_dir: str, load_ids: set[str]) -> dict[str, list[str]]:
    """load id -> its parquet files in `table_dir`."""
    files: dict[str, list[str]] = {}
    if not fs.exists(table_dir):
        return files
    for path in fs.find(table_dir):
        match = LOAD_ID_FILE.match(str(path).rsplit("/", 1)[-1])
        if match and match.group(1) in load_ids and str(path).endswith(".parquet"):
            files.setdefault(match.group(1), []).append(str(path))
    return files


def find_unrecorded(settings: Settings, targets: Iterable[Target], recorded: RecordedLoadIds,
                    run_id: str, run_started_at: datetime) -> list[JobResult]:
    """A `recovered` JobResult for each committed load of `targets` with rows and no audit row,
    each with its own run id `<run_id>-recovered-<load_id>` (found by run `run_id`)."""
    by_schema = {t.schema_name: t for t in targets}
    if not by_schema:
        return []
    fs, root = lake_filesystem(settings)
    since = run_started_at - timedelta(days=RECOVERY_LOOKBACK_DAYS)
    loads = committed_loads(fs, root, set(by_schema), since, run_started_at)
    if not loads:
        return []
    earliest = min(moment for load_id in loads if (moment := load_time(load_id)) is not None)
    known = recorded(earliest - timedelta(days=1))  # a run's audit is filed under the day it started
    missing = {load_id: schema for load_id, schema in loads.items() if load_id not in known}
    results = []
    for schema, target in by_schema.items():
        ids = {load_id for load_id, owner in missing.items() if owner == schema}
        for load_id, paths in sorted(load_files(fs, f"{root}/{target.table_name}", ids).items()):
            results.append(_recovered(target, load_id, sorted(paths), parquet_rows(fs, paths), run_id))
    for result in results:
        log.warning("load %s of job %s (%d rows) was committed to the lake by a run that ended before recording"
                    " it: recorded now as %s", result.load_id, result.job_name, result.rows_processed, result.run_id)
    return results


def _recovered(target: Target, load_id: str, paths: list[str], rows: int, run_id: str) -> JobResult:
    moment = load_time(load_id)
    at = moment.isoformat() if moment else None
    return JobResult(job_name=target.job_name, status=JobStatus.RECOVERED, run_id=f"{run_id}-recovered-{load_id}",
                     table_name=target.table_name, rows_processed=rows, load_id=load_id,
                     partition_path=str(PurePosixPath(paths[0]).parent) if paths else None, files=paths,
                     started_at=at, finished_at=at,
                     error_message=f"committed to the lake at {at} by a run that ended before recording it;"
                                   f" found by run {run_id}")
