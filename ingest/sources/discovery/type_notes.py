"""Which columns of a discovered table will not land as the source declares them, and what
lands instead. PostgreSQL asks the read plans of ingest/sources/postgres_types.py, SQL Server and Oracle their
client plans (mssql_types.py, oracle_types.py): the same decision the load takes; other dialects
go by the reflected SQLAlchemy type."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ingest.sources.dialects import CLIENT_TYPE_MAPS
from ingest.sources.discovery.catalog import CatalogColumn
from ingest.sources.postgres_types import Read, plan_column

_PG_USER_KINDS = {"e": "an enum", "c": "a composite type", "r": "a range type", "m": "a multirange type"}


def type_note(column: CatalogColumn, dialect: str) -> str | None:
    """One line for a column that changes on the way into the lake; None when it lands as is."""
    if dialect == "postgresql" and column.pg is not None:
        return _postgres_note(column)
    if dialect in CLIENT_TYPE_MAPS:
        return _client_note(column, CLIENT_TYPE_MAPS[dialect])
    return _generic_note(column)


def _client_note(column: CatalogColumn, type_map: Any) -> str | None:
    """SQL Server and Oracle: what the column's plan lands (client_types.py), from the catalog's
    declared type, else SQLAlchemy's reflected one."""
    declared = column.client or type_map.column_from_reflection(column.name, column.type)
    plan = type_map.plan_column(declared)
    what = f"column {column.name} ({declared.declared})"
    if plan.unsupported:
        return f"{what} {plan.unsupported}; the job fails before reading until then"
    if plan.companion is not None:
        return (f"{what} lands as {plan.lands_as} to the microsecond, with {plan.companion.name} holding the"
                " nanoseconds past it")
    if plan.lands_as == "text" and plan.rule is not type_map.R_STRING:
        return f"{what} lands as text: {plan.rule.note or plan.rule.select}"
    return None


def _postgres_note(column: CatalogColumn) -> str | None:
    pg = column.pg
    plan = plan_column(pg)
    what = f"column {column.name} ({pg.declared})"
    if pg.element is not None:
        if plan.read is Read.TEXT:
            return f"{what} lands as text, as PostgreSQL prints the array"
        return (f"{what} lands as {plan.lands_as}; a multi-dimensional array or one whose lower bound is"
                " not 1 fails the job")
    if pg.kind in _PG_USER_KINDS:
        return f"{what} is {_PG_USER_KINDS[pg.kind]}: lands as {'its label' if pg.kind == 'e' else 'text'}"
    if pg.base == "bytea":
        return f"{what} lands as binary"
    if plan.read is Read.TEXT:
        reason = pg.base
        if pg.base == "numeric":
            reason = "numeric without a precision" if pg.typmod < 4 else "a precision or scale no decimal holds"
        return f"{what} lands as text ({reason}: PostgreSQL's own text form)"
    if column.domain:
        return f"{what} is a domain: lands as its base type ({plan.lands_as})"
    return None


def _generic_note(column: CatalogColumn) -> str | None:
    kind = column.type
    what = f"column {column.name} ({column.declared})"
    if isinstance(kind, sa.JSON):
        return f"{what} is JSON: lands as a JSON document (text or nested), not as columns"
    if isinstance(kind, sa.ARRAY):
        return f"{what} is an array: lands as a list"
    if isinstance(kind, sa.Interval):
        return f"{what} is an interval: lands as text or a duration, as the driver returns it"
    if isinstance(kind, sa.types._Binary):
        return f"{what} lands as binary"
    if isinstance(kind, sa.Numeric) and not isinstance(kind, (sa.Float, sa.Integer)) and kind.precision is None:
        return f"{what} is a number without a declared precision: dlt types it from the values it reads"
    if isinstance(kind, sa.types.NullType):
        return f"{what} has a type SQLAlchemy does not know: it lands as the driver returns it"
    return None
