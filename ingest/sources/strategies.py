"""How a SQL job's watermark strategies shape its dlt resource (README: Watermark strategies):
filters and the run-start cap in the query, composite cursor or dlt incremental with `lag`,
the lookback overlap filter and the delete-flag marker as map steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import dlt
import sqlalchemy as sa

from ingest.config.model import JobConfig
from ingest.core.errors import ConfigError
from ingest.sources.soft_deletes import flag_marker
from ingest.sources import composite
from ingest.sources.filters import filter_clauses, resolve_column
from ingest.sources.lookback import OverlapFilter
from ingest.sources.watermark_values import dlt_lag, from_text, is_datetime, lookback_span, minus_lookback

log = logging.getLogger("ingest.sources.strategies")


@dataclass
class Strategies:
    job: JobConfig
    table: sa.Table
    watermark: sa.Column | None
    tiebreak: list[sa.Column]
    key_columns: list[str]
    cap: Any = None
    """Rows with a watermark at or after this (run start - margin) wait for the next run."""
    resource_name: str | None = None
    overlap: OverlapFilter | None = field(default=None, repr=False)

    @classmethod
    def for_job(cls, job: JobConfig, table: sa.Table, watermark: str | None, key_columns: tuple[str, ...],
                run_started_at: datetime | None, margin_s: float) -> "Strategies":
        column = table.c[watermark] if watermark else None
        tiebreak = [resolve_column(table, name, job, "watermark_column") for name in job.watermark_tiebreak]
        if tiebreak and column is not None:
            composite.check_orderable([column, *tiebreak], job.job_name)
        cap = None
        if job.is_incremental and column is not None and is_datetime(column) and run_started_at is not None:
            cap = from_text(run_started_at - timedelta(seconds=margin_s), column)
        if job.delete_flag_column:
            resolve_column(table, job.delete_flag_column, job, "delete_flag_column")
        strategies = cls(job=job, table=table, watermark=column, tiebreak=tiebreak, key_columns=list(key_columns),
                         cap=cap)
        if job.lookback and column is not None:
            strategies.lookback_span()  # a unit that does not fit the column fails before reading
        return strategies

    @property
    def is_composite(self) -> bool:
        return bool(self.tiebreak) and self.job.is_incremental

    @property
    def binds_cell_values(self) -> bool:
        """Filter values come from cells: they must reach the database as bound parameters,
        which connectorx (SQL text with literals) cannot do."""
        return bool(self.job.filters)

    def lookback_span(self) -> float:
        try:
            return lookback_span(self.job.lookback, self.watermark)
        except ValueError as exc:
            raise ConfigError(f"jobs!row {self.job.row}: job '{self.job.job_name}': {exc}") from None

    def dlt_lag(self) -> float | None:
        if not self.job.lookback or self.watermark is None:
            return None
        self.lookback_span()
        return dlt_lag(self.job.lookback, self.watermark)

    def initial_value(self, value: Any) -> Any:
        """dlt's lag never crosses initial_value, and the workbook's last_watermark is written
        back after each run: with a lookback the initial value is moved back by it too, or the
        lookback would stop at the last run's watermark."""
        if value is None or not self.job.lookback or self.watermark is None:
            return value
        return minus_lookback(value, self.job.lookback, self.watermark)

    def row_filters(self, table: sa.Table | None = None) -> list[Any]:
        """The job's filters (also what the row-count check and the key snapshot use)."""
        return filter_clauses(table if table is not None else self.table, self.job)

    def _composite_clause(self, table: sa.Table) -> list[Any]:
        columns = [table.c[c.name] for c in [self.watermark, *self.tiebreak]]
        state = dlt.current.resource_state(self.resource_name)
        last = composite.stored_last(state, columns)
        clauses: list[Any] = [columns[0].isnot(None)]
        if last is None:
            if self.job.last_watermark is not None:
                clauses.append(columns[0] >= from_text(self.job.last_watermark, columns[0]))
        elif self.job.lookback:
            clauses.append(columns[0] >= minus_lookback(last[0], self.job.lookback, columns[0]))
        else:
            clauses.append(composite.after_clause(columns, last))
        return clauses

    def query_adapter(self, dialect_adapter: Callable[..., Any] | None) -> Callable[..., Any]:
        def adapt(query: Any, table: sa.Table, incremental: Any = None, engine: Any = None) -> Any:
            clauses = self.row_filters(table)
            if self.cap is not None:
                clauses.append(table.c[self.watermark.name] < self.cap)
            if self.is_composite:
                clauses += self._composite_clause(table)
            if clauses:
                query = query.where(*clauses)
            return dialect_adapter(query, table, incremental, engine) if dialect_adapter else query

        return adapt

    def attach(self, resource: Any) -> Any:
        """Map steps after dlt's own (incremental) steps, in this order: lookback overlap
        filter, composite tracker, delete-flag marker."""
        self.resource_name = resource.name
        if self.job.lookback and self.watermark is not None:
            self.overlap = OverlapFilter(resource.name, self.key_columns, self.watermark.name, self.lookback_span())
            resource.add_map(self.overlap)
        if self.is_composite:
            resource.add_map(composite.CompositeTracker(resource.name, [self.watermark, *self.tiebreak]))
        if self.job.delete_flag_column:
            flag = resolve_column(self.table, self.job.delete_flag_column, self.job, "delete_flag_column")
            resource.add_map(flag_marker(flag.name))
        return resource
