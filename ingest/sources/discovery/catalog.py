"""One schema of a SQL source as its catalog describes it: tables and views, their columns and
types, primary keys, row estimates from statistics and, on PostgreSQL, each column's declared
type and pg_stats.correlation. SQLAlchemy's multi-table reflection does the columns and keys
(a few queries per schema, not per table); catalog_sql.py the rest."""

from __future__ import annotations

import fnmatch
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.reflection import ObjectKind

from ingest.core.errors import SourceObjectNotFoundError
from ingest.sources.client_types import SourceColumn
from ingest.sources.dialects import CLIENT_TYPE_MAPS
from ingest.sources.dialects import read_catalog as read_declared_types
from ingest.sources.discovery import catalog_sql
from ingest.sources.postgres_types import PgColumn

log = logging.getLogger("ingest.discover")


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: sa.types.TypeEngine
    nullable: bool
    pg: PgColumn | None = None
    """PostgreSQL: the column as its catalog declares it (what postgres_types.py plans from)."""
    correlation: float | None = None
    """PostgreSQL: pg_stats.correlation (None before ANALYZE)."""
    domain: bool = False
    """PostgreSQL: the column's type is a domain (pg.base is the type under it)."""
    client: SourceColumn | None = None
    """SQL Server and Oracle: the column as the catalog declares it (what client_types.py plans
    from; XMLType, CLR types and the like are known only here)."""

    @property
    def declared(self) -> str:
        if self.pg is not None:
            return self.pg.declared
        return self.client.declared if self.client is not None else str(self.type).lower()


@dataclass(frozen=True)
class CatalogTable:
    schema: str | None
    """As given to discover; None for the connection's default schema."""
    name: str
    is_view: bool
    columns: tuple[CatalogColumn, ...]
    primary_key: tuple[str, ...] = ()
    row_estimate: int | None = None
    """From statistics; None when there are none (a view, a table never analysed)."""

    @property
    def where(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass
class Catalog:
    dialect: str
    schema: str | None
    default_schema: str | None
    tables: list[CatalogTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What could not be read (statistics a login may not see), said once."""


def selected(name: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """`name` matches an include glob (any, when none given) and no exclude glob; globs
    compare without case (Oracle reflects ORDERS as orders)."""
    lower = name.lower()
    if include and not any(fnmatch.fnmatchcase(lower, p.lower()) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(lower, p.lower()) for p in exclude)


def read_catalog(engine: Engine, schema: str | None = None, include: tuple[str, ...] = (),
                 exclude: tuple[str, ...] = ()) -> Catalog:
    """The tables and views of `schema` (the connection's default when None) that the globs
    select, sorted by name."""
    inspector = sa.inspect(engine)
    schema = _schema_as_spelled(inspector, schema)
    catalog = Catalog(engine.dialect.name, schema, inspector.default_schema_name)
    views = set(inspector.get_view_names(schema=schema))
    if engine.dialect.name == "postgresql":
        views |= set(inspector.get_materialized_view_names(schema=schema))
    partitions = _partitions(engine, schema or catalog.default_schema, catalog.notes)
    chosen = [n for n in sorted(set(inspector.get_table_names(schema=schema)) | views) if selected(n, include, exclude)]
    names = [n for n in chosen if n not in partitions]
    if len(names) < len(chosen):
        catalog.notes.append(f"{len(chosen) - len(names)} partition(s) left out: each is read through its"
                             " partitioned table")
    if not names:
        return catalog
    with warnings.catch_warnings():  # types SQLAlchemy has no class for: postgres_types.py plans them
        warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
        columns = inspector.get_multi_columns(schema=schema, filter_names=names, kind=ObjectKind.ANY)
    keys = inspector.get_multi_pk_constraint(schema=schema, filter_names=names, kind=ObjectKind.TABLE)
    stats_schema = schema or catalog.default_schema
    estimates = _row_estimates(engine, stats_schema, catalog.notes)
    pg_columns, domains, correlations = _postgres_details(engine, stats_schema, catalog.notes)
    for name in names:
        reflected = columns.get((schema, name)) or []
        key = keys.get((schema, name)) or {}
        declared = _client_columns(engine, schema, name, catalog.notes)
        catalog.tables.append(CatalogTable(
            schema=schema, name=name, is_view=name in views,
            columns=tuple(CatalogColumn(c["name"], c["type"], bool(c.get("nullable", True)),
                                        pg_columns.get((name, c["name"])), correlations.get((name, c["name"])),
                                        (name, c["name"]) in domains, declared.get(c["name"]))
                          for c in reflected),
            primary_key=tuple(key.get("constrained_columns") or ()),
            row_estimate=None if name in views else estimates.get(name)))
    return catalog


def _client_columns(engine: Engine, schema: str | None, table: str, notes: list[str]) -> dict[str, SourceColumn]:
    """SQL Server and Oracle: each column's declared type from the catalog query the load uses
    (one per table); {} elsewhere, or when this login may not read it (noted once)."""
    if engine.dialect.name not in CLIENT_TYPE_MAPS:
        return {}
    try:
        with engine.connect() as connection:
            return read_declared_types(connection, engine.dialect.name, schema, table)
    except sa.exc.DBAPIError as exc:
        note = (f"declared column types not readable ({type(exc.orig).__name__}): the type notes go by"
                " SQLAlchemy's reflection")
        if note not in notes:
            notes.append(note)
        return {}


def _schema_as_spelled(inspector: sa.Inspector, schema: str | None) -> str | None:
    """`schema` as the source spells it (exactly, else the one name equal ignoring case);
    SourceObjectNotFoundError naming the schemas there are when there is none."""
    if schema is None:
        return None
    names = inspector.get_schema_names()
    if schema in names:
        return schema
    same = [name for name in names if name.lower() == schema.lower()]
    if len(same) == 1:
        return same[0]
    raise SourceObjectNotFoundError(f"schema '{schema}' does not exist (schemas: "
                                    f"{_schemas_to_show(names, schema, inspector.default_schema_name)})")


def _schemas_to_show(names: list[str], wanted: str, default: str | None, most: int = 30) -> str:
    """The names a user most likely meant first (close spellings, then the connection's default
    schema), then the others by name; at most `most`, and how many more there are."""
    import difflib

    candidates = sorted(n for n in names if not n.startswith(("pg_", "information_schema")))
    first = difflib.get_close_matches(wanted, candidates, n=5) + ([default] if default in candidates else [])
    ordered = list(dict.fromkeys(first + candidates))
    more = len(ordered) - most
    return ", ".join(ordered[:most]) + (f" and {more} more" if more > 0 else "")


def _query(engine: Engine, statement: Any, params: dict[str, Any], what: str,
           notes: list[str]) -> list[sa.Row]:
    """Rows of a statistics query; none (and a note) when this login may not read them."""
    try:
        with engine.connect() as connection:
            return list(connection.execute(statement, params))
    except sa.exc.DBAPIError as exc:
        notes.append(f"{what} could not be read ({type(exc.orig).__name__}); proposals go without them")
        return []


def _row_estimates(engine: Engine, schema: str | None, notes: list[str]) -> dict[str, int]:
    dialect = engine.dialect
    if dialect.name == "postgresql":
        rows = _query(engine, catalog_sql.postgres_row_estimates(schema or "public"), {}, "row estimates", notes)
    elif dialect.name == "mssql":
        rows = _query(engine, catalog_sql.sqlserver_row_estimates(schema or "dbo"), {}, "row estimates", notes)
    elif dialect.name == "oracle":
        owner = dialect.denormalize_name(schema) if schema else None
        rows = _query(engine, catalog_sql.oracle_row_estimates(owner), {}, "row estimates", notes) if owner else []
        rows = [(dialect.normalize_name(name), count) for name, count in rows]
    elif dialect.name == "sqlite":
        if not sa.inspect(engine).has_table(catalog_sql.SQLITE_STAT_TABLE):
            return {}  # no ANALYZE ever ran: no statistics, and that is not worth a note
        rows = _query(engine, catalog_sql.SQLITE_ROW_ESTIMATES, {}, "row estimates", notes)
    else:
        return {}
    # PostgreSQL 14+ says -1 for "never analysed"; 0 may mean the same: no estimate
    return {name: int(count) for name, count in rows if count is not None and int(count) > 0}


def _partitions(engine: Engine, schema: str | None, notes: list[str]) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    return {r.table_name for r in _query(engine, catalog_sql.postgres_partitions(schema or "public"), {},
                                         "partitions", notes)}


def _postgres_details(engine: Engine, schema: str | None, notes: list[str]
                      ) -> tuple[dict[tuple[str, str], PgColumn], set[tuple[str, str]], dict[tuple[str, str], float]]:
    """(table, column) -> declared type; the (table, column)s typed by a domain; (table, column)
    -> pg_stats.correlation."""
    if engine.dialect.name != "postgresql":
        return {}, set(), {}
    schema = schema or "public"
    rows = _query(engine, catalog_sql.POSTGRES_COLUMNS, {"schema": schema}, "column types", notes)
    types = {(r.table_name, r.name): PgColumn(r.name, r.declared, r.base, r.typmod, r.kind, r.element) for r in rows}
    stats = _query(engine, catalog_sql.postgres_correlations(schema), {}, "column statistics", notes)
    domains = {(r.table_name, r.name) for r in rows if r.is_domain}
    return types, domains, {(r.table_name, r.column_name): float(r.correlation) for r in stats if r.correlation is not None}
