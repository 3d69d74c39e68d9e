"""What each SQL Server and Oracle column lands as: the machinery both type maps share
(mssql_types.py, oracle_types.py), on the client path (SQLAlchemy + pyodbc / python-oracledb,
dlt's pyarrow backend).

Each column gets a `ClientPlan` before the load, from the source's catalog (one query per job;
SQLAlchemy's reflected type when the catalog has no row for it):

- the SELECT expression it is read through (SQLAlchemy, compiled for the source's dialect):
  the column itself, or a conversion to a lossless text form in the server;
- the Python conversion of what the driver returns (`Converted.process_result_value`, run by
  SQLAlchemy as each row is fetched, before dlt builds the Arrow table), which raises
  SourceValueError naming the column for a value with no exact form in the lake's type;
- the dlt column hint of what lands (data type, precision, scale, time zone).

The rules (`TypeRule`) are the one table of these decisions per dialect: the code follows
them and the README's tables are generated from them (`python -m ingest.sources.mssql_types`,
`python -m ingest.sources.oracle_types`; tests compare them).

Sub-microsecond digits (SQL Server's datetime2(7) and time(7), Oracle's TIMESTAMP(7..9)): the
lake's timestamps and times hold microseconds (timestamp[ns] cannot hold year 9999, the common
"open end" of a validity range), and the drivers drop the digits below the microsecond as they
fetch the value. So such a column lands as two: the column to the microsecond (floored, so a
`>=` watermark never skips a row) and a companion `<column>_nanos` (int16, the nanoseconds past
the microsecond, 0-999) computed in the server; together they are the exact instant. Every value
lands exactly, in a documented text form, or fails the job naming the column.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from ingest.core.errors import SourceValueError

SelectFn = Callable[[sa.ColumnElement, sa.Dialect], sa.ColumnElement]
ConvertFn = Callable[[Any], Any]


@dataclass(frozen=True)
class TypeRule:
    """One row of a dialect's type table: the source types it covers, what lands, the SELECT
    expression it compiles to (`c` is the column), and what to know."""

    types: str
    lands_as: str
    select: str = "c"
    note: str = ""


@dataclass(frozen=True)
class SourceColumn:
    """A column as the source's catalog declares it; `type_name` lower-case without its
    precision (`datetime2`, `timestamp with time zone`, `interval day to second`)."""

    name: str
    type_name: str
    precision: int | None = None
    scale: int | None = None
    length: int | None = None

    @property
    def declared(self) -> str:
        if self.precision is None and self.scale is None:
            return self.type_name
        parts = [str(p) for p in (self.precision, self.scale) if p is not None]
        return f"{self.type_name}({','.join(parts)})"


NANOS_SUFFIX = "_nanos"


@dataclass(frozen=True)
class Companion:
    """A second lake column beside a planned one, holding what the first's type cannot: the
    nanoseconds past the microsecond of a timestamp or time with more than six digits."""

    name: str
    select: SelectFn
    """The expression, in the server, of the column it accompanies."""
    hint: dict[str, Any]


@dataclass(frozen=True)
class ClientPlan:
    """How one column is read and what lands."""

    column: SourceColumn
    rule: TypeRule
    hint: dict[str, Any]
    """dlt column hint of what lands (without the name)."""
    select: SelectFn | None = None
    """The SELECT expression; None: the column itself."""
    convert: ConvertFn | None = None
    """Python conversion of the driver's value (None passes through: never called with None)."""
    driver_type: sa.types.TypeEngine | None = None
    """The type whose driver handling fetches the exact value (Oracle NUMBER as Decimal)."""
    ordered: bool = True
    """False for a text form that does not order like the values (no watermark)."""
    unsupported: str = ""
    """Non-empty: the column cannot land exactly and the job fails before reading, saying this."""
    companion: Companion | None = None

    @property
    def lands_as(self) -> str:
        return self.hint["data_type"]

    def reads_as_is(self) -> bool:
        return self.select is None and self.convert is None and self.driver_type is None


class Converted(TypeDecorator):
    """The type of a planned column in the SELECT: the driver fetches it as `impl` (e.g. Oracle
    NUMBER as Decimal), then `plan.convert` turns the value into what lands."""

    impl = sa.types.NullType
    cache_ok = False  # holds a plan (functions): statements with it are compiled afresh

    def __init__(self, plan: ClientPlan, impl: sa.types.TypeEngine) -> None:
        super().__init__()
        self.impl = impl
        self.plan = plan

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None or self.plan.convert is None:
            return value
        return self.plan.convert(value)


def value_error(column: SourceColumn, problem: str) -> SourceValueError:
    return SourceValueError(f"column {column.name} ({column.declared}) {problem}")


def hint(data_type: str, **values: Any) -> dict[str, Any]:
    return {"data_type": data_type, **{k: v for k, v in values.items() if v is not None}}


TEXT = hint("text")


def decimal_hint(precision: int, scale: int) -> dict[str, Any]:
    return hint("decimal", precision=precision, scale=scale)


def integer_hint(bits: int) -> dict[str, Any]:
    return hint("bigint", precision=bits)


def timestamp_hint(timezone: bool = False) -> dict[str, Any]:
    return hint("timestamp", timezone=timezone, precision=6)


def nanos_companion(column: SourceColumn, digits: int | None, select: SelectFn) -> Companion | None:
    """The `<column>_nanos` companion of a timestamp or time with `digits` fractional digits
    (None: the type's default, passed in by the dialect); none at six or fewer."""
    if digits is None or digits <= 6:
        return None
    return Companion(f"{column.name}{NANOS_SUFFIX}", select, integer_hint(16))


# --- conversions of driver values shared by both dialects ---

def iso_duration(value: timedelta) -> str:
    """A day-to-second interval as ISO 8601 (`P1DT2H3M4.5S`, `-PT0.000001S`), exact to the
    microsecond Python's timedelta holds."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return iso_duration_ns(micros * 1000)


def iso_duration_ns(nanos: int) -> str:
    """A day-to-second interval of `nanos` nanoseconds as ISO 8601 (`P1DT2H3M4.123456789S`)."""
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    days, nanos = divmod(nanos, 86_400_000_000_000)
    hours, nanos = divmod(nanos, 3_600_000_000_000)
    minutes, nanos = divmod(nanos, 60_000_000_000)
    seconds, nanos = divmod(nanos, 1_000_000_000)
    second_text = f"{seconds}.{nanos:09d}".rstrip("0") if nanos else str(seconds)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if seconds or nanos or not (days or clock):
        clock += f"{second_text}S"
    return f"{sign}P{days}D" + (f"T{clock}" if clock else "") if days else f"{sign}PT{clock}"


def iso_year_month(years: int, months: int) -> str:
    """A year-to-month interval as ISO 8601 (`P1Y2M`, `-P0Y1M`)."""
    total = years * 12 + months
    sign = "-" if total < 0 else ""
    years, months = divmod(abs(total), 12)
    return f"{sign}P{years}Y{months}M"


def read_lob(value: Any) -> Any:
    """A LOB locator read whole (SQLAlchemy's oracledb dialect already returns str/bytes)."""
    return value.read() if hasattr(value, "read") else value


# --- applying plans to dlt's query and hints ---

def select_planned(plans: dict[str, ClientPlan]) -> Callable[..., Any]:
    """A dlt query adapter: each column selected as its plan says, with its conversion; dlt's
    WHERE and ORDER BY (on the columns themselves) are kept as they are."""

    def adapt(query: sa.Select, table: sa.Table, incremental: Any = None, engine: Any = None) -> sa.Select:
        dialect = engine.dialect if engine is not None else None
        columns, companions = [], []
        for column in query.selected_columns:
            plan = plans.get(column.name)
            columns.append(column if plan is None or plan.reads_as_is() else planned_column(plan, column, dialect))
            if plan is not None and plan.companion is not None:
                companions.append(companion_column(plan.companion, column, dialect))
        return query.with_only_columns(*columns, *companions)

    return adapt


def planned_column(plan: ClientPlan, column: sa.ColumnElement, dialect: sa.Dialect | None) -> sa.ColumnElement:
    """The column as the plan selects it, labelled with its own name."""
    expression = plan.select(column, dialect) if plan.select is not None else column
    return converted(plan, expression).label(column.name)


def converted(plan: ClientPlan, expression: sa.ColumnElement) -> sa.ColumnElement:
    """`expression` fetched as the plan's driver type and converted as its values are."""
    impl = plan.driver_type if plan.driver_type is not None else _unwrapped(expression.type)
    return sa.type_coerce(expression, Converted(plan, impl))


def companion_column(companion: Companion, column: sa.ColumnElement, dialect: sa.Dialect | None) -> sa.ColumnElement:
    return sa.type_coerce(companion.select(column, dialect), sa.Integer()).label(companion.name)


def _unwrapped(column_type: sa.types.TypeEngine) -> sa.types.TypeEngine:
    return getattr(column_type, "wrapped", column_type)  # a WatermarkLiteral's reflected type


RANGED_TYPES = frozenset({"decimal", "date", "timestamp", "time"})
"""What the value check compares min and max of (ingest/checks/values.py)."""


def client_value_columns(plans: dict[str, ClientPlan]) -> dict[str, Callable[[sa.ColumnElement], sa.ColumnElement]]:
    """The value check's ranged columns on the client path, each with the typing of its min or
    max: what the driver fetches for the column (Oracle NUMBER as Decimal) and the plan's
    conversion, so the source's min compares with the lake's as the load's values do. Only a
    column read as itself (no SELECT conversion) whose min is its smallest landed value."""
    return {name: functools.partial(converted, plan) for name, plan in plans.items()
            if plan.select is None and plan.ordered and plan.hint["data_type"] in RANGED_TYPES}


def plan_hints(plans: dict[str, ClientPlan]) -> dict[str, dict[str, Any]]:
    """dlt column hints of what lands, per column (they replace the reflected ones), companions
    included."""
    return {**{name: {"name": name, **plan.hint} for name, plan in plans.items()}, **companion_hints(plans)}


def companion_hints(plans: dict[str, ClientPlan]) -> dict[str, dict[str, Any]]:
    """dlt column hints of the plans' `_nanos` companions."""
    return {plan.companion.name: {"name": plan.companion.name, **plan.companion.hint}
            for plan in plans.values() if plan.companion is not None}


def check_supported(plans: dict[str, ClientPlan], where: str) -> None:
    """Fail before reading when a column has no exact form in the lake, or when a companion's
    name is taken by a column of the table."""
    taken = {name.lower() for name in plans}
    for plan in plans.values():
        if plan.unsupported:
            raise value_error(plan.column, f"of table {where} {plan.unsupported}")
        if plan.companion is not None and plan.companion.name.lower() in taken:
            raise value_error(plan.column, f"of table {where} has more than six fractional digits, which land in"
                                           f" a column {plan.companion.name}, but the table has a column of that"
                                           " name: read a view that renames it")


def markdown_table(title: str, rules: tuple[TypeRule, ...]) -> str:
    lines = [f"| {title} type | lands as | SELECT (c: the column) | note |", "|---|---|---|---|"]
    for rule in rules:
        lines.append(f"| {rule.types} | {rule.lands_as} | `{rule.select}` | {rule.note} |")
    return "\n".join(lines)

