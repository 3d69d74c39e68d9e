"""What each SQL Server (and Azure SQL) column lands as, decided per column before the load
(the shared machinery and the precision rule: client_types.py).

pyodbc returns most types exactly (Decimal for decimal and money, bytes, str, date and time
values); SQLAlchemy's pyodbc dialect turns datetimeoffset into an aware datetime. pyodbc cannot
fetch CLR types (geography, geometry, hierarchyid: ODBC type -151) nor sql_variant (-150), and
SQL Server's xml is read as text: those are converted to text in the SELECT. What lands is in
TYPE_RULES, which the README's table "What each SQL Server type lands as" is generated from
(`python -m ingest.sources.mssql_types`).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from ingest.sources.client_types import (TEXT, ClientPlan, SourceColumn, TypeRule, decimal_hint, hint,
                                         integer_hint, markdown_table, nanos_companion, timestamp_hint,
                                         value_error)

R_BIT = TypeRule("bit", "bool")
R_INT = TypeRule("tinyint, smallint, int, bigint", "int16, int16, int32, int64")
R_DECIMAL = TypeRule("decimal(p,s), numeric(p,s)", "decimal(p,s)", note="p <= 38: every value exact")
R_MONEY = TypeRule("money, smallmoney", "decimal(19,4), decimal(10,4)", note="exact, all four decimals")
R_FLOAT = TypeRule("float, real", "float64", note="a real widened exactly; SQL Server stores no NaN or infinity")
R_STRING = TypeRule("char, varchar, nchar, nvarchar, text, ntext (incl. (max)), sysname", "string",
                    note="char(n) keeps its padding")
R_BINARY = TypeRule("binary, varbinary, image (incl. varbinary(max))", "binary")
R_UUID = TypeRule("uniqueidentifier", "string", note="lower-case canonical form (`6f9619ff-8b86-d011-b42d-00c04fc964ff`)")
R_ROWVERSION = TypeRule("rowversion (timestamp)", "binary",
                        note="the 8 bytes as the server gives them (big-endian: they order like the counter);"
                             " a view with CAST(c AS bigint) gives a number")
R_DATE = TypeRule("date", "date32")
R_TIMESTAMP = TypeRule("datetime, smalldatetime, datetime2(p)", "timestamp[us]; p = 7 (the default): and c_nanos int16",
                       "c; p = 7: and DATEPART(nanosecond, c) % 1000 AS c_nanos",
                       "datetime2(7): c to the microsecond (floored) and c_nanos the nanoseconds past it (0, 100 ..."
                       " 900): together the exact value; datetime as SQL Server shows it (3.33 ms ticks, to the"
                       " millisecond)")
R_TIME = TypeRule("time(p)", "time64[us]; p = 7 (the default): and c_nanos int16",
                  "c; p = 7: and DATEPART(nanosecond, c) % 1000 AS c_nanos",
                  "time(7): as datetime2(7), c to the microsecond and c_nanos the 100 ns digit")
R_OFFSET = TypeRule("datetimeoffset(p)", "string", "CAST(c AS NVARCHAR(34))",
                    "ISO 8601 with the offset and every digit (`2024-03-01T12:00:00.1234567+02:00`); as the"
                    " job's watermark_column: timestamp[us] UTC (the instant, ordered; the offset is dropped)")
R_XML = TypeRule("xml", "string", "CAST(c AS NVARCHAR(max))", "the document as SQL Server serializes it")
R_SPATIAL = TypeRule("geography, geometry", "string", "N'SRID=' + CAST(c.STSrid AS NVARCHAR(11)) + N';' + c.AsTextZM()",
                     "EWKT: the SRID and the WKT with Z and M (`SRID=4326;POINT (4.9 52.37)`)")
R_HIERARCHY = TypeRule("hierarchyid", "string", "c.ToString()", "the path (`/1/3/`)")
R_VARIANT = TypeRule("sql_variant", "string", "base type + ':' + the value in an exact text form",
                     "`int:42`, `decimal:12.3400`, `datetime2:2024-03-01 12:00:00.1234567`, `varbinary:0x0A0B`;"
                     " floats with 17 significant digits, money with four decimals")
R_OTHER = TypeRule("any other type (CLR types, json, vector)", "string", "CAST(c AS NVARCHAR(max))",
                   "SQL Server's own text form; a type it cannot convert fails the job with the server's error")

TYPE_RULES: tuple[TypeRule, ...] = (R_BIT, R_INT, R_DECIMAL, R_MONEY, R_FLOAT, R_STRING, R_BINARY, R_UUID,
                                    R_ROWVERSION, R_DATE, R_TIMESTAMP, R_TIME, R_OFFSET, R_XML, R_SPATIAL,
                                    R_HIERARCHY, R_VARIANT, R_OTHER)

_INTEGER_BITS = {"tinyint": 16, "smallint": 16, "int": 32, "bigint": 64}
_STRINGS = frozenset({"char", "varchar", "nchar", "nvarchar", "text", "ntext", "sysname"})
_BINARIES = frozenset({"binary", "varbinary", "image"})
_TIMESTAMPS = frozenset({"datetime", "smalldatetime", "datetime2"})

CATALOG_QUERY = sa.text("""
SELECT c.name AS name,
       CASE WHEN t.is_assembly_type = 1 THEN t.name ELSE TYPE_NAME(c.system_type_id) END AS type_name,
       c.precision AS precision, c.scale AS scale, c.max_length AS length
FROM sys.columns AS c
JOIN sys.types AS t ON t.user_type_id = c.user_type_id
WHERE c.object_id = OBJECT_ID(:relation)
ORDER BY c.column_id
""")
"""Each column's declared type: CLR types (geography, geometry, hierarchyid) by name, which
SQLAlchemy's reflection does not know; alias types resolved to their system type."""


class _Method(ColumnElement):
    """`c.Name()` (or the property `c.Name`) on a CLR-typed column."""

    inherit_cache = False

    def __init__(self, clause: ColumnElement, name: str, call: bool, type_: sa.types.TypeEngine) -> None:
        self.clause, self.name, self.call, self.type = clause, name, call, type_

    @property
    def _from_objects(self) -> list[Any]:
        return self.clause._from_objects


@compiles(_Method)
def _compile_method(element: _Method, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.clause, **kw)}.{element.name}{'()' if element.call else ''}"


def _text(column: ColumnElement, length: int | None = None) -> ColumnElement:
    return sa.cast(column, mssql.NVARCHAR(length))


def _convert(column: ColumnElement, style: int) -> ColumnElement:
    return sa.func.CONVERT(sa.literal_column("NVARCHAR(max)"), column, sa.literal_column(str(style)),
                           type_=mssql.NVARCHAR())


def _spatial(column: ColumnElement, dialect: Any = None) -> ColumnElement:
    srid = _text(_Method(column, "STSrid", False, sa.Integer()), 11)
    return (sa.literal_column("N'SRID='", mssql.NVARCHAR()) + srid + sa.literal_column("N';'", mssql.NVARCHAR())
            + _Method(column, "AsTextZM", True, mssql.NVARCHAR()))


def _variant(column: ColumnElement, dialect: Any = None) -> ColumnElement:
    """The base type and the value in a text form that keeps it exact, per base type."""
    base = _text(sa.func.SQL_VARIANT_PROPERTY(column, sa.literal_column("'BaseType'")), 128)

    def of(*names: str) -> Any:
        return base.in_([sa.literal_column(f"'{n}'") for n in names])

    value = sa.case(
        (of("binary", "varbinary"), _convert(sa.cast(column, mssql.VARBINARY(8000)), 1)),
        (of("float", "real"), _convert(sa.cast(column, mssql.FLOAT()), 3)),
        (of("money", "smallmoney"), _convert(sa.cast(column, mssql.MONEY()), 2)),
        (of("datetime", "smalldatetime", "datetime2"), _text(sa.cast(column, mssql.DATETIME2(7)))),
        (of("datetimeoffset"), _text(sa.cast(column, mssql.DATETIMEOFFSET(7)))),
        (of("date"), _text(sa.cast(column, sa.DATE()))),
        (of("time"), _text(sa.cast(column, mssql.TIME(7)))),
        else_=_text(column))
    return base + sa.literal_column("':'", mssql.NVARCHAR()) + value


DEFAULT_FRACTION_DIGITS = 7
"""datetime2 and time without a declared precision have seven fractional digits."""


def _nanos_past_micro(column: ColumnElement, dialect: Any = None) -> ColumnElement:
    return sa.func.DATEPART(sa.literal_column("nanosecond"), column, type_=sa.Integer()) % sa.literal_column("1000")


def _nanos(column: SourceColumn):
    digits = DEFAULT_FRACTION_DIGITS if column.scale is None else column.scale
    return nanos_companion(column, digits, _nanos_past_micro)


def canonical_uuid(value: Any) -> str:
    """pyodbc gives uniqueidentifier as upper-case text, SQLAlchemy as uuid.UUID."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def offset_to_iso(column: SourceColumn):
    """`2024-03-01 12:00:00.1234567 +02:00` (SQL Server's text form of datetimeoffset) ->
    `2024-03-01T12:00:00.1234567+02:00`; anything else fails naming the column."""

    def convert(value: Any) -> str:
        parts = str(value).split(" ")
        if len(parts) != 3 or parts[2][:1] not in "+-" or len(parts[0]) != 10:
            raise value_error(column, f"gave {value!r}, not SQL Server's datetimeoffset text form")
        return f"{parts[0]}T{parts[1]}{parts[2]}"

    return convert


def plan_column(column: SourceColumn, watermark: bool = False) -> ClientPlan:
    """The rule for one column (see TYPE_RULES); `watermark`: the job's watermark_column."""
    name = column.type_name
    if name == "bit":
        return ClientPlan(column, R_BIT, hint("bool"))
    if name in _INTEGER_BITS:
        return ClientPlan(column, R_INT, integer_hint(_INTEGER_BITS[name]))
    if name in ("decimal", "numeric"):
        return ClientPlan(column, R_DECIMAL, decimal_hint(column.precision or 18, column.scale or 0))
    if name in ("money", "smallmoney"):
        return ClientPlan(column, R_MONEY, decimal_hint(19 if name == "money" else 10, 4))
    if name in ("float", "real"):
        return ClientPlan(column, R_FLOAT, hint("double"))
    if name in _STRINGS:
        return ClientPlan(column, R_STRING, TEXT)
    if name in _BINARIES:
        return ClientPlan(column, R_BINARY, hint("binary"))
    if name == "uniqueidentifier":
        return ClientPlan(column, R_UUID, TEXT, convert=canonical_uuid)
    if name in ("timestamp", "rowversion"):
        return ClientPlan(column, R_ROWVERSION, hint("binary"))
    return _plan_temporal_or_text(column, watermark)


def _plan_temporal_or_text(column: SourceColumn, watermark: bool) -> ClientPlan:
    name = column.type_name
    if name == "date":
        return ClientPlan(column, R_DATE, hint("date"))
    if name in _TIMESTAMPS:
        return ClientPlan(column, R_TIMESTAMP, timestamp_hint(), companion=_nanos(column) if name == "datetime2" else None)
    if name == "time":
        return ClientPlan(column, R_TIME, hint("time", precision=6), companion=_nanos(column))
    if name == "datetimeoffset":
        if watermark:  # SQLAlchemy's pyodbc dialect returns an aware datetime: its instant lands
            return ClientPlan(column, R_OFFSET, timestamp_hint(timezone=True), companion=_nanos(column))
        return ClientPlan(column, R_OFFSET, TEXT, select=lambda c, d=None: _text(c, 34),
                          convert=offset_to_iso(column), ordered=False)
    if name == "xml":
        return ClientPlan(column, R_XML, TEXT, select=lambda c, d=None: _text(c), ordered=False)
    if name in ("geography", "geometry"):
        return ClientPlan(column, R_SPATIAL, TEXT, select=_spatial, ordered=False)
    if name == "hierarchyid":
        return ClientPlan(column, R_HIERARCHY, TEXT, ordered=False,
                          select=lambda c, d=None: _Method(c, "ToString", True, mssql.NVARCHAR()))
    if name == "sql_variant":
        return ClientPlan(column, R_VARIANT, TEXT, select=_variant, ordered=False)
    return ClientPlan(column, R_OTHER, TEXT, select=lambda c, d=None: _text(c), ordered=False)


_SA_NAMES = {"INTEGER": "int", "BIGINT": "bigint", "SMALLINT": "smallint", "TINYINT": "tinyint", "BIT": "bit",
             "BOOLEAN": "bit", "NUMERIC": "numeric", "DECIMAL": "decimal", "MONEY": "money",
             "SMALLMONEY": "smallmoney", "FLOAT": "float", "REAL": "real", "DOUBLE_PRECISION": "float",
             "CHAR": "char", "VARCHAR": "varchar", "NCHAR": "nchar", "NVARCHAR": "nvarchar", "TEXT": "text",
             "NTEXT": "ntext", "BINARY": "binary", "VARBINARY": "varbinary", "IMAGE": "image",
             "UNIQUEIDENTIFIER": "uniqueidentifier", "TIMESTAMP": "timestamp", "DATE": "date",
             "DATETIME": "datetime", "SMALLDATETIME": "smalldatetime", "DATETIME2": "datetime2", "TIME": "time",
             "DATETIMEOFFSET": "datetimeoffset", "XML": "xml", "SQL_VARIANT": "sql_variant"}


def column_from_reflection(name: str, column_type: sa.types.TypeEngine) -> SourceColumn:
    """A column as SQLAlchemy reflected it, for a column the catalog query did not return."""
    visit = getattr(column_type, "__visit_name__", "").upper()
    precision = getattr(column_type, "precision", None)
    scale = getattr(column_type, "scale", None)
    if visit in ("DATETIME2", "TIME", "DATETIMEOFFSET"):
        precision, scale = None, precision
    return SourceColumn(name, _SA_NAMES.get(visit, visit.lower() or "unknown"), precision, scale)


def column_from_catalog(row: Any) -> SourceColumn:
    name = str(row["type_name"]).lower()
    precision, scale = row["precision"], row["scale"]
    if name in ("decimal", "numeric"):
        return SourceColumn(row["name"], name, precision, scale)
    if name in ("datetime2", "time", "datetimeoffset"):
        return SourceColumn(row["name"], name, None, scale)
    return SourceColumn(row["name"], name)


def read_catalog(connection: sa.Connection, schema: str | None, table: str) -> dict[str, SourceColumn]:
    """Each column's declared type, by name, from one catalog query."""
    preparer = connection.dialect.identifier_preparer
    relation = preparer.quote_identifier(table) if schema is None else \
        f"{preparer.quote_identifier(schema)}.{preparer.quote_identifier(table)}"
    rows = connection.execute(CATALOG_QUERY, {"relation": relation}).mappings().all()
    return {row["name"]: column_from_catalog(row) for row in rows}


if __name__ == "__main__":
    print(markdown_table("SQL Server", TYPE_RULES))
