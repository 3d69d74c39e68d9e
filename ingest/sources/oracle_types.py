"""What each Oracle column lands as, decided per column before the load (the shared machinery
and the precision rule: client_types.py).

python-oracledb (thin) returns NUMBER exactly as Decimal when asked (SQLAlchemy's NUMBER with
asdecimal=True sets the output type handler), BINARY_FLOAT/DOUBLE as float (NaN and infinity
kept), DATE and TIMESTAMP as datetime (to the microsecond), INTERVAL DAY TO SECOND as
timedelta, INTERVAL YEAR TO MONTH as oracledb.IntervalYM, RAW as bytes and LOBs as str/bytes
(SQLAlchemy reads them whole). It returns TIMESTAMP WITH TIME ZONE as a naive wall-clock time
without its offset (python-oracledb issue 373), so that is converted in the SELECT, like
XMLType and ROWID. What lands is in TYPE_RULES, which the README's table "What each Oracle
type lands as" is generated from (`python -m ingest.sources.oracle_types`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from ingest.sources.client_types import (TEXT, ClientPlan, SourceColumn, TypeRule, decimal_hint, hint,
                                         integer_hint, iso_duration, iso_duration_ns, iso_year_month, markdown_table,
                                         nanos_companion, read_lob, timestamp_hint, value_error)

MAX_DECIMAL_PRECISION = 76
"""decimal256; above it a NUMBER lands as text."""

R_INTEGER = TypeRule("NUMBER(p,0), p <= 18", "int16, int32, int64", note="the smallest that holds p digits")
R_DECIMAL = TypeRule("NUMBER(p,s), other p, s (INTEGER is NUMBER(38,0))", "decimal(p,s)",
                     note="s > p: decimal(s,s); s < 0: decimal(p-s,0) (256-bit above 38 digits, text above 76);"
                          " an infinite NUMBER fails the job naming the column")
R_NUMBER = TypeRule("NUMBER (no precision), FLOAT(b)", "string",
                    note="the exact decimal, positional (`0.000000000000000000001`, `12345678901234567890123456789"
                         "012345678`), `Infinity` / `-Infinity`: no decimal type holds 38 digits at any scale")
R_BINARY_FLOAT = TypeRule("BINARY_FLOAT, BINARY_DOUBLE", "float64",
                          note="a BINARY_FLOAT widened exactly; NaN and ±Infinity kept")
R_STRING = TypeRule("CHAR, VARCHAR2, NCHAR, NVARCHAR2, CLOB, NCLOB, LONG", "string",
                    note="CHAR keeps its padding; a LOB is read whole, so memory grows with the largest LOB"
                         " times INGEST_CHUNK_SIZE")
R_BINARY = TypeRule("RAW, LONG RAW, BLOB", "binary", note="a BLOB is read whole (as CLOB)")
R_DATE = TypeRule("DATE", "timestamp[us]", note="with its time of day; a date before year 1 fails the job naming"
                  " the column (python-oracledb cannot return it: ingest/sources/client_loader.py)")
R_TIMESTAMP = TypeRule("TIMESTAMP(p)", "timestamp[us]; p > 6: and c_nanos int16",
                       "c; p > 6: and MOD(EXTRACT(SECOND FROM c) * 1000000000, 1000) AS c_nanos",
                       "p > 6: c to the microsecond (floored) and c_nanos the nanoseconds past it (0-999): together"
                       " the exact value")
R_ZONED = TypeRule("TIMESTAMP(p) WITH TIME ZONE", "string",
                   "TO_CHAR(c, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM')",
                   "ISO 8601 with nine fractional digits and the offset (`2024-03-01T12:00:00.123456789+02:00`;"
                   " a region name becomes its offset at that instant); as the job's watermark_column:"
                   " timestamp[us] UTC via SYS_EXTRACT_UTC(c) and, p > 6, c_nanos")
R_LOCAL = TypeRule("TIMESTAMP(p) WITH LOCAL TIME ZONE", "timestamp[us] UTC; p > 6: and c_nanos int16",
                   "SYS_EXTRACT_UTC(CAST(c AS TIMESTAMP(9) WITH TIME ZONE))", "the instant; p > 6: c_nanos as for"
                   " TIMESTAMP(p)")
R_YM = TypeRule("INTERVAL YEAR TO MONTH", "string", note="ISO 8601 (`P1Y2M`, `-P0Y1M`)")
R_DS = TypeRule("INTERVAL DAY TO SECOND", "string", "c; p > 6: TO_CHAR(c)",
                note="ISO 8601 (`P1DT2H3M4.5S`), every fractional digit (`PT0.123456789S`)")
R_XML = TypeRule("XMLType", "string", "XMLSERIALIZE(CONTENT c AS CLOB)", "the document as Oracle serializes it")
R_ROWID = TypeRule("ROWID, UROWID", "string", "ROWIDTOCHAR(c), CAST(c AS VARCHAR2(4000))")
R_BOOLEAN = TypeRule("BOOLEAN (23ai)", "bool")
R_JSON = TypeRule("JSON (21c)", "string", "JSON_SERIALIZE(c RETURNING CLOB)", "the document as text")
R_OTHER = TypeRule("any other type (object types, SDO_GEOMETRY, BFILE, VECTOR, collections)", "-",
                   note="the job fails before reading, naming the column: read a view that converts it"
                        " (e.g. SDO_UTIL.TO_WKTGEOMETRY)")

TYPE_RULES: tuple[TypeRule, ...] = (R_INTEGER, R_DECIMAL, R_NUMBER, R_BINARY_FLOAT, R_STRING, R_BINARY, R_DATE,
                                    R_TIMESTAMP, R_ZONED, R_LOCAL, R_YM, R_DS, R_XML, R_ROWID, R_BOOLEAN, R_JSON,
                                    R_OTHER)

_STRINGS = frozenset({"char", "varchar2", "nchar", "nvarchar2", "clob", "nclob", "long", "varchar"})
_BINARIES = frozenset({"raw", "long raw", "blob"})

CATALOG_QUERY = sa.text("""
SELECT column_name AS name, data_type AS type_name, data_precision AS precision, data_scale AS scale,
       char_length AS length
FROM all_tab_columns
WHERE owner = COALESCE(:owner, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) AND table_name = :table_name
ORDER BY column_id
""")
"""Each column's declared type: XMLType, INTERVAL YEAR TO MONTH, UROWID and LONG RAW by name,
which SQLAlchemy's reflection does not know, and NUMBER's precision and scale as declared."""


def _function(name: str, sa_type: sa.types.TypeEngine):
    return lambda c, d=None: getattr(sa.func, name)(c, type_=sa_type)


def _zoned_text(column: sa.ColumnElement, dialect: Any = None) -> sa.ColumnElement:
    return sa.func.to_char(column, sa.literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM'"), type_=sa.String())


DEFAULT_FRACTION_DIGITS = 6
"""TIMESTAMP and INTERVAL DAY TO SECOND without a declared precision have six fractional digits."""


def _nanos_past_micro(column: sa.ColumnElement, dialect: Any = None) -> sa.ColumnElement:
    seconds = sa.extract("second", column)
    return sa.func.mod(seconds * sa.literal_column("1000000000"), sa.literal_column("1000"), type_=sa.Integer())


def _nanos(column: SourceColumn):
    digits = DEFAULT_FRACTION_DIGITS if column.scale is None else column.scale
    return nanos_companion(column, digits, _nanos_past_micro)


_INTERVAL_TEXT = re.compile(r"([+-])(\d+) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")


def interval_text(column: SourceColumn):
    """Oracle's text of an INTERVAL DAY TO SECOND (`+01 02:03:04.123456789`) as ISO 8601 with
    every digit; anything else fails naming the column."""

    def convert(value: Any) -> str:
        match = _INTERVAL_TEXT.fullmatch(str(value).strip())
        if match is None:
            raise value_error(column, f"gave {value!r}, not Oracle's INTERVAL DAY TO SECOND text form")
        sign, days, hours, minutes, seconds, fraction = match.groups()
        nanos = ((int(days) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
        nanos = nanos * 1_000_000_000 + int((fraction or "").ljust(9, "0"))
        return iso_duration_ns(-nanos if sign == "-" else nanos)

    return convert


def exact_decimal(column: SourceColumn):
    """A NUMBER(p,s)'s Decimal; an infinite NUMBER (Oracle can store ±~) fails naming the column."""

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal) and not value.is_finite():
            raise value_error(column, f"holds {value}, which no decimal can")
        return value

    return convert


def number_text(value: Any) -> str:
    """A NUMBER without precision as exact positional text (`1E+125` in full)."""
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(value, "f") if value.is_finite() else ("Infinity" if value > 0 else "-Infinity")


def year_month_text(value: Any) -> str:
    return iso_year_month(value.years, value.months)


def day_second_text(value: timedelta) -> str:
    return iso_duration(value)


def plan_column(column: SourceColumn, watermark: bool = False) -> ClientPlan:
    """The rule for one column (see TYPE_RULES); `watermark`: the job's watermark_column."""
    name = column.type_name
    if name in ("number", "integer", "float"):
        return _plan_number(column)
    if name in ("binary_float", "binary_double"):
        return ClientPlan(column, R_BINARY_FLOAT, hint("double"))
    if name in _STRINGS:
        return ClientPlan(column, R_STRING, TEXT, convert=read_lob if name in ("clob", "nclob") else None)
    if name in _BINARIES:
        return ClientPlan(column, R_BINARY, hint("binary"), convert=read_lob if name == "blob" else None)
    if name == "date":
        return ClientPlan(column, R_DATE, timestamp_hint())
    if name == "timestamp":
        return ClientPlan(column, R_TIMESTAMP, timestamp_hint(), companion=_nanos(column))
    if name == "timestamp with time zone":
        if watermark:
            return ClientPlan(column, R_ZONED, timestamp_hint(timezone=True), companion=_nanos(column),
                              select=_function("sys_extract_utc", oracle.TIMESTAMP()))
        return ClientPlan(column, R_ZONED, TEXT, select=_zoned_text, ordered=False)
    if name == "timestamp with local time zone":
        return ClientPlan(column, R_LOCAL, timestamp_hint(timezone=True), select=_local_to_utc,
                          companion=_nanos(column))
    return _plan_other(column)


def _plan_other(column: SourceColumn) -> ClientPlan:
    name = column.type_name
    if name == "interval year to month":
        return ClientPlan(column, R_YM, TEXT, convert=year_month_text, ordered=False)
    if name == "interval day to second":
        if (column.scale or DEFAULT_FRACTION_DIGITS) > 6:  # the driver's timedelta holds microseconds
            return ClientPlan(column, R_DS, TEXT, convert=interval_text(column), ordered=False,
                              select=_function("to_char", sa.String()))
        return ClientPlan(column, R_DS, TEXT, convert=day_second_text, ordered=False)
    if name in ("xmltype", "sys.xmltype"):
        return ClientPlan(column, R_XML, TEXT, ordered=False, convert=read_lob,
                          select=lambda c, d=None: _XmlSerialize(c))
    if name == "rowid":
        return ClientPlan(column, R_ROWID, TEXT, select=_function("rowidtochar", sa.String()), ordered=False)
    if name == "urowid":
        return ClientPlan(column, R_ROWID, TEXT, select=lambda c, d=None: sa.cast(c, oracle.VARCHAR2(4000)),
                          ordered=False)
    if name == "boolean":
        return ClientPlan(column, R_BOOLEAN, hint("bool"))
    if name == "json":
        return ClientPlan(column, R_JSON, TEXT, ordered=False, convert=read_lob,
                          select=lambda c, d=None: _JsonSerialize(c))
    return ClientPlan(column, R_OTHER, TEXT, unsupported=f"has no exact form in the lake (type {column.declared}):"
                      " read a view that converts it to a type in README 'What each Oracle type lands as'")


def _plan_number(column: SourceColumn) -> ClientPlan:
    p, s = column.precision, column.scale
    if column.type_name == "float" or p is None and s is None:  # FLOAT(b) is NUMBER with binary precision
        return ClientPlan(column, R_NUMBER, TEXT, convert=number_text, driver_type=_DECIMAL, ordered=False)
    p = 38 if p is None else p  # NUMBER(*,s), INTEGER
    s = s or 0
    if s == 0 and p <= 18:
        bits = 16 if p <= 4 else 32 if p <= 9 else 64
        return ClientPlan(column, R_INTEGER, integer_hint(bits), driver_type=_DECIMAL, convert=exact_decimal(column))
    precision, scale = (p - s, 0) if s < 0 else (max(p, s), s)
    if precision > MAX_DECIMAL_PRECISION:
        return ClientPlan(column, R_DECIMAL, TEXT, convert=number_text, driver_type=_DECIMAL, ordered=False)
    return ClientPlan(column, R_DECIMAL, decimal_hint(precision, scale), driver_type=_DECIMAL,
                      convert=exact_decimal(column))


_DECIMAL = oracle.NUMBER(asdecimal=True)


class _Wrapped(ColumnElement):
    """An Oracle expression around one column that SQLAlchemy has no construct for."""

    inherit_cache = False
    type = oracle.CLOB()

    def __init__(self, clause: sa.ColumnElement) -> None:
        self.clause = clause

    @property
    def _from_objects(self) -> list[Any]:
        return self.clause._from_objects


class _XmlSerialize(_Wrapped):
    pass


class _JsonSerialize(_Wrapped):
    pass


class _LocalToUtc(_Wrapped):
    type = oracle.TIMESTAMP()


def _local_to_utc(column: sa.ColumnElement, dialect: Any = None) -> sa.ColumnElement:
    return _LocalToUtc(column)


@compiles(_XmlSerialize)
def _compile_xml(element: _XmlSerialize, compiler: Any, **kw: Any) -> str:
    return f"XMLSERIALIZE(CONTENT {compiler.process(element.clause, **kw)} AS CLOB)"


@compiles(_JsonSerialize)
def _compile_json(element: _JsonSerialize, compiler: Any, **kw: Any) -> str:
    return f"JSON_SERIALIZE({compiler.process(element.clause, **kw)} RETURNING CLOB)"


@compiles(_LocalToUtc)
def _compile_local(element: _LocalToUtc, compiler: Any, **kw: Any) -> str:
    return f"SYS_EXTRACT_UTC(CAST({compiler.process(element.clause, **kw)} AS TIMESTAMP(9) WITH TIME ZONE))"


_PRECISION = re.compile(r"\(\d+\)")


def column_from_catalog(row: Any, dialect: sa.Dialect) -> SourceColumn:
    """A row of all_tab_columns: `TIMESTAMP(6) WITH TIME ZONE` -> `timestamp with time zone`
    (its precision is data_scale), names as SQLAlchemy spells them (lower case unless quoted)."""
    type_name = _PRECISION.sub("", str(row["type_name"])).lower()
    precision, scale = row["precision"], row["scale"]
    if type_name != "number" and type_name != "float":
        precision = None
    return SourceColumn(dialect.normalize_name(row["name"]), type_name, precision, scale)


def column_from_reflection(name: str, column_type: sa.types.TypeEngine) -> SourceColumn:
    """A column as SQLAlchemy reflected it, for a column the catalog query did not return."""
    if isinstance(column_type, oracle.TIMESTAMP) or type(column_type) in (sa.TIMESTAMP, sa.DateTime):
        if getattr(column_type, "local_timezone", False):
            return SourceColumn(name, "timestamp with local time zone")
        return SourceColumn(name, "timestamp with time zone" if column_type.timezone else "timestamp")
    if isinstance(column_type, oracle.INTERVAL):
        return SourceColumn(name, "interval day to second")
    if isinstance(column_type, (oracle.BINARY_FLOAT, oracle.BINARY_DOUBLE)):
        return SourceColumn(name, column_type.__visit_name__.lower())
    if isinstance(column_type, (oracle.NUMBER, sa.Numeric)) and not isinstance(column_type, sa.Float):
        return SourceColumn(name, "number", column_type.precision, column_type.scale)
    if isinstance(column_type, sa.Float):
        return SourceColumn(name, "float")
    if isinstance(column_type, sa.Integer):
        return SourceColumn(name, "number", None, 0)
    visit = getattr(column_type, "__visit_name__", "unknown").lower()
    return SourceColumn(name, {"string": "varchar2", "unicode": "nvarchar2", "large_binary": "blob"}.get(visit, visit))


def read_catalog(connection: sa.Connection, schema: str | None, table: str) -> dict[str, SourceColumn]:
    """Each column's declared type, by SQLAlchemy's name for it, from one catalog query."""
    dialect = connection.dialect
    owner = dialect.denormalize_name(schema) if schema else None
    rows = connection.execute(CATALOG_QUERY, {"owner": owner, "table_name": dialect.denormalize_name(table)})
    return {column.name: column for column in (column_from_catalog(row, dialect) for row in rows.mappings())}


if __name__ == "__main__":
    print(markdown_table("Oracle", TYPE_RULES))
