"""How one job loads in a run with parameters: as usual, as a full refresh (force FULL), or a
backfill window. The run's parameters travel in RunContext (ingest/core/result.py); this module
turns them into what the dlt resource and `pipeline.run` need.

- normal: FULL replaces the table; INCREMENTAL continues from dlt's state (the workbook's
  last_watermark only seeds a first load, and only when a person typed it or the write-back
  took it from this very lake: `first_load_start`, the one place that decides, for the plan
  and the load, local and on Azure).
- full refresh (force FULL on an INCREMENTAL job): `pipeline.run(refresh="drop_resources")`.
  dlt drops the job's table before loading (on the filesystem destination: deletes every file
  under the table's folder) and wipes the resource's state, so its incremental cursor starts
  empty; the resource is built without an initial value, so every row is read. The new copy
  lands in the run's date folder and the state committed with it holds the new highest
  watermark: the next normal run continues from there. No duplicates remain, and the state
  matches the data. A FULL job is unaffected (it replaces its table every run anyway).
- backfill [start, end) for an INCREMENTAL database job: the resource gets
  `dlt.sources.incremental(initial_value=start, end_value=end)`; with an end value dlt uses a
  throw-away state for the window (it neither reads nor writes the job's cursor), and pushes
  `start <= column < end` into the SQL. The rows are appended to the same table folder, in the
  run's date folder, beside the earlier loads. Rows of the window that an earlier load already
  read land again: parquet has no merge, so a backfill over loaded rows duplicates them (same
  key, same watermark value); read the lake with the latest-row-per-key query of the README, or
  backfill only windows before the job's first watermark. The workbook watermark is not moved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.config.model import JobConfig
from ingest.core.result import RunContext

NORMAL, FULL_REFRESH, BACKFILL = "normal", "full_refresh", "backfill"
REFRESH_MODE = "drop_resources"
"""dlt's refresh for a forced full load: drop the job's tables and its resources' state."""


@dataclass(frozen=True)
class LoadWindow:
    """What an INCREMENTAL resource reads instead of "from its state": `start` (None: from the
    beginning) up to `end` exclusive (None: no end; the state is kept and moved)."""

    start: Any = None
    end: Any = None


@dataclass(frozen=True)
class LoadMode:
    kind: str = NORMAL
    window: LoadWindow | None = None
    refresh: str | None = None
    """`refresh` argument of dlt's pipeline.run."""

    @property
    def is_backfill(self) -> bool:
        return self.kind == BACKFILL

    @property
    def is_full_refresh(self) -> bool:
        return self.kind == FULL_REFRESH


@dataclass(frozen=True)
class FirstLoadStart:
    """Where a load with no state in the lake starts: `value` (None: from the beginning) and,
    when the workbook's last_watermark is no starting point here, `why` in words."""

    value: Any = None
    why: str | None = None


def first_load_start(job: JobConfig, lake: str) -> FirstLoadStart:
    """The workbook's last_watermark starts a lake with no state when a person typed it (no
    watermark_lake) or the write-back took it from this lake (`lake`: ingest/lake/identity.py);
    a value written back from another lake does not: a new lake would miss every row before it."""
    if job.last_watermark is None:
        return FirstLoadStart()
    if job.watermark_lake is None or job.watermark_lake == lake:
        return FirstLoadStart(job.last_watermark)
    return FirstLoadStart(why=f"the workbook's last_watermark {job.last_watermark} was written back from lake"
                              f" {job.watermark_lake}, not this one ({lake})")


def for_lake(job: JobConfig, lake: str) -> JobConfig:
    """The job as a load into `lake` reads it: without a last_watermark that is no start there."""
    if first_load_start(job, lake).why is None:
        return job
    return replace(job, last_watermark=None)


def load_mode(job: JobConfig, run: RunContext) -> LoadMode:
    if not job.is_incremental:
        return LoadMode()
    if run.backfill and job.source_type.is_sql:
        return LoadMode(BACKFILL, LoadWindow(run.backfill["start"], run.backfill["end"]))
    if run.force_full:
        return LoadMode(FULL_REFRESH, LoadWindow(), REFRESH_MODE)
    return LoadMode()


def describe(job: JobConfig, run: RunContext) -> str:
    """How the job loads in this run, in words (for the plan)."""
    mode = load_mode(job, run)
    if mode.is_full_refresh:
        return "full refresh (force FULL: table dropped, watermark state reset, every row read)"
    if mode.is_backfill:
        return (f"backfill [{mode.window.start}, {mode.window.end}) appended; watermark state untouched")
    return job.load_type.value


def window_count(engine: Engine, schema: str | None, table: str, column: str, start: Any, end: Any) -> int:
    """Source rows with start <= column < end: what a backfill of that window reads."""
    source = sa.table(table, sa.column(column), schema=schema)
    query = sa.select(sa.func.count()).select_from(source).where(source.c[column] >= start, source.c[column] < end)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
