"""Watermark literals that keep their precision when a query is compiled with literal binds
(dlt's connectorx path, and any backend that sends SQL text).

What SQLAlchemy 2.1 renders on its own, and why it is replaced (dlt issue 3061):
- SQL Server: `'2024-03-01 12:00:00.123456'`. A DATETIME column cannot convert six fractional
  digits (error 241), the space form depends on SET DATEFORMAT for DATETIME, and a value with
  a time zone renders `+00:00`, which DATETIME2 silently drops. Here: ISO 8601 with `T`,
  microseconds for DATETIME2, milliseconds (floored) for DATETIME, the offset for
  DATETIMEOFFSET, UTC for a value with a zone compared to a naive column.
- Oracle: `TO_TIMESTAMP('2024-03-01 12:00:00.123456+00:00', 'YYYY-MM-DD HH24:MI:SS.FF')`
  fails (ORA-01830) for a value with a zone. Here: TO_TIMESTAMP with FF6, TO_TIMESTAMP_TZ for
  TIMESTAMP WITH (LOCAL) TIME ZONE, TO_DATE for DATE (no fraction: a DATE column has none).
Flooring never skips a row: the incremental filter is `>=` and dlt drops the rows it has seen.
Bound parameters (the pyarrow backend) are not affected: this only changes literal rendering.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, oracle
from sqlalchemy.types import TypeDecorator


class WatermarkLiteral(TypeDecorator):
    """A watermark column's type, rendered as a precise literal for `kind` ("mssql" or
    "oracle"); everything else (binds, results) is the wrapped type's."""

    impl = sa.types.NullType
    cache_ok = True

    def __init__(self, wrapped: sa.types.TypeEngine, kind: str) -> None:
        super().__init__()
        self.wrapped = wrapped
        self.kind = kind
        self.impl = wrapped

    def literal_processor(self, dialect: Any) -> Callable[[Any], str]:
        render = _MSSQL if self.kind == "mssql" else _ORACLE
        renderer = render(self.wrapped)
        fallback = self.wrapped.dialect_impl(dialect).literal_processor(dialect)

        def process(value: Any) -> str:
            if isinstance(value, str):
                try:
                    value = datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    return fallback(value) if fallback else repr(value)
            if isinstance(value, (datetime, date)):
                return renderer(value)
            return fallback(value) if fallback else str(value)

        return process


def wrap_watermark_type(column_type: sa.types.TypeEngine, dialect_name: str) -> sa.types.TypeEngine:
    """The type to give a watermark column so its literals keep their precision."""
    if dialect_name in ("mssql", "oracle") and isinstance(column_type, (sa.DateTime, sa.Date)):
        return WatermarkLiteral(column_type, dialect_name)
    return column_type


def unwrap(column_type: sa.types.TypeEngine) -> sa.types.TypeEngine:
    """The reflected type behind a WatermarkLiteral (for dlt's type mapping)."""
    return column_type.wrapped if isinstance(column_type, WatermarkLiteral) else column_type


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _as_datetime(value: date) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def _MSSQL(column_type: sa.types.TypeEngine) -> Callable[[date], str]:
    if isinstance(column_type, sa.DateTime):
        if isinstance(column_type, mssql.DATETIMEOFFSET) or column_type.timezone:
            return lambda v: f"'{_utc(_as_datetime(v)).isoformat(timespec='microseconds')}'"
        if isinstance(column_type, mssql.SMALLDATETIME):
            return lambda v: f"'{_naive_utc(_as_datetime(v)).replace(second=0, microsecond=0).isoformat()}'"
        if type(column_type) in (sa.DateTime, sa.DATETIME):
            # DATETIME: at most three fractional digits in a literal
            return lambda v: f"'{_naive_utc(_as_datetime(v)).isoformat(timespec='milliseconds')}'"
        return lambda v: f"'{_naive_utc(_as_datetime(v)).isoformat(timespec='microseconds')}'"
    return lambda v: f"'{(_naive_utc(v).date() if isinstance(v, datetime) else v).isoformat()}'"


def _ORACLE(column_type: sa.types.TypeEngine) -> Callable[[date], str]:
    if isinstance(column_type, oracle.DATE) or not isinstance(column_type, sa.DateTime):
        def to_date(value: date) -> str:
            text = _naive_utc(_as_datetime(value)).isoformat(sep=" ", timespec="seconds")
            return f"TO_DATE('{text}', 'YYYY-MM-DD HH24:MI:SS')"
        return to_date
    zoned = bool(column_type.timezone or getattr(column_type, "local_timezone", False))

    def to_timestamp(value: date) -> str:
        value = _as_datetime(value)
        if zoned and (value.tzinfo or column_type.timezone):
            text = _utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            return f"TO_TIMESTAMP_TZ('{text} +00:00', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')"
        text = _naive_utc(value).isoformat(sep=" ", timespec="microseconds")
        return f"TO_TIMESTAMP('{text}', 'YYYY-MM-DD HH24:MI:SS.FF6')"

    return to_timestamp
