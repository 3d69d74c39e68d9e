"""Watermark values between the database, dlt state and the workbook: typed by the column,
stored as text, ordered as numbers (for lookback windows and pruning)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ingest.config.model import Lookback

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def as_column_datetime(value: Any, aware: bool) -> datetime:
    """A datetime (or ISO text) as a timestamp column holds it: aware in UTC for timestamptz
    (naive input taken as UTC), naive UTC for timestamp without time zone."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if aware:
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def base_type(column: sa.Column) -> sa.types.TypeEngine:
    return getattr(column.type, "wrapped", column.type)  # a WatermarkLiteral's reflected type


def is_datetime(column: sa.Column) -> bool:
    return isinstance(base_type(column), sa.DateTime)


def is_date(column: sa.Column) -> bool:
    return isinstance(base_type(column), sa.Date) and not is_datetime(column)


def to_text(value: Any) -> Any:
    """JSON-safe form kept in dlt state: ISO text for dates, str for decimals."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def from_text(value: Any, column: sa.Column) -> Any:
    """The stored form back in the column's Python type."""
    if value is None:
        return None
    kind = base_type(column)
    if isinstance(kind, sa.DateTime):
        return as_column_datetime(value, bool(kind.timezone))
    if isinstance(kind, sa.Date):
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return Decimal(str(value))
    if isinstance(kind, sa.Integer):
        return int(value)
    if isinstance(kind, sa.Float):
        return float(value)
    return value


def order_key(value: Any) -> float | int | str:
    """A number that orders watermark values: microseconds for datetimes (naive = UTC), days
    for dates, the number itself otherwise; text stays text."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return (aware - EPOCH) // timedelta(microseconds=1)
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, Decimal):
        return float(value)
    return value


def lookback_span(lookback: Lookback, column: sa.Column) -> float:
    """The lookback in order_key units of the column (microseconds, days or units)."""
    if is_datetime(column):
        if lookback.seconds is None:
            raise ValueError(f"lookback '{lookback}' needs a time unit (days, hours, ...) for a timestamp watermark")
        return lookback.seconds * 1_000_000
    if is_date(column):
        if lookback.seconds is None or lookback.seconds % 86400:
            raise ValueError(f"lookback '{lookback}' must be whole days for a date watermark")
        return lookback.seconds / 86400
    if lookback.seconds is not None:
        raise ValueError(f"lookback '{lookback}' has a time unit but the watermark is a number: give a bare number")
    return lookback.amount


def dlt_lag(lookback: Lookback, column: sa.Column) -> float:
    """The same span as dlt's incremental `lag` takes it: seconds for datetime cursors, days
    for date cursors, units otherwise."""
    span = lookback_span(lookback, column)
    return span / 1_000_000 if is_datetime(column) else span


def minus_lookback(value: Any, lookback: Lookback, column: sa.Column) -> Any:
    """`value` moved back by the lookback, in the column's type."""
    if is_datetime(column):
        return value - timedelta(seconds=lookback.seconds or 0)
    if is_date(column):
        return value - timedelta(days=(lookback.seconds or 0) // 86400)
    result = value - type(value)(lookback.amount) if not isinstance(value, int) else value - int(lookback.amount)
    return result
