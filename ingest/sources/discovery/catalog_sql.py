"""The catalog queries discovery runs besides SQLAlchemy's reflection, one per schema: each
table's row estimate from the database's own statistics (never a count(*), which reads the
whole table), and on PostgreSQL each column's declared type and its pg_stats.correlation.

They are SQLAlchemy Core statements, so each compiles for its dialect (the SQL Server and
Oracle forms are asserted in tests/unit/test_discovery_sql.py: no such server runs here)."""

from __future__ import annotations

import sqlalchemy as sa

# --- PostgreSQL -----------------------------------------------------------------------------
_pg_class = sa.table("pg_class", sa.column("oid"), sa.column("relname"), sa.column("relnamespace"),
                     sa.column("reltuples"), sa.column("relkind"), sa.column("relispartition"), schema="pg_catalog")
_pg_namespace = sa.table("pg_namespace", sa.column("oid"), sa.column("nspname"), schema="pg_catalog")
_pg_stats = sa.table("pg_stats", sa.column("schemaname"), sa.column("tablename"), sa.column("attname"),
                     sa.column("correlation"), sa.column("null_frac"), schema="pg_catalog")

PG_RELKINDS = ("r", "p", "m")
"""Tables, partitioned tables and materialized views hold rows (and statistics); views do not."""


def postgres_row_estimates(schema: str) -> sa.Select:
    """(table, rows): pg_class.reltuples, which VACUUM / ANALYZE keep; -1 (PostgreSQL 14+) or 0
    on a table never analysed."""
    return (sa.select(_pg_class.c.relname.label("table_name"),
                      sa.cast(_pg_class.c.reltuples, sa.BigInteger).label("row_estimate"))
            .select_from(_pg_class.join(_pg_namespace, _pg_namespace.c.oid == _pg_class.c.relnamespace))
            .where(_pg_namespace.c.nspname == sa.bindparam("schema", schema),
                   _pg_class.c.relkind.in_(PG_RELKINDS)))


def postgres_partitions(schema: str) -> sa.Select:
    """(table,): the partitions of partitioned tables; each is read through its parent."""
    return (sa.select(_pg_class.c.relname.label("table_name"))
            .select_from(_pg_class.join(_pg_namespace, _pg_namespace.c.oid == _pg_class.c.relnamespace))
            .where(_pg_namespace.c.nspname == sa.bindparam("schema", schema), _pg_class.c.relispartition))


def postgres_correlations(schema: str) -> sa.Select:
    """(table, column, correlation): how closely a column's order follows the rows' physical
    order; a column set on every insert and update (updated_at) is near 1, since PostgreSQL
    writes a new row version at the end of the table on update. Empty before ANALYZE."""
    return (sa.select(_pg_stats.c.tablename.label("table_name"), _pg_stats.c.attname.label("column_name"),
                      _pg_stats.c.correlation)
            .where(_pg_stats.c.schemaname == sa.bindparam("schema", schema)))


POSTGRES_COLUMNS = sa.text("""
SELECT c.relname AS table_name,
       a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS declared,
       coalesce(bt.typname, t.typname) AS base,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       coalesce(bt.typtype, t.typtype) AS kind,
       et.typname AS element,
       t.typtype = 'd' AS is_domain
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_type et ON coalesce(bt.typcategory, t.typcategory) = 'A' AND et.oid = coalesce(bt.typelem, t.typelem)
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
""")
"""Every column's declared type of a schema, as ingest/sources/postgres_types.py's CATALOG_QUERY
reads it for one table (domains resolved one level to their base type)."""

# --- SQL Server, Azure SQL --------------------------------------------------------------------
_sys_tables = sa.table("tables", sa.column("object_id"), sa.column("name"), sa.column("schema_id"), schema="sys")
_sys_schemas = sa.table("schemas", sa.column("schema_id"), sa.column("name"), schema="sys")
_sys_partitions = sa.table("partitions", sa.column("object_id"), sa.column("index_id"), sa.column("rows"),
                           schema="sys")


def sqlserver_row_estimates(schema: str) -> sa.Select:
    """(table, rows): sys.partitions.rows of the heap (index 0) or clustered index (1), summed
    over partitions: kept by the engine, no scan."""
    return (sa.select(_sys_tables.c.name.label("table_name"),
                      sa.func.sum(_sys_partitions.c.rows).label("row_estimate"))
            .select_from(_sys_tables
                         .join(_sys_schemas, _sys_schemas.c.schema_id == _sys_tables.c.schema_id)
                         .join(_sys_partitions, _sys_partitions.c.object_id == _sys_tables.c.object_id))
            .where(_sys_schemas.c.name == sa.bindparam("schema", schema), _sys_partitions.c.index_id.in_((0, 1)))
            .group_by(_sys_tables.c.name))


# --- Oracle -----------------------------------------------------------------------------------
_all_tables = sa.table("all_tables", sa.column("owner"), sa.column("table_name"), sa.column("num_rows"))


def oracle_row_estimates(owner: str) -> sa.Select:
    """(table, rows): all_tables.num_rows, from the last DBMS_STATS gathering (NULL if never).
    `owner` as Oracle stores it (upper case for an unquoted name)."""
    return (sa.select(_all_tables.c.table_name, _all_tables.c.num_rows.label("row_estimate"))
            .where(_all_tables.c.owner == sa.bindparam("owner", owner)))


# --- SQLite -----------------------------------------------------------------------------------
SQLITE_STAT_TABLE = "sqlite_stat1"
SQLITE_ROW_ESTIMATES = sa.text("SELECT tbl AS table_name, max(CAST(stat AS INTEGER)) AS row_estimate"
                               " FROM sqlite_stat1 GROUP BY tbl")
"""sqlite_stat1 (written by ANALYZE): each row's `stat` starts with the table's row count."""
