"""What the load needs of a source, whatever its kind: a dlt resource, the initial
watermark, and (where the source can) a row count for the load's window."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ingest.config.model import JobConfig, SourceType
from ingest.core.settings import Settings


class JobSource(Protocol):
    def resource(self, window: Any = None) -> Any:
        """The dlt resource that reads the job's data; `window`: ingest.plan.load_modes.LoadWindow."""

    def initial_watermark(self) -> Any:
        """The workbook's last_watermark in the type the source compares with."""

    def count_range(self, before: Any, after: Any) -> tuple[int, int] | None:
        """(min, max) source rows for the window; None when the source cannot count."""

    def count_window(self, start: Any, end: Any) -> int | None:
        """Source rows with start <= watermark < end (a backfill); None when it cannot count."""

    def value_stats(self, before: Any, after: Any, include_before: bool, clauses: list[Any] | None = None) -> Any:
        """(rows, stats per column, ranged columns) of the load's rows, for the value check
        (ingest/checks/values.py); None when the source cannot say."""

    def close(self) -> None: ...


class SqlJobSource:
    def __init__(self, job: JobConfig, settings: Settings, run_started_at: datetime | None = None):
        from ingest.sources.connections import resolve_connection
        from ingest.sources.engine_cache import lease_engine
        from ingest.sources.sql import reflect_table
        from ingest.sources.strategies import Strategies

        self.job, self.settings = job, settings
        self._released = False
        self.engine = lease_engine(resolve_connection(job))
        try:
            self.reflected = reflect_table(self.engine, job)
            self.strategies = Strategies.for_job(job, self.reflected.table, self.reflected.watermark_column,
                                                 self.reflected.primary_key, run_started_at,
                                                 settings.watermark_safety_s)
        except Exception:
            self.close()
            raise

    def resource(self, window: Any = None) -> Any:
        from ingest.sources.sql import build_resource

        return build_resource(self.job, self.engine, self.reflected, self.settings.chunk_size,
                              self.settings.sql_backend, window, self.strategies)

    # --- watermark strategies (issue: watermarks) ---
    def extra_resources(self, pipeline: Any, run_started_at: datetime) -> list[Any]:
        """detect_deleted_keys: the delete markers of this run, loaded with the data."""
        if not self.job.detect_deleted_keys:
            return []
        from ingest.sources.soft_deletes import deleted_keys_resource

        return [deleted_keys_resource(self.job, self.engine, self.reflected, self.strategies, pipeline,
                                      run_started_at)]
    # ---

    def initial_watermark(self) -> Any:
        from ingest.sources.sql import coerce_watermark

        return coerce_watermark(self.job.last_watermark, self.reflected.columns[self.reflected.watermark_column],
                                self.job)

    def _typed_window(self, before: Any, after: Any) -> tuple[Any, Any]:
        """The window's bounds in the watermark column's type: dlt state keeps composite
        watermarks as text."""
        from ingest.sources.sql import coerce_watermark

        kind = self.reflected.columns[self.reflected.watermark_column]
        return tuple(coerce_watermark(v, kind, self.job) if isinstance(v, str) else v for v in (before, after))

    def count_range(self, before: Any, after: Any) -> tuple[int, int] | None:
        from ingest.checks.rowcount import source_count_range

        from ingest.sources.watermark_values import minus_lookback

        job, table = self.job, self.reflected.table
        watermark = self.reflected.watermark_column if job.is_incremental else None
        max_before = None
        if watermark is not None:
            before, after = self._typed_window(before, after)
            if job.lookback and before is not None:
                max_before = minus_lookback(before, job.lookback, table.c[watermark])
        return source_count_range(self.engine, table.schema, table.name, watermark, before, after,
                                  where=self.strategies.row_filters(), max_before=max_before, from_table=table)

    def count_window(self, start: Any, end: Any) -> int | None:
        from ingest.plan.load_modes import window_count
        from ingest.sources.sql import coerce_watermark

        column = self.reflected.watermark_column
        kind = self.reflected.columns[column]
        table = self.reflected.table
        return window_count(self.engine, table.schema, table.name, column,
                            coerce_watermark(start, kind, self.job), coerce_watermark(end, kind, self.job))

    def value_stats(self, before: Any, after: Any, include_before: bool, clauses: list[Any] | None = None) -> Any:
        """Each column's non-null count and, where it lands as a decimal,
        date, time or timestamp, min and max (psycopg2 gives ±infinity as date/datetime max and
        min, the very bounds the load clamps them to: ingest/sources/postgres_types.py), over the
        job's filters and, for INCREMENTAL, the
        window (before, after], with rows equal to `before` when `include_before`. The plain
        columns, not the guarded expressions the load selects: a guard per row made the scan
        2.5x slower, and a value a guard stops has failed the load already. `clauses`: the rows
        these select instead (a chunk of a chunked load: ingest/drivers/chunks/tasks.py)."""
        import sqlalchemy as sa

        from ingest.checks.values import source_stats

        plans, table = self.reflected.read_plans, self.reflected.table
        if self.reflected.client_plans:
            return self._client_value_stats(self._value_window(before, after, include_before, clauses))
        if self.engine.dialect.name != "postgresql" or not plans:
            return None
        quote = self.engine.dialect.identifier_preparer.quote
        expressions = {name: quote(name) for name in plans}
        ranged = {name for name, plan in plans.items() if not plan.lands_as_text("pyarrow") and
                  (plan.precision is not None or plan.column.base in ("date", "time", "timestamp", "timestamptz"))}
        where = self._value_window(before, after, include_before, clauses)
        with self.engine.connect() as connection, connection.begin():
            # one backend, no parallel workers: the scan runs beside the load and must not take
            # the cores the load's own query and this process need (ingest/load.py)
            connection.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
            rows, stats = source_stats(connection, table, expressions, where, ranged)
        return rows, stats, ranged

    def _client_value_stats(self, where: list[Any]) -> Any:
        """SQL Server and Oracle: the same scan, each column counted in a form every type
        allows, min and max typed as the load's driver and conversion give them
        (ingest/sources/client_types.py: client_value_columns)."""
        from ingest.checks.values import source_stats
        from ingest.sources.client_types import client_value_columns

        table, plans = self.reflected.table, self.reflected.client_plans
        ranges = client_value_columns(plans)
        expressions = {name: table.c[name] for name in plans}
        with self.engine.connect() as connection:
            rows, stats = source_stats(connection, table, expressions, where, set(ranges), ranges,
                                       any_type_count=True)
        return rows, stats, set(ranges)

    def _value_window(self, before: Any, after: Any, include_before: bool, clauses: list[Any] | None) -> list[Any]:
        """The job's filters and, for INCREMENTAL, the window (before, after]; or `clauses`."""
        table = self.reflected.table
        where = list(self.strategies.row_filters()) if clauses is None else list(clauses)
        watermark = self.reflected.watermark_column if self.job.is_incremental and clauses is None else None
        if watermark is not None:
            column = table.c[watermark]
            before, after = self._typed_window(before, after)
            if before is not None:
                where.append(column >= before if include_before else column > before)
            where.append(column <= after if after is not None else column.isnot(None))
        return where

    def close(self) -> None:
        """Give the shared engine back (once): the process's last job on it closes its connections."""
        from ingest.sources.engine_cache import release_engine

        if not self._released:
            self._released = True
            release_engine(self.engine)


class RestJobSource:
    def __init__(self, job: JobConfig, settings: Settings):
        self.job, self.settings = job, settings

    def resource(self, window: Any = None) -> Any:
        from ingest.sources.rest import build_rest_resource

        return build_rest_resource(self.job, self.settings.http_policy, window)

    def initial_watermark(self) -> Any:
        return self.job.last_watermark

    def count_range(self, before: Any, after: Any) -> tuple[int, int] | None:
        return None  # an API has no COUNT(*): the check compares dlt's count with the files

    def count_window(self, start: Any, end: Any) -> int | None:
        return None

    def value_stats(self, before: Any, after: Any, include_before: bool, clauses: list[Any] | None = None) -> Any:
        return None  # an API cannot be asked for min and max

    def close(self) -> None:
        pass


def open_source(job: JobConfig, settings: Settings, run_started_at: datetime | None = None) -> JobSource:
    if job.source_type is SourceType.REST_API:
        return RestJobSource(job, settings)
    return SqlJobSource(job, settings, run_started_at)
