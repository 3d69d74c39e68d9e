"""Build a dlt `sql_table` resource for one job: reflection checks, names matched to the
source's spelling, watermark typing, incremental, backend per dialect."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from sqlalchemy.engine import Engine

from ingest.config.model import JobConfig, WatermarkValue
from ingest.core.errors import ConfigError, ReservedColumnError, SourceObjectNotFoundError
from ingest.sources.connections import SourceConnection
from ingest.sources.client_loader import client_loader
from ingest.sources.client_types import ClientPlan, SourceColumn
from ingest.sources.dialects import (CLIENT_TYPE_MAPS, adapt_types, choose_backend, client_plans,
                                     exact_type_hints, query_adapter, read_catalog)
from ingest.sources.dialects import dlt_type as client_dlt_type
from ingest.sources.exact_types import ExactTypesConnectorXLoader
from ingest.sources.literals import unwrap, wrap_watermark_type
from ingest.sources.oracle import ARRAYSIZE as ORACLE_ARRAYSIZE
from ingest.sources.postgres_types import ColumnPlan, Read, adapt_table, dlt_type, read_columns
from ingest.sources.reserved_names import reserved_column_message, reserved_columns
from ingest.sources.strategies import Strategies
from ingest.sources.watermark_values import as_column_datetime


@dataclass
class ReflectedTable:
    """A job's source table, reflected and checked."""

    table: sa.Table
    columns: dict[str, sa.types.TypeEngine]
    """Column name (as the source spells it) -> reflected type."""
    watermark_column: str | None = None
    primary_key: tuple[str, ...] = ()
    read_plans: dict[str, ColumnPlan] = field(default_factory=dict)
    """PostgreSQL: how each column is read and what lands (ingest/sources/postgres_types.py)."""
    client_plans: dict[str, ClientPlan] = field(default_factory=dict)
    """SQL Server and Oracle: how each column is read and what lands (client_types.py)."""
    catalog: dict[str, SourceColumn] = field(default_factory=dict)
    """SQL Server and Oracle: each column as the catalog declares it (what client_plans came
    from; a type SQLAlchemy cannot reflect, such as XMLType, is known only here)."""


def make_engine(source: SourceConnection) -> Engine:
    connect_args: dict[str, Any] = dict(source.connect_args)
    dialect_args: dict[str, Any] = {}
    if source.url.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": 15, "application_name": "ingest", **connect_args}
    elif source.url.get_backend_name() == "oracle":
        dialect_args["arraysize"] = ORACLE_ARRAYSIZE
    # hide_parameters: a driver error quoted every bound value (filter cells, watermarks, rows'
    # keys) into its message, and so into the audit, dashboard and mail
    engine = sa.create_engine(source.url, connect_args=connect_args, pool_pre_ping=True, hide_parameters=True,
                              **dialect_args)
    if source.access_token is not None:
        source.access_token.attach(engine)
    return engine


def reflect_table(engine: Engine, job: JobConfig) -> ReflectedTable:
    """Find the job's table (or view) and reflect it; see `prepare_table` for the checks.

    Only what a load uses is reflected: the columns and the primary key (3 catalog queries on
    PostgreSQL; a whole `autoload_with` ran 12, for foreign keys, indexes, constraints and
    comments too: 46 -> 19 ms in a fresh job process, 14 -> 10 ms warm)."""
    inspector = sa.inspect(engine)
    schema, name = job.source_schema, job.source_table
    with warnings.catch_warnings():
        # PostgreSQL types SQLAlchemy has no class for (point, xml, pg_lsn ...): the read plans
        # decide what they land as (ingest/sources/postgres_types.py)
        warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
        columns = _columns_or_none(inspector, name, schema)
        if columns is None:  # not spelled as the source spells it, or missing: search
            schema, name = _find_table(inspector, job)
            columns = _columns_or_none(inspector, name, schema) or []
    key = set(inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
    table = sa.Table(name, sa.MetaData(schema=schema), *(
        sa.Column(column["name"], column["type"], nullable=column["nullable"], primary_key=column["name"] in key)
        for column in columns))
    plans: dict[str, ColumnPlan] = {}
    catalog: dict[str, SourceColumn] = {}
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            plans = read_columns(connection, schema, name)
    elif engine.dialect.name in CLIENT_TYPE_MAPS:
        with engine.connect() as connection:
            catalog = read_catalog(connection, engine.dialect.name, schema, name)
    return prepare_table(table, job, engine.dialect.name, plans, catalog)


def _columns_or_none(inspector: sa.Inspector, name: str, schema: str | None) -> list[dict[str, Any]] | None:
    try:
        return inspector.get_columns(name, schema=schema) or None
    except sa.exc.NoSuchTableError:
        return None


def prepare_again(reflected: ReflectedTable, job: JobConfig, dialect_name: str) -> ReflectedTable:
    """The loader's checks for `job` on a table reflected before (for the same table, another
    job's columns): the same read plans and catalog, so a type only the catalog knows (Oracle
    XMLType, INTERVAL YEAR TO MONTH) is planned as the load plans it."""
    return prepare_table(reflected.table, job, dialect_name, reflected.read_plans, reflected.catalog)


def prepare_table(table: sa.Table, job: JobConfig, dialect_name: str,
                  plans: dict[str, ColumnPlan] | None = None,
                  catalog: dict[str, SourceColumn] | None = None) -> ReflectedTable:
    """Check that every column the job names exists and resolve it to the source's spelling
    (Oracle reflects unquoted names in lower case, the workbook may say UPDATED_AT); give exact
    types and the watermark a literal type that keeps its precision. `plans`: PostgreSQL's
    per-column read plans; a column read as text gets the Text type (what lands). `catalog`:
    SQL Server's and Oracle's declared column types, planned here (client_types.py)."""
    plans = plans or {}
    client = client_plans(table, dialect_name, catalog or {},
                          _match(job.watermark_column, [c.name for c in table.columns]) if job.watermark_column else None)
    adapt_types(table, dialect_name)
    adapt_table(table, plans, backend="connectorx")
    columns = {c.name: c.type for c in table.columns}
    where = f"{table.schema}.{table.name}" if table.schema else table.name
    reserved = reserved_columns(columns)
    if reserved:  # before anything lands: dlt would mix them with its own (or the app's) columns
        raise ReservedColumnError(f"job '{job.job_name}': {reserved_column_message(where, reserved)}")

    def column(label: str, wanted: str) -> str:
        found = _match(wanted, list(columns))
        if found is None:
            raise SourceObjectNotFoundError(f"job '{job.job_name}': {label} '{wanted}' is not a column of"
                                            f" {where} (columns: {', '.join(columns)})")
        return found

    watermark = column("watermark_column", job.watermark_column) if job.watermark_column else None
    primary_key = tuple(column("primary_key", key) for key in job.primary_key)
    if watermark is not None:
        _check_watermark_lands_ordered(job, watermark, plans.get(watermark), client.get(watermark))
        table.c[watermark].type = wrap_watermark_type(columns[watermark], dialect_name)
    return ReflectedTable(table=table, columns=columns, watermark_column=watermark, primary_key=primary_key,
                          read_plans=dict(plans), client_plans=client, catalog=dict(catalog or {}))


def _check_watermark_lands_ordered(job: JobConfig, watermark: str, plan: ColumnPlan | None,
                                   client: ClientPlan | None = None) -> None:
    """A column that lands as text compares as text ('9' > '10'): no watermark can track it."""
    declared = plan.column.declared if plan is not None and plan.read is Read.TEXT else \
        client.column.declared if client is not None and not client.ordered else None
    if declared is not None:
        raise ConfigError(f"job '{job.job_name}': watermark_column '{watermark}' ({declared}) lands as"
                          " text, which does not order like its values; use a timestamp, date, integer or"
                          " numeric(p,s) column, or a view that casts it to one")


def _match(wanted: str, available: list[str]) -> str | None:
    """`wanted` as spelled in `available`: exactly, else the one name equal ignoring case."""
    if wanted in available:
        return wanted
    same = [name for name in available if name.lower() == wanted.lower()]
    return same[0] if len(same) == 1 else None


def _find_table(inspector: sa.Inspector, job: JobConfig) -> tuple[str | None, str]:
    """The job's table or view as the source spells it (reflect_table tried the exact name)."""
    schema, name = job.source_schema, job.source_table
    where = f"{schema}.{name}" if schema else name
    missing = SourceObjectNotFoundError(f"job '{job.job_name}': table {where} does not exist in"
                                        f" connection '{job.connection}'")
    if schema is not None:
        schema = _match(schema, inspector.get_schema_names())
        if schema is None:
            raise missing
    found = _match(name, inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema))
    if found is None:
        raise missing
    return schema, found


def coerce_watermark(value: WatermarkValue | None, column_type: sa.types.TypeEngine, job: JobConfig) -> Any:
    """Turn the workbook's watermark into the column's Python type so dlt can compare it."""
    if value is None:
        return None
    try:
        if isinstance(column_type, sa.DateTime):
            return as_column_datetime(value, bool(column_type.timezone))
        if isinstance(column_type, sa.Date):
            return date.fromisoformat(str(value)[:10])
        # before Integer: Oracle's NUMBER is both, and NUMBER(12,2) holds fractions
        if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
            return Decimal(str(value))
        if isinstance(column_type, sa.Integer):
            return int(value)
        if isinstance(column_type, sa.Float):
            return float(value)
        if isinstance(column_type, (sa.String,)):
            return str(value)
    except (TypeError, ValueError, ArithmeticError):
        raise ConfigError(f"jobs!row {job.row}: last_watermark {value!r} does not fit column"
                          f" '{job.watermark_column}' of type {column_type}") from None
    return value


def build_resource(job: JobConfig, engine: Engine, reflected: ReflectedTable,
                   chunk_size: int, backend: str | None = None, window: Any = None,
                   strategies: Strategies | None = None) -> Any:
    """The dlt resource that reads this job's table; `backend` overrides the dialect's.
    `window` (ingest.plan.load_modes.LoadWindow): an INCREMENTAL job reads from `window.start`
    (None: from the beginning) instead of its workbook watermark, up to `window.end`
    exclusive when given (then dlt keeps the job's state out of it).
    `strategies` (ingest/sources/strategies.py) adds filters, cap, composite, lookback, deletes."""
    dialect_name = engine.dialect.name
    backend = choose_backend(dialect_name, backend)
    # --- watermark strategies (issue: watermarks) ---
    strategies = strategies or Strategies.for_job(job, reflected.table, reflected.watermark_column,
                                                  reflected.primary_key, None, 0)
    if strategies.binds_cell_values and backend == "connectorx":
        backend = "pyarrow"  # filter values must be bound parameters, never SQL text
    # ---
    incremental = None
    write_disposition = "replace"
    if job.is_incremental:
        write_disposition = "append"
    if window is not None and strategies.is_composite:
        raise ConfigError(f"job '{job.job_name}': a backfill window needs a single watermark column")
    if job.is_incremental and not strategies.is_composite:
        column_type = reflected.columns[reflected.watermark_column]
        incremental = dlt.sources.incremental(
            reflected.watermark_column,
            initial_value=(strategies.initial_value(coerce_watermark(job.last_watermark, column_type, job))
                           if window is None else coerce_watermark(window.start, column_type, job)),
            end_value=None if window is None else coerce_watermark(window.end, column_type, job),
            # rows without a watermark cannot be tracked: load them with every run is worse
            on_cursor_value_missing="exclude",
            lag=strategies.dlt_lag() if window is None else None,
        )
    table = reflected.table
    adapt_table(table, reflected.read_plans, backend)
    resource = sql_table(
        credentials=engine,
        metadata=table.metadata,  # already reflected: sql_table finds the table there
        table=table.name,
        schema=table.schema,
        table_loader_class=(ExactTypesConnectorXLoader if backend == "connectorx" else
                            client_loader(reflected.client_plans)),
        type_adapter_callback=(dlt_type if dialect_name == "postgresql" else
                               client_dlt_type if dialect_name in CLIENT_TYPE_MAPS else unwrap),
        query_adapter_callback=strategies.query_adapter(query_adapter(dialect_name, reflected.read_plans, backend,
                                                                      reflected.client_plans)),
        backend=backend,
        chunk_size=chunk_size,
        reflection_level="full_with_precision",
        incremental=incremental,
        write_disposition=write_disposition,
        primary_key=list(reflected.primary_key) or None,
    )
    resource.apply_hints(table_name=job.table_name, columns=exact_type_hints(reflected.columns, dialect_name,
                                                                                 reflected.client_plans))
    return strategies.attach(resource)
