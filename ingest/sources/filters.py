"""A job's `filters` rows as SQLAlchemy clauses: the column is resolved against the reflected
table (so it is quoted by SQLAlchemy, never pasted), the value is a bound parameter typed by
the column. A value like `US' OR '1'='1` is just a string nothing equals."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa

from ingest.config.model import FilterRule, FilterValue, JobConfig
from ingest.core.errors import ConfigError, SourceObjectNotFoundError

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda c, v: c == v, "!=": lambda c, v: c != v, "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v, ">": lambda c, v: c > v, ">=": lambda c, v: c >= v,
}


def resolve_column(table: sa.Table, wanted: str, job: JobConfig, label: str) -> sa.Column:
    """The table's column named `wanted` (exactly, else the one equal ignoring case)."""
    names = [c.name for c in table.columns]
    found = wanted if wanted in names else None
    if found is None:
        same = [n for n in names if n.lower() == wanted.lower()]
        found = same[0] if len(same) == 1 else None
    if found is None:
        where = f"{table.schema}.{table.name}" if table.schema else table.name
        raise SourceObjectNotFoundError(f"job '{job.job_name}': {label} '{wanted}' is not a column of {where}"
                                        f" (columns: {', '.join(names)})")
    return table.c[found]


def typed(value: FilterValue, column: sa.Column, job: JobConfig, rule: FilterRule) -> Any:
    """The cell's value in the column's Python type, so the driver binds it as such."""
    kind = getattr(column.type, "wrapped", column.type)
    try:
        if isinstance(kind, sa.DateTime):
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if kind.timezone:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed
        if isinstance(kind, sa.Date):
            return date.fromisoformat(str(value)[:10])
        if isinstance(kind, sa.Boolean):
            text = str(value).strip().lower()
            if text in ("1", "true", "y", "yes"):
                return True
            if text in ("0", "false", "n", "no"):
                return False
            raise ValueError(value)
        if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
            return Decimal(str(value))
        if isinstance(kind, sa.Integer):
            number = Decimal(str(value))
            if number != number.to_integral_value():
                raise ValueError(value)
            return int(number)
        if isinstance(kind, sa.Float):
            return float(value)
        if isinstance(kind, sa.String):
            return str(value)
    except (TypeError, ValueError, ArithmeticError):
        raise ConfigError(f"filters!D{rule.row}: value {value!r} does not fit column '{column.name}'"
                          f" of type {kind} (job '{job.job_name}')") from None
    return value


def filter_clauses(table: sa.Table, job: JobConfig) -> list[Any]:
    """One clause per filter row (AND-ed by the caller)."""
    clauses = []
    for rule in job.filters:
        column = resolve_column(table, rule.column, job, f"filter column (filters!B{rule.row})")
        if rule.operator == "is null":
            clauses.append(column.is_(None))
        elif rule.operator == "is not null":
            clauses.append(column.isnot(None))
        elif rule.operator in ("in", "not in"):
            values = [typed(v, column, job, rule) for v in rule.values]
            clauses.append(column.in_(values) if rule.operator == "in" else column.not_in(values))
        elif rule.operator == "like":
            clauses.append(column.like(str(rule.values[0])))
        else:
            clauses.append(_COMPARE[rule.operator](column, typed(rule.values[0], column, job, rule)))
    return clauses
