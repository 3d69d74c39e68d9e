"""Where a chunked load splits its table (README "Chunked loads"): the split column, how many
chunks, and boundaries balanced by the data.

Boundaries come from the cheapest source that follows the data, not only min..max (a skewed
key would give one huge chunk):
- PostgreSQL: the planner's histogram (`pg_stats.histogram_bounds`, free, as fresh as the last
  ANALYZE), else `percentile_disc(ARRAY[...]) WITHIN GROUP (ORDER BY c)` (one sorted scan);
- SQL Server: `PERCENTILE_DISC(f) WITHIN GROUP (ORDER BY c) OVER ()` (a window function there),
  first row; Oracle: the `PERCENTILE_DISC(f) WITHIN GROUP (ORDER BY c)` aggregate;
- anything else, or a query that fails: min..max in equal strides.

Boundaries only balance the chunks; they never decide which rows load. The first chunk has no
lower bound, the last no upper bound and rows whose split value is NULL form a chunk of their
own (`IS NULL`), so every row of the load's window is in exactly one chunk whatever the
statistics said.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ingest.config.columns import MAX_CHUNKS
from ingest.config.model import ChunkSize, JobConfig
from ingest.core.errors import ConfigError
from ingest.lake.chunk_names import NULL_CHUNK, chunk_id
from ingest.sources.watermark_values import base_type

log = logging.getLogger("ingest.sources.chunks")



@dataclass(frozen=True)
class SplitColumn:
    name: str
    kind: str
    """integer | date | timestamp"""
    nullable: bool


def column_kind(column: sa.Column) -> str | None:
    kind = base_type(column)
    if isinstance(kind, sa.DateTime):
        return "timestamp"
    if isinstance(kind, sa.Date):
        return "date"
    if isinstance(kind, sa.Integer) or (isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float)
                                        and getattr(kind, "scale", None) == 0):
        return "integer"
    return None


def split_column(job: JobConfig, table: sa.Table) -> SplitColumn:
    """The job's chunk_column, or the table's single-column integer primary key."""
    where = f"job '{job.job_name}' (jobs!row {job.row})"
    if job.chunk_column:
        matches = [c for c in table.columns if c.name.lower() == job.chunk_column.lower()]
        if len(matches) != 1:
            raise ConfigError(f"{where}: chunk_column '{job.chunk_column}' is not a column of {table.name}")
        column = matches[0]
    else:
        key = list(table.primary_key.columns)
        if len(key) != 1 and job.primary_key:
            key = [c for c in table.columns if c.name.lower() in {k.lower() for k in job.primary_key}]
        if len(key) != 1 or column_kind(key[0]) != "integer":
            raise ConfigError(f"{where}: chunk_size needs a chunk_column (an integer, date or timestamp"
                              f" column): {table.name} has no single-column integer primary key")
        column = key[0]
    kind = column_kind(column)
    if kind is None:
        raise ConfigError(f"{where}: chunk_column '{column.name}' ({column.type}) is not an integer, date"
                          " or timestamp column")
    return SplitColumn(column.name, kind, bool(column.nullable) and not column.primary_key)


def chunk_count(connection: Connection, table: sa.Table, where: list[Any], size: ChunkSize) -> int:
    """How many chunks: the workbook's count, or the rows (estimated by PostgreSQL when the load
    reads the whole table) divided by the rows per chunk."""
    if size.unit == "chunks":
        return size.amount
    rows = None
    if connection.dialect.name == "postgresql" and not where:
        name = f"{table.schema}.{table.name}" if table.schema else table.name
        rows = connection.execute(sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:n)"),
                                  {"n": _quoted(connection, table.schema, table.name) or name}).scalar()
        rows = rows if rows is not None and rows >= 0 else None
    if rows is None:
        rows = connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
    return max(1, min(MAX_CHUNKS, math.ceil(int(rows) / size.amount)))


def _quoted(connection: Connection, schema: str | None, name: str) -> str:
    quote = connection.dialect.identifier_preparer.quote_identifier
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


def boundaries(connection: Connection, table: sa.Table, split: SplitColumn, where: list[Any],
               count: int) -> tuple[list[Any], str]:
    """Up to count-1 increasing inner boundaries, and how they were found."""
    if count < 2:
        return [], "one chunk"
    fractions = [i / count for i in range(1, count)]
    column = table.c[split.name]
    dialect = connection.dialect.name
    if dialect == "postgresql":
        found = _histogram(connection, table, split, count)
        if found:
            return found, "pg_stats histogram"
    if dialect in ("postgresql", "mssql", "oracle"):
        try:
            values = list(connection.execute(quantile_query(table, column, where, fractions, dialect)).one())
            if dialect == "postgresql":
                values = list(values[0] or [])
            found = _increasing(_as_kind(v, split.kind) for v in values)
            if found:
                return found, "percentile_disc"
        except sa.exc.DBAPIError as exc:  # no permission, an old server: the stride still splits
            connection.rollback()
            log.info("chunk boundaries: percentile query failed (%s), using min/max strides", type(exc).__name__)
    low, high = connection.execute(sa.select(sa.func.min(column), sa.func.max(column)).where(*where)).one()
    return stride(_as_kind(low, split.kind), _as_kind(high, split.kind), count), "min/max stride"


def quantile_query(table: sa.Table, column: sa.Column, where: list[Any], fractions: list[float],
                   dialect: str) -> Any:
    """The dialect's quantile query: one row of boundaries (PostgreSQL: one array)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, array

        fraction_array = sa.cast(array([sa.literal(f) for f in fractions]), ARRAY(sa.Float))
        return sa.select(sa.func.percentile_disc(fraction_array).within_group(column)).where(*where)
    if dialect == "mssql":  # a window function in T-SQL: every row carries it, take one
        return sa.select(*(sa.func.percentile_disc(sa.literal(f)).within_group(column).over()
                           for f in fractions)).where(*where).limit(1)
    return sa.select(*(sa.func.percentile_disc(sa.literal(f)).within_group(column)
                       for f in fractions)).where(*where)


def _histogram(connection: Connection, table: sa.Table, split: SplitColumn, count: int) -> list[Any]:
    """count-1 boundaries picked evenly from the planner's histogram ([] when there is none)."""
    text = connection.execute(sa.text(
        "SELECT histogram_bounds::text FROM pg_stats WHERE schemaname = coalesce(:s, current_schema())"
        " AND tablename = :t AND attname = :c"), {"s": table.schema, "t": table.name, "c": split.name}).scalar()
    if not text:
        return []
    bounds = next(csv.reader([text.strip("{}")], quotechar='"', escapechar="\\"))
    if len(bounds) < count:
        return []
    picks = [bounds[round(i * (len(bounds) - 1) / count)] for i in range(1, count)]
    return _increasing(_as_kind(value, split.kind) for value in picks)


def _as_kind(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "integer":
        return int(value)
    if kind == "date":
        return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text[-3:-2] in "+-" and text[-6:-5] != ":" and len(text) > 19:  # PostgreSQL's +00 offset
        text += ":00"
    return datetime.fromisoformat(text)


def _increasing(values: Any) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if value is not None and (not found or value > found[-1]):
            found.append(value)
    return found


def stride(low: Any, high: Any, count: int) -> list[Any]:
    """min..max cut in `count` equal steps (integers: whole steps)."""
    if low is None or high is None or high <= low:
        return []
    if isinstance(low, int):
        step = (high - low + 1) / count
        return _increasing(low + math.ceil(i * step) for i in range(1, count))
    span = high - low
    if isinstance(span, timedelta):
        return _increasing(low + span * i / count for i in range(1, count))
    return []


def chunk_ranges(bounds: list[Any], nullable: bool) -> list[dict[str, Any]]:
    """[{id, low, high}] covering every value: (-inf, b1), [b1, b2) ... [bn, +inf), and the
    NULL chunk when the column may hold NULLs. Values are kept as given (JSON: the caller)."""
    edges = [None, *bounds, None]
    ranges = [{"id": chunk_id(i), "low": edges[i], "high": edges[i + 1]} for i in range(len(edges) - 1)]
    if nullable:
        ranges.append({"id": NULL_CHUNK, "low": None, "high": None})
    return ranges


def range_clause(column: sa.Column, chunk: dict[str, Any]) -> list[Any]:
    """The rows of one chunk: low <= column < high (open ends unbounded, NULLs apart)."""
    if chunk["id"] == NULL_CHUNK:
        return [column.is_(None)]
    clauses = [column.isnot(None)]
    if chunk.get("low") is not None:
        clauses.append(column >= chunk["low"])
    if chunk.get("high") is not None:
        clauses.append(column < chunk["high"])
    return clauses


def encode(value: Any) -> Any:
    """A boundary as JSON (dates and timestamps as ISO text)."""
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def decode(value: Any, kind: str) -> Any:
    return _as_kind(value, kind)
