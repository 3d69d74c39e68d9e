"""What differs per SQL dialect when dlt's sql_table reads a table: the backend, the column
types adjusted after reflection, and the dlt column hints that keep types exact."""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa

from ingest.core.errors import SettingError
from ingest.sources import mssql_types, oracle_types
from ingest.sources.client_types import ClientPlan, SourceColumn, check_supported, plan_hints, select_planned
from ingest.sources.exact_types import integer_width_hints
from ingest.sources.literals import unwrap
from ingest.sources.mssql import adapt_sqlserver_types
from ingest.sources.oracle import adapt_oracle_types
from ingest.sources.postgres_types import ColumnPlan, select_exact
from ingest.sources.postgres_types import dlt_type as postgres_dlt_type

CLIENT_TYPE_MAPS = {"mssql": mssql_types, "oracle": oracle_types}
"""The dialects read on the client path, each with its type map (client_types.py)."""

BACKEND_BY_DIALECT = {
    # connectorx streams arrow batches straight from PostgreSQL's binary protocol (2.7x the
    # pyarrow backend at 1M rows, bench/full_load.py); ExactTypesConnectorXLoader casts them to
    # the reflected types.
    "postgresql": "connectorx",
    # SQLite's loose typing suits the pyarrow backend, which builds arrow tables from DB-API
    # rows with the reflected types.
    "sqlite": "pyarrow",
    # Oracle: pyarrow over python-oracledb in thin mode. connectorx reads Oracle through ODPI-C,
    # which needs Oracle Instant Client (here it fails with DPI-1047): the opposite of thin
    # mode; it is also reported slower than oracledb's array fetches on Oracle.
    "oracle": "pyarrow",
    # SQL Server and Azure SQL: pyarrow over pyodbc. connectorx 0.4.6 reads SQL Server with its
    # own TDS client: no ODBC driver needed, but none of the connection's ODBC settings (driver,
    # Encrypt, TrustServerCertificate, login timeout) reach it, and it has no way to take an
    # Entra ID access token. Its speed on SQL Server was not measured (no server here).
    "mssql": "pyarrow",
}
CONNECTORX_DIALECTS = frozenset({"postgresql", "sqlite"})


def choose_backend(dialect_name: str, override: str | None = None) -> str:
    """The sql_table backend for a dialect; `override` is INGEST_SQL_BACKEND."""
    if override == "connectorx" and dialect_name not in CONNECTORX_DIALECTS:
        raise SettingError(
            f"setting INGEST_SQL_BACKEND=connectorx cannot read {dialect_name} sources: connectorx"
            " would ignore the connection's driver, encryption and Entra ID settings (and needs"
            " Oracle Instant Client for Oracle); unset it or use pyarrow")
    return override or BACKEND_BY_DIALECT.get(dialect_name, "pyarrow")


def adapt_types(table: sa.Table, dialect_name: str) -> None:
    """Replace reflected column types that dlt would map inexactly."""
    if dialect_name == "oracle":
        adapt_oracle_types(table)
    elif dialect_name == "mssql":
        adapt_sqlserver_types(table)


def exact_type_hints(columns: dict[str, sa.types.TypeEngine], dialect_name: str,
                     client_plans: dict[str, ClientPlan] | None = None) -> dict[str, dict[str, Any]]:
    """dlt column hints that keep each column's exact type in the lake; on the client path
    (SQL Server, Oracle) the hints of what each column's plan lands."""
    hints = integer_width_hints(columns)
    # SQLAlchemy 2.1's Float (REAL, DOUBLE PRECISION, Oracle BINARY_DOUBLE) is no longer a
    # Numeric, the class dlt 1.31 maps to double: without this hint dlt calls it unknown.
    hints.update({name: {"name": name, "data_type": "double"}
                  for name, kind in columns.items() if isinstance(kind, sa.Float)})
    hints.update(plan_hints(client_plans or {}))
    return hints


def query_adapter(dialect_name: str, read_plans: dict[str, ColumnPlan] | None = None,
                  backend: str = "pyarrow", client_plans: dict[str, ClientPlan] | None = None
                  ) -> Callable[..., Any] | None:
    """A dlt query_adapter_callback that selects each column as its plan says: PostgreSQL's
    read plans (postgres_types.py), SQL Server's and Oracle's client plans (client_types.py)."""
    if dialect_name in CLIENT_TYPE_MAPS and client_plans:
        return select_planned(client_plans)
    if dialect_name == "postgresql" and read_plans:
        return select_exact(read_plans, backend)
    return None


def read_catalog(connection: sa.Connection, dialect_name: str, schema: str | None,
                 table: str) -> dict[str, SourceColumn]:
    """Each column's declared type from the source's catalog (client-path dialects; {} for others)."""
    type_map = CLIENT_TYPE_MAPS.get(dialect_name)
    return type_map.read_catalog(connection, schema, table) if type_map is not None else {}


def client_plans(table: sa.Table, dialect_name: str, catalog: dict[str, SourceColumn],
                 watermark: str | None) -> dict[str, ClientPlan]:
    """Each column's plan on the client path, from the catalog's row for it, else from the
    type SQLAlchemy reflected; a column with no exact form fails here, before any read."""
    type_map = CLIENT_TYPE_MAPS.get(dialect_name)
    if type_map is None:
        return {}
    plans = {}
    for column in table.columns:
        source = catalog.get(column.name) or type_map.column_from_reflection(column.name, unwrap(column.type))
        plans[column.name] = type_map.plan_column(source, watermark=column.name == watermark)
    check_supported(plans, f"{table.schema}.{table.name}" if table.schema else table.name)
    return plans


def dlt_type(column_type: sa.types.TypeEngine) -> sa.types.TypeEngine | None:
    """dlt's type_adapter_callback on the client path: a type dlt has no mapping for
    (geography, XMLType, BINARY_DOUBLE ...) gives no hint instead of a warning per column and
    job; the plan's hint says what lands (PostgreSQL's callback does the same)."""
    return postgres_dlt_type(column_type)
