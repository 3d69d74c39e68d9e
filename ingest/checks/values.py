"""The value check: what landed, compared with what the source holds, column by column.

A row count cannot see a value that changed on the way (a decimal cut to fewer digits, a
timestamp moved, a JSON null become a SQL NULL). So after a load the source is asked, in one
scan, for each column's count of non-null values and, for decimal, date, time and timestamp
columns, their min and max, over exactly the rows the load read; the lake side comes from the
parquet footers of the files just written (row-group statistics: nothing else is read). A
difference is a mismatch naming the column; the job fails on it unless INGEST_VALUE_CHECK is
`warn` (or `off`).

When it runs: PostgreSQL sources (their columns are selected through the read plans of
ingest/sources/postgres_types.py, so ±infinity compare as the bounds they land as), SQL Server
and Oracle sources (min/max through the driver's conversion of their client plans,
ingest/sources/client_types.py: `client_value_columns`), parquet tables, FULL loads, and INCREMENTAL loads whose row count equals one side of the window
(otherwise which boundary rows dlt kept is not known, and the check says it was skipped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa

RANGE_TYPES = (Decimal, datetime, date, time)


@dataclass
class ColumnStats:
    non_null: int = 0
    minimum: Any = None
    maximum: Any = None


@dataclass
class ValueCheck:
    status: str
    """ok | mismatch | skipped"""
    columns_checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_stats(connection: sa.Connection, table: sa.Table, expressions: dict[str, Any], where: Iterable[Any],
                 ranged: set[str], ranges: dict[str, Any] | None = None,
                 any_type_count: bool = False) -> tuple[int, dict[str, ColumnStats]]:
    """(rows, stats per column) over the rows `where` selects; `expressions`: each column's
    SQL as the load selects it (text, or a SQLAlchemy column); min/max only for the columns in
    `ranged`, through `ranges[name]` (a function of the min or max expression giving the typed
    value the load's driver would give) when there is one. `any_type_count`: count non-null
    values as `count(CASE WHEN c IS NOT NULL THEN 1 END)`, which SQL Server also allows on
    text, ntext, image and CLR types (its `count(c)` does not)."""
    query = stats_query(table, expressions, where, ranged, ranges, any_type_count)
    row = connection.execute(query).one()
    values = iter(row[1:])
    stats = {}
    for name in expressions:
        stats[name] = ColumnStats(non_null=int(next(values)))
        if name in ranged:
            stats[name].minimum, stats[name].maximum = next(values), next(values)
    return int(row[0]), stats


def stats_query(table: sa.Table, expressions: dict[str, Any], where: Iterable[Any], ranged: set[str],
                ranges: dict[str, Any] | None = None, any_type_count: bool = False) -> sa.Select:
    """The one SELECT of source_stats: count(*), then per column its non-null count and, when
    ranged, its min and max."""
    selected: list[Any] = [sa.func.count()]
    for name, expression in expressions.items():
        column = sa.literal_column(expression) if isinstance(expression, str) else expression
        selected.append(sa.func.count(sa.case((column.isnot(None), 1))) if any_type_count else sa.func.count(column))
        if name in ranged:
            typed = (ranges or {}).get(name, _as_is)
            selected += [typed(sa.func.min(column)), typed(sa.func.max(column))]
    return sa.select(*selected).select_from(table).where(*where)


def _as_is(expression: Any) -> Any:
    return expression


def lake_stats(fs: Any, paths: Iterable[str], columns: Iterable[str]) -> dict[str, ColumnStats]:
    """Each column's non-null count, min and max from the parquet footers of `paths`."""
    import pyarrow.parquet as pq

    wanted = set(columns)
    stats: dict[str, ColumnStats] = {}  # a nested column (a list) has no footer entry of its name: left out
    for path in paths:
        with fs.open(path, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for index in range(row_group.num_columns):
                chunk = row_group.column(index)
                name = chunk.path_in_schema
                if name in wanted:
                    _merge(stats.setdefault(name, ColumnStats()), chunk.statistics, row_group.num_rows)
    return stats


def _merge(stats: ColumnStats, chunk: Any, rows: int) -> None:
    if chunk is None:
        stats.non_null = -1  # no statistics: cannot say
        return
    if stats.non_null >= 0:
        stats.non_null += rows - (chunk.null_count or 0)
    if chunk.has_min_max:
        stats.minimum = chunk.min if stats.minimum is None else min(stats.minimum, chunk.min)
        stats.maximum = chunk.max if stats.maximum is None else max(stats.maximum, chunk.max)


def compare(source: dict[str, ColumnStats], lake: dict[str, ColumnStats], ranged: set[str],
            lake_name: dict[str, str]) -> ValueCheck:
    """Mismatches, one line per column and property; `lake_name`: source column -> lake column."""
    check = ValueCheck(status="ok", columns_checked=len(source))
    for name, expected in source.items():
        landed = lake.get(lake_name[name])
        if landed is None:
            continue
        if landed.non_null >= 0 and landed.non_null != expected.non_null:
            check.mismatches.append(f"column {name}: {expected.non_null} non-null values in the source,"
                                    f" {landed.non_null} in the lake")
        if name in ranged and expected.non_null and landed.non_null:
            for what, want, got in (("min", expected.minimum, landed.minimum), ("max", expected.maximum, landed.maximum)):
                if _comparable(want) != _comparable(got):
                    check.mismatches.append(f"column {name}: {what} is {want} in the source, {got} in the lake")
    if check.mismatches:
        check.status = "mismatch"
        check.message = "; ".join(check.mismatches[:5]) + (" ..." if len(check.mismatches) > 5 else "")
    return check


def _comparable(value: Any) -> Any:
    """Timestamps as naive UTC (the source gives zoned values in the session's zone), decimals
    by value (1.10 == 1.1 for Decimal already)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
