"""Text tuple values typed by the relation's column type OIDs, and the dlt column hints that
go with them. Both pgoutput's change tuples and the initial snapshot (which selects every
column as `::text`) go through the same converters, so a row lands alike either way.

Types kept exactly: booleans, integers, floats, numeric(p,s) up to 38 digits (Decimal), date,
time, timestamp and timestamptz (psycopg2's own parsers, ±infinity as their bounds, as the
watermark loads land them: ingest/sources/postgres_types.py), bytea. Every other type lands as
PostgreSQL's own text rendering (json, uuid, intervals, arrays, unconstrained numeric...): text
always holds what PostgreSQL printed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import psycopg2.extensions as ext

from ingest.core.errors import SourceValueError
from ingest.sources.postgres_types import numeric_precision

BOOL, BYTEA, INT8, INT2, INT4, OID = 16, 17, 20, 21, 23, 26
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 1082, 1083, 1114, 1184
MAX_EXACT_DECIMAL = 38

Converter = Callable[[str], Any]


@dataclass(frozen=True)
class TypedColumn:
    name: str
    hint: dict[str, Any]
    convert: Converter


def _decimal(column: str) -> Converter:
    def convert(text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise SourceValueError(f"column {column}: {text!r} is not a number")
        if not value.is_finite():
            raise SourceValueError(f"column {column}: {text} has no exact form in a decimal column")
        return value
    return convert


def _bytea(text: str) -> bytes:
    return bytes.fromhex(text[2:]) if text.startswith("\\x") else text.encode()


def _with_cursor(caster: Any, cursor: Any) -> Converter:
    return lambda text: caster(text, cursor)


def _bool(text: str) -> bool:
    """The log sends boolout's 't' / 'f'; the snapshot's `bool::text` is 'true' / 'false'."""
    return text in ("t", "true")


def typed_column(name: str, type_oid: int, modifier: int, cursor: Any) -> TypedColumn:
    """How column `name` of type `type_oid` lands. `cursor`: a psycopg2 cursor (the date and
    time parsers read its connection's settings)."""
    simple: dict[int, tuple[str, Converter]] = {
        BOOL: ("bool", _bool), INT2: ("bigint", int), INT4: ("bigint", int),
        INT8: ("bigint", int), OID: ("bigint", int), FLOAT4: ("double", float), FLOAT8: ("double", float),
        BYTEA: ("binary", _bytea),
        DATE: ("date", _with_cursor(ext.PYDATE, cursor)), TIME: ("time", _with_cursor(ext.PYTIME, cursor)),
        TIMESTAMP: ("timestamp", _with_cursor(ext.PYDATETIME, cursor)),
        TIMESTAMPTZ: ("timestamp", _with_cursor(ext.PYDATETIMETZ, cursor)),
    }
    if type_oid in simple:
        data_type, convert = simple[type_oid]
        hint: dict[str, Any] = {"name": name, "data_type": data_type, "nullable": True}
        if type_oid == TIMESTAMP:
            hint["timezone"] = False
        return TypedColumn(name, hint, convert)
    if type_oid == NUMERIC:
        exact = numeric_precision(modifier)
        if exact is not None and exact[0] <= MAX_EXACT_DECIMAL and 0 <= exact[1] <= exact[0]:
            hint = {"name": name, "data_type": "decimal", "precision": exact[0], "scale": exact[1],
                    "nullable": True}
            return TypedColumn(name, hint, _decimal(name))
    return TypedColumn(name, {"name": name, "data_type": "text", "nullable": True}, str)
