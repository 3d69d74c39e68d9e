"""What differs per SQL dialect when dlt's sql_table reads a table: the backend, the column
types adjusted after reflection, and the dlt column hints that keep types exact."""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa

from ingest.core.errors import SettingError
from ingest.sources.exact_types import integer_width_hints
from ingest.sources.mssql import adapt_sqlserver_types
from ingest.sources.oracle import adapt_oracle_types, oracle_number_hints, select_utc_timestamps
from ingest.sources.postgres_types import ColumnPlan, select_exact

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


def exact_type_hints(columns: dict[str, sa.types.TypeEngine], dialect_name: str) -> dict[str, dict[str, Any]]:
    """dlt column hints that keep each column's exact type in the lake."""
    hints = integer_width_hints(columns)
    # SQLAlchemy 2.1's Float (REAL, DOUBLE PRECISION, Oracle BINARY_DOUBLE) is no longer a
    # Numeric, the class dlt 1.31 maps to double: without this hint dlt calls it unknown.
    hints.update({name: {"name": name, "data_type": "double"}
                  for name, kind in columns.items() if isinstance(kind, sa.Float)})
    if dialect_name == "oracle":
        hints.update(oracle_number_hints(columns))
    return hints


def query_adapter(dialect_name: str, read_plans: dict[str, ColumnPlan] | None = None,
                  backend: str = "pyarrow") -> Callable[..., Any] | None:
    """A dlt query_adapter_callback that changes what a dialect's SELECT returns, if needed:
    Oracle's zoned timestamps in UTC; PostgreSQL's columns as their read plans say."""
    if dialect_name == "oracle":
        return select_utc_timestamps
    if dialect_name == "postgresql" and read_plans:
        return select_exact(read_plans, backend)
    return None
