"""What each PostgreSQL column lands as, decided per column before the load.

connectorx (the fast PostgreSQL reader) holds only some types exactly: it reads every
`numeric` as decimal(38,10) (digits beyond the tenth decimal are cut, larger values fail),
stores `infinity` timestamps as values no reader can convert back, turns `24:00:00` into
midnight and `bit(3)` into a byte, and panics in Rust on money, interval, timetz, cidr,
macaddr, xml, geometric, bit varying, text search types and most arrays. So each column is
read one of three ways, chosen from the catalog (one query per job, domains resolved to
their base type):

- native: connectorx reads the column and each batch is cast to the reflected type
  (exact_types.py); only for the types listed in NATIVE_TYPES, whose every value it holds;
- decimal via text: a numeric(p,s) that decimal(38,10) cannot hold is selected as text and
  cast in Arrow to decimal(p,s) (256-bit above 38 digits): exact, or the job fails naming the
  column (the pyarrow backend reads these natively: its driver returns exact Decimals);
- text: PostgreSQL's own text rendering (`col::text`), for every other type, including any
  type this module does not know (fail safe: text always holds what PostgreSQL printed).

Values with no exact form in the lake's type are caught in the SELECT itself, by a guard that
raises an error naming the column (`ingest.core.errors.VALUE_ERROR_MARKER`): a date or
timestamp outside 0001-01-01 .. 9999-12-31 (other than ±infinity, which land as those bounds),
NaN in a numeric(p,s), a `time` of 24:00:00, a native array with more than one dimension or a
lower bound other than 1. The guard's cast depends on the row (`left(col::text, 0)`), so
PostgreSQL cannot fold it into an error at plan time.

`TYPE_RULES` is the one table of these decisions: the code reads it and the README's table is
generated from it (`python -m ingest.sources.postgres_types`; a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ingest.core.errors import VALUE_ERROR_END, VALUE_ERROR_MARKER
from ingest.sources.literals import unwrap

CX_DECIMAL_PRECISION, CX_DECIMAL_SCALE = 38, 10
"""What connectorx reads every numeric as."""
MAX_DECIMAL_PRECISION = 76
LOWER_TS, UPPER_TS = "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"
LOWER_DATE, UPPER_DATE = "0001-01-01", "9999-12-31"


class Read(str, Enum):
    NATIVE = "native"
    DECIMAL_TEXT = "decimal via text"
    TEXT = "text"


@dataclass(frozen=True)
class TypeRule:
    """One row of the type table: the PostgreSQL types it covers, how they are read and what
    lands. `read` is None where it depends on the declared precision (numeric)."""

    types: str
    read: Read | None
    lands_as: str
    note: str = ""


TYPE_RULES: tuple[TypeRule, ...] = (
    TypeRule("boolean", Read.NATIVE, "bool"),
    TypeRule("smallint, integer, bigint", Read.NATIVE, "int16, int32, int64"),
    TypeRule("real, double precision", Read.NATIVE, "float64", "a real widened exactly; NaN and ±Infinity kept"),
    TypeRule("numeric(p,s), s <= 10 and p - s <= 28", Read.NATIVE, "decimal(p,s)",
             "NaN fails the job naming the column"),
    TypeRule("numeric(p,s), other p <= 76", Read.DECIMAL_TEXT, "decimal(p,s) (256-bit above 38 digits)",
             "NaN fails the job naming the column"),
    TypeRule("numeric (no precision), numeric(p,s) with p > 76 or s < 0 or s > p", Read.TEXT, "string",
             "exactly as PostgreSQL prints it, NaN included"),
    TypeRule("money", Read.TEXT, "string", "the amount as numeric text (`12.34`), without the locale's symbol"),
    TypeRule("text, varchar(n), char(n), name", Read.NATIVE, "string", "char(n) keeps its padding"),
    TypeRule("uuid", Read.NATIVE, "string", "lower-case canonical form"),
    TypeRule("bytea", Read.NATIVE, "binary"),
    TypeRule("inet", Read.NATIVE, "string", "as PostgreSQL prints it (`10.0.0.1`, `2001:db8::1/64`)"),
    TypeRule("oid", Read.NATIVE, "uint64"),
    TypeRule("enum types", Read.NATIVE, "string", "the label"),
    TypeRule("date", Read.NATIVE, "date32",
             "`infinity` / `-infinity` land as 9999-12-31 / 0001-01-01; other dates outside them fail the job"),
    TypeRule("timestamp, timestamp with time zone", Read.NATIVE, "timestamp[us] (UTC for with time zone)",
             "`infinity` / `-infinity` land as 9999-12-31 23:59:59.999999 / 0001-01-01 00:00:00;"
             " other values outside them fail the job"),
    TypeRule("time", Read.NATIVE, "time64[us]", "24:00:00 fails the job naming the column"),
    TypeRule("arrays of boolean, smallint, integer, bigint, real, double precision, text, varchar",
             Read.NATIVE, "list of the element type",
             "more than one dimension, or a lower bound other than 1, fails the job naming the column;"
             " with the pyarrow backend: string, as PostgreSQL prints the array"),
    TypeRule("json, jsonb", Read.TEXT, "string",
             "the document as PostgreSQL prints it; a JSON `null` is the text `null`, SQL NULL is null"),
    TypeRule("time with time zone, interval", Read.TEXT, "string",
             "as PostgreSQL prints it (`13:14:15+02`; interval in the session's IntervalStyle)"),
    TypeRule("cidr, macaddr, macaddr8", Read.TEXT, "string"),
    TypeRule("bit(n), bit varying", Read.TEXT, "string", "the bits as `0`/`1` text, length kept"),
    TypeRule("point, line, lseg, box, path, polygon, circle", Read.TEXT, "string"),
    TypeRule("tsvector, tsquery, xml, pg_lsn, ranges, multiranges, reg* types", Read.TEXT, "string"),
    TypeRule("other arrays, composite types, domains over them, any type not listed", Read.TEXT, "string",
             "PostgreSQL's own text form; a domain lands as its base type"),
)

NATIVE_TYPES = frozenset({"bool", "int2", "int4", "int8", "float4", "float8", "text", "varchar", "bpchar", "name",
                          "uuid", "bytea", "inet", "oid", "date", "timestamp", "timestamptz", "time"})
NATIVE_ARRAY_ELEMENTS = frozenset({"bool", "int2", "int4", "int8", "float4", "float8", "text", "varchar"})

CATALOG_QUERY = sa.text("""
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS declared,
       coalesce(bt.typname, t.typname) AS base,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       coalesce(bt.typtype, t.typtype) AS kind,
       et.typname AS element
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_type et ON coalesce(bt.typcategory, t.typcategory) = 'A' AND et.oid = coalesce(bt.typelem, t.typelem)
WHERE a.attrelid = to_regclass(:relation) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
""")


@dataclass(frozen=True)
class PgColumn:
    """A column as the catalog declares it; domains resolved one level to their base type."""

    name: str
    declared: str
    base: str
    typmod: int = -1
    kind: str = "b"
    """pg_type.typtype of the base: b(ase), e(num), r(ange), m(ultirange), c(omposite), d(omain)."""
    element: str | None = None


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is read, and what lands."""

    column: PgColumn
    read: Read
    lands_as: str
    precision: int | None = None
    scale: int | None = None

    def lands_as_text(self, backend: str) -> bool:
        """Read as text on this backend: the TEXT rule, and native arrays off connectorx (the
        pyarrow backend gets Python lists, which dlt would store as JSON)."""
        return self.read is Read.TEXT or (self.column.element is not None and backend != "connectorx")

    def select(self, quoted: str, backend: str) -> str:
        """The SQL expression selecting this column (`quoted` is its quoted name)."""
        if self.lands_as_text(backend):
            return f"({quoted})::numeric::text" if self.column.base == "money" else f"({quoted})::text"
        guarded = _native_select(quoted, self)
        if self.read is Read.DECIMAL_TEXT and backend == "connectorx":
            return f"({guarded})::text"  # cast to decimal(p,s) in Arrow (exact_types.py)
        return guarded


def numeric_precision(typmod: int) -> tuple[int, int] | None:
    """(precision, scale) of a numeric typmod; None for an unconstrained numeric."""
    if typmod < 4:
        return None
    value = typmod - 4
    scale = value & 0x7FF
    return (value >> 16) & 0xFFFF, (scale ^ 1024) - 1024  # PostgreSQL 15 stores a signed scale


def plan_column(column: PgColumn) -> ColumnPlan:
    """The rule for one column (see TYPE_RULES)."""
    base = column.base
    if column.kind == "e":
        return ColumnPlan(column, Read.NATIVE, "string")
    if base == "numeric":
        return _plan_numeric(column)
    if column.element is not None:
        if column.element in NATIVE_ARRAY_ELEMENTS:
            return ColumnPlan(column, Read.NATIVE, f"list<{column.element}>")
        return ColumnPlan(column, Read.TEXT, "string")
    if column.kind == "b" and base in NATIVE_TYPES:
        return ColumnPlan(column, Read.NATIVE, base)
    return ColumnPlan(column, Read.TEXT, "string")


def _plan_numeric(column: PgColumn) -> ColumnPlan:
    precision = numeric_precision(column.typmod)
    if precision is None:
        return ColumnPlan(column, Read.TEXT, "string")
    p, s = precision
    if s < 0 or s > p or p > MAX_DECIMAL_PRECISION:
        return ColumnPlan(column, Read.TEXT, "string")
    fits_connectorx = s <= CX_DECIMAL_SCALE and p - s <= CX_DECIMAL_PRECISION - CX_DECIMAL_SCALE
    read = Read.NATIVE if fits_connectorx else Read.DECIMAL_TEXT
    return ColumnPlan(column, read, f"decimal({p},{s})", precision=p, scale=s)


def _native_select(quoted: str, plan: ColumnPlan) -> str:
    """A column read as its own type, with the guard its type needs (none for most)."""
    base = plan.column.base
    if base == "numeric":
        return _guard(quoted, plan, f"{quoted} = 'NaN'", "numeric", "holds NaN, which no decimal can")
    if base in ("timestamp", "timestamptz"):
        zone = "+00" if base == "timestamptz" else ""
        lower, upper = f"'{LOWER_TS}{zone}'::{base}", f"'{UPPER_TS}{zone}'::{base}"
        return _clamped(quoted, plan, base, lower, upper)
    if base == "date":
        return _clamped(quoted, plan, "date", f"'{LOWER_DATE}'::date", f"'{UPPER_DATE}'::date")
    if base == "time":
        return _guard(quoted, plan, f"{quoted} = '24:00:00'::time", "time",
                      "holds 24:00:00, which an Arrow time cannot")
    if plan.column.element is not None:
        return _guard(quoted, plan, f"array_ndims({quoted}) > 1 OR array_lower({quoted}, 1) <> 1",
                      f"{plan.column.element}[]", "holds a multi-dimensional array or one whose lower bound is not 1")
    return quoted


def _clamped(quoted: str, plan: ColumnPlan, cast_to: str, lower: str, upper: str) -> str:
    message = _message(plan, "holds a value outside 0001-01-01 .. 9999-12-31 other than ±infinity")
    return (f"CASE WHEN {quoted} = 'infinity' THEN {upper} WHEN {quoted} = '-infinity' THEN {lower}"
            f" WHEN {quoted} > {upper} OR {quoted} < {lower}"
            f" THEN ({message} || left(({quoted})::text, 0))::{cast_to} ELSE {quoted} END")


def _guard(quoted: str, plan: ColumnPlan, condition: str, cast_to: str, problem: str) -> str:
    message = _message(plan, problem)
    return (f"CASE WHEN {condition} THEN ({message} || left(({quoted})::text, 0))::{cast_to}"
            f" ELSE {quoted} END")


def _message(plan: ColumnPlan, problem: str) -> str:
    text = f"{VALUE_ERROR_MARKER} column {plan.column.name} ({plan.column.declared}) {problem}{VALUE_ERROR_END}"
    return "'" + text.replace("'", "''") + "'"


def read_columns(connection: sa.Connection, schema: str | None, table: str) -> dict[str, ColumnPlan]:
    """Each column's plan, by name, from one catalog query."""
    preparer = connection.dialect.identifier_preparer
    relation = preparer.quote(table) if schema is None else f"{preparer.quote(schema)}.{preparer.quote(table)}"
    rows = connection.execute(CATALOG_QUERY, {"relation": relation}).mappings().all()
    return {row["name"]: plan_column(PgColumn(**row)) for row in rows}


def adapt_table(table: sa.Table, plans: dict[str, ColumnPlan], backend: str) -> None:
    """Give each column the SQLAlchemy type of what lands, so dlt's hints agree: Text for a
    column read as text, numeric(p,s) as the catalog declares it (SQLAlchemy reflects a domain
    over numeric(p,s) without its precision), the base type for other domains."""
    for name, plan in plans.items():
        if name not in table.c:
            continue
        column = table.c[name]
        if plan.lands_as_text(backend):
            column.type = sa.Text()
        elif plan.precision is not None:
            column.type = sa.Numeric(plan.precision, plan.scale)
        elif isinstance(column.type, postgresql.DOMAIN):
            column.type = column.type.data_type


_DLT_KNOWN = (sa.Numeric, sa.Integer, sa.String, sa.types._Binary, sa.DateTime, sa.Date, sa.Time, sa.JSON,
              sa.ARRAY, sa.Boolean, sa.Uuid)


def dlt_type(column_type: sa.types.TypeEngine) -> sa.types.TypeEngine | None:
    """dlt's type_adapter_callback for PostgreSQL: a type dlt has no mapping for (real, double,
    inet, oid ...) gives no hint instead of a warning per column and job; what lands is
    decided by the read plan and exact_type_hints, and checked value by value in the tests."""
    column_type = unwrap(column_type)
    return column_type if isinstance(column_type, _DLT_KNOWN) else None


def select_exact(plans: dict[str, ColumnPlan], backend: str) -> Callable[..., Any]:
    """A dlt query adapter: each column selected as its plan says; dlt's WHERE and ORDER BY
    (on the columns themselves) are kept as they are."""

    def adapt(query: sa.Select, table: sa.Table, incremental: Any = None, engine: Any = None) -> sa.Select:
        preparer = (engine.dialect if engine is not None else sa.dialects.postgresql.dialect()).identifier_preparer
        columns = []
        for column in query.selected_columns:
            plan = plans.get(column.name)
            expression = plan.select(preparer.quote(column.name), backend) if plan is not None else None
            if expression is None or expression == preparer.quote(column.name):
                columns.append(column)
            else:
                columns.append(sa.literal_column(expression, type_=column.type).label(column.name))
        return query.with_only_columns(*columns)

    return adapt


def markdown_table() -> str:
    """The README's table of what each PostgreSQL type lands as."""
    lines = ["| PostgreSQL type | read | lands as | note |", "|---|---|---|---|"]
    for rule in TYPE_RULES:
        lines.append(f"| {rule.types} | {rule.read.value if rule.read else ''} | {rule.lands_as} | {rule.note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
